//! # dd0c-adapters-aws
//!
//! Ports on AWS services, for the cloud mode:
//! - [`DynamoStore`] — every store port on one DynamoDB table; the key design is in [`table`].
//! - [`DynamoFlags`] — panic mode and circuit breakers as items of the same table.
//! - [`SqsQueue`] — the queue port on an SQS FIFO queue and its dead-letter queue.
//! - [`SesMail`] — the mail port on SES v2 (raw MIME, HTML + text).
//! - [`S3Archive`] — raw payloads in an S3 bucket.
//! - [`customer_config`] — STS AssumeRole (with ExternalId) into a customer's account.
//!
//! Clients come from [`sdk_config`]: the SDK's standard chain (environment, profile, instance
//! role) and `AWS_ENDPOINT_URL` for an emulator such as moto.

mod archive;
mod credentials;
mod flags;
mod mail;
mod queue;
mod store;
pub mod table;

pub use archive::S3Archive;
pub use credentials::customer_config;
pub use flags::DynamoFlags;
pub use mail::SesMail;
pub use queue::SqsQueue;
pub use store::{DynamoStore, PROCESSED_RETENTION};
pub use table::create_table;

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
