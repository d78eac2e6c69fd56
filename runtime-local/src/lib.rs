//! # dd0c-cost
//!
//! The `dd0c-cost` command and the local dispatcher, as a library so tests can run the
//! dispatcher in process (`serve::run` on a listener of their own) and drive its consumers.
//!
//! Two layers: the dispatcher (`serve`, `jobs`, `consumer`, `server`, `grpc`, `health`,
//! `backend`, `archive`, `cloud`, `catalog`) imports no command module; the commands (`cli`, `admin`,
//! `serve_cmd`, `trails`, `zombies`, `actions`, `analyze`, `normalize`, `read`, `table`) build
//! on it.
//!
//! Map:
//! - `cli` — the commands and flags (clap).
//! - `normalize` — `dd0c-cost normalize`: CloudTrail in, priced cost events out.
//! - `analyze` — `dd0c-cost analyze`: normalize, then score on the memory adapters.
//! - `read` — reading inputs with progress and rejections, shared by both.
//! - `table` — the human-readable table output.
//! - `serve_cmd`, `serve` — the local dispatcher: `backend` (Postgres or memory; Redis flags,
//!   SMTP mail), the one Router of `functions/api` under `server` (the HTTP server with its
//!   timeouts and connection cap), `consumer` (pgmq deliveries into the one function contract
//!   of `dd0c-function`), the notifier loop; `jobs` — the scheduled jobs of `functions/` (trail
//!   poll, retention, zombie hunt, digests), one replica per period.
//! - `admin` — migrate, tenants, accounts, anomalies, invoke, dead letters, settings, panic,
//!   catalog build and update.
//! - `catalog` — the `DD0C_CATALOG` file as the archive its refresh and reload work on.
//! - `grpc` — the ingest role's gRPC listener for agents.
//! - `health` — the heartbeat `serve` keeps and `dd0c-cost healthcheck`, for containers.
//! - `trails` — the trail poller the ingest role runs, and `backfill`; `archive` — the raw
//!   archive `DD0C_ARCHIVE` names.
//! - `zombies` — `zombies scan|list|ignore`, and the hunter the scheduler runs daily; `cloud` —
//!   how this build reads and acts on customer AWS accounts (feature `aws`).
//! - `actions` — `actions list|approve|reject`: the approvals queue and decision log.

pub mod actions;
pub mod admin;
pub mod analyze;
pub mod archive;
pub mod backend;
pub mod catalog;
pub mod cli;
pub mod cloud;
pub mod consumer;
pub mod grpc;
pub mod health;
pub mod jobs;
pub mod normalize;
pub mod read;
pub mod serve;
pub mod serve_cmd;
pub mod server;
pub mod table;
pub mod trails;
pub mod zombies;
