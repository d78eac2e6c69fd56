//! `dd0c-cost serve`: the local dispatcher — HTTP ingress, queue consumers per function, and the
//! scheduler — in one process whose roles are selectable, so compose can run each as a service.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use dd0c_ingest::admit::Admitter;
use dd0c_ingest::normalizers::Normalizers;
use dd0c_ingest::PriceCatalog;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, ACTIONS_QUEUE, INGEST_QUEUE, SCORE_QUEUE};
use crate::consumer::{Consumer, ConsumerConfig};
use dd0c_adapters_jwt::JwtAuth;
use dd0c_api::metrics::{Counter, Metrics};
use dd0c_function::job::Job;
use dd0c_function::Batches;
use dd0c_ingest::handler::{Ingest, Source};
use dd0c_ingest::retention::Retention;
use dd0c_ingest::trail::PollJob;
use dd0c_notify::digest::DigestJob;
use dd0c_notify::Notifier;
use dd0c_ports::clock::SystemClock;
use dd0c_ports::queue::Queue;
use dd0c_score::function::Score;
use dd0c_score::Scorer;
use dd0c_zombie::HuntJob;

/// What a process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Role {
    /// The HTTP surface.
    Api,
    /// Normalizes admitted records.
    Ingest,
    /// Scores cost events.
    Score,
    /// Sends alerts from the outbox.
    Notify,
    /// Runs scheduled jobs (one replica per tick).
    Scheduler,
    /// Serves the dashboard alone (the api role serves it too, beside the API).
    Dashboard,
    /// Runs approved remediation actions on customer accounts.
    Act,
}

/// Whether `roles` serve HTTP (and so need `--listen`).
pub fn listens(roles: &BTreeSet<Role>) -> bool {
    roles.contains(&Role::Api) || roles.contains(&Role::Dashboard)
}

/// A role name that is none of [`Role`]'s.
#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?} (roles: api, ingest, score, notify, scheduler, dashboard, act)")]
pub struct UnknownRole(String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Role as clap::ValueEnum>::from_str(s.trim(), false)
            .map_err(|_| UnknownRole(s.trim().into()))
    }
}

/// The roles given; none means every role.
pub fn roles(given: &[Role]) -> BTreeSet<Role> {
    if given.is_empty() {
        <Role as clap::ValueEnum>::value_variants()
            .iter()
            .copied()
            .collect()
    } else {
        given.iter().copied().collect()
    }
}

/// Parses `api,score`; empty means every role.
pub fn parse_roles(text: &str) -> Result<BTreeSet<Role>, UnknownRole> {
    let given = text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Role::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(roles(&given))
}

/// How the dispatcher runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub roles: BTreeSet<Role>,
    pub consumer: ConsumerConfig,
    pub max_body: usize,
    /// Period of the retention job.
    pub retention_every: Duration,
    /// This replica's name in job claims.
    pub replica: String,
    /// The Slack app's signing secret (`DD0C_SLACK_SIGNING_SECRET`).
    pub slack_signing_secret: Option<String>,
    /// The dashboard tokens' HS256 secret (`DD0C_JWT_SECRET`); `None`: a random one for this
    /// process (tokens die with it).
    pub jwt_secret: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`DD0C_TRUSTED_PROXIES`).
    pub trusted_proxies: dd0c_api::TrustedProxies,
    /// The bearer token `/metrics` asks for (`DD0C_METRICS_TOKEN`); `None`: open.
    pub metrics_token: Option<String>,
    /// Whether `/metrics` is served without a token.
    pub metrics_public: bool,
    /// Whether metrics name tenants (`DD0C_METRICS_TENANT_LABELS`).
    pub metrics_tenant_labels: bool,
    /// How far past the clock a record's event time may be.
    pub max_event_skew: chrono::TimeDelta,
    /// The most one pushed, polled or forwarded input may inflate to.
    pub inflate: dd0c_ingest::inflate::InflateLimit,
    /// What one client may hold of the HTTP server.
    pub http: crate::server::Limits,
    /// The gRPC listener's limits.
    pub grpc: crate::grpc::Limits,
    /// How often the ingest role polls the trail buckets.
    pub poll_every: Duration,
    /// Users sign in through this Cognito pool instead of locally; `None`: local users.
    pub cognito: Option<dd0c_adapters_jwt::CognitoConfig>,
    /// The web app served at `/`.
    pub dashboard: Option<dd0c_api::dashboard::Dashboard>,
    /// The heartbeat file kept for `dd0c-cost healthcheck` (`DD0C_HEALTH_FILE`).
    pub health_file: Option<std::path::PathBuf>,
    /// The catalog file, when one is named: reloaded when it changes, and rebuilt daily when
    /// asked.
    pub catalog: Option<CatalogFile>,
}

