//! Remediation end to end, self-hosted: the dispatcher's api and act roles on Postgres, acting
//! in moto through each account's remediation role — requested by a member over HTTP, approved
//! by an admin, dry-run, run by the act role's consumer, every step in the decision log; and
//! what the rules refuse: nothing offered while off, a `dd0c:protect` resource refused at
//! request time, panic mode holding an approved action, a replayed approval done once, another
//! tenant's actions out of reach.

#![cfg(feature = "aws")]

mod support;

use std::time::Duration;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification, VolumeType};
use dd0c_cost::serve::Dispatcher;
use dd0c_ingest::PriceCatalog;
use dd0c_ports::conformance::{finding, unique, unique_account_id};
use dd0c_ports::domain::{Account, Tenant};
use dd0c_ports::remediation::{KEPT_BY_TAG, PROTECT_TAG};
use dd0c_ports::zombie::ZombieKind;
use dd0c_tests::estate::{account_config, REGION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{config, fresh_database, StopOnDrop};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "9c1f0e5b7a3d4e2f8a6b0c1d2e3f40516273849a5b6c7d8e";
const PASSWORD: &str = "correct horse battery staple";
const EXTERNAL_ID: &str = "dd0c-test-external";

fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: run the tests with scripts/test.sh, which starts moto")
}

/// The api and act roles on a fresh database, acting in moto.
struct App {
    address: String,
    url: String,
    dispatcher: Dispatcher,
    _stop: StopOnDrop,
}

async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with its backend changed by `change` (its flags in Redis, say).
async fn spawn_app_with(change: impl FnOnce(&mut dd0c_cost::backend::Backend)) -> App {
    let url = fresh_database().await;
    let mut backend = dd0c_cost::backend::Backend::postgres(&url, 10)
        .await
        .expect("backend");
    let host = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await;
    backend.cloud = std::sync::Arc::new(dd0c_adapters_aws::AwsCloud::new(host));
    change(&mut backend);
    let mut serve = config("api,act");
    serve.jwt_secret = Some(SECRET.into());
    serve.slack_signing_secret = Some(SLACK_SECRET.into());
    let dispatcher = Dispatcher::new(backend, serve, PriceCatalog::bundled()).expect("dispatcher");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let stop = CancellationToken::new();
    tokio::spawn(dispatcher.clone().run(Some(listener), stop.clone()));
    App {
        address,
        url,
        dispatcher,
        _stop: StopOnDrop(stop),
    }
}

/// A tenant with one AWS account (its own, in moto) whose remediation role dd0c/cost may
/// assume, a member and an admin: their tokens.
struct Customer {
    name: String,
    account_id: String,
    ec2: aws_sdk_ec2::Client,
    rds: aws_sdk_rds::Client,
    member: String,
    admin: String,
}

impl App {
    async fn tenant(&self) -> Customer {
        let name = unique("t");
        let account_id = unique_account_id();
        let stores = &self.dispatcher.backend.stores;
        stores
            .tenants
            .add_tenant(&Tenant {
                name: name.clone(),
                created_at: chrono::Utc::now(),
            })
            .await
            .expect("tenant");
        stores
            .tenants
            .add_account(&Account {
                role_arn: Some(format!("arn:aws:iam::{account_id}:role/dd0c-cost-readonly")),
                external_id: Some(EXTERNAL_ID.into()),
                access_key_id: None,
                remediation_role_arn: Some(format!(
                    "arn:aws:iam::{account_id}:role/dd0c-cost-remediation"
                )),
                remediation_access_key_id: None,
                tenant: name.clone(),
                account_id: account_id.clone(),
                name: None,
                created_at: chrono::Utc::now(),
            })
            .await
            .expect("account");
        let member = self.user(&name, dd0c_ports::auth::Role::Member).await;
        let admin = self.user(&name, dd0c_ports::auth::Role::Admin).await;
        let config = account_config(&endpoint(), &account_id, EXTERNAL_ID).await;
        Customer {
            name,
            account_id,
            ec2: aws_sdk_ec2::Client::new(&config),
            rds: aws_sdk_rds::Client::new(&config),
            member,
            admin,
        }
    }

