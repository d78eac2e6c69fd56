//! The outbox the notifier claims, delivers and marks.

use super::*;

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn pending(&self, limit: usize) -> PortResult<Vec<OutboxMessage>> {
        Ok(lock(&self.inner)
            .outbox
            .values()
            .take(limit)
            .cloned()
            .collect())
    }

    async fn claim(&self, limit: usize, lease: std::time::Duration) -> PortResult<Vec<Claimed>> {
        let now = std::time::Instant::now();
        let inner = &mut *lock(&self.inner);
        let mut claimed = Vec::new();
        for message in inner.outbox.values() {
            if claimed.len() >= limit {
                break;
            }
            let (until, delivered) = inner
                .outbox_claims
                .entry(message.outbox_id.clone())
                .or_default();
            if until.is_some_and(|until| until > now) {
                continue;
            }
            *until = Some(now + lease);
            claimed.push(Claimed {
                message: message.clone(),
                delivered: delivered.clone(),
            });
        }
        Ok(claimed)
    }

    async fn mark_channel_delivered(&self, outbox_id: &str, channel: &str) -> PortResult<()> {
        lock(&self.inner)
            .outbox_claims
            .entry(outbox_id.to_owned())
            .or_default()
            .1
            .insert(channel.to_owned());
        Ok(())
    }

    async fn enqueue(&self, message: &OutboxMessage) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        if !inner
            .outbox
            .values()
            .any(|m| m.outbox_id == message.outbox_id)
        {
            inner.outbox.insert(
                (message.created_at, message.outbox_id.clone()),
                message.clone(),
            );
        }
        Ok(())
    }

    async fn mark_delivered(&self, outbox_id: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        inner.outbox.retain(|(_, id), _| id != outbox_id);
        inner.outbox_claims.remove(outbox_id);
        Ok(())
    }
}
