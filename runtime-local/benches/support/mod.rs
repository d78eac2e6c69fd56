//! What the pipeline benchmarks share: fresh databases, onboarded tenants, launch records and a
//! dispatcher serving on loopback.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use dd0c_cost::backend::Backend;
use dd0c_cost::consumer::ConsumerConfig;
use dd0c_cost::serve::{parse_roles, Dispatcher, ServeConfig};
use dd0c_ingest::PriceCatalog;
use dd0c_ports::auth::IngestGrant;
use dd0c_ports::domain::{Account, Tenant};
use tokio_util::sync::CancellationToken;

/// A fresh database on `server`, named `name` and this process.
pub async fn fresh(server: &str, name: &str) -> String {
    let name = format!("{name}_{}", std::process::id());
    dd0c_adapters_postgres::create_database(server, &name)
        .await
        .expect("a database")
}

/// The id of the benchmarks' `account`-th AWS account.
pub fn account_id(account: usize) -> String {
    format!("{:012}", 100_000_000_000usize + account)
}

/// A launch in `account`, the `seq`-th of its records (unique per account and sequence).
pub fn launch(account: usize, seq: usize) -> serde_json::Value {
    let account_id = account_id(account);
    let instance_type = ["t3.medium", "m5.large", "c5.xlarge", "r5.large"][seq % 4];
    serde_json::json!({"eventVersion": "1.09", "eventTime": format!("2026-03-01T{:02}:{:02}:{:02}Z", (seq / 3600) % 24, (seq / 60) % 60, seq % 60),
        "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "us-east-1", "recipientAccountId": account_id,
        "eventID": format!("bench-{account}-{seq}"),
        "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{account_id}:assumed-role/ci/job-{seq}"),
            "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::{account_id}:role/ci")}}},
        "requestParameters": {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1 + seq % 3}]}, "instanceType": instance_type},
        "responseElements": null})
}

/// Adds `tenant` with `accounts` (benchmark account numbers), each with an ingest token;
/// returns the tokens in the accounts' order.
pub async fn onboard(
    backend: &Backend,
    tenant: &str,
    accounts: std::ops::Range<usize>,
) -> Vec<String> {
    let stores = &backend.stores;
    stores
        .tenants
        .add_tenant(&Tenant {
            name: tenant.into(),
            created_at: Utc::now(),
        })
        .await
        .expect("tenant");
    let mut tokens = Vec::new();
    for a in accounts {
        let account_id = account_id(a);
        stores
            .tenants
            .add_account(&Account {
                role_arn: None,
                external_id: None,
                access_key_id: None,
                remediation_role_arn: None,
                remediation_access_key_id: None,
                tenant: tenant.into(),
                account_id: account_id.clone(),
                name: None,
                created_at: Utc::now(),
            })
            .await
            .expect("account");
        let token = format!("dd0c_ing_bench_{a}");
        let grant = IngestGrant {
            tenant: tenant.into(),
            account_id,
        };
        let hash = dd0c_ports::auth::token_sha256(&token);
        stores.tokens.add_token(&grant, &hash).await.expect("token");
        tokens.push(token);
    }
    tokens
}

/// A dispatcher with `roles` on `backend`, polling idle queues every 10 ms, serving HTTP on a
/// loopback port: its address, and the token that stops it.
pub async fn start(backend: &Backend, roles: &str) -> (String, CancellationToken) {
    let config = ServeConfig {
        consumer: ConsumerConfig {
            idle: Duration::from_millis(10),
            ..ConsumerConfig::default()
        },
        ..ServeConfig::defaults(parse_roles(roles).expect("roles"), "bench")
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    tokio::spawn(
        Dispatcher::new(backend.clone(), config, PriceCatalog::bundled())
            .expect("dispatcher")
            .run(Some(listener), shutdown.clone()),
    );
    (address, shutdown)
}

/// The cost events committed.
pub async fn committed(pool: &dd0c_adapters_postgres::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM cost_events")
        .fetch_one(pool)
        .await
        .expect("count")
}

/// How long each of `sent` (event id, when pushed) took until its cost event was committed, in
/// milliseconds, sorted; every one must be committed. The benchmarks' event ids are unique
/// across tenants.
pub async fn commit_latencies(
    pool: &dd0c_adapters_postgres::PgPool,
    sent: &[(String, chrono::DateTime<Utc>)],
) -> Vec<f64> {
    let ids: Vec<&str> = sent.iter().map(|(id, _)| id.as_str()).collect();
    let rows: Vec<(String, chrono::DateTime<Utc>)> =
        sqlx::query_as("SELECT event_id, created_at FROM cost_events WHERE event_id = ANY($1)")
            .bind(&ids)
            .fetch_all(pool)
            .await
            .expect("rows");
    let committed_at: std::collections::HashMap<String, chrono::DateTime<Utc>> =
        rows.into_iter().collect();
    let mut millis: Vec<f64> = sent
        .iter()
        .filter_map(|(id, at)| {
            let done = committed_at.get(id)?;
            Some((*done - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        })
        .collect();
    assert_eq!(millis.len(), sent.len(), "every pushed event committed");
    millis.sort_by(f64::total_cmp);
    millis
}

/// The `q` quantile (0–1) of `sorted`.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// A `dd0c-cost serve` process with `roles` on `database_url` (serving HTTP on `listen`),
/// killed when dropped.
pub struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Serve {
    pub fn start(database_url: &str, roles: &str, listen: Option<&str>) -> Serve {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dd0c-cost"));
        command.args(["serve", "--role", roles]);
        if let Some(address) = listen {
            command.args(["--listen", address]);
        }
        let child = command
            .env("DATABASE_URL", database_url)
            .env("DD0C_JWT_SECRET", "a-bench-secret-of-at-least-32-bytes-x")
            .env("DD0C_OUTBOUND_PRIVATE_HOSTS", "127.0.0.1")
            // A killed scorer's claims come back within seconds, not the default half-minute.
            .env("DD0C_VISIBILITY_SECONDS", "5")
            .env("DD0C_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .expect("dd0c-cost serve starts");
        Serve(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// Resident memory of process `pid` in MB, from /proc.
pub fn rss_of(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Waits until the server at `base` is ready.
pub async fn ready(base: &str) {
    let started = Instant::now();
    while !reqwest::get(format!("{base}/readyz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve is not ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
