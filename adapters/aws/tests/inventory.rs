//! The zombie hunter's AWS read ports against moto: a planted estate (`dd0c_tests::estate`) is
//! scanned through [`AwsCloud`] (the account's role, with its ExternalId) and every planted
//! zombie is found with its waste and nothing busy is; the requests made are exactly the
//! actions of the policy handed to customers; a resource deleted between scans becomes `gone`.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use dd0c_adapters_aws::AwsCloud;
use dd0c_adapters_memory::MemoryStore;
use dd0c_ports::clock::FixedClock;
use dd0c_ports::domain::Tenant;
use dd0c_ports::secrets::Credentials;
use dd0c_ports::store::Stores;
use dd0c_ports::zombie::{Finding, FindingStatus};
use dd0c_tests::estate::{Estate, Expected, REGION};
use dd0c_zombie::{Hunter, ScanRequest};

fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: run the tests with scripts/test.sh, which starts moto")
}

async fn host_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new(REGION))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// A tenant with the estate's account, and a hunter judging as of the estate's time.
async fn hunter_for(estate: &Estate) -> (Hunter, Stores) {
    let stores = Stores::of(Arc::new(MemoryStore::new()));
    stores
        .tenants
        .add_tenant(&Tenant {
            name: "acme".into(),
            created_at: estate.now,
        })
        .await
        .expect("tenant");
    stores
        .tenants
        .add_account(&estate.account("acme"))
        .await
        .expect("account");
    let hunter = Hunter::new(
        stores.clone(),
        Arc::new(AwsCloud::new(host_config().await)),
        Credentials::new(stores.tenants.clone(), None),
        dd0c_ingest::PriceCatalog::bundled(),
        Arc::new(FixedClock(estate.now)),
    );
    (hunter, stores)
}

fn request(estate: &Estate) -> ScanRequest {
    ScanRequest {
        tenant: "acme".into(),
        account_id: Some(estate.account_id.clone()),
        regions: vec![REGION.into()],
    }
}

fn found(findings: &[Finding]) -> Vec<Expected> {
    let mut found: Vec<Expected> = findings
        .iter()
        .map(|f| Expected {
            kind: dd0c_ports::zombie::ZombieKind::ALL
                .iter()
                .find(|k| **k == f.kind)
                .map(|k| k.as_str())
                .unwrap_or_default(),
            resource_id: f.resource_id.clone(),
            state: f.state.as_str(),
            monthly_waste_usd: f.monthly_waste_usd,
        })
        .collect();
    found.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
    found
}

#[tokio::test]
async fn every_planted_zombie_is_found_with_its_waste_and_nothing_busy_is() {
    let estate = Estate::plant(&endpoint()).await;
    let (hunter, _) = hunter_for(&estate).await;
    let report = hunter.scan(&request(&estate)).await.expect("the scan runs");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let mut expected = estate.expected.clone();
    expected.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
    assert_eq!(found(&report.findings), expected);
    for spared in &estate.spared {
        assert!(
            !report.findings.iter().any(|f| &f.resource_id == spared),
            "{spared} is busy, in use or ignored, yet reported"
        );
    }
    for finding in &report.findings {
        assert!(
            !finding.evidence.is_empty(),
            "{} has no evidence",
            finding.resource_id
        );
        assert!(
            finding.explanation.contains(&finding.resource_id)
                || finding.explanation.contains("load balancer"),
            "the explanation names the resource: {}",
            finding.explanation
        );
    }
}

#[tokio::test]
async fn a_zombie_scan_assumes_the_role_with_its_external_id_and_calls_exactly_the_policys_actions()
{
    let estate = Estate::plant(&endpoint()).await;
    let (hunter, _) = hunter_for(&estate).await;
    let report = hunter.scan(&request(&estate)).await.expect("the scan runs");
    // moto accepts any ExternalId, so the request must be seen to carry the account's.
    let recorded: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", endpoint()))
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("json");
    let sessions: Vec<&serde_json::Value> = recorded["sts"]["AssumedRole"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|r| {
                    r["role_arn"] == estate.role_arn && r["session_name"] == "dd0c-cost-acme"
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(!sessions.is_empty(), "the scan assumed the account's role");
    for session in sessions {
        assert_eq!(
            session["external_id"],
            estate.external_id.as_str(),
            "{session}"
        );
    }
    let policy: BTreeSet<String> = dd0c_zombie::READ_ACTIONS
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    assert_eq!(
        report.actions.keys().cloned().collect::<BTreeSet<_>>(),
        policy
    );
    assert!(report.api_calls >= policy.len() as u64);
}

#[tokio::test]
async fn a_zombie_whose_resource_is_deleted_becomes_gone_and_an_ignored_one_stays_ignored() {
    let estate = Estate::plant(&endpoint()).await;
    let (hunter, stores) = hunter_for(&estate).await;
    let first = hunter
        .scan(&request(&estate))
        .await
        .expect("the first scan");
    let address = first
        .findings
        .iter()
        .find(|f| f.kind == dd0c_ports::zombie::ZombieKind::EipUnassociated)
        .expect("the free address")
        .clone();
    dd0c_zombie::summary::ignore(stores.zombies.as_ref(), "acme", &address.finding_id, "DNS")
        .await
        .expect("ignored");
    let loose = estate.delete_loose_volume().await;
    let second = hunter
        .scan(&request(&estate))
        .await
        .expect("the second scan");
    let kept = second
        .findings
        .iter()
        .find(|f| f.finding_id == address.finding_id)
        .expect("still a finding");
    assert_eq!(kept.status, FindingStatus::Ignored, "ignored across scans");
    assert_eq!(kept.ignored_reason.as_deref(), Some("DNS"));
    assert_eq!(
        kept.first_seen, address.first_seen,
        "idle since the first sighting"
    );
    assert_eq!(
        second
            .gone
            .iter()
            .map(|f| f.resource_id.as_str())
            .collect::<Vec<_>>(),
        vec![loose.as_str()]
    );
    let summary = dd0c_zombie::summary::summary(stores.zombies.as_ref(), "acme", estate.now)
        .await
        .expect("a summary");
    assert_eq!(summary.saved_this_month_usd, 8.0, "100 GiB of gp3 saved");
    let stored = stores
        .zombies
        .findings("acme", &Default::default())
        .await
        .expect("findings");
    let gone = stored
        .iter()
        .find(|f| f.resource_id == loose)
        .expect("the gone finding is kept");
    assert_eq!(gone.status, FindingStatus::Gone);
    assert_eq!(gone.gone_at, Some(estate.now));
}
