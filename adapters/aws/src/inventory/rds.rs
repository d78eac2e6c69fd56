//! RDS: DB instances with their class, engine, storage and tags.

use aws_config::SdkConfig;
use aws_sdk_rds::Client;
use dd0c_ports::zombie::Database;
use dd0c_ports::PortResult;

use super::{tags, time, Recorder};
use crate::error::sdk;
use crate::recorder::regional_client;

/// RDS in one region.
pub(super) struct Rds {
    client: Client,
}

impl Rds {
    pub(super) fn new(config: &SdkConfig, region: &str, recorder: &Recorder) -> Self {
        Rds {
            client: regional_client!(aws_sdk_rds, config, region, recorder),
        }
    }

    pub(super) async fn databases(&self) -> PortResult<Vec<Database>> {
        let mut pages = self.client.describe_db_instances().into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("RDS DescribeDBInstances", e))?;
            for db in page.db_instances() {
                let Some(id) = db.db_instance_identifier() else {
                    continue;
                };
                found.push(Database {
                    id: id.to_owned(),
                    arn: db.db_instance_arn().unwrap_or_default().to_owned(),
                    class: db.db_instance_class().unwrap_or_default().to_owned(),
                    engine: db.engine().unwrap_or_default().to_owned(),
                    multi_az: db.multi_az().unwrap_or(false),
                    storage_gib: f64::from(db.allocated_storage().unwrap_or(0)),
                    storage_type: db.storage_type().unwrap_or("gp2").to_owned(),
                    status: db.db_instance_status().unwrap_or_default().to_owned(),
                    created: time(db.instance_create_time()),
                    tags: tags(db.tag_list().iter().map(|t| (t.key(), t.value()))),
                });
            }
        }
        Ok(found)
    }
}