/// The catalog file a dispatcher prices with (`DD0C_CATALOG`).
#[derive(Debug, Clone)]
pub struct CatalogFile {
    /// The file.
    pub path: std::path::PathBuf,
    /// The Price List's URL the scheduler rebuilds it from daily; `None`: it is not rebuilt.
    pub update_from: Option<String>,
    /// How often every replica checks it for a newer catalog.
    pub reload_every: Duration,
}

impl ServeConfig {
    /// `roles` with every other setting at its documented default, as replica `replica`: what
    /// tests and benchmarks start from, changing what they measure.
    pub fn defaults(roles: BTreeSet<Role>, replica: &str) -> ServeConfig {
        ServeConfig {
            roles,
            consumer: ConsumerConfig::default(),
            max_body: DEFAULT_MAX_BODY,
            retention_every: Duration::from_secs(3600),
            replica: replica.to_owned(),
            slack_signing_secret: None,
            jwt_secret: None,
            trusted_proxies: Default::default(),
            metrics_token: None,
            metrics_public: false,
            metrics_tenant_labels: false,
            max_event_skew: dd0c_ingest::normalizers::DEFAULT_MAX_SKEW,
            inflate: dd0c_ingest::inflate::InflateLimit::default(),
            http: Default::default(),
            grpc: Default::default(),
            poll_every: DEFAULT_POLL_EVERY,
            cognito: None,
            health_file: None,
            dashboard: None,
            catalog: None,
        }
    }
}

pub use dd0c_api::ingest::DEFAULT_MAX_BODY;

/// How often trail buckets are polled by default: CloudTrail delivers a file about every five
/// minutes per region, so a minute adds little to its own delay.
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(60);

/// Everything a dispatcher process runs.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Dispatcher {
    pub backend: Backend,
    pub config: ServeConfig,
    /// Every tenant's normalizer, shared by the HTTP edge and the ingest function.
    pub normalizers: Arc<Normalizers>,
    pub metrics: Arc<Metrics>,
    /// Issues and verifies dashboard tokens.
    pub jwt: JwtAuth,
    /// Verifies the pool's tokens when users sign in through Cognito.
    pub cognito: Option<Arc<dd0c_adapters_jwt::CognitoAuth>>,
}

impl Dispatcher {
    /// A dispatcher over `backend`; fails on a weak `jwt_secret`.
    pub fn new(backend: Backend, config: ServeConfig, catalog: Arc<PriceCatalog>) -> Result<Self> {
        let secret = config
            .jwt_secret
            .clone()
            .unwrap_or_else(dd0c_api::accounts::random_secret);
        let jwt = JwtAuth::new(&secret)?;
        let cognito = match &config.cognito {
            Some(pool) => Some(Arc::new(dd0c_adapters_jwt::CognitoAuth::new(pool.clone())?)),
            None => None,
        };
        backend.catalog.replace(catalog);
        let normalizers = Arc::new(
            Normalizers::new(backend.catalog.clone(), backend.stores.recall.clone())
                .refusing_future(config.max_event_skew)
                .inflating_at_most(config.inflate),
        );
        Ok(Dispatcher {
            backend,
            config,
            normalizers,
            metrics: Arc::new(Metrics::default()),
            jwt,
            cognito,
        })
    }

