//! # dd0c-grpc
//!
//! Agent ingestion over gRPC (`proto/ingest.proto`): the generated client and server in
//! [`proto`], and [`IngestService`] — the server the dispatcher's ingest role runs on
//! `DD0C_GRPC_LISTEN`. It admits records exactly as `POST /v1/events` does: the ingest token in
//! the call's `authorization` metadata names one account, whose records are priced on arrival
//! (through the shared [`Admitter`]) and whose cost events are queued; another account's are
//! refused; a batch over the tenant's intake rate is `RESOURCE_EXHAUSTED` with [`RETRY_AFTER`]
//! seconds in its metadata. Heartbeats go to the [`SourceStore`], for `GET /v1/agents`.

use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use dd0c_ingest::admit::Admitter;
use dd0c_ingest::bounds::MAX_RECORDS_PER_PUSH;
use dd0c_ports::auth::{token_sha256, IngestGrant, IngestTokens};
use dd0c_ports::sources::{AgentBeat, SourceStore};
use futures_util::Stream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

/// The generated messages, client and server.
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic
)]
pub mod proto {
    tonic::include_proto!("dd0c.agent.v1");
}

use proto::ingest_server::{Ingest, IngestServer};
use proto::{Ack, Batch, Beat, BeatAck};

/// HTTP/2 flow-control window of one stream, both ends: a batch of a thousand records is about
/// half a megabyte, and HTTP/2's default window (64 KiB) would stall it for window updates.
pub const STREAM_WINDOW: u32 = 4 << 20;

/// HTTP/2 flow-control window of a connection, both ends.
pub const CONNECTION_WINDOW: u32 = 8 << 20;

/// Largest HTTP/2 frame the listener accepts: a batch then arrives in a few frames rather than
/// HTTP/2's default of 16 KiB each.
pub const MAX_FRAME: u32 = 1 << 20;

/// How long a stream trusts its token's grant before asking the store again: revoking the
/// token or removing its account ends an open stream within this.
pub const GRANT_RECHECK: std::time::Duration = std::time::Duration::from_secs(3);

/// The metadata of a `RESOURCE_EXHAUSTED` batch over its tenant's intake rate: whole seconds
/// until it may be sent again (as HTTP's `Retry-After`).
pub const RETRY_AFTER: &str = "retry-after";

/// Seconds `status` says to wait before sending again, when it refuses a batch over its
/// tenant's intake rate.
pub fn retry_after(status: &Status) -> Option<u64> {
    if status.code() != tonic::Code::ResourceExhausted {
        return None;
    }
    status
        .metadata()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Selects rustls' ring provider for this process's gRPC TLS, once: the AWS SDK in the same
/// process brings aws-lc-rs too, and rustls refuses to guess between two.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The ingest service.
#[allow(missing_debug_implementations)]
pub struct IngestService {
    tokens: Arc<dyn IngestTokens>,
    sources: Arc<dyn SourceStore>,
    admitter: Arc<Admitter>,
}

impl IngestService {
    /// Admits with `admitter` the records of the accounts `tokens` grant; heartbeats to `sources`.
    pub fn new(
        tokens: Arc<dyn IngestTokens>,
        sources: Arc<dyn SourceStore>,
        admitter: Arc<Admitter>,
    ) -> Self {
        IngestService {
            tokens,
            sources,
            admitter,
        }
    }

    /// The tonic server of this service.
    pub fn server(self) -> IngestServer<Self> {
        IngestServer::new(self)
    }

    /// The account the call's bearer token admits.
    async fn grant(&self, metadata: &tonic::metadata::MetadataMap) -> Result<IngestGrant, Status> {
        grant_of(self.tokens.as_ref(), &token_hash(metadata)?).await
    }
}

/// The hash of the call's bearer token.
#[allow(clippy::result_large_err)] // tonic's Status is what a call answers
fn token_hash(metadata: &tonic::metadata::MetadataMap) -> Result<String, Status> {
    metadata
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| token_sha256(t.trim()))
        .ok_or_else(|| {
            Status::unauthenticated("an ingest token is required: authorization: Bearer <token>")
        })
}

/// The account a token hash admits, while the token is unrevoked and its account kept.
async fn grant_of(tokens: &dyn IngestTokens, hash: &str) -> Result<IngestGrant, Status> {
    tokens
        .grant(hash)
        .await
        .map_err(|e| Status::unavailable(format!("checking the ingest token: {e}")))?
        .ok_or_else(|| Status::unauthenticated("unknown or revoked ingest token"))
}

/// A stream's grant, asked for again once it is older than [`GRANT_RECHECK`].
struct Granted {
    tokens: Arc<dyn IngestTokens>,
    hash: String,
    grant: IngestGrant,
    checked: tokio::time::Instant,
}

