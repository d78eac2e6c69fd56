//! Anomalies: the filtered, paged list, one by id, feedback and snoozes.

use super::*;

#[async_trait]
impl AnomalyStore for DynamoStore {
    async fn anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Option<Anomaly>> {
        let Some(sort_key) = self.anomaly_sort_key(tenant, anomaly_id).await? else {
            return Ok(None);
        };
        self.get(tenant_pk(tenant), &sort_key)
            .await?
            .map(|item| from_doc(&item))
            .transpose()
    }

    async fn anomalies(
        &self,
        tenant: &str,
        filter: &AnomalyFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<Anomaly>> {
        // A `to` bound with no id sorts before every anomaly of that instant (exclusive); a
        // cursor's own item is skipped below (BETWEEN is inclusive).
        let mut to = match filter.to {
            Some(to) => format!("ANOMALY#{}", time_key(to)),
            None => "ANOMALY#\u{ffff}".to_owned(),
        };
        let after = match cursor {
            Some(cursor) => {
                let (time, id) = decode_cursor(cursor)?;
                Some(anomaly_sk(time, &id))
            }
            None => None,
        };
        if let Some(after) = &after {
            to = to.min(after.clone());
        }
        let range = Range {
            index: None,
            pk: tenant_pk(tenant),
            from: match filter.from {
                Some(from) => format!("ANOMALY#{}", time_key(from)),
                None => "ANOMALY#".to_owned(),
            },
            to,
            newest_first: true,
        };
        let items = self
            .query(&range, limit + 1, |item| {
                if after.as_deref() == Some(string(item, "sk")?) {
                    return Ok(None);
                }
                let anomaly: Anomaly = from_doc(item)?;
                Ok(filter.matches(&anomaly).then_some(anomaly))
            })
            .await?;
        Ok(Page::from_overfetch(items, limit, anomaly_cursor))
    }

    async fn record_feedback(
        &self,
        tenant: &str,
        feedback: &Feedback,
        status: AnomalyStatus,
    ) -> PortResult<()> {
        let missing = || PortError::NotFound(format!("anomaly {}", feedback.anomaly_id));
        let sort_key = self
            .anomaly_sort_key(tenant, &feedback.anomaly_id)
            .await?
            .ok_or_else(missing)?;
        let mut anomaly: Anomaly = from_doc(
            &self
                .get(tenant_pk(tenant), &sort_key)
                .await?
                .ok_or_else(missing)?,
        )?;
        anomaly.status = status;
        let recorded = doc_item(
            tenant_pk(tenant),
            format!(
                "FEEDBACK#{}#{}#{}",
                feedback.anomaly_id,
                time_key(feedback.at),
                distinct()
            ),
            feedback,
        )?;
        let items = vec![
            TransactWriteItem::builder()
                .put(build(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(doc_item(tenant_pk(tenant), sort_key, &anomaly)?))
                        .condition_expression("attribute_exists(pk)")
                        .build(),
                )?)
                .build(),
            self.put_item_in_transaction(recorded)?,
        ];
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(missing()),
        }
    }

    async fn feedback(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<Feedback>> {
        let range = Range::prefix(tenant_pk(tenant), &format!("FEEDBACK#{anomaly_id}#"));
        self.query_docs(&range, usize::MAX).await
    }

    async fn add_snooze(&self, snooze: &Snooze) -> PortResult<()> {
        self.put_item(doc_item(
            tenant_pk(&snooze.tenant),
            format!("SNOOZE#{}#{}", time_key(snooze.until), distinct()),
            snooze,
        )?)
        .await
    }

    async fn active_snoozes(&self, tenant: &str, at: DateTime<Utc>) -> PortResult<Vec<Snooze>> {
        let range = Range {
            from: format!("SNOOZE#{}#\u{ffff}", time_key(at)),
            ..Range::prefix(tenant_pk(tenant), "SNOOZE#")
        };
        self.query_docs(&range, usize::MAX).await
    }
}