    /// Admits one account's records at an edge (push, trail poller, agents): priced here,
    /// archived where an archive is configured, cost events queued for scoring.
    pub fn admitter(&self) -> Arc<Admitter> {
        Arc::new(Admitter {
            normalizers: self.normalizers.clone(),
            score_queue: self.backend.score_queue.clone(),
            archive: self.backend.archive.clone(),
            limit: self.backend.intake.clone(),
        })
    }

    /// The ingest function's consumer (tests step it with `try_execute_batch`).
    pub fn ingest_consumer(&self) -> Consumer {
        let backend = &self.backend;
        let mut ingest = Ingest::new(
            self.normalizers.clone(),
            backend.score_queue.clone(),
            Source::Admitted,
        );
        if let Some(archive) = &backend.archive {
            ingest = ingest.archiving(archive.clone());
        }
        self.consumer(&backend.ingest_queue, Arc::new(ingest))
    }

    /// The score function's consumer.
    pub fn score_consumer(&self) -> Consumer {
        let stores = &self.backend.stores;
        let scorer = Scorer::new(
            stores.score.clone(),
            stores.anomalies.clone(),
            stores.settings.clone(),
        );
        let score =
            Score::new(scorer, SCORE_QUEUE).following(stores.ledger.clone(), stores.outbox.clone());
        self.consumer(&self.backend.score_queue, Arc::new(score))
    }

    /// The consumer that runs approved actions.
    pub fn actions_consumer(&self) -> Consumer {
        let run = dd0c_actions::RunActions(self.backend.remediation(Arc::new(SystemClock)));
        self.consumer(&self.backend.actions_queue, Arc::new(run))
    }

    fn consumer(&self, queue: &Arc<dyn Queue>, function: Arc<dyn Batches>) -> Consumer {
        Consumer {
            queue: queue.clone(),
            function,
            config: self.config.consumer,
            metrics: self.metrics.clone(),
        }
    }

    /// The notification channels over this backend.
    fn channels(&self) -> Vec<Arc<dyn dd0c_notify::channels::Deliver>> {
        dd0c_notify::channels::standard(dd0c_notify::channels::Parts {
            webhook: self.backend.webhook.clone(),
            mail: self.backend.mail.clone(),
            secrets: self.backend.stores.settings.clone(),
            clock: Arc::new(SystemClock),
            endpoints: self.backend.endpoints.clone(),
        })
    }

    /// The notifier over this backend.
    pub fn notifier(&self) -> Notifier {
        Notifier {
            outbox: self.backend.stores.outbox.clone(),
            settings: self.backend.stores.settings.clone(),
            flags: self.backend.flags.clone(),
            channels: self.channels(),
            clock: Arc::new(SystemClock),
            lease: self.config.consumer.visibility,
        }
    }

    /// The HTTP router: every route of `functions/api` over this backend, and the dashboard
    /// when one is configured. Tokens are this process's own (local sign-in), or the Cognito
    /// pool's when one is configured (then it issues none).
    pub fn router(&self) -> axum::Router {
        let backend = &self.backend;
        let jwt = Arc::new(self.jwt.clone());
        let auth: Arc<dyn dd0c_ports::auth::Auth> = match &self.cognito {
            Some(cognito) => cognito.clone(),
            None => jwt.clone(),
        };
        let mut api = dd0c_api::Api::new(backend.stores.clone(), backend.flags.clone(), auth);
        if self.cognito.is_none() {
            api.issuer = Some(jwt);
            api.throttle = Some(dd0c_api::throttle::Throttle::new(backend.attempts.clone()));
        }
        api.dashboard = self.config.dashboard.clone();
        api.secrets = backend.secrets.clone();
        api.outbound = backend.outbound.clone();
        api.channels = self.channels();
        api.remediation = Some(backend.remediation(Arc::new(SystemClock)));
        api.trusted_proxies = self.config.trusted_proxies.clone();
        api.sources = Some(backend.sources.clone());
        api.catalog = backend.catalog.clone();
        api.edge = Some(dd0c_api::ingest::Edge {
            admitter: self.admitter(),
            max_body: self.config.max_body,
        });
        api.slack = self
            .config
            .slack_signing_secret
            .as_deref()
            .map(dd0c_api::slack::SlackApp::new);
        api.operations = dd0c_api::operations::Operations {
            metrics: self.metrics.clone(),
            metrics_token: self.config.metrics_token.clone(),
            metrics_public: self.config.metrics_public,
            tenant_labels: self.config.metrics_tenant_labels,
            queues: vec![
                (INGEST_QUEUE.into(), backend.ingest_queue.clone()),
                (SCORE_QUEUE.into(), backend.score_queue.clone()),
                (ACTIONS_QUEUE.into(), backend.actions_queue.clone()),
            ],
            readiness: Arc::new(backend.clone()),
        };
        dd0c_api::app(Arc::new(api))
    }

