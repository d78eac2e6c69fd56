//! The outbox the notifier claims, delivers and marks.

use super::*;

/// The item of an outbox message, in the index the notifier reads oldest first.
pub(super) fn outbox_item(message: &OutboxMessage) -> PortResult<Item> {
    let mut item = doc_item(outbox_pk(&message.outbox_id), "OUTBOX", message)?;
    item.insert("gsi1pk".into(), s(OUTBOX_INDEX_PK));
    item.insert(
        "gsi1sk".into(),
        s(format!(
            "{}#{}",
            time_key(message.created_at),
            message.outbox_id
        )),
    );
    Ok(item)
}

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn pending(&self, limit: usize) -> PortResult<Vec<OutboxMessage>> {
        let range = Range {
            index: Some(GSI1),
            ..Range::prefix(OUTBOX_INDEX_PK.to_owned(), "")
        };
        self.query_docs(&range, limit).await
    }

    async fn claim(&self, limit: usize, lease: Duration) -> PortResult<Vec<Claimed>> {
        let now = Utc::now().timestamp_millis();
        let until = now + lease.as_millis() as i64;
        let range = Range {
            index: Some(GSI1),
            ..Range::prefix(OUTBOX_INDEX_PK.to_owned(), "")
        };
        let free = |item: &Item| {
            let lapsed = number(item, "claimed_until").map_or(true, |t| t <= now);
            lapsed
                .then(|| string(item, "pk").map(str::to_owned))
                .transpose()
        };
        let candidates = self.query(&range, limit, free).await?;
        let mut claimed = Vec::new();
        for pk in candidates {
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pk, "OUTBOX")))
                .update_expression("SET claimed_until = :until")
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(claimed_until) OR claimed_until <= :now)",
                )
                .expression_attribute_values(":until", n(until))
                .expression_attribute_values(":now", n(now))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match updated {
                Ok(output) => {
                    let item = output.attributes.unwrap_or_default();
                    let delivered = match item.get("channels") {
                        Some(AttributeValue::Ss(channels)) => channels.iter().cloned().collect(),
                        _ => BTreeSet::new(),
                    };
                    claimed.push(Claimed {
                        message: from_doc(&item)?,
                        delivered,
                    });
                }
                // Another notifier claimed it, or it was delivered, since the index was read.
                Err(e) if is_code(&e, "ConditionalCheckFailedException") => {}
                Err(e) => return Err(sdk("DynamoDB UpdateItem", e)),
            }
        }
        Ok(claimed)
    }

    async fn mark_channel_delivered(&self, outbox_id: &str, channel: &str) -> PortResult<()> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(outbox_pk(outbox_id), "OUTBOX")))
            .update_expression("ADD channels :channel")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":channel", AttributeValue::Ss(vec![channel.to_owned()]))
            .send()
            .await;
        match updated {
            // Delivered meanwhile: the channel's record no longer matters.
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(sdk("DynamoDB UpdateItem", e)),
            Ok(_) => Ok(()),
        }
    }

    async fn enqueue(&self, message: &OutboxMessage) -> PortResult<()> {
        // One already pending is left as it is.
        self.put_new(outbox_item(message)?).await.map(drop)
    }

    async fn mark_delivered(&self, outbox_id: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(outbox_pk(outbox_id), "OUTBOX")))
            .send()
            .await
            .map_err(|e| sdk("DynamoDB DeleteItem", e))?;
        Ok(())
    }
}
