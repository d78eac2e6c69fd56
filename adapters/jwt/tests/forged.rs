//! JwtAuth against the auth suite: a token it issued verifies; every forged one is 401.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dd0c_adapters_jwt::{weak_secret, JwtAuth, AUDIENCE, ISSUER};
use dd0c_ports::auth::{Principal, Role, TokenIssuer};
use dd0c_ports::conformance;
use serde_json::{json, Value};

const SECRET: &str = "0f3c8a9e1b7d4c2a6e5f8091a2b3c4d5e6f708192a3b4c5d";

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with exactly this header and these claims, HS256-signed under `secret` whatever
/// the header says (or with an empty signature).
fn token(header: Value, claims: Value, secret: Option<&str>) -> String {
    let signing_input = format!("{}.{}", b64(&header), b64(&claims));
    let signature = secret
        .map(|s| {
            let key = jsonwebtoken::EncodingKey::from_secret(s.as_bytes());
            jsonwebtoken::crypto::sign(
                signing_input.as_bytes(),
                &key,
                jsonwebtoken::Algorithm::HS256,
            )
            .expect("signs")
        })
        .unwrap_or_default();
    format!("{signing_input}.{signature}")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn claims() -> Value {
    let now = now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "maria@acme.example", "exp": now + 600, "nbf": now - 1,
           "iat": now, "tenant": "acme", "role": "admin", "email": "maria@acme.example"})
}

fn with(changes: &[(&str, Value)]) -> Value {
    let mut c = claims();
    for (k, v) in changes {
        c[*k] = v.clone();
    }
    c
}

fn without(key: &str) -> Value {
    let mut c = claims();
    c.as_object_mut().map(|o| o.remove(key));
    c
}

#[tokio::test]
async fn issued_tokens_verify_and_twenty_forgeries_do_not() {
    let auth = JwtAuth::new(SECRET).expect("a strong secret");
    let principal = Principal {
        subject: "maria@acme.example".into(),
        email: Some("maria@acme.example".into()),
        tenant: "acme".into(),
        role: Role::Admin,
    };
    let (valid, ttl) = auth.issue(&principal).expect("issued");
    assert_eq!(ttl, 3600);
    let hs = json!({"alg": "HS256", "typ": "JWT"});
    let now = now();
    let good = token(hs.clone(), claims(), Some(SECRET));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = vec![
        token(json!({"alg": "none", "typ": "JWT"}), claims(), None),
        token(json!({"alg": "none"}), claims(), Some(SECRET)),
        token(
            hs.clone(),
            claims(),
            Some("another-secret-of-sufficient-length-0123456789"),
        ),
        token(
            json!({"alg": "HS512", "typ": "JWT"}),
            claims(),
            Some(SECRET),
        ),
        token(
            json!({"alg": "RS256", "typ": "JWT"}),
            claims(),
            Some(SECRET),
        ),
        token(hs.clone(), with(&[("exp", json!(now - 61))]), Some(SECRET)),
        token(hs.clone(), with(&[("nbf", json!(now + 120))]), Some(SECRET)),
        token(
            hs.clone(),
            with(&[("iss", json!("https://evil.example"))]),
            Some(SECRET),
        ),
        token(hs.clone(), without("iss"), Some(SECRET)),
        token(
            hs.clone(),
            with(&[("aud", json!("another-api"))]),
            Some(SECRET),
        ),
        token(hs.clone(), without("aud"), Some(SECRET)),
        token(hs.clone(), without("exp"), Some(SECRET)),
        token(hs.clone(), without("nbf"), Some(SECRET)),
        token(
            hs.clone(),
            with(&[("exp", json!("tomorrow"))]),
            Some(SECRET),
        ),
        token(hs.clone(), without("tenant"), Some(SECRET)),
        token(hs.clone(), with(&[("tenant", json!(""))]), Some(SECRET)),
        token(hs.clone(), with(&[("role", json!("owner"))]), Some(SECRET)),
        format!(
            "{}.{}.{}",
            parts[0],
            b64(&with(&[("tenant", json!("globex"))])),
            parts[2]
        ),
        format!("{}.{}.{}x", parts[0], parts[1], parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}.{}.", parts[0], parts[1]),
        "Bearer ".to_owned() + &good,
        "a.b.c".into(),
        "%%%.%%%.%%%".into(),
    ];
    assert!(forged.len() >= 20);
    conformance::auth_suite(&auth, &valid, &principal, &forged).await;
    // The hand-made token is genuine: the forgeries fail for their change, not the tooling.
    assert!(dd0c_ports::auth::Auth::verify(&auth, &good).await.is_ok());
}

#[test]
fn weak_secrets_are_refused_with_the_setting_named() {
    for weak in [
        "",
        "short",
        "changeme",
        &"a".repeat(64),
        "your-256-bit-secret-0123456789abc",
    ] {
        let why = weak_secret(weak).expect("refused");
        assert!(why.contains("DD0C_JWT_SECRET"), "{weak}: {why}");
        assert!(JwtAuth::new(weak).is_err());
    }
    assert_eq!(weak_secret(SECRET), None);
}