    /// The trail poller over this backend, delivering to its admitter.
    pub fn poller(&self) -> dd0c_ingest::trail::Poller {
        let backend = &self.backend;
        dd0c_ingest::trail::Poller::new(
            backend.sources.clone(),
            Arc::new(dd0c_ingest::trail::AccountTrails {
                tenants: backend.stores.tenants.clone(),
                cloud: backend.cloud.clone(),
                credentials: dd0c_ports::secrets::Credentials::new(
                    backend.stores.tenants.clone(),
                    backend.secrets.clone(),
                ),
            }),
            self.admitter() as Arc<dyn dd0c_ingest::trail::Deliver>,
        )
    }

    /// The scheduled jobs of its roles: the trail poll (ingest); retention, the daily zombie
    /// hunt and the digests (scheduler).
    pub fn jobs(&self) -> Vec<Arc<dyn Job>> {
        let (roles, backend) = (&self.config.roles, &self.backend);
        let mut jobs: Vec<Arc<dyn Job>> = Vec::new();
        if roles.contains(&Role::Ingest) {
            jobs.push(Arc::new(PollJob {
                poller: self.poller(),
                every: self.config.poll_every,
            }));
        }
        if roles.contains(&Role::Scheduler) {
            jobs.push(Arc::new(Retention {
                stores: backend.stores.clone(),
                sources: backend.sources.clone(),
                queues: vec![
                    backend.ingest_queue.clone(),
                    backend.score_queue.clone(),
                    backend.actions_queue.clone(),
                ],
                archive: backend
                    .archive
                    .clone()
                    .map(|archive| (archive, backend.archive_retention_days)),
                ledger_days: backend.ledger_retention_days,
                every: self.config.retention_every,
            }));
            jobs.push(Arc::new(HuntJob(backend.hunter(Arc::new(SystemClock)))));
            jobs.push(Arc::new(dd0c_actions::AutoJob(
                backend.remediation(Arc::new(SystemClock)),
            )));
            jobs.push(Arc::new(DigestJob {
                notifier: self.notifier(),
                stores: backend.stores.clone(),
            }));
            if let Some(job) = self.catalog_update() {
                jobs.push(job);
            }
        }
        jobs
    }

