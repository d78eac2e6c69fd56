//! CognitoAuth against a local JWKS server standing in for a user pool's (moto's cognito-idp
//! serves JWKS too, but mints its tokens with its own keys and claims; here the test mints
//! exactly the tokens it needs, including the forged ones). The keys in `fixtures/` exist only
//! for these tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dd0c_adapters_jwt::{CognitoAuth, CognitoConfig, TokenUse};
use dd0c_ports::auth::{Auth, Principal, Role};
use dd0c_ports::conformance;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const POOL_PEM: &str = include_str!("fixtures/test-only-pool.pem");
const OTHER_PEM: &str = include_str!("fixtures/test-only-other.pem");
const POOL_JWK: &str = include_str!("fixtures/test-only-pool.jwk.json");
const OTHER_JWK: &str = include_str!("fixtures/test-only-other.jwk.json");
const CLIENT: &str = "5v2kfj3q0a1b2c3d4e5f6g7h8i";

/// A JWKS server whose key set a test can change, counting fetches.
struct Pool {
    issuer: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

fn jwk(text: &str, kid: &str) -> Value {
    let mut key: Value = serde_json::from_str(text).expect("jwk");
    key["kid"] = json!(kid);
    key
}

async fn pool() -> Pool {
    let keys = Arc::new(Mutex::new(vec![jwk(POOL_JWK, "k1")]));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (served, counted) = (keys.clone(), fetches.clone());
    let app = Router::new().route(
        "/eu-west-1_TestPool/.well-known/jwks.json",
        get(move || {
            let (served, counted) = (served.clone(), counted.clone());
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let keys = served.lock().expect("keys").clone();
                Json(json!({"keys": keys}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let issuer = format!(
        "http://{}/eu-west-1_TestPool",
        listener.local_addr().expect("address")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Pool {
        issuer,
        keys,
        fetches,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn access_claims(issuer: &str) -> Value {
    json!({"sub": "5f1c-user", "iss": issuer, "client_id": CLIENT, "token_use": "access", "scope": "aws.cognito.signin.user.admin",
           "exp": now() + 600, "iat": now(), "username": "maria", "custom:tenant": "acme", "custom:role": "admin"})
}

fn sign(claims: &Value, pem: &str, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).expect("pem"),
    )
    .expect("signed")
}

fn with(claims: &Value, changes: &[(&str, Value)]) -> Value {
    let mut c = claims.clone();
    for (k, v) in changes {
        c[*k] = v.clone();
    }
    c
}

fn without(claims: &Value, key: &str) -> Value {
    let mut c = claims.clone();
    c.as_object_mut().map(|o| o.remove(key));
    c
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn config(pool: &Pool, token_use: TokenUse) -> CognitoConfig {
    CognitoConfig {
        token_use,
        ..CognitoConfig::new(&pool.issuer, CLIENT)
    }
}

#[tokio::test]
async fn pool_tokens_verify_and_two_dozen_forgeries_do_not() {
    let pool = pool().await;
    let auth = CognitoAuth::new(config(&pool, TokenUse::Access)).expect("auth");
    let claims = access_claims(&pool.issuer);
    let valid = sign(&claims, POOL_PEM, Some("k1"));
    let expected = Principal {
        subject: "5f1c-user".into(),
        email: None,
        tenant: "acme".into(),
        role: Role::Admin,
    };
    let id_claims = with(
        &without(&claims, "client_id"),
        &[("token_use", json!("id")), ("aud", json!(CLIENT))],
    );
    let parts: Vec<&str> = valid.split('.').collect();
    let public_n = serde_json::from_str::<Value>(POOL_JWK).expect("jwk")["n"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hs_with_public_key = jsonwebtoken::encode(
        &Header {
            kid: Some("k1".into()),
            ..Header::new(Algorithm::HS256)
        },
        &claims,
        &EncodingKey::from_secret(public_n.as_bytes()),
    )
    .expect("signed");
    let other_pool = format!("{}Other", pool.issuer);
    let forged = vec![
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "kid": "k1"})),
            b64(&claims)
        ),
        hs_with_public_key,
        sign(
            &with(&claims, &[("exp", json!(now() - 61))]),
            POOL_PEM,
            Some("k1"),
        ),
        sign(
            &with(&claims, &[("nbf", json!(now() + 120))]),
            POOL_PEM,
            Some("k1"),
        ),
        sign(
            &with(
                &claims,
                &[(
                    "iss",
                    json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Evil"),
                )],
            ),
            POOL_PEM,
            Some("k1"),
        ),
        sign(&without(&claims, "iss"), POOL_PEM, Some("k1")),
        sign(&id_claims, POOL_PEM, Some("k1")),
        sign(
            &with(&claims, &[("client_id", json!("another-client"))]),
            POOL_PEM,
            Some("k1"),
        ),
        sign(&without(&claims, "client_id"), POOL_PEM, Some("k1")),
        sign(&without(&claims, "token_use"), POOL_PEM, Some("k1")),
        sign(&claims, OTHER_PEM, Some("k9")),
        sign(&claims, OTHER_PEM, Some("k1")),
        sign(&claims, POOL_PEM, None),
        format!(
            "{}.{}.{}",
            parts[0],
            b64(&with(&claims, &[("custom:tenant", json!("globex"))])),
            parts[2]
        ),
        format!(
            "{}.{}.{}AA",
            parts[0],
            parts[1],
            &parts[2][..parts[2].len() - 2]
        ),
        sign(
            &with(&claims, &[("exp", json!("tomorrow"))]),
            POOL_PEM,
            Some("k1"),
        ),
        sign(&without(&claims, "exp"), POOL_PEM, Some("k1")),
        sign(
            &with(&claims, &[("iss", json!(other_pool))]),
            OTHER_PEM,
            Some("k1"),
        ),
        sign(&without(&claims, "custom:tenant"), POOL_PEM, Some("k1")),
        sign(
            &with(&claims, &[("custom:tenant", json!(""))]),
            POOL_PEM,
            Some("k1"),
        ),
        sign(&without(&claims, "sub"), POOL_PEM, Some("k1")),
        jsonwebtoken::encode(
            &Header {
                kid: Some("k1".into()),
                ..Header::new(Algorithm::RS512)
            },
            &claims,
            &EncodingKey::from_rsa_pem(POOL_PEM.as_bytes()).expect("pem"),
        )
        .expect("signed"),
        format!("{}.{}", parts[0], parts[1]),
        "Bearer ".to_owned() + &valid,
    ];
    assert!(forged.len() >= 20);
    conformance::auth_suite(&auth, &valid, &expected, &forged).await;

    // The same pool's ID tokens are for routes that take ID tokens.
    let ids = CognitoAuth::new(config(&pool, TokenUse::Id)).expect("auth");
    let id = sign(&id_claims, POOL_PEM, Some("k1"));
    assert_eq!(ids.verify(&id).await.expect("an ID token").tenant, "acme");
    for bad in [
        valid.clone(),
        sign(
            &with(&id_claims, &[("aud", json!("another-client"))]),
            POOL_PEM,
            Some("k1"),
        ),
    ] {
        assert!(matches!(
            ids.verify(&bad).await,
            Err(dd0c_ports::PortError::Unauthorized(_))
        ));
    }
}

#[tokio::test]
async fn unknown_keys_refetch_at_most_once_per_interval_and_rotation_is_picked_up() {
    let pool = pool().await;
    let auth = CognitoAuth::new(CognitoConfig {
        refetch_interval: Duration::from_millis(400),
        ..config(&pool, TokenUse::Access)
    })
    .expect("auth");
    let claims = access_claims(&pool.issuer);
    auth.verify(&sign(&claims, POOL_PEM, Some("k1")))
        .await
        .expect("valid");
    assert_eq!(
        pool.fetches.load(Ordering::SeqCst),
        1,
        "fetched once, then cached"
    );
    auth.verify(&sign(&claims, POOL_PEM, Some("k1")))
        .await
        .expect("valid");
    assert_eq!(pool.fetches.load(Ordering::SeqCst), 1);

    // The pool rotates to a new key.
    pool.keys.lock().expect("keys").push(jwk(OTHER_JWK, "k2"));
    let rotated = sign(&claims, OTHER_PEM, Some("k2"));
    // Within the interval an unknown kid fetches nothing: forged kids cannot hammer the pool.
    for _ in 0..5 {
        assert!(auth
            .verify(&sign(&claims, OTHER_PEM, Some("forged")))
            .await
            .is_err());
    }
    assert!(auth.verify(&rotated).await.is_err(), "not refetched yet");
    assert_eq!(pool.fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        auth.verify(&rotated).await.expect("the new key").tenant,
        "acme"
    );
    assert_eq!(
        pool.fetches.load(Ordering::SeqCst),
        2,
        "one refetch for the rotation"
    );
}

/// The pool's `admin` group makes an admin, as `custom:role` does; any other group, or none,
/// a member.
#[tokio::test]
async fn the_pools_admin_group_makes_an_admin_and_other_groups_members() {
    let pool = pool().await;
    let auth = CognitoAuth::new(config(&pool, TokenUse::Access)).expect("auth");
    let plain = without(&access_claims(&pool.issuer), "custom:role");
    for (groups, role) in [
        (json!(["admin"]), Role::Admin),
        (json!(["member", "admin"]), Role::Admin),
        (json!(["member"]), Role::Member),
        (json!([]), Role::Member),
        (json!("admin"), Role::Member),
    ] {
        let token = sign(
            &with(&plain, &[("cognito:groups", groups.clone())]),
            POOL_PEM,
            Some("k1"),
        );
        let principal = auth.verify(&token).await.expect("verifies");
        assert_eq!(principal.role, role, "cognito:groups {groups}");
    }
    let token = sign(&plain, POOL_PEM, Some("k1"));
    assert_eq!(
        auth.verify(&token).await.expect("verifies").role,
        Role::Member
    );
}
