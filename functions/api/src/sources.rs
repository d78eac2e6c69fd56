//! How each account's CloudTrail arrives without EventBridge (self-hosted): the trail buckets
//! polled, the agents forwarding, and the ingest lag of each — `GET /v1/ingest`,
//! `GET /v1/agents` and the `dd0c_ingest_lag_seconds` gauge. An API without a source store
//! (the cloud) answers 404: there CloudTrail arrives through EventBridge.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use dd0c_ports::sources::{AgentBeat, SourceKind, SourceStore};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::refusals::Signed;
use crate::{Api, ApiError, Caller};

/// One account's arrivals through one source.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestView {
    /// The account.
    pub account_id: String,
    /// `s3` (the trail poller) or `agent`.
    pub source: SourceKind,
    /// The trail bucket polled for the account (`s3://BUCKET[/PREFIX]`), if any.
    pub cloudtrail_s3: Option<String>,
    /// When the source last delivered.
    pub last_seen: Option<DateTime<Utc>>,
    /// The newest event time delivered.
    pub newest_event_time: Option<DateTime<Utc>>,
    /// Seconds from that event to now: CloudTrail's own delay plus dd0c's.
    pub lag_seconds: Option<f64>,
}

/// An agent as its last heartbeat described it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    /// The heartbeat.
    #[serde(flatten)]
    pub beat: AgentBeat,
    /// Seconds since its last heartbeat.
    pub seconds_since_seen: f64,
    /// Seconds from the newest event it read to now.
    pub lag_seconds: Option<f64>,
}

fn sources(api: &Api) -> Result<&dyn SourceStore, ApiError> {
    api.sources.as_deref().ok_or_else(|| {
        ApiError::NotFound(
            "ingestion sources are a self-hosted feature: here CloudTrail arrives through EventBridge"
                .into(),
        )
    })
}

/// How each of the tenant's accounts receives CloudTrail without EventBridge: its trail bucket
/// and agents, when each last delivered, and the lag.
#[utoipa::path(get, path = "/v1/ingest", tag = "accounts",
    responses((status = 200, description = "Per account and source, by account", body = Vec<IngestView>),
        (status = 404, description = "Not served here: CloudTrail arrives through EventBridge", body = crate::Problem, content_type = "application/problem+json"),
        Signed),
    security(("bearer" = [])))]
pub(crate) async fn ingest(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<Vec<IngestView>>, ApiError> {
    let store = sources(&api)?;
    let tenant = &principal.tenant;
    let now = Utc::now();
    let trails = store.trails(Some(tenant)).await?;
    let mut views: Vec<IngestView> = store
        .ingest_status(Some(tenant))
        .await?
        .into_iter()
        .map(|s| IngestView {
            lag_seconds: s.lag_seconds(now),
            cloudtrail_s3: (s.source == SourceKind::S3)
                .then(|| {
                    trails
                        .iter()
                        .find(|t| t.account_id == s.account_id)
                        .map(|t| t.location.to_string())
                })
                .flatten(),
            account_id: s.account_id,
            source: s.source,
            last_seen: Some(s.last_seen),
            newest_event_time: s.newest_event_time,
        })
        .collect();
    // A trail not yet read still shows, with nothing seen.
    for trail in &trails {
        let listed = views
            .iter()
            .any(|v| v.account_id == trail.account_id && v.source == SourceKind::S3);
        if !listed {
            views.push(IngestView {
                account_id: trail.account_id.clone(),
                source: SourceKind::S3,
                cloudtrail_s3: Some(trail.location.to_string()),
                last_seen: None,
                newest_event_time: None,
                lag_seconds: None,
            });
        }
    }
    views.sort_by(|a, b| (&a.account_id, a.source).cmp(&(&b.account_id, b.source)));
    Ok(Json(views))
}

/// The tenant's agents: version, host, last heartbeat, lag and spool.
#[utoipa::path(get, path = "/v1/agents", tag = "accounts",
    responses((status = 200, description = "By account and agent id", body = Vec<AgentView>),
        (status = 404, description = "Not served here: CloudTrail arrives through EventBridge", body = crate::Problem, content_type = "application/problem+json"),
        Signed),
    security(("bearer" = [])))]
pub(crate) async fn agents(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<Vec<AgentView>>, ApiError> {
    let now = Utc::now();
    let agents = sources(&api)?.agents(&principal.tenant).await?;
    Ok(Json(
        agents
            .into_iter()
            .map(|beat| AgentView {
                seconds_since_seen: seconds(now - beat.last_seen),
                lag_seconds: beat.newest_event_time.map(|t| seconds(now - t)),
                beat,
            })
            .collect(),
    ))
}

fn seconds(span: chrono::TimeDelta) -> f64 {
    (span.num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// `dd0c_ingest_lag_seconds` per account and source, read at scrape time (so a stopped source's
/// lag keeps growing); tenants named only when `per_tenant`.
pub(crate) async fn lag_gauges(store: &dyn SourceStore, per_tenant: bool) -> String {
    use std::fmt::Write;
    let Ok(status) = store.ingest_status(None).await else {
        return String::new();
    };
    let now = Utc::now();
    let mut out = String::from("# TYPE dd0c_ingest_lag_seconds gauge\n");
    for s in &status {
        let Some(lag) = s.lag_seconds(now) else {
            continue;
        };
        let tenant = if per_tenant {
            format!("tenant=\"{}\",", s.tenant)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "dd0c_ingest_lag_seconds{{{tenant}account=\"{}\",source=\"{}\"}} {lag:.3}",
            s.account_id, s.source
        );
    }
    out
}
