//! # dd0c-lambda
//!
//! The cloud mode: the handlers of `functions/` on AWS Lambda, over the AWS adapters. Each binary
//! in `src/bin/` is a shim — build the function once at init, then `lambda_runtime::run`:
//!
//! | binary | trigger | does |
//! |---|---|---|
//! | `lambda-ingest` | SQS FIFO batch of EventBridge CloudTrail envelopes | archives them raw to S3, normalizes and prices them, sends cost events to the score queue |
//! | `lambda-score` | SQS FIFO batch of cost events | scores them (one DynamoDB transaction per batch), wakes the notifier when an anomaly is raised |
//! | `lambda-notify` | SQS batch of wake-ups, or an EventBridge schedule | delivers the outbox to Slack and SES |
//! | `lambda-digest` | EventBridge schedule | sends the daily digests that are due |
//! | `lambda-api` | API Gateway HTTP API (payload v2) | every route of `dd0c-api` but push ingestion (Slack actions and `/openapi.json` included), Cognito tokens |
//! | `lambda-catalog` | EventBridge schedule (daily) | builds the price catalog from AWS's Price List into the archive bucket, where the functions that price read it at cold start |
//!
//! Map:
//! - [`env`] — configuration from the environment (its doc lists every variable), JSON logs,
//!   typed failures ([`Failure`]: `errorType` `dd0c.NotFound`, `dd0c.Unavailable`, …), and the SDK configuration (no IMDS probing: region and credentials come from the
//!   variables Lambda sets).
//! - [`sqs`] — translation only: an SQS event into deliveries for the batch policy of
//!   `dd0c-function`, and its outcomes into the partial batch response (a failed message and the
//!   rest of its group are delivered again; a message failing on its last delivery goes to the
//!   dead-letter queue with its error).
//! - [`functions`] — the functions of `functions/` bound to the AWS adapters.
//! - [`contract`] — what infra-cdk must agree with (`infra-cdk/contract.json`).

pub mod contract;
pub mod env;
pub mod functions;
pub mod sqs;

pub use env::{Failure, Settings, StartError};
