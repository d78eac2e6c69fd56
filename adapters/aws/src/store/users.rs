//! Dashboard users and their password hashes.

use super::*;

#[async_trait]
impl Users for DynamoStore {
    async fn add_user(&self, user: &User) -> PortResult<()> {
        let email = user.email.to_lowercase();
        let mut item = key(user_pk(&email), "USER");
        item.insert("tenant".into(), s(&user.tenant));
        item.insert("email".into(), s(&email));
        item.insert(
            "role".into(),
            s(match user.role {
                Role::Admin => "admin",
                Role::Member => "member",
            }),
        );
        item.insert("password_hash".into(), s(&user.password_hash));
        let items = vec![
            TransactWriteItem::builder()
                .condition_check(self.exists(tenant_pk(&user.tenant), "TENANT")?)
                .build(),
            TransactWriteItem::builder().put(self.create(item)?).build(),
        ];
        match self.transact(items).await?.as_deref() {
            None => Ok(()),
            Some([0, ..]) => Err(PortError::NotFound(format!("tenant {}", user.tenant))),
            Some(_) => Err(PortError::Conflict(format!("user {email} exists"))),
        }
    }

    async fn user(&self, email: &str) -> PortResult<Option<User>> {
        let Some(item) = self.get(user_pk(email), "USER").await? else {
            return Ok(None);
        };
        let role = match string(&item, "role")? {
            "admin" => Role::Admin,
            "member" => Role::Member,
            other => {
                return Err(PortError::backend(format!(
                    "user {email}: unknown role {other:?}"
                )))
            }
        };
        Ok(Some(User {
            tenant: string(&item, "tenant")?.to_owned(),
            email: string(&item, "email")?.to_owned(),
            role,
            password_hash: string(&item, "password_hash")?.to_owned(),
        }))
    }

    async fn set_password_hash(&self, email: &str, password_hash: &str) -> PortResult<()> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(email), "USER")))
            .update_expression("SET password_hash = :hash")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":hash", s(password_hash))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => {
                Err(PortError::NotFound(format!("user {email}")))
            }
            Err(e) => Err(sdk("DynamoDB UpdateItem", e)),
        }
    }
}
