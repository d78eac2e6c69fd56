//! The API against its own OpenAPI document: `dd0c-cost serve` on a fresh Postgres database with
//! a signed-in admin, probed by schemathesis with every check (`--checks all`): responses and
//! statuses as documented, schema-valid requests accepted, schema-violating ones refused,
//! authentication enforced, deleted things gone. `scripts/test.sh openapi` runs it alone.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dd0c_tests::free_port;
use support::fresh_database;

const BINARY: &str = env!("CARGO_BIN_EXE_dd0c-cost");
const PASSWORD: &str = "correct horse battery staple";

/// `dd0c-cost` with `args` on `database_url`; panics with its stderr unless it succeeds.
fn dd0c(database_url: &str, args: &[&str], stdin: &str) {
    let output = support::dd0c_cost(BINARY, database_url, args, stdin, &[]);
    assert!(
        output.status.success(),
        "dd0c-cost {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The server, stopped when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `dd0c-cost serve` on `database_url`, answering on `address`.
async fn serve(database_url: &str, address: &str) -> Serve {
    let secret = dd0c_api::accounts::random_secret();
    let child = Command::new(BINARY)
        .args(["serve", "--listen", address])
        .env("DATABASE_URL", database_url)
        .env("DD0C_JWT_SECRET", &secret)
        .env("DD0C_SLACK_SIGNING_SECRET", &secret[..32])
        .env("DD0C_SECRETS_KEY", dd0c_api::accounts::random_secret())
        .env("DD0C_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("serve starts");
    let serve = Serve(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("http://{address}/readyz"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "serve never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    serve
}

/// A dashboard token of `email`.
async fn sign_in(address: &str, email: &str) -> String {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{address}/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a token");
    answer["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

#[tokio::test]
async fn schemathesis_finds_no_difference_between_the_api_and_its_openapi_document() {
    let schemathesis = std::env::var("DD0C_TEST_SCHEMATHESIS").expect(
        "DD0C_TEST_SCHEMATHESIS: run the tests with scripts/test.sh, which installs schemathesis",
    );
    let database_url = fresh_database().await;
    dd0c(&database_url, &["migrate"], "");
    dd0c(&database_url, &["tenant", "add", "acme"], "");
    let email = "admin@acme.example";
    let user = [
        "user", "add", "--tenant", "acme", "--email", email, "--role", "admin",
    ];
    dd0c(&database_url, &user, &format!("{PASSWORD}\n"));
    let address = format!("127.0.0.1:{}", free_port());
    let _serve = serve(&database_url, &address).await;
    let token = sign_in(&address, email).await;

    let report = tempfile_dir();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    let output = tokio::process::Command::new(&schemathesis)
        .args(["--config-file", config, "run"])
        .arg(format!("http://{address}/openapi.json"))
        .args([
            "--checks",
            "all",
            "--max-examples",
            "60",
            "--seed",
            "20261130",
        ])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--report-dir", &report])
        .current_dir(&report)
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found differences:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let operations = operations_in(&address).await;
    assert!(
        text.contains(&format!("Tested: {operations}")),
        "every one of the document's {operations} operations was tested:\n{text}"
    );
}

/// How many operations (a path and a method) the served document describes, but for the
/// document's own path, which schemathesis does not count among those it tested.
async fn operations_in(address: &str) -> usize {
    let document: serde_json::Value = reqwest::get(format!("http://{address}/openapi.json"))
        .await
        .expect("the document")
        .json()
        .await
        .expect("JSON");
    document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(path, _)| path.as_str() != dd0c_api::operations::OPENAPI_PATH)
        .map(|(_, item)| item)
        .flat_map(|path| path.as_object().expect("a path item").keys())
        .filter(|key| ["get", "put", "post", "delete", "patch"].contains(&key.as_str()))
        .count()
}

/// A directory of its own for schemathesis' files (its example database, its reports).
fn tempfile_dir() -> String {
    let dir = std::env::temp_dir().join(dd0c_ports::conformance::unique("schemathesis"));
    std::fs::create_dir_all(&dir).expect("a directory");
    dir.display().to_string()
}
