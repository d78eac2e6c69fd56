//! # dd0c-zombie
//!
//! The zombie hunter: idle and forgotten resources of a customer account, each with its monthly
//! waste, the evidence per signal and one sentence of explanation, kept between daily scans.
//! Written over ports only: the inventory and metrics of an account come through
//! [`dd0c_ports::zombie::CloudAccess`], findings go to [`dd0c_ports::zombie::ZombieStore`].
//!
//! Map:
//! - [`hunt`] — [`Hunter`]: one scan, region by region, recorded (open, ignored, gone).
//! - [`judge`] — what each kind of resource is judged on, and its explanation.
//! - [`signals`] — a metric signal and its verdict (idle, busy, or no data — never idle).
//! - [`fetch`] — every signal of a region read in as few `GetMetricData` requests as possible.
//! - [`waste`] — monthly waste from the bundled price catalog.
//! - [`summary`] — open waste, savings, and ignoring a finding: what the API and digest show.

pub mod fetch;
pub mod hunt;
pub mod judge;
pub mod signals;
pub mod summary;
pub mod waste;

pub use hunt::{HuntJob, Hunter, ScanReport, ScanRequest};

use dd0c_ports::PortError;

/// Every IAM action a scan calls in a customer account: the read-only policy handed to
/// customers lists exactly these (the AWS adapter's test scans moto and compares what it
/// recorded).
pub const READ_ACTIONS: &[&str] = &[
    "cloudwatch:GetMetricData",
    "ec2:DescribeAddresses",
    "ec2:DescribeImages",
    "ec2:DescribeInstances",
    "ec2:DescribeNatGateways",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSnapshots",
    "ec2:DescribeVolumes",
    "elasticloadbalancing:DescribeInstanceHealth",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "rds:DescribeDBInstances",
];

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum ZombieError {
    /// No such tenant.
    #[error("no tenant {0:?}")]
    NoTenant(String),
    /// The tenant has no such account.
    #[error("tenant {tenant:?} has no account {account_id}")]
    NoAccount {
        /// The tenant.
        tenant: String,
        /// The account asked for.
        account_id: String,
    },
    /// A port failed.
    #[error("{what}: {source}")]
    Port {
        /// What was being done.
        what: &'static str,
        /// The port's error.
        source: PortError,
    },
}

impl ZombieError {
    /// Wraps a port error with what was being done, for `map_err`.
    pub fn port(what: &'static str) -> impl FnOnce(PortError) -> ZombieError {
        move |source| ZombieError::Port { what, source }
    }
}

impl From<ZombieError> for PortError {
    /// The port error a caller reports: missing things are `NotFound`, missing secrets
    /// `Invalid`, and a port's failure keeps its kind with what was being done in front.
    fn from(error: ZombieError) -> Self {
        let text = error.to_string();
        match error {
            ZombieError::NoTenant(_) | ZombieError::NoAccount { .. } => PortError::NotFound(text),
            ZombieError::Port { what, source } => match source {
                PortError::NotFound(_) => PortError::NotFound(text),
                PortError::Conflict(_) => PortError::Conflict(text),
                PortError::Invalid(_) => PortError::Invalid(text),
                PortError::Unauthorized(_) => PortError::Unauthorized(text),
                PortError::Unavailable(_) => PortError::Unavailable(text),
                PortError::Backend { context, source } => PortError::Backend {
                    context: format!("{what}: {context}"),
                    source,
                },
            },
        }
    }
}
