//! `dd0c-cost healthcheck` beside a real `dd0c-cost serve`, as a container's healthcheck runs
//! it: the same environment, no flags.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use dd0c_tests::free_port;

/// A `serve` process, killed (SIGKILL) when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("dd0c-health-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `dd0c-cost` with the process environment `env` on the in-memory backend.
fn dd0c(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dd0c-cost"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DD0C_REDIS_URL")
        .envs(env.iter().map(|(k, v)| (k, v)));
    command
}

fn serve(env: &[(&str, String)]) -> Serve {
    let child = dd0c(&["serve"], env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dd0c-cost serve starts");
    Serve(child)
}

fn healthcheck(env: &[(&str, String)]) -> Output {
    dd0c(&["healthcheck"], env)
        .output()
        .expect("dd0c-cost healthcheck runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The healthcheck's output once it passes, within 30 s.
fn healthy_within(env: &[(&str, String)]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = healthcheck(env);
        if out.status.success() {
            return text(&out.stdout);
        }
        assert!(
            Instant::now() < deadline,
            "never healthy: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The healthcheck's output, which must be a failure (exit 1).
fn unhealthy(env: &[(&str, String)]) -> String {
    let out = healthcheck(env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    text(&out.stdout)
}

/// The status line and headers (lower-cased) of `GET path` on 127.0.0.1:`port`.
fn head_of(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("asks");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

fn dashboard_build(dir: &Scratch) -> PathBuf {
    let build = dir.join("dist");
    std::fs::create_dir_all(&build).expect("dist");
    std::fs::write(
        build.join("index.html"),
        "<!doctype html><title>dd0c</title>",
    )
    .expect("index.html");
    build
}

#[test]
fn the_dashboard_role_alone_serves_the_app_and_is_healthy_until_killed() {
    let dir = Scratch::new("dashboard");
    let port = free_port();
    let env = [
        ("DD0C_ROLES", "dashboard".to_owned()),
        ("DD0C_LISTEN", format!("127.0.0.1:{port}")),
        ("DD0C_HEALTH_FILE", dir.join("health").display().to_string()),
        (
            "DD0C_DASHBOARD_DIR",
            dashboard_build(&dir).display().to_string(),
        ),
    ];
    let server = serve(&env);
    let found = healthy_within(&env);
    assert!(
        found.contains(&format!(
            "healthy: http://127.0.0.1:{port}/readyz answered HTTP/1.1 200"
        )),
        "{found}"
    );
    assert!(found.contains("healthy: heartbeat"), "{found}");
    let page = head_of(port, "/anomalies");
    assert!(page.starts_with("http/1.1 200"), "{page}");
    assert!(
        page.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{page}"
    );
    let api = head_of(port, "/v1/anomalies");
    assert!(api.starts_with("http/1.1 404"), "{api}");
    drop(server);
    let found = unhealthy(&env);
    assert!(
        found.contains("unhealthy: connecting to 127.0.0.1"),
        "{found}"
    );
}

#[test]
fn a_scorer_has_no_listener_and_is_judged_by_its_heartbeat() {
    let dir = Scratch::new("scorer");
    let env = [
        ("DD0C_ROLES", "score".to_owned()),
        ("DD0C_HEALTH_FILE", dir.join("health").display().to_string()),
        ("DD0C_HEALTH_MAX_AGE_SECONDS", "1".to_owned()),
    ];
    let server = serve(&env);
    let found = healthy_within(&env);
    assert!(
        !found.contains("readyz"),
        "a scorer has no listener to ask: {found}"
    );
    drop(server);
    // Killed, it leaves its last heartbeat behind, which goes stale.
    std::thread::sleep(Duration::from_millis(2500));
    let found = unhealthy(&env);
    assert!(found.contains("s old (at most 1s)"), "{found}");
}

#[test]
fn a_healthcheck_with_nothing_to_ask_says_what_to_set() {
    let out = healthcheck(&[("DD0C_ROLES", "score".to_owned())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("DD0C_HEALTH_FILE is not set"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_dashboard_role_without_a_build_refuses_to_start_and_says_how_to_build_it() {
    let out = dd0c(
        &["serve"],
        &[
            ("DD0C_ROLES", "dashboard".to_owned()),
            ("DD0C_LISTEN", "127.0.0.1:0".to_owned()),
        ],
    )
    .env_remove("DD0C_DASHBOARD_DIR")
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("npm run build"),
        "{}",
        text(&out.stderr)
    );
}
