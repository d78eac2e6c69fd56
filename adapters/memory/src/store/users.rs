//! Dashboard users and their password hashes.

use super::*;

#[async_trait]
impl Users for MemoryStore {
    async fn add_user(&self, user: &User) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        if !inner.tenants.contains_key(&user.tenant) {
            return Err(PortError::NotFound(format!("tenant {}", user.tenant)));
        }
        let email = user.email.to_lowercase();
        if inner.users.contains_key(&email) {
            return Err(PortError::Conflict(format!("user {email} exists")));
        }
        inner.users.insert(
            email.clone(),
            User {
                email,
                ..user.clone()
            },
        );
        Ok(())
    }

    async fn user(&self, email: &str) -> PortResult<Option<User>> {
        Ok(lock(&self.inner).users.get(&email.to_lowercase()).cloned())
    }

    async fn set_password_hash(&self, email: &str, password_hash: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let user = inner
            .users
            .get_mut(&email.to_lowercase())
            .ok_or_else(|| PortError::NotFound(format!("user {email}")))?;
        user.password_hash = password_hash.to_owned();
        Ok(())
    }
}
