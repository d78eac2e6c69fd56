//! What the normalizer learns from one record to price a later one — an instance's type for its
//! `StartInstances`, a task definition's size for its `CreateService` — and the port that keeps
//! it.
//!
//! A [`Fact`] is stored under its tenant and a [`FactKey`] (account, [`FactKind`], name), so
//! one tenant can neither read, overwrite nor evict another's, even for the same AWS account
//! id. The store is the truth; normalizers keep a bounded cache of it, so a restart or another
//! replica prices a record the same way.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{PortError, PortResult};

/// What a fact is about: the namespace of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FactKind {
    /// An EC2 instance id → its instance type.
    Instance,
    /// An Auto Scaling group name → the instance type it launches.
    AutoScalingGroup,
    /// A SageMaker endpoint config name → its production variants.
    EndpointConfig,
    /// An ECS task definition (family, ARN or `family:revision`) → its size.
    TaskDefinition,
    /// A Lambda function name → its memory size.
    Function,
}

impl FactKind {
    /// Every kind, for stores and tests that enumerate them.
    pub const ALL: [FactKind; 5] = [
        FactKind::Instance,
        FactKind::AutoScalingGroup,
        FactKind::EndpointConfig,
        FactKind::TaskDefinition,
        FactKind::Function,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Instance => "instance",
            FactKind::AutoScalingGroup => "asg",
            FactKind::EndpointConfig => "endpoint-config",
            FactKind::TaskDefinition => "task",
            FactKind::Function => "function",
        }
    }
}

impl fmt::Display for FactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FactKind {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FactKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| PortError::Invalid(format!("{s:?} is not a fact kind")))
    }
}

/// Where a fact is kept within its tenant. `Display` is `account/kind/name` (the wire form,
/// which [`FromStr`] reads back; names may hold `/`, account ids and kinds never do).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FactKey {
    /// The AWS account the record was for.
    pub account_id: String,
    /// The namespace.
    pub kind: FactKind,
    /// The resource's name or id.
    pub name: String,
}

impl FactKey {
    /// The key of `name` of `kind` in `account_id`.
    pub fn new(account_id: &str, kind: FactKind, name: &str) -> FactKey {
        FactKey {
            account_id: account_id.to_owned(),
            kind,
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for FactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.account_id, self.kind, self.name)
    }
}

impl FromStr for FactKey {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PortError::Invalid(format!("{s:?} is not account/kind/name"));
        let (account_id, rest) = s.split_once('/').ok_or_else(bad)?;
        let (kind, name) = rest.split_once('/').ok_or_else(bad)?;
        Ok(FactKey::new(account_id, kind.parse()?, name))
    }
}

/// One thing learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// Production variants: (instance type, instance count).
    Variants(Vec<(String, u32)>),
    /// A task's size.
    TaskSize {
        /// vCPUs.
        vcpu: f64,
        /// Memory in GB.
        gb: f64,
    },
    /// A function's memory in MB.
    MemoryMb(f64),
    /// An instance type.
    InstanceType(String),
}

/// Keeps what the normalizer learned, per tenant. Writes are upserts: the latest fact under a
/// key wins.
#[async_trait]
pub trait RecallStore: Send + Sync {
    /// The facts stored under `keys` for `tenant`, in the same order (`None` where none is).
    async fn facts(&self, tenant: &str, keys: &[FactKey]) -> PortResult<Vec<Option<Fact>>>;

    /// Stores `facts` for `tenant`, replacing what was under the same keys. One call may hold
    /// the same key twice; the later one wins.
    async fn remember(&self, tenant: &str, facts: &[(FactKey, Fact)]) -> PortResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fact_key_reads_back_what_it_writes_names_with_slashes_included() {
        let key = FactKey::new("123456789012", FactKind::TaskDefinition, "arn:x/web:3");
        assert_eq!(key.to_string(), "123456789012/task/arn:x/web:3");
        assert_eq!(key.to_string().parse::<FactKey>().expect("parses"), key);
        assert!("123456789012/nope/x".parse::<FactKey>().is_err());
        assert!("123456789012".parse::<FactKey>().is_err());
    }
}