impl Granted {
    /// The grant, still valid within [`GRANT_RECHECK`]; an error once it is not.
    async fn current(&mut self) -> Result<&IngestGrant, Status> {
        if self.checked.elapsed() >= GRANT_RECHECK {
            let grant = grant_of(self.tokens.as_ref(), &self.hash).await?;
            if grant != self.grant {
                return Err(Status::unauthenticated(
                    "the ingest token now admits another account",
                ));
            }
            self.checked = tokio::time::Instant::now();
        }
        Ok(&self.grant)
    }
}

/// Admits one batch of `grant`'s account.
async fn admit(admitter: &Admitter, grant: &IngestGrant, batch: Batch) -> Result<Ack, Status> {
    let mut priced = admitter
        .price(
            &grant.tenant,
            &grant.account_id,
            batch.records.into(),
            "agent",
            MAX_RECORDS_PER_PUSH,
        )
        .await
        .map_err(|e| Status::unavailable(format!("pricing batch {}: {e}", batch.seq)))?;
    if let Some(refused) = &priced.refused {
        return Err(Status::resource_exhausted(format!(
            "batch {}: {refused}; nothing was queued",
            batch.seq
        )));
    }
    if priced.over_limit > 0 {
        return Err(Status::invalid_argument(format!(
            "batch {} holds more than the {MAX_RECORDS_PER_PUSH} records one batch may",
            batch.seq
        )));
    }
    if let Some(over) = admitter.draw_live(&priced).await.map_err(|e| {
        Status::unavailable(format!(
            "drawing batch {} on the intake rate: {e}",
            batch.seq
        ))
    })? {
        let mut status = Status::resource_exhausted(format!("batch {}: {over}", batch.seq));
        status
            .metadata_mut()
            .insert(RETRY_AFTER, over.retry_after_secs().into());
        return Err(status);
    }
    let queued = admitter
        .queue(&mut priced, Utc::now())
        .await
        .map_err(|e| Status::unavailable(format!("queueing batch {}: {e}", batch.seq)))?;
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Ack {
        seq: batch.seq,
        accepted: count(priced.accepted),
        priced: count(queued.priced),
        duplicates: count(queued.duplicates),
        rejected: count(priced.rejected),
        rejections: priced.reasons,
    })
}

type AckStream = Pin<Box<dyn Stream<Item = Result<Ack, Status>> + Send>>;

#[tonic::async_trait]
impl Ingest for IngestService {
    type ForwardStream = AckStream;

    async fn forward(
        &self,
        request: Request<Streaming<Batch>>,
    ) -> Result<Response<AckStream>, Status> {
        let (metadata, _, mut batches) = request.into_parts();
        let hash = token_hash(&metadata)?;
        let mut granted = Granted {
            grant: grant_of(self.tokens.as_ref(), &hash).await?,
            tokens: self.tokens.clone(),
            hash,
            checked: tokio::time::Instant::now(),
        };
        let admitter = self.admitter.clone();
        let (acks, receiver) = tokio::sync::mpsc::channel(16);
        // Batches are admitted one at a time, in order: an Ack means its batch is queued. The
        // first failure ends the stream (a revoked token's too: its grant is checked again
        // before a batch once it is older than GRANT_RECHECK); the agent sends the
        // unacknowledged batches again.
        tokio::spawn(async move {
            while let Some(batch) = batches.next().await {
                let outcome = match (batch, granted.current().await) {
                    (Ok(batch), Ok(grant)) => admit(&admitter, grant, batch).await,
                    (Err(status), _) | (_, Err(status)) => Err(status),
                };
                let failed = outcome.is_err();
                if acks.send(outcome).await.is_err() || failed {
                    break;
                }
            }
        });
        let acks: AckStream = Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver));
        Ok(Response::new(acks))
    }

    async fn heartbeat(&self, request: Request<Beat>) -> Result<Response<BeatAck>, Status> {
        let grant = self.grant(request.metadata()).await?;
        let beat = request.into_inner();
        let text = |s: String, field: &str, max: usize| -> Result<String, Status> {
            if s.is_empty() || s.len() > max || s.chars().any(dd0c_ports::text::is_unprintable) {
                Err(Status::invalid_argument(format!(
                    "{field}: 1 to {max} printable characters"
                )))
            } else {
                Ok(s)
            }
        };
        let beat = AgentBeat {
            tenant: grant.tenant,
            account_id: grant.account_id,
            agent_id: text(beat.agent_id, "agent_id", 64)?,
            version: text(beat.version, "version", 32)?,
            hostname: text(beat.hostname, "hostname", 255)?,
            source: text(beat.source, "source", 16)?,
            last_seen: Utc::now(),
            newest_event_time: (beat.newest_event_unix_ms > 0)
                .then(|| DateTime::from_timestamp_millis(beat.newest_event_unix_ms))
                .flatten(),
            spooled: beat.spooled,
            forwarded: beat.forwarded,
        };
        self.sources
            .heartbeat(&beat)
            .await
            .map_err(|e| Status::unavailable(format!("storing the heartbeat: {e}")))?;
        Ok(Response::new(BeatAck {}))
    }
}
