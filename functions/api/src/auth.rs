//! Signing in: `POST /v1/auth/login` (local users, argon2id, throttled) and `GET /v1/me`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use dd0c_ports::auth::Principal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::refusals::{JsonBody, Signed};
use crate::{no_store, passwords, Api, ApiError, Caller, ClientAddress};

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct Login {
    /// The user's e-mail (case does not matter).
    email: String,
    /// The password.
    password: String,
}

/// A dashboard token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Token {
    /// The bearer token.
    access_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String)]
    token_type: &'static str,
    /// Seconds until it expires.
    expires_in: u64,
}

/// Signs a local user in.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, description = "A bearer token", body = Token), JsonBody, Signed,
        (status = 404, description = "Sign-in goes through the identity provider here", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins", body = crate::error::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub(crate) async fn login(
    State(api): State<Arc<Api>>,
    ClientAddress(client): ClientAddress,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let (Some(issuer), Some(throttle)) = (api.issuer.clone(), api.throttle.clone()) else {
        return Err(ApiError::NotFound(
            "sign-in goes through the identity provider here".into(),
        ));
    };
    let Json(login) = body.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{\"email\", \"password\"}}: {}",
            e.body_text()
        ))
    })?;
    let email = login.email.trim().to_lowercase();
    if let Some(seconds) = throttle.wait(&email, &client).await? {
        return Err(ApiError::TooManyRequests(
            format!("too many failed sign-ins; try again in {seconds} s"),
            seconds,
        ));
    }
    // What is not an address names no user: it never reaches the store.
    let user = match dd0c_ports::mail::is_address(&email) {
        true => api.stores.users.user(&email).await?,
        false => None,
    };
    let password = login.password;
    let checked = match &user {
        Some(user) => {
            let stored = user.password_hash.clone();
            let password = password.clone();
            blocking(move || passwords::check(&stored, &password)).await?
        }
        None => {
            let password = password.clone();
            blocking(move || {
                passwords::check_nobody(&password);
                passwords::Checked::Wrong
            })
            .await?
        }
    };
    let user = match (user, checked) {
        (Some(user), passwords::Checked::Right | passwords::Checked::RightButWeak) => user,
        _ => {
            throttle.failed(&email, &client).await?;
            return Err(ApiError::Unauthorized("wrong e-mail or password".into()));
        }
    };
    throttle.succeeded(&email, &client).await?;
    if checked == passwords::Checked::RightButWeak {
        let rehashed = blocking(move || passwords::hash(&password)).await?;
        match rehashed {
            Ok(hash) => {
                api.stores
                    .users
                    .set_password_hash(&user.email, &hash)
                    .await?
            }
            Err(e) => tracing::warn!(error = %e, "could not upgrade a password hash"),
        }
    }
    let principal = Principal {
        subject: user.email.clone(),
        email: Some(user.email),
        tenant: user.tenant,
        role: user.role,
    };
    let (access_token, expires_in) = issuer.issue(&principal)?;
    Ok(no_store(Json(Token {
        access_token,
        token_type: "Bearer",
        expires_in,
    })))
}

/// Runs argon2 (tens of milliseconds of CPU) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::Unavailable("password check interrupted".into()))
}

/// The caller, as its token says.
#[utoipa::path(get, path = "/v1/me", tag = "auth", responses((status = 200, description = "The caller", body = Principal), Signed), security(("bearer" = [])))]
pub(crate) async fn me(Caller(principal): Caller) -> Json<Principal> {
    Json(principal)
}
