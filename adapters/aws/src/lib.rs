//! # dd0c-adapters-aws
//!
//! Ports on AWS services, for the cloud mode:
//! - [`DynamoStore`] — every store port on one DynamoDB table; the key design is in [`table`].
//! - [`DynamoFlags`] — panic mode and circuit breakers as items of the same table.
//! - [`SqsQueue`] — the queue port on an SQS FIFO queue and its dead-letter queue.
//! - [`SesMail`] — the mail port on SES v2 (raw MIME, HTML + text).
//! - [`S3Archive`] — raw payloads in an S3 bucket.
//! - [`customer_config`] — STS AssumeRole (with ExternalId) into a customer's account.
//! - [`AwsCloud`] — the zombie hunter's read ports on a customer account: [`AwsInventory`]
//!   (EC2, ELB, ELBv2, RDS) and [`CloudWatchMetrics`] (feature `inventory`).
//! - [`AwsRemediator`] — acting on a customer account's EC2 resources, dry run first (feature
//!   `inventory`).
//!
//! - [`EventQueue`] — the customer's SQS queue of CloudTrail events, for `dd0c-agent`.
//!
//! Features: `cloud` (the cloud mode's own services), `inventory` (reading customer accounts,
//! their trail buckets included), `s3` (the archive) and `sqs` (the agent's queue); the
//! self-hosted binary takes `inventory`, the agent `sqs`.
//!
//! Clients come from [`sdk_config`]: the SDK's standard chain (environment, profile, instance
//! role) and `AWS_ENDPOINT_URL` for an emulator such as moto.

#[cfg(feature = "s3")]
mod archive;
mod credentials;
mod error;
#[cfg(feature = "sqs")]
mod events;
#[cfg(feature = "cloud")]
mod flags;
#[cfg(feature = "inventory")]
mod inventory;
#[cfg(feature = "cloud")]
mod mail;
#[cfg(feature = "cloud")]
mod queue;
#[cfg(feature = "s3")]
mod recorder;
#[cfg(feature = "inventory")]
mod remediation;
#[cfg(feature = "cloud")]
mod store;
#[cfg(feature = "cloud")]
pub mod table;
#[cfg(feature = "s3")]
mod trail;

#[cfg(feature = "s3")]
pub use archive::S3Archive;
pub use credentials::{customer_config, remediation_config};
#[cfg(feature = "sqs")]
pub use events::{EventQueue, Received};
#[cfg(feature = "cloud")]
pub use flags::DynamoFlags;
#[cfg(feature = "inventory")]
pub use inventory::{AwsCloud, AwsInventory, CloudWatchMetrics};
#[cfg(feature = "cloud")]
pub use mail::SesMail;
#[cfg(feature = "cloud")]
pub use queue::SqsQueue;
#[cfg(feature = "inventory")]
pub use remediation::AwsRemediator;
#[cfg(feature = "cloud")]
pub use store::{DynamoStore, PROCESSED_RETENTION};
#[cfg(feature = "cloud")]
pub use table::{create_table, table_shape};
#[cfg(feature = "s3")]
pub use trail::S3Trail;

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
