//! SDK failures as port errors, for every adapter of this crate.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use dd0c_ports::PortError;

/// An SDK failure as a port error naming the call: the service's code and message when it
/// answered, else `Unavailable` (no connection, a timeout) with the whole cause chain.
pub(crate) fn sdk<E>(call: &str, error: E) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match error.code() {
        Some(code) => {
            let context = format!(
                "{call}: {code}: {}",
                error.message().unwrap_or("no message")
            );
            PortError::caused(context, error)
        }
        None => PortError::Unavailable(format!("{call}: {}", DisplayErrorContext(error))),
    }
}

/// Whether an SDK failure is the service's `code` (e.g. `ConditionalCheckFailedException`).
#[cfg_attr(not(any(feature = "cloud", feature = "inventory")), allow(dead_code))]
pub(crate) fn is_code<E: ProvideErrorMetadata>(error: &E, code: &str) -> bool {
    error.code() == Some(code)
}
