use thiserror::Error;

/// The error every port method returns. Adapters map their backend's errors onto these variants so
/// that handlers can decide what to do (retry, report, give up) without knowing the technology.
#[derive(Debug, Error)]
pub enum PortError {
    /// The addressed item does not exist (for this tenant).
    #[error("not found: {0}")]
    NotFound(String),
    /// An optimistic-concurrency check failed: someone else wrote first. Re-read and retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller passed something the port cannot accept; retrying the same call will fail again.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Credentials were missing, malformed, expired or forged.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The backend could not be reached or timed out; the same call may succeed later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Any other backend failure: what was being done, and the backend's own error when there
    /// is one — kept as this error's source, its text after the context.
    #[error("{context}{}", .source.as_ref().map(|s| format!(": {s}")).unwrap_or_default())]
    Backend {
        /// What was being done.
        context: String,
        /// The backend's own error.
        #[source]
        source: Option<Cause>,
    },
}

/// A backend's own error, the source of a [`PortError::Backend`].
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl PortError {
    /// A backend failure of `context` with no error of the backend's own to keep.
    pub fn backend(context: impl Into<String>) -> Self {
        PortError::Backend {
            context: context.into(),
            source: None,
        }
    }

    /// A backend failure of `context` caused by the backend's `source` error, which it keeps.
    pub fn caused(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        PortError::Backend {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// Whether retrying the same call later can succeed (queue consumers use this to decide between
    /// leaving a message for redelivery and dead-lettering it at once).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PortError::Conflict(_) | PortError::Unavailable(_) | PortError::Backend { .. }
        )
    }
}

/// A value refused, said of the field holding it: `field` is its dotted path in the document
/// (`thresholds.min_samples`), so a form can show `reason` beside that field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// Where: the field's dotted path.
    pub field: String,
    /// Why, without the field's name.
    pub reason: String,
}

impl FieldError {
    /// `reason` against `field`.
    pub fn new(field: &str, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// The same error, its field inside `outer` (`min_samples` inside `thresholds`).
    pub fn within(self, outer: &str) -> Self {
        FieldError {
            field: format!("{outer}.{}", self.field),
            reason: self.reason,
        }
    }
}

impl From<FieldError> for PortError {
    fn from(error: FieldError) -> Self {
        PortError::Invalid(error.to_string())
    }
}

/// Shorthand for results of port methods.
pub type PortResult<T> = Result<T, PortError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_error_keeps_its_cause_as_its_source() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "read-only disk");
        let error = PortError::caused("writing the archive", io);
        assert_eq!(error.to_string(), "writing the archive: read-only disk");
        let source = std::error::Error::source(&error).expect("a source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the io::Error itself");
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(error.is_retryable());
        let plain = PortError::backend("no QueueArn");
        assert_eq!(plain.to_string(), "no QueueArn");
        assert!(std::error::Error::source(&plain).is_none());
    }
}
