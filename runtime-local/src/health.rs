//! Container health without curl in the image: `serve` keeps a heartbeat file while its backend
//! answers, and `dd0c-cost healthcheck` (run by Docker beside it, with the same environment)
//! asks the process's listener for `/readyz` and reads the heartbeat's age.
//!
//! A scorer has no listener (three of them share a host network), so the heartbeat is what
//! says it is alive: it stops when the process hangs, dies or loses its database.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use dd0c_api::operations::Readiness;
use tokio_util::sync::CancellationToken;

use crate::serve::{listens, roles, Role};

/// How often a serving process rewrites its heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// How long the healthcheck waits for `/readyz`.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// Rewrites `path` every [`HEARTBEAT_EVERY`] while `backend` is ready, until `shutdown`; then
/// removes it, so a stopping process is not taken for a healthy one.
pub async fn heartbeat(backend: Arc<dyn Readiness>, path: PathBuf, shutdown: CancellationToken) {
    loop {
        if backend.ready().await {
            if let Err(error) = beat(&path) {
                tracing::warn!(path = %path.display(), %error, "could not write the heartbeat");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// Seconds since the Unix epoch: a heartbeat's content.
fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Writes the current time to `path` whole (a reader never sees half a heartbeat).
fn beat(path: &Path) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, format!("{}\n", unix_seconds()))?;
    std::fs::rename(&partial, path)
}

/// `dd0c-cost healthcheck`: every check the process's settings allow (its `role`s, the
/// `listen` address, the `health_file` and its `max_age`), in turn; prints what was found and
/// exits 0 when all pass, 1 when one fails.
pub fn check(
    role: &[Role],
    listen: &str,
    health_file: Option<&Path>,
    max_age: Duration,
) -> Result<ExitCode> {
    let listens = listens(&roles(role));
    if !listens && health_file.is_none() {
        bail!("nothing to check: this process has no listener (roles {role:?}) and DD0C_HEALTH_FILE is not set");
    }
    let mut found = Vec::new();
    if listens {
        found.push(ask_ready(listen));
    }
    if let Some(path) = health_file {
        found.push(heartbeat_age(path, max_age));
    }
    let mut healthy = true;
    for outcome in found {
        match outcome {
            Ok(what) => println!("healthy: {what}"),
            Err(why) => {
                healthy = false;
                println!("unhealthy: {why:#}");
            }
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `GET /readyz` on the listener at `listen` (an unspecified address is asked on loopback).
fn ask_ready(listen: &str) -> Result<String> {
    let address = local_address(listen)?;
    let mut stream = TcpStream::connect_timeout(&address, ASK_TIMEOUT)
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(ASK_TIMEOUT))?;
    stream.set_write_timeout(Some(ASK_TIMEOUT))?;
    write!(
        stream,
        "GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .with_context(|| format!("asking {address}"))?;
    let mut answer = String::new();
    stream
        .take(4096)
        .read_to_string(&mut answer)
        .with_context(|| format!("reading {address}'s answer"))?;
    let status = answer.lines().next().unwrap_or_default();
    match status.split_whitespace().nth(1) {
        Some("200") => Ok(format!("http://{address}/readyz answered {status}")),
        _ => bail!("http://{address}/readyz answered {status:?}"),
    }
}

/// The address to reach a listener bound to `listen` from the same host.
fn local_address(listen: &str) -> Result<SocketAddr> {
    let mut address = listen
        .to_socket_addrs()
        .with_context(|| format!("DD0C_LISTEN {listen:?} is not an address"))?
        .next()
        .with_context(|| format!("DD0C_LISTEN {listen:?} resolves to no address"))?;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(address)
}

/// Whether the heartbeat at `path` was written within `max_age`.
fn heartbeat_age(path: &Path, max_age: Duration) -> Result<String> {
    let written = std::fs::read_to_string(path)
        .with_context(|| format!("no heartbeat at {} (DD0C_HEALTH_FILE)", path.display()))?;
    let written: u64 = written
        .trim()
        .parse()
        .with_context(|| format!("{} holds no heartbeat", path.display()))?;
    let age = Duration::from_secs(unix_seconds().saturating_sub(written));
    match age <= max_age {
        true => Ok(format!("heartbeat {}s old", age.as_secs())),
        false => bail!(
            "the heartbeat at {} is {}s old (at most {}s)",
            path.display(),
            age.as_secs(),
            max_age.as_secs()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_on_every_interface_is_asked_on_loopback() {
        assert_eq!(
            local_address("0.0.0.0:8080").expect("an address"),
            "127.0.0.1:8080".parse().expect("an address")
        );
        assert_eq!(
            local_address("[::]:8080").expect("an address"),
            "[::1]:8080".parse().expect("an address")
        );
        let refused = local_address("nowhere").expect_err("not an address");
        assert!(refused.to_string().contains("DD0C_LISTEN"), "{refused:#}");
    }

    #[test]
    fn a_fresh_heartbeat_is_healthy_and_a_stale_or_missing_one_is_not() {
        let path = std::env::temp_dir().join(format!("dd0c-health-test-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let missing = heartbeat_age(&path, Duration::from_secs(30)).expect_err("no heartbeat yet");
        assert!(missing.to_string().contains("no heartbeat"), "{missing:#}");
        beat(&path).expect("a heartbeat");
        assert!(heartbeat_age(&path, Duration::from_secs(30)).is_ok());
        std::fs::write(&path, "1000\n").expect("an old heartbeat");
        let stale = heartbeat_age(&path, Duration::from_secs(30)).expect_err("stale");
        assert!(stale.to_string().contains("s old"), "{stale:#}");
        std::fs::remove_file(&path).expect("removed");
    }
}
