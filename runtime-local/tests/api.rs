//! The dashboard API on Postgres: sign-in (argon2id, throttled, upgraded hashes), and tenant
//! isolation on every route — a tenant's token never reaches another tenant's data.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use dd0c_cost::serve::Dispatcher;
use dd0c_cost::serve::ServeConfig;
use dd0c_ingest::PriceCatalog;
use dd0c_ports::conformance::{commit_anomalies, unique, unique_account_id};
use dd0c_ports::domain::{Account, Tenant};
use dd0c_ports::store::KeyUse;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use support::{
    closed_within, config, drain, fresh_database, onboard, run_instances, terminate_instances,
    StopOnDrop, TENANT,
};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "9c1f0e5b7a3d4e2f8a6b0c1d2e3f40516273849a5b6c7d8e";
const PASSWORD: &str = "correct horse battery staple";
const SECRETS_KEY: &str = "3e1f5a7c9b0d2e4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d0f";

struct App {
    address: String,
    url: String,
    dispatcher: Dispatcher,
    _stop: StopOnDrop,
}

async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with its configuration changed by `change`.
async fn spawn_app_with(change: impl FnOnce(&mut ServeConfig)) -> App {
    spawn_app_on(&fresh_database().await, |_| {}, change).await
}

/// [`spawn_app`] on the database at `url`, with its backend and configuration changed.
async fn spawn_app_on(
    url: &str,
    change_backend: impl FnOnce(&mut dd0c_cost::backend::Backend),
    change: impl FnOnce(&mut ServeConfig),
) -> App {
    let url = url.to_owned();
    let mut backend = dd0c_cost::backend::Backend::postgres(&url, 10)
        .await
        .expect("backend");
    backend.secrets = Some(SECRETS_KEY.parse().expect("a secrets key"));
    change_backend(&mut backend);
    let mut serve = config("api");
    serve.jwt_secret = Some(SECRET.into());
    change(&mut serve);
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

/// A tenant with one account (of its own: an AWS account belongs to one tenant) and three
/// anomalies; their ids.
async fn tenant_with_anomalies(app: &App, tenant: &str) -> Vec<String> {
    tenant_with_account(app, tenant, &unique_account_id()).await
}

/// A tenant with account `account_id` and three anomalies in it; their ids.
async fn tenant_with_account(app: &App, tenant: &str, account_id: &str) -> Vec<String> {
    let stores = &app.dispatcher.backend.stores;
    stores
        .tenants
        .add_tenant(&Tenant {
            name: tenant.into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("tenant");
    stores
        .tenants
        .add_account(&Account {
            role_arn: None,
            external_id: None,
            access_key_id: None,
            remediation_role_arn: None,
            remediation_access_key_id: None,
            tenant: tenant.into(),
            account_id: account_id.into(),
            name: None,
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("account");
    commit_anomalies(stores.score.as_ref(), tenant, account_id, 3).await
}

/// `dd0c-cost user add`, the password on stdin.
fn add_user(
    url: &str,
    tenant: &str,
    email: &str,
    role: &str,
    password: &str,
) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dd0c-cost"))
        .args([
            "user", "add", "--tenant", tenant, "--email", email, "--role", role,
        ])
        .env("DATABASE_URL", url)
        .env("DD0C_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    child.wait_with_output().expect("finished")
}

async fn login(app: &App, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/auth/login", app.address))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sent")
}

/// A new tenant with three anomalies and a signed-in admin: the anomaly ids and the admin's
/// token.
async fn admin_with_anomalies(app: &App) -> (Vec<String>, String) {
    let tenant = unique("t");
    let ids = tenant_with_anomalies(app, &tenant).await;
    let email = format!("{}@t.example", unique("admin"));
    assert!(add_user(&app.url, &tenant, &email, "admin", PASSWORD)
        .status
        .success());
    (ids, token(app, &email).await)
}

async fn token(app: &App, email: &str) -> String {
    let response = login(app, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "a token response is never cached"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    body["access_token"].as_str().expect("token").to_owned()
}

/// `GET /metrics`'s text (served in public).
async fn scrape(app: &App) -> String {
    reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("scraped")
        .text()
        .await
        .expect("text")
}

async fn call(
    app: &App,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", app.address);
    let mut request = match method {
        "GET" => client.get(url),
        "PUT" => client.put(url),
        "DELETE" => client.delete(url),
        _ => client.post(url),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn users_sign_in_and_see_only_their_tenant() {
    let app = spawn_app().await;
    let (a, b) = (unique("a"), unique("b"));
    let (a_account, b_account) = (unique_account_id(), unique_account_id());
    let a_ids = tenant_with_account(&app, &a, &a_account).await;
    let b_ids = tenant_with_account(&app, &b, &b_account).await;
    let (admin, member) = (
        format!("{}@a.example", unique("admin")),
        format!("{}@b.example", unique("member")),
    );
    let added = add_user(&app.url, &a, &admin, "admin", PASSWORD);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(add_user(&app.url, &b, &member, "member", PASSWORD)
        .status
        .success());
    let short = add_user(&app.url, &b, "x@b.example", "member", "short");
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12"));
    let stored = app
        .dispatcher
        .backend
        .stores
        .users
        .user(&admin)
        .await
        .expect("read")
        .expect("stored");
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        stored.password_hash
    );

    let token_a = token(&app, &admin).await;
    let token_b = token(&app, &member).await;
    let (status, me) = call(&app, "GET", "/v1/me", Some(&token_a), None).await;
    assert_eq!(
        (status, me["tenant"].as_str(), me["role"].as_str()),
        (StatusCode::OK, Some(a.as_str()), Some("admin"))
    );

    // Lists hold only the caller's tenant.
    let (_, list) = call(&app, "GET", "/v1/anomalies?limit=100", Some(&token_a), None).await;
    let mut listed: Vec<String> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["anomaly_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    listed.sort();
    let mut mine = a_ids.clone();
    mine.sort();
    assert_eq!(listed, mine);
    dd0c_tests::assert_pages_of_two(async |path: &str| {
        call(&app, "GET", path, Some(&token_a), None).await.1
    })
    .await;
    let (status, _) = call(
        &app,
        "GET",
        "/v1/anomalies?severity=loud",
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Every route with the other tenant's ids: 404, never its data.
    let theirs = &b_ids[0];
    for (method, path) in dd0c_tests::anomaly_routes(theirs) {
        let (status, body) = call(&app, method, &path, Some(&token_a), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert!(
            body.get("anomaly").is_none() && body.get("feedback").is_none(),
            "{body}"
        );
    }
    let (_, theirs_after) = call(
        &app,
        "GET",
        &format!("/v1/anomalies/{theirs}"),
        Some(&token_b),
        None,
    )
    .await;
    assert_eq!(
        theirs_after["anomaly"]["status"], "open",
        "untouched by the other tenant"
    );

    // Acting on one's own anomaly goes through the scorer's feedback.
    let (status, acted) = call(
        &app,
        "POST",
        &format!("/v1/anomalies/{}/snooze", a_ids[0]),
        Some(&token_a),
        Some(json!({"hours": 4})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{acted}");
    assert_eq!(acted["anomaly"]["status"], "snoozed");
    assert_eq!(acted["feedback"][0]["by"], admin.as_str());

    // Settings and panic mode: per tenant; changing them needs the admin role.
    let (status, _) = call(
        &app,
        "PUT",
        "/v1/settings",
        Some(&token_a),
        Some(json!({"email_to": ["finops@a.example"], "digest_hour": 7})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, seen_by_b) = call(&app, "GET", "/v1/settings", Some(&token_b), None).await;
    assert_eq!(seen_by_b["email_to"], json!([]), "b has its own settings");
    let (status, _) = call(
        &app,
        "PUT",
        "/v1/settings",
        Some(&token_b),
        Some(json!({"digest_hour": 7})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a member cannot change settings"
    );
    let (status, body) = call(
        &app,
        "PUT",
        "/v1/settings",
        Some(&token_a),
        Some(json!({"digest_hour": 30})),
    )
    .await;
    assert!(
        status == StatusCode::BAD_REQUEST
            && body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("digest_hour")),
        "{body}"
    );
    let (status, _) = call(
        &app,
        "PUT",
        "/v1/panic",
        Some(&token_a),
        Some(json!({"on": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, panic_a) = call(&app, "GET", "/v1/panic", Some(&token_a), None).await;
    assert_eq!(panic_a["on"], true);
    assert_eq!(
        panic_a["breakers"][0],
        json!({"channel": "slack", "open": false, "consecutive_failures": 0, "open_until": null}),
        "the channels' breakers are visible too"
    );
    assert_eq!(
        call(&app, "GET", "/v1/panic", Some(&token_b), None).await.1["on"],
        false
    );
    assert_eq!(
        call(
            &app,
            "PUT",
            "/v1/panic",
            Some(&token_b),
            Some(json!({"on": true}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // Onboarding: the ExternalId is the server's (a UUIDv4), never the client's.
    let (status, added) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token_a),
        Some(
            json!({"account_id": "444455556666", "name": "data", "role_name": "dd0c-cost-reader"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(
        added["account"]["role_arn"], "arn:aws:iam::444455556666:role/dd0c-cost-reader",
        "the role is the added account's"
    );
    let (status, claimed) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token_a),
        Some(json!({ "account_id": b_account })),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "another tenant's AWS account: {claimed}"
    );
    assert!(
        !claimed.to_string().contains(&b),
        "a refused claim does not say who holds the account: {claimed}"
    );
    let external_id = added["external_id"].as_str().expect("external id");
    assert!(
        external_id.len() == 36 && external_id.as_bytes()[14] == b'4',
        "{external_id}"
    );
    assert_eq!(added["iam_policy"]["Version"], "2012-10-17");
    let ingest_token = added["ingest_token"].as_str().expect("token").to_owned();
    assert!(ingest_token.starts_with("dd0c_ing_"));
    let (status, body) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token_a),
        Some(json!({"account_id": "777788889999", "external_id": "mine"})),
    )
    .await;
    assert!(
        status == StatusCode::BAD_REQUEST
            && body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("external_id")),
        "{body}"
    );
    let (status, _) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token_a),
        Some(json!({"account_id": "12345"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token_b),
        Some(json!({"account_id": "444455556666"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members do not onboard");
    let pushed = reqwest::Client::new()
        .post(format!("{}/v1/events", app.address))
        .bearer_auth(&ingest_token)
        .json(&json!({"eventVersion": "1.09", "eventTime": "2026-03-01T10:00:00Z", "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
            "awsRegion": "us-east-1", "recipientAccountId": "444455556666", "eventID": "api-1", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::444455556666:user/x"},
            "requestParameters": {"instanceType": "m5.large"}}))
        .send()
        .await
        .expect("pushed");
    assert_eq!(
        pushed.status(),
        StatusCode::ACCEPTED,
        "the onboarding token admits the account's records"
    );

    // Tokens: created per account, revoked by hash, only within the tenant.
    let (status, created) = call(
        &app,
        "POST",
        "/v1/accounts/444455556666/tokens",
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let hash = created["token_sha256"].as_str().expect("hash").to_owned();
    let (status, _) = call(
        &app,
        "POST",
        "/v1/accounts/444455556666/tokens",
        Some(&token_b),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/v1/tokens/{hash}"),
        Some(&token_b),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a member may not revoke");

    // Another tenant's admin: its accounts and tokens are out of reach of tenant a.
    let admin_b = format!("{}@b.example", unique("admin"));
    assert!(add_user(&app.url, &b, &admin_b, "admin", PASSWORD)
        .status
        .success());
    let token_b_admin = token(&app, &admin_b).await;
    let (status, _) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token_b_admin),
        Some(json!({"account_id": "999988887777"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, theirs_token) = call(
        &app,
        "POST",
        "/v1/accounts/999988887777/tokens",
        Some(&token_b_admin),
        None,
    )
    .await;
    let their_hash = theirs_token["token_sha256"]
        .as_str()
        .expect("hash")
        .to_owned();
    for (method, path) in [
        ("POST", "/v1/accounts/999988887777/tokens".to_owned()),
        ("DELETE", "/v1/accounts/999988887777".to_owned()),
        ("DELETE", format!("/v1/tokens/{their_hash}")),
    ] {
        let (status, body) = call(&app, method, &path, Some(&token_a), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/v1/tokens/{their_hash}"),
        Some(&token_b_admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "its own admin revokes it");
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/v1/tokens/{hash}"),
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Baselines and costs: the caller's tenant only.
    let (_, baselines) = call(&app, "GET", "/v1/baselines", Some(&token_b), None).await;
    assert!(
        baselines
            .as_array()
            .is_some_and(|all| all.iter().all(|x| x["key"]["tenant"] == b.as_str())),
        "{baselines}"
    );
    let (status, costs) = call(
        &app,
        "GET",
        "/v1/costs?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&bucket=day",
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{costs}");
    let series = costs["series"].as_array().expect("series");
    let total: f64 = series
        .iter()
        .flat_map(|s| s["points"].as_array().cloned().unwrap_or_default())
        .map(|p| p["hourly_usd"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(total, 30.0, "a's three 10 $/h events, none of b's: {costs}");
    assert_eq!(
        call(&app, "GET", "/v1/costs?bucket=week", Some(&token_a), None)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    // Removing an account removes the caller's own; the other tenant's are untouched.
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/v1/accounts/{a_account}"),
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, left_b) = call(&app, "GET", "/v1/accounts", Some(&token_b), None).await;
    assert_eq!(left_b.as_array().map(Vec::len), Some(2), "{left_b}");
    let (_, left_a) = call(&app, "GET", "/v1/accounts", Some(&token_a), None).await;
    assert_eq!(left_a[0]["account_id"], "444455556666", "{left_a}");

    // Without a valid token, every route is 401 and says nothing more.
    let forged = format!("{token_a}x");
    for path in [
        "/v1/me",
        "/v1/anomalies",
        &format!("/v1/anomalies/{}", a_ids[0]),
        "/v1/settings",
        "/v1/panic",
    ] {
        for bearer in [None, Some(forged.as_str()), Some("")] {
            let (status, body) = call(&app, "GET", path, bearer, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {bearer:?}");
            assert_eq!(body["title"], "Unauthorized");
        }
    }
}

#[tokio::test]
async fn a_refused_setting_is_answered_naming_its_field() {
    let app = spawn_app().await;
    let (_, token) = admin_with_anomalies(&app).await;
    let refused = [
        (
            json!({"slack_webhook_url": "ftp://hooks.example"}),
            "slack_webhook_url",
        ),
        (json!({"digest_hour": 30}), "digest_hour"),
        (
            json!({"teams_webhook_url": "ftp://teams.example"}),
            "teams_webhook_url",
        ),
        (
            json!({"pagerduty_routing_key": "not-a-key"}),
            "pagerduty_routing_key",
        ),
        (
            json!({"thresholds": {"min_samples": 2_000_000}}),
            "thresholds.min_samples",
        ),
        (
            json!({"zombies": {"regions": ["mars-1"]}}),
            "zombies.regions",
        ),
    ];
    for (body, field) in refused {
        let (status, problem) = call(&app, "PUT", "/v1/settings", Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with(field)),
            "{problem}"
        );
    }
    let (_, unchanged) = call(&app, "GET", "/v1/settings", Some(&token), None).await;
    assert_eq!(unchanged["digest_hour"], 9, "nothing refused was stored");
}

#[tokio::test]
async fn a_webhook_url_into_the_servers_own_network_is_refused_naming_its_field() {
    let app = spawn_app().await;
    let (_, token) = admin_with_anomalies(&app).await;
    for (url, why) in [
        (
            "https://169.254.169.254/latest/meta-data/iam/",
            "link-local",
        ),
        ("https://127.0.0.1:5432/", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://10.0.0.8/hook", "private"),
        ("https://[::ffff:192.168.1.1]/hook", "private"),
        ("http://hooks.slack.com/services/T/B/x", "https"),
    ] {
        for field in ["slack_webhook_url", "teams_webhook_url", "webhook_url"] {
            let body = json!({ field: url });
            let (status, problem) =
                call(&app, "PUT", "/v1/settings", Some(&token), Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{field} {url}: {problem}");
            assert_eq!(problem["field"], field, "{problem}");
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(why), "{field} {url}: {problem}");
        }
    }
    let body = json!({"slack_webhook_url": "https://hooks.slack.com/services/T1/B1/x"});
    let (status, stored) = call(&app, "PUT", "/v1/settings", Some(&token), Some(body)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a public https URL is kept: {stored}"
    );
}

/// A member and an admin of a new tenant with three anomalies: the ids and both tokens.
async fn member_and_admin(app: &App) -> (Vec<String>, String, String) {
    let tenant = unique("t");
    let ids = tenant_with_anomalies(app, &tenant).await;
    let (member, admin) = (
        format!("{}@t.example", unique("member")),
        format!("{}@t.example", unique("admin")),
    );
    assert!(add_user(&app.url, &tenant, &member, "member", PASSWORD)
        .status
        .success());
    assert!(add_user(&app.url, &tenant, &admin, "admin", PASSWORD)
        .status
        .success());
    (ids, token(app, &member).await, token(app, &admin).await)
}

#[tokio::test]
async fn a_member_may_not_silence_beyond_one_actor_for_a_week_nor_mark_expected() {
    let app = spawn_app().await;
    let (ids, member, admin) = member_and_admin(&app).await;
    let act = |action: &str, id: &str| format!("/v1/anomalies/{id}/{action}");
    for (action, body) in [
        ("expected", None),
        ("snooze", Some(json!({"scope": "account", "hours": 24}))),
        ("snooze", Some(json!({"scope": "resource_kind"}))),
        ("snooze", Some(json!({"hours": 24 * 90}))),
    ] {
        let (status, problem) = call(
            &app,
            "POST",
            &act(action, &ids[0]),
            Some(&member),
            body.clone(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{action} {body:?}: {problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("admin")),
            "{problem}"
        );
    }
    let (_, unchanged) = call(
        &app,
        "GET",
        &format!("/v1/anomalies/{}", ids[0]),
        Some(&member),
        None,
    )
    .await;
    assert_eq!(
        unchanged["anomaly"]["status"], "open",
        "nothing refused was applied"
    );
    for (action, body) in [
        ("snooze", Some(json!({"scope": "actor", "hours": 168}))),
        ("acknowledge", None),
        ("resolve", None),
    ] {
        let (status, answer) = call(&app, "POST", &act(action, &ids[1]), Some(&member), body).await;
        assert_eq!(status, StatusCode::OK, "a member may {action}: {answer}");
    }
    for (action, body) in [
        ("expected", None),
        (
            "snooze",
            Some(json!({"scope": "account", "hours": 24 * 90})),
        ),
    ] {
        let (status, answer) = call(&app, "POST", &act(action, &ids[2]), Some(&admin), body).await;
        assert_eq!(status, StatusCode::OK, "an admin may {action}: {answer}");
    }
}

#[tokio::test]
async fn an_action_body_that_is_not_an_object_is_refused() {
    let app = spawn_app().await;
    let (ids, token) = admin_with_anomalies(&app).await;
    let path = format!("/v1/anomalies/{}/acknowledge", ids[0]);
    for body in [json!([null, null]), json!([24, "actor"]), json!(7)] {
        let (status, problem) = call(&app, "POST", &path, Some(&token), Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
    }
}

#[tokio::test]
async fn routing_rules_are_kept_in_order_and_a_bad_one_is_refused_naming_it() {
    let app = spawn_app().await;
    let (_, token) = admin_with_anomalies(&app).await;
    let rules = json!([
        {"name": "prod critical", "min_severity": "critical", "accounts": ["111122223333"],
         "min_monthly_usd": 10000, "channels": ["pagerduty", "slack"]},
        {"name": "sandbox: digest only", "accounts": ["222233334444"], "channels": []},
    ]);
    let settings = json!({
        "slack_webhook_url": "https://hooks.slack.com/services/T1/B1/x",
        "pagerduty_routing_key": "R0123456789abcdefghijklmnopqrstu",
        "routing": rules,
    });
    let (status, stored) = call(
        &app,
        "PUT",
        "/v1/settings",
        Some(&token),
        Some(settings.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let (_, seen) = call(&app, "GET", "/v1/settings", Some(&token), None).await;
    assert_eq!(seen["routing"][0]["name"], "prod critical");
    assert_eq!(seen["routing"][1]["channels"], json!([]));

    let mut unset = settings.clone();
    unset["routing"][1]["channels"] = json!(["teams"]);
    let (status, problem) = call(&app, "PUT", "/v1/settings", Some(&token), Some(unset)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        problem["field"],
        r#"routing[1] "sandbox: digest only".channels"#
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("teams")),
        "{problem}"
    );

    let mut malformed = settings;
    malformed["routing"][0]["regions"] = json!(["moon-1"]);
    let (status, problem) = call(&app, "PUT", "/v1/settings", Some(&token), Some(malformed)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["field"], r#"routing[0] "prod critical".regions"#);
}

#[tokio::test]
async fn a_member_reads_channel_urls_only_to_their_hosts_and_no_pagerduty_key() {
    let app = spawn_app().await;
    let (_, member, admin) = member_and_admin(&app).await;
    let hook = "https://hooks.slack.com/services/T1/B1/secret";
    let teams = "https://prod-01.westeurope.logic.azure.com/workflows/1/triggers/manual?sig=secret";
    let key = "R0123456789abcdefghijklmnopqrstu";
    let body = json!({"slack_webhook_url": hook, "teams_webhook_url": teams, "pagerduty_routing_key": key});
    let (status, stored) = call(&app, "PUT", "/v1/settings", Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let (_, seen) = call(&app, "GET", "/v1/settings", Some(&member), None).await;
    assert_eq!(
        seen["slack_webhook_url"],
        "https://hooks.slack.com/(hidden)"
    );
    assert_eq!(
        seen["teams_webhook_url"],
        "https://prod-01.westeurope.logic.azure.com/(hidden)"
    );
    assert_eq!(seen["pagerduty_routing_key"], Value::Null);
    let (_, seen) = call(&app, "GET", "/v1/settings", Some(&admin), None).await;
    assert_eq!(seen["slack_webhook_url"], hook, "an admin reads it whole");
    assert_eq!(seen["teams_webhook_url"], teams);
    assert_eq!(seen["pagerduty_routing_key"], key);
}

#[tokio::test]
async fn the_webhook_signing_secret_is_shown_once_and_the_webhook_needs_it() {
    let app = spawn_app().await;
    let (_, member, admin) = member_and_admin(&app).await;
    let body = json!({"webhook_url": "https://automation.example.com/dd0c"});
    let (status, problem) = call(
        &app,
        "PUT",
        "/v1/settings",
        Some(&admin),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "webhook_url", "{problem}");
    assert!(problem["detail"]
        .as_str()
        .is_some_and(|d| d.contains("/v1/settings/webhook-secret")));

    let (status, _) = call(
        &app,
        "POST",
        "/v1/settings/webhook-secret",
        Some(&member),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");
    let (status, made) = call(
        &app,
        "POST",
        "/v1/settings/webhook-secret",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap_or_default().to_owned();
    let parsed: Result<dd0c_ports::webhook::SigningSecret, _> = secret.parse();
    assert!(parsed.is_ok(), "{secret}");

    let (status, stored) = call(&app, "PUT", "/v1/settings", Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let (_, seen) = call(&app, "GET", "/v1/settings", Some(&admin), None).await;
    assert!(
        !seen.to_string().contains(&secret["whsec_".len()..]),
        "never shown again: {seen}"
    );
    let (_, again) = call(
        &app,
        "POST",
        "/v1/settings/webhook-secret",
        Some(&admin),
        None,
    )
    .await;
    assert_ne!(again["secret"], secret.as_str(), "a new one replaces it");
}

#[tokio::test]
async fn sign_in_is_throttled_and_weak_hashes_are_upgraded() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let app = spawn_app().await;
    let tenant = unique("t");
    tenant_with_anomalies(&app, &tenant).await;
    let email = format!("{}@t.example", unique("old"));
    // A hash from an older, weaker policy (argon2id, 4 MiB, t = 1).
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4096, 1, 1, None).expect("params"),
    )
    .hash_password(
        PASSWORD.as_bytes(),
        &SaltString::generate(&mut rand::rngs::OsRng),
    )
    .expect("hash")
    .to_string();
    let users = app.dispatcher.backend.stores.users.clone();
    users
        .add_user(&dd0c_ports::auth::User {
            tenant: tenant.clone(),
            email: email.clone(),
            role: dd0c_ports::auth::Role::Member,
            password_hash: weak.clone(),
        })
        .await
        .expect("user");
    token(&app, &email).await;
    let upgraded = users
        .user(&email)
        .await
        .expect("read")
        .expect("user")
        .password_hash;
    assert!(
        upgraded != weak && upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{upgraded}"
    );

    // Wrong password and unknown e-mail answer alike.
    let wrong = login(&app, &email, "not the password").await;
    let nobody = login(&app, "nobody@t.example", "whatever").await;
    assert_eq!(
        (wrong.status(), nobody.status()),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    let (wrong, nobody): (Value, Value) = (
        wrong.json().await.expect("json"),
        nobody.json().await.expect("json"),
    );
    assert_eq!(wrong["detail"], nobody["detail"]);

    // Five failures as one account from one address (one above, four guesses) lock the pair for
    // the window.
    for _ in 0..4 {
        assert_eq!(
            login(&app, &email, "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = login(&app, &email, PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password, once throttled"
    );
    assert!(locked.headers().get("retry-after").is_some());
    let bad_body = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", app.address))
        .body("email=x")
        .send()
        .await
        .expect("sent");
    assert!(bad_body.status().is_client_error());
}

/// Every route the dispatcher serves, as users call them (README, ARCHITECTURE.md).
const ROUTES: [(&str, &str); 39] = [
    ("post", "/v1/events"),
    ("post", "/v1/slack/actions"),
    ("post", "/v1/auth/login"),
    ("get", "/v1/me"),
    ("get", "/v1/anomalies"),
    ("get", "/v1/anomalies/{id}"),
    ("post", "/v1/anomalies/{id}/{action}"),
    ("get", "/v1/accounts"),
    ("post", "/v1/accounts"),
    ("delete", "/v1/accounts/{account_id}"),
    ("post", "/v1/accounts/{account_id}/tokens"),
    ("delete", "/v1/tokens/{token_sha256}"),
    ("get", "/v1/baselines"),
    ("get", "/v1/costs"),
    ("get", "/v1/settings"),
    ("put", "/v1/settings"),
    ("post", "/v1/settings/webhook-secret"),
    ("post", "/v1/settings/test-alert"),
    ("get", "/v1/panic"),
    ("put", "/v1/panic"),
    ("get", "/v1/resources"),
    ("get", "/v1/resources/running"),
    ("get", "/v1/catalog"),
    ("get", "/v1/zombies"),
    ("get", "/v1/zombies/summary"),
    ("post", "/v1/zombies/{id}/ignore"),
    ("get", "/v1/actions"),
    ("post", "/v1/actions"),
    ("get", "/v1/actions/{id}"),
    ("post", "/v1/actions/{id}/approve"),
    ("post", "/v1/actions/{id}/reject"),
    ("get", "/v1/settings/remediation"),
    ("put", "/v1/settings/remediation"),
    ("get", "/v1/ingest"),
    ("get", "/v1/agents"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

/// The document `app` serves at `/openapi.json`.
async fn served_document(app: &App) -> Value {
    reqwest::get(format!("{}/openapi.json", app.address))
        .await
        .expect("served")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_only_served_ones() {
    let app = spawn_app().await;
    let spec = served_document(&app).await;
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        spec["openapi"]
    );
    let paths = spec["paths"].as_object().expect("paths");
    let mut described = Vec::new();
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("item") {
            described.push((method.clone(), path.clone()));
            if let Some(id) = operation["operationId"].as_str() {
                // Generated clients name a function per operation: two of one name collide.
                assert!(
                    operation_ids.insert(id.to_owned()),
                    "operationId {id} is not unique"
                );
            }
        }
    }
    for (method, path) in ROUTES {
        assert!(
            described.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path} is served but not described"
        );
    }
    // Every described operation is served: the router answers it (maybe 401 or 404 for the
    // placeholder ids) — never its own "no such route" 404 with an empty body, nor 405.
    let client = reqwest::Client::new();
    for (method, path) in &described {
        let url = format!("{}{}", app.address, path.replace(['{', '}'], ""));
        let request = match method.as_str() {
            "get" => client.get(&url),
            "put" => client.put(&url),
            "delete" => client.delete(&url),
            _ => client.post(&url),
        };
        let response = request.send().await.expect("sent");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED
                && !(status == StatusCode::NOT_FOUND && body.is_empty()),
            "{method} {path} is described but not served ({status})"
        );
    }
    assert_eq!(described.len(), ROUTES.len(), "described: {described:?}");
}

/// The dashboard's typed client is generated from `dashboard/openapi.json`: that copy must be
/// the document served, so a changed route breaks the dashboard's build, not its users.
/// `DD0C_BLESS=1` rewrites it.
#[tokio::test]
async fn the_dashboards_copy_of_the_openapi_document_is_the_one_served() {
    let served = served_document(&spawn_app().await).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboard/openapi.json");
    let text = serde_json::to_string_pretty(&served).expect("json") + "\n";
    if std::env::var_os("DD0C_BLESS").is_some() {
        std::fs::write(&path, &text).expect("written");
    }
    let copy = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        copy == text,
        "{} is not the served document: run `DD0C_BLESS=1 scripts/test.sh dashboards_copy`, then rebuild the dashboard",
        path.display()
    );
}

/// A sign-in as `email` from `client` (named by `X-Forwarded-For`, the app trusting loopback).
async fn login_from(app: &App, client: &str, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/auth/login", app.address))
        .header("x-forwarded-for", client)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sent")
}

fn behind_a_proxy(serve: &mut ServeConfig) {
    serve.trusted_proxies = "127.0.0.1".parse().expect("proxies");
}

/// A new tenant with two users; their e-mails.
async fn two_users(app: &App) -> (String, String) {
    let tenant = unique("t");
    tenant_with_anomalies(app, &tenant).await;
    let (a, b) = (
        format!("{}@t.example", unique("a")),
        format!("{}@t.example", unique("b")),
    );
    for email in [&a, &b] {
        assert!(add_user(&app.url, &tenant, email, "member", PASSWORD)
            .status
            .success());
    }
    (a, b)
}

#[tokio::test]
async fn typos_lock_neither_a_colleague_behind_the_same_address_nor_the_account_elsewhere() {
    let app = spawn_app_with(behind_a_proxy).await;
    let (typist, colleague) = two_users(&app).await;
    let office = "203.0.113.10";
    for _ in 0..dd0c_api::throttle::MAX_FAILURES {
        let failed = login_from(&app, office, &typist, "typo").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = login_from(&app, office, &typist, PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the pair is locked"
    );
    let colleague_in = login_from(&app, office, &colleague, PASSWORD).await;
    assert_eq!(
        colleague_in.status(),
        StatusCode::OK,
        "a colleague behind the same address"
    );
    let elsewhere = login_from(&app, "198.51.100.7", &typist, PASSWORD).await;
    assert_eq!(
        elsewhere.status(),
        StatusCode::OK,
        "the account from another address"
    );
}

#[tokio::test]
async fn an_account_guessed_at_from_many_addresses_still_admits_its_owner() {
    let app = spawn_app_with(behind_a_proxy).await;
    let (owner, _) = two_users(&app).await;
    for n in 0..dd0c_api::throttle::ACCOUNT_FAILURES {
        let failed = login_from(&app, &format!("192.0.2.{n}"), &owner, "guess").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED, "guess {n}");
    }
    // Under attack, each address gets one try per spacing: a guesser waits…
    let first = login_from(&app, "192.0.2.200", &owner, "guess").await;
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    let again = login_from(&app, "192.0.2.200", &owner, "guess").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = again.headers()["retry-after"]
        .to_str()
        .ok()
        .and_then(|w| w.parse().ok())
        .expect("Retry-After in seconds");
    assert!(
        wait <= dd0c_api::throttle::ACCOUNT_SPACING.as_secs(),
        "{wait} s"
    );
    // …and the owner, from an address of their own, signs in.
    let owner_in = login_from(&app, "198.51.100.23", &owner, PASSWORD).await;
    assert_eq!(owner_in.status(), StatusCode::OK);
}

#[tokio::test]
async fn failed_sign_ins_are_counted_across_replicas_in_redis() {
    let redis =
        std::env::var("DD0C_TEST_REDIS_URL").expect("DD0C_TEST_REDIS_URL: run scripts/test.sh");
    let url = fresh_database().await;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let flags = dd0c_adapters_redis::RedisFlags::connect(&redis)
            .await
            .expect("Redis");
        let attempts = std::sync::Arc::new(dd0c_adapters_redis::RedisAttempts::of(&flags));
        replicas.push(spawn_app_on(&url, |b| b.attempts = attempts, behind_a_proxy).await);
    }
    let (owner, _) = two_users(&replicas[0]).await;
    let client = format!("203.0.113.{}", rand::random::<u8>());
    for n in 0..dd0c_api::throttle::MAX_FAILURES {
        let replica = &replicas[n as usize % 2];
        let failed = login_from(replica, &client, &owner, "guess").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }
    for replica in &replicas {
        let locked = login_from(replica, &client, &owner, PASSWORD).await;
        assert_eq!(
            locked.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "every replica counts them"
        );
    }
}

#[tokio::test]
async fn rotating_a_forged_forwarded_for_does_not_escape_the_sign_in_throttle() {
    let app = spawn_app().await;
    let email = format!("{}@t.example", unique("victim"));
    let most = dd0c_api::throttle::ADDRESS_FAILURES;
    for attempt in 0..most + 3 {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/auth/login", app.address))
            .header("x-forwarded-for", format!("198.51.100.{attempt}"))
            .json(&json!({"email": unique("guess") + "@x.example", "password": "guess"}))
            .send()
            .await
            .expect("sent");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(attempt >= most, "locked after {attempt} failures");
            let other = login(&app, &email, "whatever").await;
            assert_eq!(
                other.status(),
                StatusCode::TOO_MANY_REQUESTS,
                "the socket's address is what is throttled"
            );
            return;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    panic!("failures from one socket with rotating X-Forwarded-For were never throttled");
}

#[tokio::test]
async fn every_response_says_nosniff_and_errors_are_problem_details() {
    let app = spawn_app().await;
    for path in ["/healthz", "/v1/me", "/openapi.json", "/v1/anomalies/x"] {
        let response = reqwest::get(format!("{}{path}", app.address))
            .await
            .expect("sent");
        assert_eq!(
            response
                .headers()
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
    }
}

#[tokio::test]
async fn metrics_without_a_token_are_not_served_unless_made_public() {
    let app = spawn_app_with(|serve| serve.metrics_public = false).await;
    let scraped = reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("sent");
    assert_eq!(scraped.status(), StatusCode::NOT_FOUND);
    let problem: Value = scraped.json().await.expect("problem details");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("DD0C_METRICS_TOKEN")),
        "{problem}"
    );
}

#[tokio::test]
async fn metrics_with_a_token_configured_refuse_a_scrape_without_it() {
    let app = spawn_app_with(|serve| serve.metrics_token = Some("scrape-secret".into())).await;
    let address = app.address.clone();
    let scrape = |token: Option<&'static str>| {
        let mut request = reqwest::Client::new().get(format!("{address}/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(
        scrape(None).await.expect("sent").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        scrape(Some("wrong")).await.expect("sent").status(),
        StatusCode::UNAUTHORIZED
    );
    onboard(&app.dispatcher.backend, &unique_account_id()).await;
    let scraped = scrape(Some("scrape-secret")).await.expect("sent");
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.expect("text");
    assert!(text.contains("dd0c_tenants_in_panic_mode 0"), "{text}");
    assert!(
        !text.contains(support::TENANT),
        "no tenant is named unless the operator opts in: {text}"
    );
}

fn short_limits(serve: &mut ServeConfig) {
    serve.http.header_timeout = Duration::from_secs(1);
    serve.http.body_timeout = Duration::from_secs(1);
}

#[tokio::test]
async fn idle_and_slow_header_connections_are_closed_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(short_limits).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut idle = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let mut partial = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("written");
    assert!(
        closed_within(&mut idle, Duration::from_secs(10)).await,
        "an idle connection is closed"
    );
    assert!(
        closed_within(&mut partial, Duration::from_secs(10)).await,
        "a connection whose headers never end is closed"
    );
    let healthy = reqwest::get(format!("{}/healthz", app.address))
        .await
        .expect("sent");
    assert_eq!(healthy.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_body_dripped_past_the_body_timeout_is_refused_and_nothing_is_queued() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(short_limits).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let account = unique_account_id();
    let token = onboard(&app.dispatcher.backend, &account).await;
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 4096\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("headers");
    for _ in 0..4 {
        if stream.write_all(b"{").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let depth = app
        .dispatcher
        .backend
        .score_queue
        .depth()
        .await
        .expect("depth");
    assert_eq!(depth.visible, 0, "nothing queued");
}

/// A launch of one m5.large in `account`, with its event id and time.
fn launch_record(account: &str, event_id: &str, time: &str) -> Value {
    dd0c_tests::record(
        &dd0c_tests::iam_user(account, "dev"),
        account,
        "us-east-1",
        time,
        "ec2.amazonaws.com",
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "m5.large"}),
        json!({"instancesSet": {"items": [{"instanceId": "i-1", "instanceType": "m5.large"}]}}),
        event_id,
    )
}

#[tokio::test]
async fn pushes_that_could_not_be_stored_or_would_head_every_list_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let account = unique_account_id();
    let token = onboard(&app.dispatcher.backend, &account).await;
    for (record, field) in [
        (
            launch_record(&account, "evt\u{0}1", "2026-03-01T10:00:00Z"),
            "eventID",
        ),
        (
            launch_record(&account, "evt-future", "9999-12-31T23:59:59Z"),
            "eventTime",
        ),
    ] {
        let pushed = reqwest::Client::new()
            .post(format!("{}/v1/events", app.address))
            .bearer_auth(&token)
            .json(&record)
            .send()
            .await
            .expect("sent");
        assert_eq!(pushed.status(), StatusCode::BAD_REQUEST, "{field}");
        let problem: Value = pushed.json().await.expect("problem details");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(&format!("field {field}")), "{detail}");
    }
    let depth = app
        .dispatcher
        .backend
        .score_queue
        .depth()
        .await
        .expect("depth");
    assert_eq!(depth.visible, 0, "nothing queued");
}

#[tokio::test]
async fn a_nul_in_a_cursor_an_id_or_an_e_mail_is_a_bad_request_without_the_databases_words() {
    let app = spawn_app().await;
    let (_, bearer) = admin_with_anomalies(&app).await;
    for path in [
        "/v1/anomalies?cursor=%00",
        "/v1/anomalies/%00",
        "/v1/anomalies?account=%00",
    ] {
        let (status, body) = call(&app, "GET", path, Some(&bearer), None).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{path}: {status} {body}"
        );
        assert!(!body.to_string().contains("0x00"), "{path}: {body}");
    }
    let login = login(&app, "a\u{0}b@t.example", PASSWORD).await;
    assert!(login.status().is_client_error(), "{}", login.status());
    let body = login.text().await.expect("text");
    assert!(!body.contains("0x00") && !body.contains("UTF8"), "{body}");
}

#[tokio::test]
async fn a_malformed_snooze_body_is_answered_as_problem_details() {
    let app = spawn_app().await;
    let (ids, bearer) = admin_with_anomalies(&app).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/anomalies/{}/snooze", app.address, ids[0]))
        .bearer_auth(&bearer)
        .header("content-type", "application/json")
        .body("{\"hours\": \"a day\"}")
        .send()
        .await
        .expect("sent");
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/problem+json"[..])
    );
}

#[tokio::test]
async fn a_push_of_more_records_than_the_documented_maximum_is_refused_whole() {
    let app = spawn_app().await;
    let account = unique_account_id();
    let token = onboard(&app.dispatcher.backend, &account).await;
    let records: Vec<Value> = (0..=dd0c_ingest::bounds::MAX_RECORDS_PER_PUSH)
        .map(|i| {
            json!({"eventTime": "2026-03-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
                "eventName": if i == 0 { "RunInstances" } else { "DescribeInstances" },
                "awsRegion": "us-east-1", "recipientAccountId": account, "eventID": format!("e-{i}"),
                "requestParameters": {"instanceType": "m5.large", "instancesSet": {"items": [{"maxCount": 1}]}}})
        })
        .collect();
    // Gzip, as CloudTrail files come: the records fit the inflated size, not their number.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(json!({ "Records": records }).to_string().as_bytes())
        .expect("compressed");
    let pushed = reqwest::Client::new()
        .post(format!("{}/v1/events", app.address))
        .bearer_auth(&token)
        .header("content-encoding", "gzip")
        .body(gzip.finish().expect("compressed"))
        .send()
        .await
        .expect("sent");
    assert_eq!(pushed.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let problem: Value = pushed.json().await.expect("problem details");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("10001 records")),
        "{problem}"
    );
    let depth = app
        .dispatcher
        .backend
        .score_queue
        .depth()
        .await
        .expect("depth");
    assert_eq!(
        depth.visible, 0,
        "nothing queued, the launch first included"
    );
}

#[tokio::test]
async fn an_empty_parameter_is_refused_where_the_document_gives_it_a_format_and_absent_where_it_allows_empty(
) {
    let app = spawn_app().await;
    let (_, bearer) = admin_with_anomalies(&app).await;
    for path in [
        "/v1/costs?bucket=",
        "/v1/costs?to=",
        "/v1/costs?from=",
        "/v1/anomalies?from=",
        "/v1/anomalies?to=",
        "/v1/anomalies?limit=0",
        "/v1/anomalies?limit=201",
    ] {
        let (status, body) = call(&app, "GET", path, Some(&bearer), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    }
    for path in [
        "/v1/anomalies?severity=&status=&account=&cursor=",
        "/v1/baselines?account=",
        "/v1/costs?bucket=hour",
    ] {
        let (status, body) = call(&app, "GET", path, Some(&bearer), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

#[tokio::test]
async fn zombie_findings_are_listed_by_waste_summed_and_ignored_within_the_tenant() {
    use dd0c_ports::conformance::finding;
    use dd0c_ports::zombie::{FindingStatus, ZombieKind};
    let app = spawn_app().await;
    let (_, ours) = admin_with_anomalies(&app).await;
    let (_, theirs) = admin_with_anomalies(&app).await;
    let (_, me) = call(&app, "GET", "/v1/me", Some(&ours), None).await;
    let tenant = me["tenant"].as_str().expect("tenant").to_owned();
    let account = unique_account_id();
    let nat = finding(&tenant, &account, ZombieKind::NatIdle, "nat-1", 32.85);
    let volume = finding(&tenant, &account, ZombieKind::EbsUnattached, "vol-1", 8.0);
    let mut gone = finding(&tenant, &account, ZombieKind::Ec2Idle, "i-1", 61.54);
    gone.status = FindingStatus::Gone;
    gone.gone_at = Some(chrono::Utc::now());
    app.dispatcher
        .backend
        .stores
        .zombies
        .put_findings(&[nat.clone(), volume.clone(), gone])
        .await
        .expect("findings");

    let (status, listed) = call(&app, "GET", "/v1/zombies?status=open", Some(&ours), None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|f| f["finding_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [nat.finding_id.as_str(), volume.finding_id.as_str()],
        "open, by waste"
    );
    let (_, by_kind) = call(
        &app,
        "GET",
        "/v1/zombies?kind=ebs.unattached",
        Some(&ours),
        None,
    )
    .await;
    assert_eq!(by_kind["matched"], 1, "{by_kind}");
    let (status, refused) = call(
        &app,
        "GET",
        "/v1/zombies?kind=ebs.attached",
        Some(&ours),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    let (_, summary) = call(&app, "GET", "/v1/zombies/summary", Some(&ours), None).await;
    assert_eq!(summary["waste_open_monthly_usd"], 40.85, "{summary}");
    assert_eq!(summary["saved_this_month_usd"], 61.54, "{summary}");

    let ignore = format!("/v1/zombies/{}/ignore", volume.finding_id);
    let (status, _) = call(
        &app,
        "POST",
        &ignore,
        Some(&theirs),
        Some(json!({"reason": "x"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant's finding is not found"
    );
    let (status, blank) = call(
        &app,
        "POST",
        &ignore,
        Some(&ours),
        Some(json!({"reason": "  "})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{blank}");
    let body = json!({"reason": "scratch volume of the DR drill"});
    let (status, ignored) = call(&app, "POST", &ignore, Some(&ours), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{ignored}");
    assert_eq!(ignored["status"], "ignored");
    assert_eq!(ignored["ignored_reason"], "scratch volume of the DR drill");
    let (_, summary) = call(&app, "GET", "/v1/zombies/summary", Some(&ours), None).await;
    assert_eq!(
        summary["waste_open_monthly_usd"], 32.85,
        "an ignored finding is no waste"
    );
    assert_eq!(summary["ignored"], 1);
    let (_, others) = call(&app, "GET", "/v1/zombies", Some(&theirs), None).await;
    assert_eq!(
        others["matched"], 0,
        "each tenant sees its own findings only"
    );
}

#[tokio::test]
async fn an_account_added_with_access_keys_keeps_their_secrets_sealed_apart_and_unreturned() {
    let app = spawn_app().await;
    let (_, token) = admin_with_anomalies(&app).await;
    let account = unique_account_id();
    let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY00";
    let key = json!({"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": secret});
    let acting_secret = "aCtiNgSeCrEtKeY0123456789abcdefEXAMPLE1";
    let acting =
        json!({"access_key_id": "AKIAIOSFODNN7ACTING1", "secret_access_key": acting_secret});
    let (status, both) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token),
        Some(json!({"account_id": account, "role_name": "reader", "access_key": key})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a role or a key, not both: {both}"
    );
    let (status, added) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token),
        Some(json!({"account_id": account, "access_key": key, "remediation_access_key": acting})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["account"]["access_key_id"], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(
        added["account"]["remediation_access_key_id"],
        "AKIAIOSFODNN7ACTING1"
    );
    let (_, listed) = call(&app, "GET", "/v1/accounts", Some(&token), None).await;
    for answer in [&added, &listed] {
        assert!(
            !answer.to_string().contains(secret) && !answer.to_string().contains(acting_secret),
            "no secret is ever returned: {answer}"
        );
    }
    let stores = &app.dispatcher.backend.stores;
    let tenant = listed[0]["tenant"].as_str().expect("tenant");
    let opener = app.dispatcher.backend.secrets.as_ref().expect("a key");
    for (which, want) in [(KeyUse::Read, secret), (KeyUse::Act, acting_secret)] {
        let sealed = stores
            .tenants
            .account_secret(tenant, &account, which)
            .await
            .expect("read")
            .expect("a sealed secret");
        let owner = |which| dd0c_ports::secrets::secret_owner(tenant, &account, which);
        let opened = opener
            .open(&sealed, &owner(which))
            .expect("opens for its use");
        assert_eq!(opened, want);
        let other = match which {
            KeyUse::Read => KeyUse::Act,
            KeyUse::Act => KeyUse::Read,
        };
        assert!(
            opener.open(&sealed, &owner(other)).is_err(),
            "one key's secret does not open as the other's"
        );
    }
    let policy = added["iam_policy"]["Statement"][0]["Action"].clone();
    assert_eq!(
        policy,
        json!(dd0c_zombie::READ_ACTIONS),
        "the policy lists what a scan calls"
    );
}

#[tokio::test]
async fn a_trail_bucket_is_watched_per_account_and_its_lag_shown_within_the_tenant() {
    let app = spawn_app().await;
    let (_, token) = admin_with_anomalies(&app).await;
    let account = unique_account_id();
    let (status, refused) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token),
        Some(json!({"account_id": account, "cloudtrail_s3": "s3://org-trail/team"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a bucket needs a role or a key to be read: {refused}"
    );
    let (status, added) = call(
        &app,
        "POST",
        "/v1/accounts",
        Some(&token),
        Some(json!({"account_id": account, "role_name": "dd0c-reader",
                    "cloudtrail_s3": "s3://org-trail/team/AWSLogs/"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(
        added["iam_policy"]["Statement"][1],
        json!({"Sid": "Dd0cCostTrailBucket", "Effect": "Allow",
               "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject"],
               "Resource": ["arn:aws:s3:::org-trail", "arn:aws:s3:::org-trail/*"]}),
        "the policy reads that bucket and nothing else of S3"
    );
    let (status, ingest) = call(&app, "GET", "/v1/ingest", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ingest,
        json!([{"account_id": account, "source": "s3", "cloudtrail_s3": "s3://org-trail/team",
                "last_seen": null, "newest_event_time": null, "lag_seconds": null}]),
        "watched, nothing read yet; the location copied down to AWSLogs/ names the trail"
    );

    // A file read and an agent's heartbeat show, with their lag, to this tenant only.
    let tenant = added["account"]["tenant"]
        .as_str()
        .expect("tenant")
        .to_owned();
    let sources = &app.dispatcher.backend.sources;
    let newest = chrono::Utc::now() - chrono::TimeDelta::minutes(7);
    let file = dd0c_ports::sources::TrailObject {
        key: format!("team/AWSLogs/{account}/CloudTrail/us-east-1/f.json.gz"),
        etag: "e".into(),
        size: 1,
        last_modified: newest,
    };
    sources
        .mark_read(
            &tenant,
            &account,
            "f/",
            &file,
            Some(newest),
            chrono::Utc::now(),
        )
        .await
        .expect("read");
    sources
        .heartbeat(&dd0c_ports::sources::AgentBeat {
            tenant: tenant.clone(),
            account_id: account.clone(),
            agent_id: "agent-1".into(),
            version: "0.1.0".into(),
            hostname: "ip-10-0-0-1".into(),
            source: "sqs".into(),
            last_seen: chrono::Utc::now(),
            newest_event_time: Some(newest),
            spooled: 2,
            forwarded: 40,
        })
        .await
        .expect("heartbeat");
    let (_, ingest) = call(&app, "GET", "/v1/ingest", Some(&token), None).await;
    let lags: Vec<(String, f64)> = ingest
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| {
            (
                v["source"].as_str().unwrap_or_default().to_owned(),
                v["lag_seconds"].as_f64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(lags.len(), 2, "{ingest}");
    assert!(
        lags.iter().all(|(_, lag)| (420.0..480.0).contains(lag)),
        "seven minutes behind: {ingest}"
    );
    let (_, agents) = call(&app, "GET", "/v1/agents", Some(&token), None).await;
    assert_eq!(agents[0]["agent_id"], "agent-1", "{agents}");
    assert_eq!(agents[0]["spooled"], 2);
    let metrics = scrape(&app).await;
    assert!(
        metrics.contains(&format!(
            "dd0c_ingest_lag_seconds{{account=\"{account}\",source=\"s3\"}}"
        )),
        "{metrics}"
    );

    let (_, other) = admin_with_anomalies(&app).await;
    for path in ["/v1/ingest", "/v1/agents"] {
        let (status, seen) = call(&app, "GET", path, Some(&other), None).await;
        assert_eq!((status, seen), (StatusCode::OK, json!([])), "{path}");
    }
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/v1/accounts/{account}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        sources
            .trails(None)
            .await
            .expect("trails")
            .iter()
            .all(|t| t.account_id != account),
        "a removed account's trail is no longer polled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_launched_and_thirty_terminated_leave_ten_running_and_listed() {
    let app = spawn_app().await;
    let account = unique_account_id();
    let ingest = onboard(&app.dispatcher.backend, &account).await;
    let email = format!("{}@t.example", unique("member"));
    assert!(add_user(&app.url, TENANT, &email, "member", PASSWORD)
        .status
        .success());
    let bearer = token(&app, &email).await;
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).expect("now");
    let ids: Vec<String> = (0..40).map(|i| format!("i-{i:02}")).collect();
    let launch = run_instances(
        &account,
        "intern",
        now - chrono::TimeDelta::hours(3),
        "p4d.24xlarge",
        &ids,
    );
    let terminate = terminate_instances(
        &account,
        "alice",
        now - chrono::TimeDelta::hours(2),
        &ids[..30],
    );
    let pushed = reqwest::Client::new()
        .post(format!("{}/v1/events", app.address))
        .bearer_auth(&ingest)
        .body(support::log_file(&[launch, terminate]))
        .header("Content-Encoding", "gzip")
        .send()
        .await
        .expect("pushed");
    assert_eq!(pushed.status(), StatusCode::ACCEPTED);
    drain(&app.dispatcher).await;

    let (status, page) = call(&app, "GET", "/v1/anomalies", Some(&bearer), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let anomaly = &page["items"][0];
    let hourly = anomaly["hourly_usd"].as_f64().expect("hourly");
    assert_eq!(anomaly["status"], "open", "ten still run: {anomaly}");
    assert_eq!(anomaly["running_count"], 10, "{anomaly}");
    let now_hourly = anomaly["hourly_now_usd"].as_f64().expect("hourly now");
    assert!((now_hourly - hourly / 4.0).abs() < 1e-6, "{anomaly}");
    let so_far = anomaly["cost_so_far_usd"].as_f64().expect("so far");
    let want = hourly + hourly / 4.0 * 2.0;
    assert!(
        (so_far - want).abs() <= want * 0.01,
        "{so_far} against {want}"
    );
    assert!(
        anomaly["forecast_month_end_usd"]
            .as_f64()
            .expect("forecast")
            >= so_far
    );
    assert!(anomaly["ended_at"].is_null() && anomaly["actual_cost_usd"].is_null());

    let (status, running) = call(
        &app,
        "GET",
        "/v1/resources?running=true",
        Some(&bearer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{running}");
    let mut listed: Vec<&str> = running["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["resource_id"].as_str().expect("id"))
        .collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        ids[30..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(running["items"][0]["running"].as_bool().expect("running"));

    // The ended ones page by cursor, each once.
    let mut ended = Vec::new();
    let mut path = "/v1/resources?running=false&limit=7".to_owned();
    loop {
        let (status, page) = call(&app, "GET", &path, Some(&bearer), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for r in page["items"].as_array().expect("items") {
            assert_eq!(r["ended"]["by"]["call"], "TerminateInstances", "{r}");
            ended.push(r["resource_id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!(
                    "/v1/resources?running=false&limit=7&cursor={}",
                    urlencode(cursor)
                )
            }
            None => break,
        }
    }
    ended.sort_unstable();
    assert_eq!(ended, ids[..30]);

    // The overview's running burn: the ten, at a quarter of the hourly, in their account.
    let (status, burn) = call(&app, "GET", "/v1/resources/running", Some(&bearer), None).await;
    assert_eq!(status, StatusCode::OK, "{burn}");
    assert_eq!(burn["running"], 10, "{burn}");
    let burning = burn["hourly_now_usd"].as_f64().expect("hourly now");
    assert!((burning - hourly / 4.0).abs() < 1e-6, "{burn}");
    assert_eq!(
        burn["accounts"][0]["account_id"],
        account.as_str(),
        "{burn}"
    );

    // The anomaly's detail: each resource's timeline, thirty of them ended by alice.
    let id = anomaly["anomaly_id"].as_str().expect("id");
    let (status, detail) = call(
        &app,
        "GET",
        &format!("/v1/anomalies/{id}"),
        Some(&bearer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let resources = detail["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 40);
    assert!(resources
        .iter()
        .all(|r| r["intervals"][0]["began_by"] == "create"));
    let ended_by_alice = resources
        .iter()
        .filter(|r| {
            r["ended"]["by"]["actor_arn"]
                .as_str()
                .is_some_and(|a| a.ends_with("user/alice"))
        })
        .count();
    assert_eq!(ended_by_alice, 30, "{detail}");

    let (status, _) = call(
        &app,
        "GET",
        "/v1/resources?running=maybe",
        Some(&bearer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&app, "GET", "/v1/resources", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// `s` as a query value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /v1/anomalies` as CSV, asked by `Accept` or by `format`: the response and its records.
async fn export_anomalies(
    app: &App,
    token: &str,
    by_accept: bool,
) -> (reqwest::header::HeaderMap, Vec<csv::StringRecord>) {
    let client = reqwest::Client::new();
    let request = if by_accept {
        client
            .get(format!("{}/v1/anomalies?severity=warning", app.address))
            .header(reqwest::header::ACCEPT, "application/json;q=0.1, text/csv")
    } else {
        client.get(format!(
            "{}/v1/anomalies?severity=warning&format=csv&limit=5",
            app.address
        ))
    };
    let response = request.bearer_auth(token).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body");
    // Read by an implementation of RFC 4180 that is not ours.
    let records = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&body[..])
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("well-formed CSV");
    (headers, records)
}

#[tokio::test]
async fn anomalies_export_as_csv_every_match_with_no_cell_a_spreadsheet_evaluates() {
    use dd0c_ports::conformance::{anomaly_for, commit_anomaly, cost_event};
    let app = spawn_app().await;
    let tenant = unique("csv");
    let account = unique_account_id();
    let mut matches = tenant_with_account(&app, &tenant, &account).await.len();
    // More than a page holds, the last one's CloudTrail-given text hostile.
    let score = app.dispatcher.backend.stores.score.as_ref();
    for i in 0..229 {
        let event = cost_event(&tenant, &account, &format!("bulk{i}"), 10 + i, 10.0);
        commit_anomaly(score, event.clone(), anomaly_for(&event)).await;
        matches += 1;
    }
    let mut event = cost_event(&tenant, &account, "bulk229", 239, 10.0);
    event.resource_type = "@SUM(1+1)*cmd|' /C calc'!A0".into();
    let mut hostile = anomaly_for(&event);
    hostile.explanation = "=HYPERLINK(\"https://evil.example\",\"open\"), then \"more\"".into();
    commit_anomaly(score, event, hostile.clone()).await;
    matches += 1;
    let email = format!("{}@t.example", unique("member"));
    assert!(add_user(&app.url, &tenant, &email, "member", PASSWORD)
        .status
        .success());
    let token = token(&app, &email).await;

    for by_accept in [true, false] {
        let (headers, records) = export_anomalies(&app, &token, by_accept).await;
        assert_eq!(
            headers["content-type"], "text/csv; charset=utf-8",
            "asked by Accept: {by_accept}"
        );
        assert!(headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains("dd0c-anomalies.csv"));
        let (header, rows) = records.split_first().expect("a header line");
        assert_eq!(&header[0], "anomaly_id");
        assert_eq!(rows.len(), matches, "every match, the page limit aside");
        assert!(rows.iter().all(|r| r.len() == header.len()));
        let cells = rows.iter().flat_map(|r| r.iter());
        assert!(
            cells.clone().all(|c| !c.starts_with(['=', '+', '-', '@'])),
            "no cell a spreadsheet evaluates"
        );
        let row = rows
            .iter()
            .find(|r| r[0] == *hostile.anomaly_id)
            .expect("the hostile anomaly");
        let column = |name: &str| header.iter().position(|h| h == name).expect(name);
        assert_eq!(
            &row[column("explanation")],
            format!("'{}", hostile.explanation)
        );
        assert_eq!(
            &row[column("resource_type")],
            "'@SUM(1+1)*cmd|' /C calc'!A0"
        );
        assert_eq!(&row[column("severity")], "warning");
    }
}

#[tokio::test]
async fn a_person_resolving_an_anomaly_leaves_one_follow_up_for_the_incident_channels() {
    let app = spawn_app().await;
    let (ids, token) = admin_with_anomalies(&app).await;
    let id = &ids[0];
    let outbox = app.dispatcher.backend.stores.outbox.clone();
    let pending = async || outbox.pending(100).await.expect("pending");
    let before = pending().await.len();
    let resolve = format!("/v1/anomalies/{id}/resolve");
    let (status, body) = call(&app, "POST", &resolve, Some(&token), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let waiting = pending().await;
    assert_eq!(waiting.len(), before + 1, "one follow-up");
    let follow_up = waiting
        .iter()
        .find(|m| m.outbox_id == format!("{id}.resolved-by-person"))
        .expect("the person's follow-up");
    let resolution = follow_up.resolution.as_ref().expect("a resolution");
    assert!(resolution
        .by_person
        .as_deref()
        .is_some_and(|p| p.contains("admin")));
    let (status, _) = call(&app, "POST", &resolve, Some(&token), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        pending().await.len(),
        before + 1,
        "resolved already: nothing more"
    );
}

#[tokio::test]
async fn a_test_alert_goes_to_the_channel_asked_and_says_how_it_went() {
    let catcher = dd0c_tests::CaptureServer::start().await.expect("a catcher");
    let app = spawn_app_on(
        &fresh_database().await,
        |backend| {
            *backend = backend
                .clone()
                .outbound(dd0c_ports::webhook::Outbound::allowing_private([
                    "127.0.0.1",
                ]))
                .expect("loopback allowed");
        },
        |_| {},
    )
    .await;
    let (_, member, admin) = member_and_admin(&app).await;
    let teams = catcher.url("/teams/workflow");
    let body = json!({"teams_webhook_url": teams, "slack_webhook_url": catcher.url("/fail/slack")});
    let (status, stored) = call(&app, "PUT", "/v1/settings", Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let test_alert = async |token: &str, channel: &str| {
        let body = json!({ "channel": channel });
        call(
            &app,
            "POST",
            "/v1/settings/test-alert",
            Some(token),
            Some(body),
        )
        .await
    };

    let (status, sent) = test_alert(&admin, "teams").await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(
        sent,
        json!({"channel": "teams", "delivered": true, "error": null})
    );
    let cards = catcher.posts("/teams/workflow");
    assert_eq!(cards.len(), 1);
    assert!(
        cards[0].to_string().contains("nothing was launched"),
        "{}",
        cards[0]
    );

    let (status, failed) = test_alert(&admin, "slack").await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    assert_eq!(failed["delivered"], false);
    assert!(
        failed["error"].as_str().is_some_and(|e| e.contains("500")),
        "{failed}"
    );

    let (status, problem) = test_alert(&admin, "pagerduty").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not set up")),
        "{problem}"
    );
    let (status, _) = test_alert(&member, "teams").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");

    let (status, _) = call(
        &app,
        "PUT",
        "/v1/panic",
        Some(&admin),
        Some(json!({"on": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = test_alert(&admin, "teams").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(
        catcher.posts("/teams/workflow").len(),
        1,
        "nothing more in panic mode"
    );
}

#[tokio::test]
async fn the_catalog_in_use_is_shown_with_its_age_and_reloaded_when_its_file_changes() {
    let dir = std::env::temp_dir().join(format!("dd0c-api-catalog-{}", unique("c")));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("aws-price-catalog.json");
    std::fs::write(&file, PriceCatalog::bundled().to_json()).expect("the bundled catalog");
    let path = file.clone();
    let app = spawn_app_with(move |c| {
        c.metrics_public = true;
        c.catalog = Some(dd0c_cost::serve::CatalogFile {
            path,
            update_from: None,
            reload_every: Duration::from_millis(100),
        });
    })
    .await;
    let (_, token) = admin_with_anomalies(&app).await;
    let (status, bundled) = call(&app, "GET", "/v1/catalog", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{bundled}");
    assert_eq!(bundled["as_of"], PriceCatalog::bundled().as_of());
    assert_eq!(bundled["stale"], true, "{bundled}");
    assert_eq!(bundled["stale_after_days"], 120);
    assert_eq!(
        call(&app, "GET", "/v1/catalog", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../functions/ingest/tests/fixtures/price-list");
    let built = Command::new(env!("CARGO_BIN_EXE_dd0c-cost"))
        .args(["catalog", "build", "--from"])
        .arg(&fixtures)
        .arg("--out")
        .arg(&file)
        .output()
        .expect("catalog build");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );

    let mut shown = Value::Null;
    for _ in 0..100 {
        shown = call(&app, "GET", "/v1/catalog", Some(&token), None).await.1;
        if shown["as_of"] == "2026-11-01" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shown["as_of"], "2026-11-01", "reloaded: {shown}");
    let ec2 = shown["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["service"] == "AmazonEC2"))
        .expect("EC2's source");
    assert_eq!(ec2["regions"], 6);
    let record = run_instances(
        &unique_account_id(),
        "alice",
        chrono::Utc::now(),
        "p5.48xlarge",
        &["i-p5"],
    );
    let priced = app
        .dispatcher
        .normalizers
        .normalize_record(TENANT, record.to_string())
        .await
        .expect("normalized");
    let dd0c_ingest::Item::Cost(events) = priced else {
        panic!("a cost event: {priced:?}");
    };
    assert!(
        (events[0].unit_hourly_usd - 55.04).abs() < 1e-9,
        "{}",
        events[0].unit_hourly_usd
    );
    let metrics = scrape(&app).await;
    assert!(
        metrics.contains("dd0c_catalog_age_days{as_of=\"2026-11-01\"} "),
        "{metrics}"
    );
    std::fs::remove_dir_all(dir).expect("cleanup");
}
