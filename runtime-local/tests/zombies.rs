//! `dd0c-cost zombies scan` end to end, self-hosted: the real binary (built with `--features
//! aws`, as `scripts/test.sh` builds it) on Postgres, reading a zombie estate planted in moto —
//! through a role assumed with the host's credentials, or through an access key whose secret
//! is stored sealed.

#![cfg(feature = "aws")]

mod support;

use std::process::Output;

use dd0c_tests::estate::{Estate, Expected, REGION};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_dd0c-cost");
const SECRETS_KEY: &str = "8f1d3c5e7a9b0d2f4e6a8c0b1d3f5e7a9c0b2d4f6e8a0c1b3d5f7e9a1c3b5d7f";

fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: run the tests with scripts/test.sh, which starts moto")
}

/// Runs `dd0c-cost` on `database_url` with the host's AWS credentials pointing at moto (and
/// no secrets key unless `env` gives one).
fn dd0c(database_url: &str, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let endpoint = endpoint();
    let aws = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", REGION),
        ("DD0C_SECRETS_KEY", ""),
    ];
    support::dd0c_cost(BINARY, database_url, args, stdin, &[&aws[..], env].concat())
}

fn ok(output: Output, what: &str) -> Output {
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The findings of a `--format jsonl` scan, as the estate describes them.
fn found(stdout: &[u8]) -> Vec<Expected> {
    let mut found: Vec<Expected> = String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .map(|f| Expected {
            kind: dd0c_ports::zombie::ZombieKind::ALL
                .iter()
                .map(|k| k.as_str())
                .find(|k| f["kind"] == *k)
                .expect("a known kind"),
            resource_id: f["resource_id"].as_str().unwrap_or_default().to_owned(),
            state: if f["state"] == "idle" {
                "idle"
            } else {
                "no_data"
            },
            monthly_waste_usd: f["monthly_waste_usd"].as_f64().unwrap_or_default(),
        })
        .collect();
    found.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
    found
}

fn expected(estate: &Estate) -> Vec<Expected> {
    let mut expected = estate.expected.clone();
    expected.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
    expected
}

async fn tenant(database_url: &str) {
    ok(dd0c(database_url, &["migrate"], "", &[]), "migrate");
    ok(
        dd0c(database_url, &["tenant", "add", "acme"], "", &[]),
        "tenant add",
    );
}

fn scan(database_url: &str, estate: &Estate, env: &[(&str, &str)]) -> Output {
    let as_of = estate.now.to_rfc3339();
    let args = [
        "zombies",
        "scan",
        "--tenant",
        "acme",
        "--account",
        &estate.account_id,
        "--region",
        REGION,
        "--format",
        "jsonl",
        "--as-of",
        &as_of,
    ];
    dd0c(database_url, &args, "", env)
}

#[tokio::test]
async fn a_scan_through_the_accounts_role_lists_every_planted_zombie_and_nothing_busy() {
    let estate = Estate::plant(&endpoint()).await;
    let database_url = support::fresh_database().await;
    tenant(&database_url).await;
    let added = ok(
        dd0c(
            &database_url,
            &[
                "account",
                "add",
                "--tenant",
                "acme",
                "--account-id",
                &estate.account_id,
                "--role-arn",
                &estate.role_arn,
            ],
            "",
            &[],
        ),
        "account add",
    );
    let printed = String::from_utf8_lossy(&added.stdout);
    assert!(printed.contains("external_id="), "{printed}");

    let output = ok(scan(&database_url, &estate, &[]), "zombies scan");
    assert_eq!(found(&output.stdout), expected(&estate));
    let summary = String::from_utf8_lossy(&output.stderr);
    let planted = estate.expected.len();
    let waste: f64 = estate
        .expected
        .iter()
        .filter(|e| e.state == "idle")
        .map(|e| e.monthly_waste_usd)
        .sum();
    assert!(
        summary.contains(&format!(
            "findings={planted} no_data=1 waste_monthly_usd={waste:.2}"
        )),
        "{summary}"
    );
    assert!(summary.contains("api_calls="), "{summary}");

    let listed = ok(
        dd0c(
            &database_url,
            &["zombies", "list", "--tenant", "acme"],
            "",
            &[],
        ),
        "zombies list",
    );
    let table = String::from_utf8_lossy(&listed.stdout);
    for zombie in &estate.expected {
        assert!(
            table.contains(&zombie.resource_id),
            "{} listed:\n{table}",
            zombie.resource_id
        );
    }
    let exported = ok(
        dd0c(
            &database_url,
            &["zombies", "list", "--tenant", "acme", "--format", "csv"],
            "",
            &[],
        ),
        "zombies list --format csv",
    );
    let mut reader = csv::Reader::from_reader(&exported.stdout[..]);
    let column = reader
        .headers()
        .expect("a header line")
        .iter()
        .position(|h| h == "resource_id")
        .expect("resource_id");
    let ids: Vec<String> = reader
        .records()
        .map(|r| r.expect("a record")[column].to_owned())
        .collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "one record per finding: {ids:?}");
    for zombie in &estate.expected {
        assert!(
            ids.contains(&zombie.resource_id),
            "{} exported: {ids:?}",
            zombie.resource_id
        );
    }
}

#[tokio::test]
async fn zombies_of_an_account_read_by_access_key_are_found_alike_and_its_secret_stays_sealed() {
    use aws_credential_types::provider::ProvideCredentials;
    let estate = Estate::plant(&endpoint()).await;
    let keys = estate
        .config
        .credentials_provider()
        .expect("a provider")
        .provide_credentials()
        .await
        .expect("credentials in the account");
    let database_url = support::fresh_database().await;
    tenant(&database_url).await;
    let add = [
        "account",
        "add",
        "--tenant",
        "acme",
        "--account-id",
        &estate.account_id,
        "--access-key-id",
        keys.access_key_id(),
    ];
    let secret = format!("{}\n", keys.secret_access_key());
    let refused = dd0c(&database_url, &add, &secret, &[]);
    assert!(
        !refused.status.success(),
        "no DD0C_SECRETS_KEY, no stored secret"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("DD0C_SECRETS_KEY"),
        "the refusal names the setting"
    );
    let with_key = [("DD0C_SECRETS_KEY", SECRETS_KEY)];
    ok(dd0c(&database_url, &add, &secret, &with_key), "account add");

    let pool = sqlx::PgPool::connect(&database_url)
        .await
        .expect("database");
    let (sealed,): (String,) =
        sqlx::query_as("SELECT secret_sealed FROM accounts WHERE account_id = $1")
            .bind(&estate.account_id)
            .fetch_one(&pool)
            .await
            .expect("a sealed secret");
    assert!(sealed.starts_with("v1:") && !sealed.contains(keys.secret_access_key()));

    let output = ok(scan(&database_url, &estate, &with_key), "zombies scan");
    assert_eq!(found(&output.stdout), expected(&estate));
    let without = scan(&database_url, &estate, &[]);
    assert!(
        !without.status.success(),
        "the secret cannot be opened without the key"
    );
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("DD0C_SECRETS_KEY"),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
}
