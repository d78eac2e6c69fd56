//! Anomalies: the filtered, paged list, one by id, feedback and snoozes.

use super::*;

#[async_trait]
impl AnomalyStore for MemoryStore {
    async fn anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Option<Anomaly>> {
        let inner = lock(&self.inner);
        let Some(time) = inner
            .anomaly_times
            .get(&(tenant.to_owned(), anomaly_id.to_owned()))
        else {
            return Ok(None);
        };
        Ok(inner
            .anomalies
            .get(&(tenant.to_owned(), *time, anomaly_id.to_owned()))
            .cloned())
    }

    async fn anomalies(
        &self,
        tenant: &str,
        filter: &AnomalyFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<Anomaly>> {
        let after = cursor.map(decode_cursor).transpose()?;
        let inner = lock(&self.inner);
        let lowest = (tenant.to_owned(), DateTime::<Utc>::MIN_UTC, String::new());
        let highest = match after {
            Some((time, id)) => std::ops::Bound::Excluded((tenant.to_owned(), time, id)),
            None => std::ops::Bound::Included((
                tenant.to_owned(),
                DateTime::<Utc>::MAX_UTC,
                String::new(),
            )),
        };
        let items: Vec<Anomaly> = inner
            .anomalies
            .range((std::ops::Bound::Included(lowest), highest))
            .rev()
            .map(|(_, a)| a)
            .filter(|a| filter.matches(a))
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(Page::from_overfetch(items, limit, anomaly_cursor))
    }

    async fn record_feedback(
        &self,
        tenant: &str,
        feedback: &Feedback,
        status: AnomalyStatus,
    ) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let id_key = (tenant.to_owned(), feedback.anomaly_id.clone());
        let Some(time) = inner.anomaly_times.get(&id_key).copied() else {
            return Err(PortError::NotFound(format!(
                "anomaly {}",
                feedback.anomaly_id
            )));
        };
        if let Some(anomaly) =
            inner
                .anomalies
                .get_mut(&(tenant.to_owned(), time, feedback.anomaly_id.clone()))
        {
            anomaly.status = status;
        }
        inner
            .feedback
            .entry(id_key)
            .or_default()
            .push(feedback.clone());
        Ok(())
    }

    async fn feedback(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<Feedback>> {
        let inner = lock(&self.inner);
        Ok(inner
            .feedback
            .get(&(tenant.to_owned(), anomaly_id.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn add_snooze(&self, snooze: &Snooze) -> PortResult<()> {
        lock(&self.inner).snoozes.push(snooze.clone());
        Ok(())
    }

    async fn active_snoozes(&self, tenant: &str, at: DateTime<Utc>) -> PortResult<Vec<Snooze>> {
        let inner = lock(&self.inner);
        Ok(inner
            .snoozes
            .iter()
            .filter(|s| s.tenant == tenant && s.until > at)
            .cloned()
            .collect())
    }
}