    /// The daily rebuild of the catalog file from the Price List, when asked for.
    fn catalog_update(&self) -> Option<Arc<dyn Job>> {
        let file = self.config.catalog.as_ref()?;
        let url = file.update_from.as_deref()?;
        let list = match dd0c_adapters_http::PriceListHttp::new(url) {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "the catalog update is off");
                return None;
            }
        };
        let (archive, key) = match crate::catalog::file_archive(&file.path) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "the catalog update is off");
                return None;
            }
        };
        Some(Arc::new(dd0c_ingest::catalog::refresh::UpdateJob {
            list: Arc::new(list),
            archive: Arc::new(archive),
            key,
            current: self.backend.catalog.clone(),
        }))
    }

    /// Runs the configured roles until `shutdown`, then finishes the work in hand and returns.
    /// `listener` serves the API role (required when it is on).
    pub async fn run(
        self,
        listener: Option<TcpListener>,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let roles = &self.config.roles;
        let mut tasks = tokio::task::JoinSet::new();
        let mut consumers = Vec::new();
        if roles.contains(&Role::Ingest) {
            consumers.push(self.ingest_consumer());
        }
        if roles.contains(&Role::Score) {
            consumers.push(self.score_consumer());
        }
        if roles.contains(&Role::Act) {
            consumers.push(self.actions_consumer());
        }
        for consumer in consumers {
            // Copies share one handler (and so one normalizer's memory of instances).
            for _ in 0..self.config.consumer.concurrency.max(1) {
                tasks.spawn(consumer.clone().run(shutdown.clone()));
            }
        }
        if roles.contains(&Role::Notify) {
            tasks.spawn(notify(
                self.notifier(),
                self.metrics.clone(),
                self.config.consumer.idle.max(NOTIFY_IDLE),
                shutdown.clone(),
            ));
        }
        for job in self.jobs() {
            tasks.spawn(crate::jobs::schedule(
                job,
                self.backend.stores.schedule.clone(),
                self.metrics.clone(),
                self.config.replica.clone(),
                shutdown.clone(),
            ));
        }
        if listens(roles) {
            let listener = listener.context("the api and dashboard roles need a listener")?;
            let router = match roles.contains(&Role::Api) {
                true => self.router(),
                false => dd0c_api::dashboard::app(
                    self.config
                        .dashboard
                        .clone()
                        .context("the dashboard role needs DD0C_DASHBOARD_DIR")?,
                ),
            };
            let stop = shutdown.clone();
            tasks.spawn(crate::server::run(listener, router, self.config.http, stop));
        }
        if let Some(file) = &self.config.catalog {
            tasks.spawn(crate::catalog::reload_every(
                file.clone(),
                self.backend.catalog.clone(),
                shutdown.clone(),
            ));
        }
        if let Some(path) = &self.config.health_file {
            tasks.spawn(crate::health::heartbeat(
                Arc::new(self.backend.clone()),
                path.clone(),
                shutdown.clone(),
            ));
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// The pause between notifier rounds that found nothing to do.
const NOTIFY_IDLE: Duration = Duration::from_millis(500);

/// Runs notifier rounds until `shutdown`: right away again while the outbox is busy.
async fn notify(
    notifier: Notifier,
    metrics: Arc<Metrics>,
    idle: Duration,
    shutdown: CancellationToken,
) {
    let mut backoff = idle;
    while !shutdown.is_cancelled() {
        let pause = match notifier.try_execute().await {
            Ok(round) => {
                backoff = idle;
                for (channel, sent) in &round.sent {
                    metrics.count(Counter::Notified, channel.as_str(), *sent as u64);
                }
                metrics.count(Counter::Processed, "notify", round.completed as u64);
                metrics.count(Counter::Failed, "notify", round.failed as u64);
                metrics.count(Counter::Held, "panic_mode", round.held as u64);
                metrics.count(Counter::Held, "breaker_open", round.skipped_open as u64);
                if round.claimed == dd0c_notify::BATCH {
                    continue;
                }
                idle
            }
            Err(e) => {
                backoff = (backoff * 2).min(Duration::from_secs(5));
                tracing::warn!(function = "notify", error = %e, retry_in = ?backoff, "outbox unavailable");
                backoff
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn terminated() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let sigterm = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = sigterm => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_unknown_ones_are_named() {
        assert_eq!(
            parse_roles("api, score").expect("roles"),
            [Role::Api, Role::Score].into()
        );
        assert_eq!(
            parse_roles("").expect("roles"),
            [
                Role::Api,
                Role::Ingest,
                Role::Score,
                Role::Notify,
                Role::Scheduler,
                Role::Dashboard,
                Role::Act
            ]
            .into()
        );
        assert!(parse_roles("api,zombie")
            .expect_err("unknown")
            .to_string()
            .contains("zombie"));
    }
}
