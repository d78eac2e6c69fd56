//! `lambda-api`, the real binary under the Runtime API harness, on DynamoDB (moto) with Cognito
//! tokens (a loopback JWKS server plays the user pool): every route with two tenants shows one
//! tenant nothing of the other's, and forged or stale tokens are refused.

mod support;

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dd0c_ports::auth::{token_sha256, IngestGrant, IngestTokens};
use dd0c_ports::conformance::{commit_anomalies, unique};
use dd0c_ports::domain::{Account, Tenant};
use dd0c_ports::store::TenantStore;
use dd0c_tests::lambda::{Outcome, RuntimeApi};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use support::{Cloud, INVOKE_TIMEOUT};

const POOL_PEM: &str = include_str!("../../adapters/jwt/tests/fixtures/test-only-pool.pem");
const POOL_JWK: &str = include_str!("../../adapters/jwt/tests/fixtures/test-only-pool.jwk.json");
const OTHER_PEM: &str = include_str!("../../adapters/jwt/tests/fixtures/test-only-other.pem");
const CLIENT: &str = "5v2kfj3q0a1b2c3d4e5f6g7h8i";

/// A user pool's JWKS on loopback; its issuer URL.
async fn user_pool() -> String {
    let mut key: Value = serde_json::from_str(POOL_JWK).expect("jwk");
    key["kid"] = json!("k1");
    let keys = json!({ "keys": [key] });
    let app = Router::new().route(
        "/us-east-1_TestPool/.well-known/jwks.json",
        get(move || {
            let keys = keys.clone();
            async move { Json(keys) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let issuer = format!(
        "http://{}/us-east-1_TestPool",
        listener.local_addr().expect("address")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(issuer: &str, tenant: &str, role: &str) -> Value {
    json!({"sub": unique("user"), "iss": issuer, "client_id": CLIENT, "token_use": "access",
           "exp": now() + 600, "iat": now(), "username": "maria", "custom:tenant": tenant, "custom:role": role})
}

fn sign(claims: &Value, pem: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).expect("pem"),
    )
    .expect("signed")
}

/// `lambda-api` under a fresh Runtime API, on `cloud`'s table, trusting the user pool at
/// `issuer`, with `extra` variables.
async fn spawn_api(
    cloud: &Cloud,
    issuer: &str,
    extra: &[(&'static str, String)],
) -> (RuntimeApi, dd0c_tests::lambda::Function) {
    let api = RuntimeApi::start().await.expect("runtime API");
    let cognito = [
        ("DD0C_COGNITO_ISSUER", issuer.to_owned()),
        ("DD0C_COGNITO_CLIENT_ID", CLIENT.to_owned()),
    ];
    let env = [cloud.env(), cognito.to_vec(), extra.to_vec()].concat();
    let function = dd0c_tests::lambda::Function::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_lambda-api")),
        &api,
        &env,
    )
    .expect("spawn");
    (api, function)
}

/// One API Gateway HTTP API (payload 2.0) request through the function: status and JSON body.
async fn request(
    api: &RuntimeApi,
    method: &str,
    path_and_query: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut headers = json!({"host": "api.dd0c.test"});
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    if let Some(token) = token {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    send(
        api,
        method,
        path_and_query,
        headers,
        body.map(|b| b.to_string()),
    )
    .await
}

/// A request with these headers and this body as API Gateway hands it over.
async fn send(
    api: &RuntimeApi,
    method: &str,
    path_and_query: &str,
    headers: Value,
    body: Option<String>,
) -> (u16, Value) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers,
        "requestContext": {"accountId": "123456789012", "apiId": "test", "domainName": "api.dd0c.test",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "test"},
            "requestId": unique("r"), "routeKey": "$default", "stage": "$default", "time": "28/Nov/2026:00:00:00 +0000", "timeEpoch": 0},
        "body": body,
        "isBase64Encoded": false
    });
    let invocation = api.invoke(event, INVOKE_TIMEOUT).await.expect("invoked");
    let Outcome::Response(response) = invocation.outcome else {
        panic!("{method} {path_and_query}: {:?}", invocation.outcome);
    };
    let status = response["statusCode"].as_u64().expect("status") as u16;
    let body = response["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// A tenant with one account, an ingest token and three anomalies: the anomaly ids and the
/// token's hash.
async fn tenant_with_anomalies(
    cloud: &Cloud,
    tenant: &str,
    account: &str,
) -> (Vec<String>, String) {
    let store = cloud.store();
    store
        .add_tenant(&Tenant {
            name: tenant.into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("tenant");
    store
        .add_account(&Account {
            tenant: tenant.into(),
            account_id: account.into(),
            name: Some("prod".into()),
            created_at: chrono::Utc::now(),
            role_arn: None,
            external_id: None,
            access_key_id: None,
            remediation_role_arn: None,
            remediation_access_key_id: None,
        })
        .await
        .expect("account");
    let hash = token_sha256(&unique("token"));
    store
        .add_token(
            &IngestGrant {
                tenant: tenant.into(),
                account_id: account.into(),
            },
            &hash,
        )
        .await
        .expect("token");
    (commit_anomalies(&store, tenant, account, 3).await, hash)
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    let mut ids: Vec<String> = list["items"]
        .as_array()
        .or(list.as_array())
        .expect("a list")
        .iter()
        .map(|i| i[field].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn lambda_api_shows_each_tenant_only_its_own_data_on_dynamodb() {
    let cloud = Cloud::new().await;
    let issuer = user_pool().await;
    let (a, b) = (unique("a"), unique("b"));
    let (a_ids, _) = tenant_with_anomalies(&cloud, &a, "111111111111").await;
    let (b_ids, b_token) = tenant_with_anomalies(&cloud, &b, "222222222222").await;
    let (api, _function) = spawn_api(&cloud, &issuer, &[]).await;
    let token_a = sign(&claims(&issuer, &a, "admin"), POOL_PEM);
    let token_b = sign(&claims(&issuer, &b, "admin"), POOL_PEM);

    let (status, me) = request(&api, "GET", "/v1/me", Some(&token_a), None).await;
    assert_eq!((status, me["tenant"].as_str()), (200, Some(a.as_str())));
    let (_, list) = request(&api, "GET", "/v1/anomalies?limit=100", Some(&token_a), None).await;
    assert_eq!(ids(&list, "anomaly_id"), a_ids);
    dd0c_tests::assert_pages_of_two(async |path: &str| {
        request(&api, "GET", path, Some(&token_a), None).await.1
    })
    .await;
    let (_, accounts) = request(&api, "GET", "/v1/accounts", Some(&token_a), None).await;
    assert_eq!(
        ids(&accounts, "account_id"),
        vec!["111111111111".to_owned()]
    );

    // Every route with the other tenant's ids: 404 or empty, never its data.
    let theirs = &b_ids[0];
    let account_routes = [
        ("DELETE", "/v1/accounts/222222222222".to_owned()),
        ("POST", "/v1/accounts/222222222222/tokens".to_owned()),
        ("DELETE", format!("/v1/tokens/{b_token}")),
    ];
    for (method, path) in dd0c_tests::anomaly_routes(theirs)
        .into_iter()
        .chain(account_routes)
    {
        let (status, body) = request(&api, method, &path, Some(&token_a), None).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(
            body.get("anomaly").is_none() && body.get("token").is_none(),
            "{body}"
        );
    }
    let (_, baselines) = request(
        &api,
        "GET",
        "/v1/baselines?account=222222222222",
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(
        baselines["items"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "{baselines}"
    );
    let (status, costs) = request(
        &api,
        "GET",
        "/v1/costs?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z",
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(status, 200, "{costs}");
    assert!(!costs.to_string().contains("222222222222"), "{costs}");
    let (status, _) = request(
        &api,
        "PUT",
        "/v1/settings",
        Some(&token_a),
        Some(json!({"email_to": ["finops@a.example"]})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, seen_by_b) = request(&api, "GET", "/v1/settings", Some(&token_b), None).await;
    assert_eq!(seen_by_b["email_to"], json!([]), "b has its own settings");
    let (_, theirs_after) = request(
        &api,
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
    let (_, b_accounts) = request(&api, "GET", "/v1/accounts", Some(&token_b), None).await;
    assert_eq!(
        ids(&b_accounts, "account_id"),
        vec!["222222222222".to_owned()]
    );

    // Acting on one's own anomaly works, through DynamoDB.
    let (status, acted) = request(
        &api,
        "POST",
        &format!("/v1/anomalies/{}/acknowledge", a_ids[0]),
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(
        (status, acted["anomaly"]["status"].as_str()),
        (200, Some("acknowledged")),
        "{acted}"
    );

    // Forged and stale tokens: 401, and the function serves on.
    let valid = claims(&issuer, &a, "admin");
    let with = |name: &str, value: Value| {
        let mut changed = valid.clone();
        changed[name] = value;
        changed
    };
    let unsigned_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let mut parts: Vec<String> = token_a.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(with("custom:tenant", json!(b)).to_string());
    let forged = [
        ("an empty bearer", String::new()),
        ("not a JWT", "not-a-token".to_owned()),
        (
            "expired 61 s ago",
            sign(&with("exp", json!(now() - 61)), POOL_PEM),
        ),
        (
            "not valid yet",
            sign(&with("nbf", json!(now() + 600)), POOL_PEM),
        ),
        ("signed by another key", sign(&valid, OTHER_PEM)),
        (
            "another issuer",
            sign(
                &with(
                    "iss",
                    json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"),
                ),
                POOL_PEM,
            ),
        ),
        (
            "another app client",
            sign(&with("client_id", json!("someone-else")), POOL_PEM),
        ),
        (
            "an ID token",
            sign(&with("token_use", json!("id")), POOL_PEM),
        ),
        (
            "alg none",
            format!(
                "{unsigned_header}.{}.",
                URL_SAFE_NO_PAD.encode(valid.to_string())
            ),
        ),
        ("a payload swapped for another tenant's", parts.join(".")),
    ];
    for (what, token) in forged {
        let (status, body) = request(&api, "GET", "/v1/anomalies", Some(&token), None).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(body.get("items").is_none(), "{what}: {body}");
    }
    let (status, _) = request(&api, "GET", "/v1/me", Some(&token_a), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn lambda_api_serves_the_alert_buttons_and_its_openapi_document() {
    let cloud = Cloud::new().await;
    let tenant = unique("t");
    let (ids, _) = tenant_with_anomalies(&cloud, &tenant, "333333333333").await;
    let settings = dd0c_ports::domain::Settings {
        slack_team_id: Some("T0DD0C".into()),
        ..Default::default()
    };
    dd0c_ports::store::SettingsStore::put_settings(&cloud.store(), &tenant, &settings)
        .await
        .expect("settings");
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let issuer = user_pool().await;
    let extra = [("DD0C_SLACK_SIGNING_SECRET", secret.to_owned())];
    let (api, _function) = spawn_api(&cloud, &issuer, &extra).await;

    // A click on Acknowledge, signed as Slack signs it.
    let payload = json!({"team": {"id": "T0DD0C"}, "user": {"id": "U1", "username": "maria"},
        "actions": [{"action_id": "acknowledge", "value": format!("{tenant}/{}", ids[0])}]});
    let body = format!(
        "payload={}",
        serde_urlencoded::to_string([("p", payload.to_string())])
            .expect("form")
            .trim_start_matches("p=")
    );
    let timestamp = now().to_string();
    let signature = dd0c_api::slack::sign(secret.as_bytes(), &timestamp, body.as_bytes());
    let headers = json!({"host": "api.dd0c.test", "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp, "x-slack-signature": signature});
    let (status, answer) = send(
        &api,
        "POST",
        "/v1/slack/actions",
        headers.clone(),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Acknowledged: 1 anomaly")),
        "{answer}"
    );
    let anomaly = dd0c_ports::store::AnomalyStore::anomaly(&cloud.store(), &tenant, &ids[0])
        .await
        .expect("read")
        .expect("the anomaly");
    assert_eq!(
        anomaly.status,
        dd0c_ports::domain::AnomalyStatus::Acknowledged
    );
    let (status, _) = send(&api, "POST", "/v1/slack/actions", headers, Some(body)).await;
    assert_eq!(
        status, 401,
        "the same signed request a second time is a replay"
    );

    let (status, document) = request(&api, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    for path in [
        "/v1/slack/actions",
        "/v1/anomalies/{id}/{action}",
        "/openapi.json",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path} is described");
    }
}

/// In the cloud a new account comes back with the quick-create link of the customer template:
/// its ExternalId, our account and bus filled in, the template's role assumed. Configured as
/// infra-cdk configures it: ID tokens (where the pool puts `custom:tenant`), the role from the
/// pool's groups.
#[tokio::test]
async fn lambda_api_answers_a_new_account_with_its_quick_create_link() {
    let cloud = Cloud::new().await;
    let issuer = user_pool().await;
    let tenant = unique("t");
    cloud.watch(&tenant, std::iter::empty()).await;
    let bus = "arn:aws:events:us-east-1:210987654321:event-bus/dd0c-cost-customers";
    let extra = [
        (
            "DD0C_ONBOARDING_TEMPLATE_URL",
            "https://assets.example.com/customer.template.json".to_owned(),
        ),
        ("DD0C_EVENT_BUS_ARN", bus.to_owned()),
        ("DD0C_COGNITO_TOKEN_USE", "id".to_owned()),
    ];
    let (api, _function) = spawn_api(&cloud, &issuer, &extra).await;
    let id_token = |groups: Value| {
        sign(
            &json!({"sub": unique("user"), "iss": issuer, "aud": CLIENT, "token_use": "id",
                    "exp": now() + 600, "iat": now(), "email": "maria@example.com",
                    "custom:tenant": tenant, "cognito:groups": groups}),
            POOL_PEM,
        )
    };
    let member = id_token(json!(["member"]));
    let (status, _) = request(
        &api,
        "POST",
        "/v1/accounts",
        Some(&member),
        Some(json!({"account_id": "333344445555"})),
    )
    .await;
    assert_eq!(status, 403, "a member adds no account");
    let (status, _) = request(
        &api,
        "GET",
        "/v1/me",
        Some(&sign(&claims(&issuer, &tenant, "admin"), POOL_PEM)),
        None,
    )
    .await;
    assert_eq!(status, 401, "an access token where ID tokens are taken");
    let admin = id_token(json!(["admin"]));
    let (status, added) = request(
        &api,
        "POST",
        "/v1/accounts",
        Some(&admin),
        Some(json!({"account_id": "333344445555", "name": "prod"})),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let external_id = added["external_id"].as_str().expect("an ExternalId");
    let url = added["quick_create_url"].as_str().expect("a link");
    assert!(url.starts_with("https://us-east-1.console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks/quickcreate?"), "{url}");
    assert!(
        url.contains(&format!("param_ExternalId={external_id}")),
        "{url}"
    );
    assert!(url.contains("param_Dd0cAccountId=210987654321"), "{url}");
    assert!(
        url.contains("templateURL=https%3A%2F%2Fassets.example.com%2Fcustomer.template.json"),
        "{url}"
    );
    assert_eq!(
        added["account"]["role_arn"], "arn:aws:iam::333344445555:role/dd0c-cost-reader",
        "the role the template creates"
    );
    // The tenant began as the admin's custom:tenant; its first account records it, so the
    // scheduled jobs find it. A second account shares the tenant's ExternalId (one StackSet
    // value for an organization).
    let recorded = cloud.store().tenant(&tenant).await.expect("read");
    assert!(
        recorded.is_some(),
        "the tenant is recorded with its first account"
    );
    let (status, second) = request(
        &api,
        "POST",
        "/v1/accounts",
        Some(&admin),
        Some(json!({"account_id": "333344445556"})),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(
        second["external_id"], external_id,
        "one ExternalId per tenant"
    );
}
