//! RDS: stop a DB instance (AWS starts it again by itself after seven days), or delete one
//! after a final snapshot named after the action (`dd0c-act-…`), kept until someone deletes
//! it: the way back is a restore from it. RDS takes no `DryRun`: the check is the description
//! (it exists, is unprotected, `available`, and for a deletion has no deletion protection).

use aws_config::SdkConfig;
use aws_sdk_rds::operation::RequestId;
use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;
use dd0c_ports::remediation::{ActionKind, Ran, WayBack};
use dd0c_ports::{PortError, PortResult};

use super::{call, in_state, not_found, unprotected};
use crate::error::sdk;
use crate::recorder::regional_client;
use crate::recorder::Recorder;

/// RDS in one region.
pub(super) struct Rds {
    client: Client,
}

/// The final snapshot's identifier for `action_id` (`act_…`): RDS identifiers take letters,
/// digits and single hyphens only.
fn final_snapshot(action_id: &str) -> String {
    format!("dd0c-{}", action_id.replace('_', "-"))
}

impl Rds {
    pub(super) fn new(config: &SdkConfig, region: &str, recorder: &Recorder) -> Self {
        Rds {
            client: regional_client!(aws_sdk_rds, config, region, recorder),
        }
    }

    /// Describes the DB instance as `kind` needs it.
    pub(super) async fn check(&self, id: &str, kind: ActionKind) -> PortResult<()> {
        let db = self.described(id).await?;
        if kind == ActionKind::DeleteDbInstance && db.deletion_protection() == Some(true) {
            return Err(PortError::Invalid(format!(
                "{id} has deletion protection: turn it off to delete it"
            )));
        }
        Ok(())
    }

    pub(super) async fn stop(&self, id: &str) -> PortResult<Ran> {
        self.check(id, ActionKind::StopDbInstance).await?;
        let out = self
            .client
            .stop_db_instance()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| sdk("RDS StopDBInstance", e))?;
        Ok(Ran {
            calls: vec![call("rds:StopDBInstance", out.request_id())],
            way_back: WayBack::StartDb {
                db_instance_identifier: id.to_owned(),
            },
        })
    }

    pub(super) async fn delete(&self, id: &str, action_id: &str) -> PortResult<Ran> {
        self.check(id, ActionKind::DeleteDbInstance).await?;
        let snapshot = final_snapshot(action_id);
        let out = self
            .client
            .delete_db_instance()
            .db_instance_identifier(id)
            .final_db_snapshot_identifier(&snapshot)
            .skip_final_snapshot(false)
            .delete_automated_backups(false)
            .send()
            .await
            .map_err(|e| sdk("RDS DeleteDBInstance", e))?;
        Ok(Ran {
            calls: vec![call("rds:DeleteDBInstance", out.request_id())],
            way_back: WayBack::DbSnapshot {
                db_snapshot_identifier: snapshot,
            },
        })
    }

    /// The DB instance: it must exist, be unprotected and available.
    async fn described(&self, id: &str) -> PortResult<DbInstance> {
        let out = self
            .client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| not_found("RDS DescribeDBInstances", e))?;
        let db = out
            .db_instances()
            .first()
            .cloned()
            .ok_or_else(|| PortError::NotFound(format!("DB instance {id}")))?;
        unprotected(id, db.tag_list().iter().map(|t| t.key()))?;
        let status = db.db_instance_status().unwrap_or("unknown");
        in_state(id, status, &["available"], "the action")?;
        Ok(db)
    }
}
