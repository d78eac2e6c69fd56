//! CloudWatch statistics through `GetMetricData`: up to 500 queries a request, every page of
//! results merged back into one series per query.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::primitives::DateTime as SdkTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Utc};
use dd0c_ports::zombie::{ApiCalls, MetricQuery, MetricSeries, Metrics};
use dd0c_ports::{PortError, PortResult};

use super::{time, Recorder};
use crate::error::sdk;
use crate::recorder::regional_client;

/// Most queries one `GetMetricData` request takes.
pub const QUERIES_PER_CALL: usize = 500;

/// The metrics port on CloudWatch.
#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    config: SdkConfig,
    recorder: Recorder,
}

impl CloudWatchMetrics {
    /// Reads with `config`'s credentials, counting requests in `calls`.
    pub fn new(config: SdkConfig, calls: ApiCalls) -> Self {
        CloudWatchMetrics {
            config,
            recorder: Recorder(calls),
        }
    }

    fn client(&self, region: &str) -> Client {
        regional_client!(aws_sdk_cloudwatch, &self.config, region, self.recorder)
    }
}

fn query(q: &MetricQuery) -> MetricDataQuery {
    let metric = q
        .dimensions
        .iter()
        .fold(
            Metric::builder()
                .namespace(&q.namespace)
                .metric_name(&q.metric),
            |m, (name, value)| m.dimensions(Dimension::builder().name(name).value(value).build()),
        )
        .build();
    MetricDataQuery::builder()
        .id(&q.id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(i32::try_from(q.period_seconds).unwrap_or(i32::MAX))
                .stat(q.statistic.as_str())
                .build(),
        )
        .return_data(true)
        .build()
}

#[async_trait]
impl Metrics for CloudWatchMetrics {
    async fn series(
        &self,
        region: &str,
        queries: &[MetricQuery],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> PortResult<Vec<MetricSeries>> {
        let client = self.client(region);
        let mut points: HashMap<&str, Vec<(DateTime<Utc>, f64)>> = queries
            .iter()
            .map(|q| (q.id.as_str(), Vec::new()))
            .collect();
        for chunk in queries.chunks(QUERIES_PER_CALL) {
            let mut token = None;
            loop {
                let output = client
                    .get_metric_data()
                    .start_time(SdkTime::from_secs(from.timestamp()))
                    .end_time(SdkTime::from_secs(to.timestamp()))
                    .scan_by(ScanBy::TimestampAscending)
                    .set_metric_data_queries(Some(chunk.iter().map(query).collect()))
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| sdk("CloudWatch GetMetricData", e))?;
                for result in output.metric_data_results() {
                    let id = result.id().unwrap_or_default();
                    let series = points.get_mut(id).ok_or_else(|| {
                        PortError::backend(format!(
                            "CloudWatch GetMetricData answered for query {id:?}, which was not asked"
                        ))
                    })?;
                    for (at, value) in result.timestamps().iter().zip(result.values()) {
                        if let Some(at) = time(Some(at)) {
                            series.push((at, *value));
                        }
                    }
                }
                token = output.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(queries
            .iter()
            .map(|q| {
                let mut series = points.remove(q.id.as_str()).unwrap_or_default();
                series.sort_by_key(|(at, _)| *at);
                MetricSeries {
                    id: q.id.clone(),
                    points: series,
                }
            })
            .collect())
    }
}
