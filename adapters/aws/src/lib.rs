//! # dd0c-adapters-aws
//!
//! Ports on AWS services, for the cloud mode:
//! - [`SesMail`] — the mail port on SES v2 (`SendEmail`, HTML + text).
//! - [`DynamoFlags`] — panic mode and circuit breakers as items of the single table
//!   (`pk = TENANT#{tenant}`, `sk = PANIC`; `pk = BREAKER#{channel}`, `sk = STATE`), so IAM
//!   `dynamodb:LeadingKeys` can confine them like every other tenant item.
//!
//! Clients come from [`sdk_config`]: the SDK's standard chain (environment, profile, instance
//! role) and `AWS_ENDPOINT_URL` for an emulator such as moto.

mod flags;
mod mail;

pub use flags::DynamoFlags;
pub use mail::SesMail;

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// An SDK error as a port error, with the service's message.
pub(crate) fn backend<E: std::fmt::Display>(what: &str, error: E) -> dd0c_ports::PortError {
    dd0c_ports::PortError::Backend(format!("{what}: {error}"))
}
