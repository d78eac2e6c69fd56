//! The forwarder: sends the spool's batches over one gRPC stream per round, in order, and
//! forgets each batch once the dispatcher acknowledges it; a batch sent but not acknowledged
//! (the dispatcher went away) is sent again on reconnect, and the dispatcher's deduplication
//! makes the second copy harmless. Heartbeats go beside it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use dd0c_grpc::proto::ingest_client::IngestClient;
use dd0c_grpc::proto::{Batch, Beat};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::spool::Spool;
use crate::{Agent, Stats};

/// Longest pause after a failed round.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Sends the spool to the dispatcher.
#[allow(missing_debug_implementations)]
pub struct Forwarder {
    endpoint: Endpoint,
    authorization: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    spool: Arc<Spool>,
    stats: Arc<Stats>,
    wake: Arc<tokio::sync::Notify>,
    agent_id: String,
    heartbeat: Duration,
    source: &'static str,
}

impl Forwarder {
    /// The forwarder `agent` describes.
    pub fn new(
        agent: &Agent,
        spool: Arc<Spool>,
        stats: Arc<Stats>,
        wake: Arc<tokio::sync::Notify>,
    ) -> Result<Forwarder> {
        let mut endpoint = Endpoint::from_shared(agent.endpoint.clone())
            .with_context(|| format!("DD0C_AGENT_ENDPOINT {:?}", agent.endpoint))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .initial_stream_window_size(dd0c_grpc::STREAM_WINDOW)
            .initial_connection_window_size(dd0c_grpc::CONNECTION_WINDOW);
        if agent.endpoint.starts_with("https://") {
            let tls = match &agent.ca_cert {
                Some(path) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(
                    std::fs::read(path).with_context(|| {
                        format!("reading DD0C_AGENT_CA_CERT {}", path.display())
                    })?,
                )),
                None => ClientTlsConfig::new().with_webpki_roots(),
            };
            endpoint = endpoint.tls_config(tls).context("the TLS settings")?;
        }
        let authorization = format!("Bearer {}", agent.token)
            .parse()
            .context("DD0C_AGENT_TOKEN holds characters a header cannot")?;
        Ok(Forwarder {
            endpoint,
            authorization,
            agent_id: agent_id(&agent.spool_dir)?,
            spool,
            stats,
            wake,
            heartbeat: Duration::from_secs(agent.heartbeat_seconds),
            source: if agent.cloudtrail_s3.is_some() {
                "s3"
            } else {
                "sqs"
            },
        })
    }

    /// Forwards until `shutdown` over one connection, which the channel re-establishes when it
    /// breaks; failed rounds back off.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut client = IngestClient::new(self.endpoint.connect_lazy());
        let mut backoff = Duration::from_millis(200);
        let mut last_beat: Option<tokio::time::Instant> = None;
        while !shutdown.is_cancelled() {
            let outcome = async {
                if last_beat.is_none_or(|t| t.elapsed() >= self.heartbeat) {
                    self.beat(&mut client).await?;
                    last_beat = Some(tokio::time::Instant::now());
                }
                self.round(&mut client).await
            }
            .await;
            // New records wake the agent early only while the dispatcher answers: one that
            // asked to wait would only refuse them sooner, and one that is away would see a
            // connection attempt per record read instead of the backoff.
            let (pause, wakeable) = match outcome {
                Ok(()) => {
                    backoff = Duration::from_millis(200);
                    (self.heartbeat.min(Duration::from_secs(1)), true)
                }
                Err(e) => match over_rate(&e) {
                    Some(wait) => {
                        tracing::warn!(error = %format!("{e:#}"), retry_in = ?wait, "over the tenant's intake rate; batches stay spooled");
                        (wait, false)
                    }
                    None => {
                        tracing::warn!(error = %format!("{e:#}"), retry_in = ?backoff, "the dispatcher is unreachable; batches stay spooled");
                        let pause = backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        (pause, false)
                    }
                },
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified(), if wakeable => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        request
    }

    /// Sends every spooled batch and forgets those acknowledged.
    async fn round(&self, client: &mut IngestClient<Channel>) -> Result<()> {
        let pending = self.spool.pending()?;
        if pending.is_empty() {
            return Ok(());
        }
        let sizes: std::collections::HashMap<u64, usize> =
            pending.iter().map(|b| (b.seq, b.records.len())).collect();
        let batches = pending.into_iter().map(|b| Batch {
            seq: b.seq,
            records: b.records.join("\n").into(),
        });
        let mut acks = client
            .forward(self.request(tokio_stream::iter(batches)))
            .await
            .context("opening the forward stream")?
            .into_inner();
        while let Some(ack) = acks.message().await.context("reading acknowledgements")? {
            self.spool.ack(ack.seq)?;
            let records = sizes.get(&ack.seq).copied().unwrap_or(0) as u64;
            self.stats.forwarded.fetch_add(records, Ordering::Relaxed);
            if ack.rejected > 0 {
                tracing::warn!(seq = ack.seq, rejected = ack.rejected, reasons = ?ack.rejections, "records refused");
            }
        }
        Ok(())
    }

    async fn beat(&self, client: &mut IngestClient<Channel>) -> Result<()> {
        let beat = Beat {
            agent_id: self.agent_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            hostname: hostname(),
            source: self.source.to_owned(),
            newest_event_unix_ms: self.stats.newest_ms.load(Ordering::Relaxed),
            spooled: self.spool.len()? as u64,
            forwarded: self.stats.forwarded.load(Ordering::Relaxed),
        };
        client
            .heartbeat(self.request(beat))
            .await
            .context("sending a heartbeat")?;
        Ok(())
    }
}

/// How long the dispatcher asked to wait, when it refused a batch over the tenant's intake
/// rate.
fn over_rate(error: &anyhow::Error) -> Option<Duration> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<tonic::Status>())
        .and_then(dd0c_grpc::retry_after)
        .map(Duration::from_secs)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The agent's id, kept in the spool directory so it survives restarts.
fn agent_id(dir: &std::path::Path) -> Result<String> {
    let file = dir.join("agent-id");
    if let Ok(id) = std::fs::read_to_string(&file) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_owned());
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("agent-{:x}-{:x}", nanos, std::process::id());
    std::fs::write(&file, &id).with_context(|| format!("writing {}", file.display()))?;
    Ok(id)
}
