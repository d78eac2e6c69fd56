//! Dashboard users and their password hashes.

use super::*;

pub(super) fn parse_role(text: &str) -> PortResult<Role> {
    decode(serde_json::Value::String(text.to_owned()), "user role")
}

#[async_trait]
impl Users for PgStore {
    async fn add_user(&self, user: &User) -> PortResult<()> {
        let role = encode(&user.role, "user role")?;
        let result = self.scoped(&user.tenant, async |c| sqlx::query(
            "INSERT INTO users (tenant_id, email, password_hash, role) VALUES ($1, lower($2), $3, $4)",
        )
        .bind(&user.tenant)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(role.as_str().unwrap_or("member"))
        .execute(c)
        .await).await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_violation(&e, "23505") => Err(PortError::Conflict(format!(
                "user {} exists",
                user.email.to_lowercase()
            ))),
            Err(e) if is_violation(&e, "23503") => {
                Err(PortError::NotFound(format!("tenant {}", user.tenant)))
            }
            Err(e) => Err(backend("adding a user", e)),
        }
    }

    async fn user(&self, email: &str) -> PortResult<Option<User>> {
        let row: Option<(String, String, String, String)> = self
            .scoped(EVERY_TENANT, async |c| {
                sqlx::query_as(
            "SELECT tenant_id, email, role, password_hash FROM users WHERE email = lower($1)",
        )
        .bind(email)
        .fetch_optional(c)
        .await
            })
            .await
            .map_err(|e| backend("reading a user", e))?;
        row.map(|(tenant, email, role, password_hash)| {
            Ok(User {
                tenant,
                email,
                role: parse_role(&role)?,
                password_hash,
            })
        })
        .transpose()
    }

    async fn set_password_hash(&self, email: &str, password_hash: &str) -> PortResult<()> {
        let updated = self
            .scoped(EVERY_TENANT, async |c| {
                sqlx::query("UPDATE users SET password_hash = $2 WHERE email = lower($1)")
                    .bind(email)
                    .bind(password_hash)
                    .execute(c)
                    .await
            })
            .await
            .map_err(|e| backend("rehashing a password", e))?
            .rows_affected();
        if updated == 0 {
            return Err(PortError::NotFound(format!("user {email}")));
        }
        Ok(())
    }
}