    /// A signed-in user of `tenant` with `role`: their token.
    async fn user(&self, tenant: &str, role: dd0c_ports::auth::Role) -> String {
        let email = format!("{}@t.example", unique("u"));
        self.dispatcher
            .backend
            .stores
            .users
            .add_user(&dd0c_ports::auth::User {
                tenant: tenant.into(),
                email: email.clone(),
                role,
                password_hash: dd0c_api::passwords::hash(PASSWORD).expect("hash"),
            })
            .await
            .expect("user");
        let body: Value = reqwest::Client::new()
            .post(format!("{}/v1/auth/login", self.address))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let client = reqwest::Client::new();
        let url = format!("{}{path}", self.address);
        let request = match method {
            "GET" => client.get(url),
            "PUT" => client.put(url),
            _ => client.post(url),
        }
        .bearer_auth(token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await.expect("sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sets the tenant's remediation mode, as its admin.
    async fn mode(&self, tenant: &Customer, mode: &str) {
        let (status, body) = self
            .call(
                "PUT",
                "/v1/settings/remediation",
                &tenant.admin,
                Some(json!({"mode": mode})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// An unattached volume in the tenant's account (tagged `dd0c:protect` when asked) and its
    /// open finding: the finding's id and the volume's.
    async fn zombie_volume(&self, tenant: &Customer, protect: bool) -> (String, String) {
        let volume_id = new_volume(&tenant.ec2, 50, protect).await;
        let zombie = finding(
            &tenant.name,
            &tenant.account_id,
            ZombieKind::EbsUnattached,
            &volume_id,
            4.0,
        );
        (self.found(zombie).await, volume_id)
    }

    /// An idle DB instance `id` in `tenant`'s account, found so: the finding's id.
    async fn zombie_database(&self, tenant: &Customer, id: &str) -> String {
        tenant
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .db_instance_class("db.r6g.large")
            .engine("postgres")
            .allocated_storage(100)
            .master_username("admin")
            .master_user_password("password123")
            .send()
            .await
            .expect("moto creates a DB instance");
        // moto reports a new instance as creating once.
        database_status(&tenant.rds, id).await;
        let zombie = finding(
            &tenant.name,
            &tenant.account_id,
            ZombieKind::RdsIdle,
            id,
            180.0,
        );
        self.found(zombie).await
    }

    /// Stores `zombie` as the hunter would: its id.
    async fn found(&self, zombie: dd0c_ports::zombie::Finding) -> String {
        self.dispatcher
            .backend
            .stores
            .zombies
            .put_findings(std::slice::from_ref(&zombie))
            .await
            .expect("finding");
        zombie.finding_id
    }

    /// An action on `finding_id` requested by `tenant`'s member: its id.
    async fn requested(&self, tenant: &Customer, finding_id: &str, kind: Option<&str>) -> String {
        let mut body = json!({"finding_id": finding_id});
        if let Some(kind) = kind {
            body["action"] = json!(kind);
        }
        let (status, requested) = self
            .call("POST", "/v1/actions", &tenant.member, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{requested}");
        requested["action_id"].as_str().expect("an id").to_owned()
    }

    /// An action on `finding_id` requested by a member, approved by an admin, as it ends.
    async fn approved(&self, tenant: &Customer, finding_id: &str, kind: Option<&str>) -> Value {
        let id = self.requested(tenant, finding_id, kind).await;
        let (status, approved) = self
            .call(
                "POST",
                &format!("/v1/actions/{id}/approve"),
                &tenant.admin,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{approved}");
        self.settled(&tenant.admin, &id).await
    }

    /// The action and its log once the act role has moved it out of `approved` (or `running`).
    async fn settled(&self, token: &str, action_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, detail) = self
                .call("GET", &format!("/v1/actions/{action_id}"), token, None)
                .await;
            assert_eq!(status, StatusCode::OK, "{detail}");
            let now = detail["action"]["status"].as_str().unwrap_or_default();
            if !["approved", "running"].contains(&now) {
                return detail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the act role never ran {action_id}: {detail}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A new gp3 volume of `size` GiB, tagged `dd0c:protect` if asked: its id.
async fn new_volume(ec2: &aws_sdk_ec2::Client, size: i32, protect: bool) -> String {
    let mut create = ec2
        .create_volume()
        .size(size)
        .availability_zone(format!("{REGION}a"))
        .volume_type(VolumeType::Gp3);
    if protect {
        create = create.tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Volume)
                .tags(Tag::builder().key(PROTECT_TAG).value("yes").build())
                .build(),
        );
    }
    create
        .send()
        .await
        .expect("moto creates a volume")
        .volume_id()
        .expect("an id")
        .to_owned()
}

async fn volume_exists(ec2: &aws_sdk_ec2::Client, id: &str) -> bool {
    ec2.describe_volumes()
        .send()
        .await
        .expect("volumes")
        .volumes()
        .iter()
        .any(|v| v.volume_id() == Some(id))
}

fn steps(detail: &Value) -> Vec<&str> {
    detail["decisions"]
        .as_array()
        .expect("a log")
        .iter()
        .map(|d| d["step"].as_str().expect("a step"))
        .collect()
}

#[tokio::test]
async fn a_zombie_volume_requested_by_a_member_and_approved_by_an_admin_is_snapshotted_and_deleted()
{
    let app = spawn_app().await;
    let tenant = app.tenant().await;
    app.mode(&tenant, "approve").await;
    let (finding_id, volume_id) = app.zombie_volume(&tenant, false).await;

    let (status, requested) = app
        .call(
            "POST",
            "/v1/actions",
            &tenant.member,
            Some(json!({"finding_id": finding_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{requested}");
    assert_eq!(requested["status"], "requested");
    assert_eq!(requested["action"]["action"], "delete_volume");
    let id = requested["action_id"].as_str().expect("an id").to_owned();
    assert!(
        volume_exists(&tenant.ec2, &volume_id).await,
        "nothing runs before approval"
    );

    let (status, refused) = app
        .call(
            "POST",
            &format!("/v1/actions/{id}/approve"),
            &tenant.member,
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a member does not approve: {refused}"
    );
    let (status, approved) = app
        .call(
            "POST",
            &format!("/v1/actions/{id}/approve"),
            &tenant.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");

    let detail = app.settled(&tenant.admin, &id).await;
    assert_eq!(detail["action"]["status"], "done", "{detail}");
    assert_eq!(
        steps(&detail),
        ["requested", "dry_run", "approved", "dry_run", "executed"]
    );
    let executed = &detail["decisions"][4];
    let calls: Vec<&str> = executed["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["action"].as_str().expect("an IAM action"))
        .collect();
    assert_eq!(calls, ["ec2:CreateSnapshot", "ec2:DeleteVolume"]);
    assert!(
        executed["calls"][1]["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "the cloud's request id is kept: {executed}"
    );
    assert_eq!(
        detail["decisions"][0]["actor"],
        detail["action"]["requested_by"]
    );
    assert!(detail["decisions"][2]["actor"]
        .as_str()
        .expect("approver")
        .starts_with("u-"));

    assert!(
        !volume_exists(&tenant.ec2, &volume_id).await,
        "the volume is deleted"
    );
    let snapshot_id = detail["action"]["way_back"]["snapshot_id"]
        .as_str()
        .expect("the way back");
    let snapshots = tenant
        .ec2
        .describe_snapshots()
        .snapshot_ids(snapshot_id)
        .send()
        .await
        .expect("the snapshot");
    let tags = snapshots.snapshots()[0].tags();
    assert!(
        tags.iter()
            .any(|t| t.key() == Some(KEPT_BY_TAG) && t.value() == Some(id.as_str())),
        "the snapshot names the action: {tags:?}"
    );

    let (_, gone) = app
        .call("GET", "/v1/zombies?status=gone", &tenant.member, None)
        .await;
    assert_eq!(
        gone["items"][0]["finding_id"],
        finding_id.as_str(),
        "{gone}"
    );
}

#[tokio::test]
async fn an_idle_database_is_stopped_by_default_or_deleted_after_a_final_snapshot() {
    let app = spawn_app().await;
    let tenant = app.tenant().await;
    app.mode(&tenant, "approve").await;
    let stopping = app.zombie_database(&tenant, "idle-db").await;
    let deleting = app.zombie_database(&tenant, "old-db").await;

    let stopped = app.approved(&tenant, &stopping, None).await;
    assert_eq!(
        stopped["action"]["action"]["action"], "stop_db_instance",
        "{stopped}"
    );
    assert_eq!(stopped["action"]["status"], "done", "{stopped}");
    assert_eq!(
        database_status(&tenant.rds, "idle-db").await.as_deref(),
        Some("stopped")
    );
    assert_eq!(
        stopped["action"]["way_back"]["db_instance_identifier"],
        "idle-db"
    );

    let deleted = app
        .approved(&tenant, &deleting, Some("delete_db_instance"))
        .await;
    assert_eq!(deleted["action"]["status"], "done", "{deleted}");
    assert_eq!(
        database_status(&tenant.rds, "old-db").await,
        None,
        "deleted"
    );
    let snapshot = deleted["action"]["way_back"]["db_snapshot_identifier"]
        .as_str()
        .expect("a final snapshot");
    let snapshots = tenant
        .rds
        .describe_db_snapshots()
        .db_snapshot_identifier(snapshot)
        .send()
        .await
        .expect("the final snapshot is kept");
    assert_eq!(
        snapshots.db_snapshots()[0].db_instance_identifier(),
        Some("old-db")
    );
    let (_, gone) = app
        .call("GET", "/v1/zombies?status=gone", &tenant.member, None)
        .await;
    assert_eq!(gone["items"].as_array().map(Vec::len), Some(2), "{gone}");
}

#[tokio::test]
async fn an_orphaned_snapshot_is_archived_saving_three_quarters_of_its_waste() {
    let app = spawn_app().await;
    let tenant = app.tenant().await;
    app.mode(&tenant, "approve").await;
    let volume_id = new_volume(&tenant.ec2, 500, false).await;
    let snapshot_id = tenant
        .ec2
        .create_snapshot()
        .volume_id(&volume_id)
        .send()
        .await
        .expect("moto takes a snapshot")
        .snapshot_id()
        .expect("an id")
        .to_owned();
    let zombie = finding(
        &tenant.name,
        &tenant.account_id,
        ZombieKind::SnapshotOrphaned,
        &snapshot_id,
        25.0,
    );
    let finding_id = app.found(zombie).await;

    let archived = app.approved(&tenant, &finding_id, None).await;

    assert_eq!(archived["action"]["status"], "done", "{archived}");
    assert_eq!(archived["action"]["action"]["action"], "archive_snapshot");
    assert_eq!(archived["action"]["monthly_usd"], 18.75, "{archived}");
    assert_eq!(
        archived["action"]["way_back"]["snapshot_id"],
        snapshot_id.as_str()
    );
    let tier = tenant
        .ec2
        .describe_snapshots()
        .snapshot_ids(&snapshot_id)
        .send()
        .await
        .expect("the snapshot is kept")
        .snapshots()[0]
        .storage_tier()
        .map(|t| t.as_str().to_owned());
    assert_eq!(tier.as_deref(), Some("archive"));
}

async fn database_status(rds: &aws_sdk_rds::Client, id: &str) -> Option<String> {
    rds.describe_db_instances()
        .send()
        .await
        .expect("DB instances")
        .db_instances()
        .iter()
        .find(|d| d.db_instance_identifier() == Some(id))
        .and_then(|d| d.db_instance_status().map(str::to_owned))
}

#[tokio::test]
async fn a_self_hosted_account_is_acted_on_with_its_own_remediation_key() {
    let secrets: dd0c_ports::secrets::SecretsKey =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            .parse()
            .expect("a key");
    let app = spawn_app_with(|backend| backend.secrets = Some(secrets)).await;
    let tenant = app.tenant().await;
    app.mode(&tenant, "approve").await;
    // moto puts what a plain access key makes in its default account.
    let account_id = "123456789012";
    let key = (
        "AKIAIOSFODNN7ACTING1",
        "aCtiNgSeCrEtKeY0123456789abcdefEXAMPLE1",
    );
    let (status, added) = app
        .call(
            "POST",
            "/v1/accounts",
            &tenant.admin,
            Some(json!({
                "account_id": account_id,
                "access_key": {"access_key_id": "AKIAIOSFODNN7READING", "secret_access_key": "rEaDiNgSeCrEtKeY0123456789abcdefEXAMPLE"},
                "remediation_access_key": {"access_key_id": key.0, "secret_access_key": key.1},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let keyed = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_credential_types::Credentials::new(
            key.0, key.1, None, None, "test",
        ))
        .load()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&keyed);
    let volume_id = new_volume(&ec2, 50, false).await;
    let finding_id = app
        .found(finding(
            &tenant.name,
            account_id,
            ZombieKind::EbsUnattached,
            &volume_id,
            4.0,
        ))
        .await;

    let done = app.approved(&tenant, &finding_id, None).await;

    assert_eq!(done["action"]["status"], "done", "{done}");
    assert!(
        !volume_exists(&ec2, &volume_id).await,
        "deleted with the key"
    );
}

#[tokio::test]
async fn a_protected_volume_is_refused_when_requested() {
    let app = spawn_app().await;
    let tenant = app.tenant().await;
    app.mode(&tenant, "approve").await;
    let (finding_id, volume_id) = app.zombie_volume(&tenant, true).await;

    let (status, refused) = app
        .call(
            "POST",
            "/v1/actions",
            &tenant.member,
            Some(json!({"finding_id": finding_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let detail = refused["detail"].as_str().expect("a detail");
    assert!(detail.contains(PROTECT_TAG), "{detail}");

    let (_, listed) = app
        .call("GET", "/v1/actions?status=refused", &tenant.admin, None)
        .await;
    let action = &listed["items"][0];
    assert_eq!(
        action["status"], "refused",
        "the refusal is in the log: {listed}"
    );
    let (_, detail) = app
        .call(
            "GET",
            &format!("/v1/actions/{}", action["action_id"].as_str().expect("id")),
            &tenant.admin,
            None,
        )
        .await;
    assert_eq!(steps(&detail), ["requested", "refused"]);
    assert!(volume_exists(&tenant.ec2, &volume_id).await);
}

#[tokio::test]
async fn nothing_is_offered_while_remediation_is_off() {
    let app = spawn_app().await;
    let tenant = app.tenant().await;
    let (finding_id, _) = app.zombie_volume(&tenant, false).await;

    let (_, settings) = app
        .call("GET", "/v1/settings/remediation", &tenant.member, None)
        .await;
    assert_eq!(settings["mode"], "off", "off by default: {settings}");
    let (status, refused) = app
        .call(
            "POST",
            "/v1/actions",
            &tenant.member,
            Some(json!({"finding_id": finding_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused["detail"]
        .as_str()
        .expect("detail")
        .contains("remediation is off"));
    let (_, listed) = app.call("GET", "/v1/actions", &tenant.admin, None).await;
    assert_eq!(listed["items"], json!([]), "nothing recorded");

    let (status, _) = app
        .call(
            "PUT",
            "/v1/settings/remediation",
            &tenant.member,
            Some(json!({"mode": "approve"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only an admin turns it on");
    let (status, invalid) = app
        .call(
            "PUT",
            "/v1/settings/remediation",
            &tenant.admin,
            Some(json!({"mode": "auto", "auto_kinds": ["ebs.unattached"], "auto_min_days": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{invalid}");
    assert_eq!(invalid["field"], "auto_min_days");
}

#[tokio::test]
async fn panic_mode_blocks_an_approved_action_until_it_is_approved_again() {
    let app = spawn_app().await;
    let tenant = app.tenant().await;
    app.mode(&tenant, "approve").await;
    let (finding_id, volume_id) = app.zombie_volume(&tenant, false).await;
    let id = app.requested(&tenant, &finding_id, None).await;

    let (status, _) = app
        .call("PUT", "/v1/panic", &tenant.admin, Some(json!({"on": true})))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.call(
        "POST",
        &format!("/v1/actions/{id}/approve"),
        &tenant.admin,
        None,
    )
    .await;
    let blocked = app.settled(&tenant.admin, &id).await;
    assert_eq!(blocked["action"]["status"], "blocked", "{blocked}");
    assert!(blocked["decisions"][3]["outcome"]
        .as_str()
        .expect("why")
        .contains("panic mode"));
    assert!(volume_exists(&tenant.ec2, &volume_id).await, "nothing ran");

    app.call(
        "PUT",
        "/v1/panic",
        &tenant.admin,
        Some(json!({"on": false})),
    )
    .await;
    let (status, again) = app
        .call(
            "POST",
            &format!("/v1/actions/{id}/approve"),
            &tenant.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let done = app.settled(&tenant.admin, &id).await;
    assert_eq!(done["action"]["status"], "done", "{done}");
    assert!(!volume_exists(&tenant.ec2, &volume_id).await);
}

#[tokio::test]
async fn a_replayed_approval_does_nothing_twice() {
    let app = spawn_app().await;
    let tenant = app.tenant().await;
    app.mode(&tenant, "approve").await;
    let (finding_id, _) = app.zombie_volume(&tenant, false).await;
    let id = app.requested(&tenant, &finding_id, None).await;
    let path = format!("/v1/actions/{id}/approve");
    let (first, _) = app.call("POST", &path, &tenant.admin, None).await;
    assert_eq!(first, StatusCode::OK);
    app.settled(&tenant.admin, &id).await;
    let (replay, body) = app.call("POST", &path, &tenant.admin, None).await;
    assert_eq!(replay, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"]
        .as_str()
        .expect("detail")
        .contains("already done"));
    let detail = app.settled(&tenant.admin, &id).await;
    assert_eq!(
        steps(&detail).iter().filter(|s| **s == "executed").count(),
        1,
        "ran once: {detail}"
    );
    assert_eq!(
        steps(&detail).iter().filter(|s| **s == "approved").count(),
        1
    );
}

#[tokio::test]
async fn another_tenant_can_neither_read_approve_nor_request_an_action() {
    let app = spawn_app().await;
    let ours = app.tenant().await;
    let theirs = app.tenant().await;
    app.mode(&ours, "approve").await;
    app.mode(&theirs, "approve").await;
    let (finding_id, volume_id) = app.zombie_volume(&ours, false).await;
    let id = app.requested(&ours, &finding_id, None).await;

    let (status, _) = app
        .call("GET", &format!("/v1/actions/{id}"), &theirs.admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            "POST",
            &format!("/v1/actions/{id}/approve"),
            &theirs.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            "POST",
            &format!("/v1/actions/{id}/reject"),
            &theirs.admin,
            Some(json!({"reason": "no"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = app.call("GET", "/v1/actions", &theirs.admin, None).await;
    assert_eq!(listed["items"], json!([]));
    let (status, _) = app
        .call(
            "POST",
            "/v1/actions",
            &theirs.member,
            Some(json!({"finding_id": finding_id})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "our finding is not theirs to act on"
    );

    let (_, ours_now) = app
        .call("GET", &format!("/v1/actions/{id}"), &ours.admin, None)
        .await;
    assert_eq!(ours_now["action"]["status"], "requested");
    assert!(volume_exists(&ours.ec2, &volume_id).await);
}

// Multi-threaded: the CLI runs as a blocking child process while this test's dispatcher goes
// on; on one thread a consumer paused inside its transaction would hold the lock the CLI's
// queue set-up waits for.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_lists_the_approvals_queue_and_approves_as_a_named_admin() {
    let redis = std::env::var("DD0C_TEST_REDIS_URL")
        .expect("DD0C_TEST_REDIS_URL: run the tests with scripts/test.sh, which starts Redis");
    let flags = dd0c_adapters_redis::RedisFlags::connect(&redis)
        .await
        .expect("Redis");
    let app = spawn_app_with(|backend| backend.flags = std::sync::Arc::new(flags)).await;
    let tenant = app.tenant().await;
    app.mode(&tenant, "approve").await;
    let (finding_id, volume_id) = app.zombie_volume(&tenant, false).await;
    let id = app.requested(&tenant, &finding_id, None).await;
    let cli = |args: &[&str]| {
        support::dd0c_cost(
            env!("CARGO_BIN_EXE_dd0c-cost"),
            &app.url,
            args,
            "",
            &[("DD0C_REDIS_URL", redis.as_str())],
        )
    };

    let listed = cli(&[
        "actions",
        "list",
        "--tenant",
        &tenant.name,
        "--status",
        "requested",
        "--format",
        "jsonl",
    ]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["action_id"], id.as_str());

    let member = lines[0]["requested_by"].as_str().expect("requester");
    let refused = cli(&[
        "actions",
        "approve",
        "--tenant",
        &tenant.name,
        "--by",
        member,
        &id,
    ]);
    assert!(!refused.status.success(), "a member does not approve");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("admin role"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let admin = app.call("GET", "/v1/me", &tenant.admin, None).await.1["email"]
        .as_str()
        .expect("the admin's e-mail")
        .to_owned();
    let approved = cli(&[
        "actions",
        "approve",
        "--tenant",
        &tenant.name,
        "--by",
        &admin,
        &id,
    ]);
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let done = app.settled(&tenant.admin, &id).await;
    assert_eq!(done["action"]["status"], "done", "{done}");
    assert_eq!(done["decisions"][2]["actor"], admin.as_str());
    assert!(!volume_exists(&tenant.ec2, &volume_id).await);
}

#[tokio::test]
async fn auto_mode_acts_once_on_a_listed_finding_idle_long_enough() {
    use dd0c_function::job::Job;
    let app = spawn_app().await;
    let tenant = app.tenant().await;
    let (status, body) = app
        .call(
            "PUT",
            "/v1/settings/remediation",
            &tenant.admin,
            Some(json!({"mode": "auto", "auto_kinds": ["ebs.unattached"], "auto_min_days": 7})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (finding_id, volume_id) = app.zombie_volume(&tenant, false).await;
    let job = dd0c_actions::AutoJob(
        app.dispatcher
            .backend
            .remediation(std::sync::Arc::new(dd0c_ports::clock::SystemClock)),
    );

    let first = job.run(chrono::Utc::now(), "replica").await.expect("a run");
    assert_eq!(first.done, 1, "{}", first.summary);
    let (_, listed) = app.call("GET", "/v1/actions", &tenant.admin, None).await;
    let action = &listed["items"][0];
    assert_eq!(action["subject"]["finding"], finding_id.as_str());
    let id = action["action_id"].as_str().expect("an id").to_owned();
    let done = app.settled(&tenant.admin, &id).await;
    assert_eq!(done["action"]["status"], "done", "{done}");
    assert_eq!(done["decisions"][2]["actor"], "dd0c:auto");
    assert!(done["decisions"][2]["rule"]
        .as_str()
        .expect("the rule")
        .contains("auto_min_days=7"));
    assert!(!volume_exists(&tenant.ec2, &volume_id).await);

    let again = job.run(chrono::Utc::now(), "replica").await.expect("a run");
    assert_eq!(
        again.done, 0,
        "a finding is acted on once: {}",
        again.summary
    );
}

/// What Slack posts for a click on `action_id` with `value` by user `user` of workspace
/// `T0DD0C`: the form and its signature.
fn slack_click(action_id: &str, value: &str, user: &str) -> (String, String, String) {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let payload = json!({"type": "block_actions", "user": {"id": user, "username": user.to_lowercase()},
        "team": {"id": "T0DD0C"}, "actions": [{"action_id": action_id, "value": value}]});
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
    let signature = dd0c_api::slack::sign(SLACK_SECRET.as_bytes(), &timestamp, body.as_bytes());
    (body, timestamp, signature)
}

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

async fn press(app: &App, click: &(String, String, String)) -> (StatusCode, Value) {
    let (body, timestamp, signature) = click;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/slack/actions", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp)
        .header("x-slack-signature", signature)
        .body(body.clone())
        .send()
        .await
        .expect("pressed");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_anomalys_instances_are_stopped_from_a_signed_slack_click_approved_in_slack() {
    use dd0c_ports::conformance::{anomaly_for, commit_anomaly, cost_event};
    use dd0c_ports::ledger::{Link, ResourceChange, ResourceKey};
    let slack = dd0c_tests::CaptureServer::start()
        .await
        .expect("a Slack stand-in");
    let app = spawn_app_with(|backend| {
        let outbound = dd0c_ports::webhook::Outbound::allowing_private(["127.0.0.1"]);
        backend.webhook =
            std::sync::Arc::new(dd0c_adapters_http::HttpWebhook::new(outbound).expect("client"));
    })
    .await;
    let tenant = app.tenant().await;
    let stores = &app.dispatcher.backend.stores;
    let mut settings = stores
        .settings
        .settings(&tenant.name)
        .await
        .expect("settings");
    settings.slack_webhook_url = Some(slack.url("/hooks/acme"));
    settings.slack_team_id = Some("T0DD0C".into());
    stores
        .settings
        .put_settings(&tenant.name, &settings)
        .await
        .expect("settings");
    let (status, body) = app
        .call(
            "PUT",
            "/v1/settings/remediation",
            &tenant.admin,
            Some(json!({"mode": "approve", "slack_approvers": ["UADMIN", "UOTHER"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Two instances in moto, launched by the anomaly's event and followed by the ledger.
    let launched = tenant
        .ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(2)
        .max_count(2)
        .send()
        .await
        .expect("moto runs instances");
    let ids: Vec<String> = launched
        .instances()
        .iter()
        .map(|i| i.instance_id().expect("an id").to_owned())
        .collect();
    let mut event = cost_event(&tenant.name, &tenant.account_id, "ev-gpu", 0, 60.0);
    event.resource_ids = ids.clone();
    event.quantity = 2;
    event.event_time = chrono::Utc::now() - chrono::Duration::hours(2);
    let anomaly = anomaly_for(&event);
    commit_anomaly(stores.score.as_ref(), event.clone(), anomaly.clone()).await;
    stores
        .ledger
        .record(&tenant.name, &ResourceChange::of_event(&event))
        .await
        .expect("followed");
    let keys = ids
        .iter()
        .map(|id| ResourceKey::new(&tenant.account_id, REGION, id))
        .collect();
    stores
        .ledger
        .link(
            &tenant.name,
            &[Link {
                anomaly_id: anomaly.anomaly_id.clone(),
                keys,
            }],
        )
        .await
        .expect("linked");

    // Stop, as the alert's button sends it.
    let value = dd0c_ports::keys::ActionValue {
        tenant: tenant.name.clone(),
        anomaly_ids: vec![anomaly.anomaly_id.clone()],
    }
    .to_string();
    let (status, requested) = press(&app, &slack_click("stop_instances", &value, "UMEMBER")).await;
    assert_eq!(status, StatusCode::OK, "{requested}");
    let text = requested["text"].as_str().expect("an answer");
    assert!(text.contains("waiting for an admin"), "{text}");

    // The approval message, on the tenant's channel.
    let posted = slack.posts("/hooks/acme");
    let approval = posted
        .iter()
        .find(|p| {
            p["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Approval needed"))
        })
        .unwrap_or_else(|| panic!("an approval message: {posted:?}"));
    let buttons = approval["blocks"][2]["elements"]
        .as_array()
        .expect("buttons");
    let approve_value = buttons[0]["value"].as_str().expect("a value").to_owned();

    // A member's Approve does nothing; an approver's runs it, once.
    let (_, refused) = press(
        &app,
        &slack_click("approve_action", &approve_value, "UMEMBER"),
    )
    .await;
    assert!(
        refused["text"]
            .as_str()
            .expect("text")
            .contains("admin role"),
        "{refused}"
    );
    let click = slack_click("approve_action", &approve_value, "UADMIN");
    let (status, approved) = press(&app, &click).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert!(
        approved["text"]
            .as_str()
            .expect("text")
            .starts_with("Approved"),
        "{approved}"
    );
    let (replayed, _) = press(&app, &click).await;
    assert_eq!(
        replayed,
        StatusCode::UNAUTHORIZED,
        "a replayed click is refused"
    );
    let (_, again) = press(
        &app,
        &slack_click("approve_action", &approve_value, "UOTHER"),
    )
    .await;
    assert!(
        again["text"].as_str().expect("text").contains("already"),
        "{again}"
    );

    let action_id = approve_value.rsplit('/').next().expect("an id").to_owned();
    let done = app.settled(&tenant.admin, &action_id).await;
    assert_eq!(done["action"]["status"], "done", "{done}");
    assert_eq!(done["decisions"][2]["actor"], "slack:uadmin");
    assert_eq!(steps(&done).iter().filter(|s| **s == "approved").count(), 1);
    let described = tenant
        .ec2
        .describe_instances()
        .instance_ids(ids[0].clone())
        .instance_ids(ids[1].clone())
        .send()
        .await
        .expect("instances");
    let states: Vec<String> = described
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            i.state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default()
        })
        .collect();
    assert!(
        states.iter().all(|s| s == "stopped" || s == "stopping"),
        "{states:?}"
    );

    let (_, detail) = app
        .call(
            "GET",
            &format!("/v1/anomalies/{}", anomaly.anomaly_id),
            &tenant.member,
            None,
        )
        .await;
    let followed = &detail["anomaly"];
    assert_eq!(followed["running_count"], 0, "{detail}");
    assert_eq!(
        followed["hourly_now_usd"], 0.0,
        "nothing bills by the hour any more"
    );
    let stopped_by: Vec<&Value> = detail["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| &r["intervals"][0]["to"])
        .collect();
    assert!(
        stopped_by.iter().all(|to| to.is_string()),
        "each interval closed: {detail}"
    );
    assert_eq!(followed["status"], "resolved", "nothing runs: {detail}");
    let resolution = detail["feedback"]
        .as_array()
        .expect("feedback")
        .iter()
        .find(|f| f["by"] == "dd0c" && f["action"] == "resolve")
        .unwrap_or_else(|| panic!("resolved by dd0c/cost: {detail}"));
    let note = resolution["note"].as_str().expect("note");
    assert!(
        note.starts_with("every resource stopped (2): StopInstances by ")
            && note.contains(&format!("dd0c-cost-{action_id}")),
        "{note}"
    );
    assert!(note.contains("; cost $"), "with its actual cost: {note}");
}
