//! Tenants and their accounts (one tenant per AWS account).

use super::*;

#[async_trait]
impl TenantStore for DynamoStore {
    async fn add_tenant(&self, tenant: &Tenant) -> PortResult<()> {
        let mut item = doc_item(tenant_pk(&tenant.name), "TENANT", tenant)?;
        item.insert("gsi1pk".into(), s(TENANTS_INDEX_PK));
        item.insert("gsi1sk".into(), s(&tenant.name));
        match self.put_new(item).await? {
            true => Ok(()),
            false => Err(PortError::Conflict(format!(
                "tenant {} exists",
                tenant.name
            ))),
        }
    }

    async fn tenant(&self, name: &str) -> PortResult<Option<Tenant>> {
        self.get(tenant_pk(name), "TENANT")
            .await?
            .map(|item| from_doc(&item))
            .transpose()
    }

    async fn tenants(&self) -> PortResult<Vec<Tenant>> {
        let range = Range {
            index: Some(GSI1),
            ..Range::prefix(TENANTS_INDEX_PK.to_owned(), "")
        };
        self.query_docs(&range, usize::MAX).await
    }

    async fn add_account(&self, account: &Account) -> PortResult<()> {
        let mut items = vec![TransactWriteItem::builder()
            .put(self.create(doc_item(
                tenant_pk(&account.tenant),
                format!("ACCOUNT#{}", account.account_id),
                account,
            )?)?)
            .build()];
        let mut owner = key(account_owner_pk(&account.account_id), "OWNER");
        owner.insert("tenant".into(), s(&account.tenant));
        items.push(
            TransactWriteItem::builder()
                .put(self.create(owner)?)
                .build(),
        );
        if let Some(role_arn) = &account.role_arn {
            let mut guard = key(role_pk(role_arn), "ROLE");
            guard.insert("tenant".into(), s(&account.tenant));
            items.push(
                TransactWriteItem::builder()
                    .put(self.create(guard)?)
                    .build(),
            );
        }
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(PortError::Conflict(account_taken(account))),
        }
    }

    async fn account(&self, tenant: &str, account_id: &str) -> PortResult<Option<Account>> {
        self.get(tenant_pk(tenant), &format!("ACCOUNT#{account_id}"))
            .await?
            .map(|item| from_doc(&item))
            .transpose()
    }

    async fn accounts(&self, tenant: &str) -> PortResult<Vec<Account>> {
        self.query_docs(&Range::prefix(tenant_pk(tenant), "ACCOUNT#"), usize::MAX)
            .await
    }

    async fn owner(&self, account_id: &str) -> PortResult<Option<String>> {
        Ok(self
            .get(account_owner_pk(account_id), "OWNER")
            .await?
            .and_then(|item| item.get("tenant")?.as_s().ok().cloned()))
    }

    async fn remove_account(&self, tenant: &str, account_id: &str) -> PortResult<()> {
        let missing = || no_account(tenant, account_id);
        let account = self
            .account(tenant, account_id)
            .await?
            .ok_or_else(missing)?;
        let delete = |pk: String, sk: String| {
            build(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, sk)))
                    .condition_expression("attribute_exists(pk)")
                    .build(),
            )
            .map(|d| TransactWriteItem::builder().delete(d).build())
        };
        let mut items = vec![
            delete(tenant_pk(tenant), format!("ACCOUNT#{account_id}"))?,
            delete(account_owner_pk(account_id), "OWNER".into())?,
        ];
        if let Some(role_arn) = &account.role_arn {
            items.push(delete(role_pk(role_arn), "ROLE".into())?);
        }
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(missing()),
        }
    }

    async fn put_account_secret(
        &self,
        tenant: &str,
        account_id: &str,
        which: KeyUse,
        sealed: &str,
    ) -> PortResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                tenant_pk(tenant),
                format!("ACCOUNT#{account_id}"),
            )))
            .update_expression("SET #sealed = :sealed")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#sealed", secret_attribute(which))
            .expression_attribute_values(":sealed", s(sealed))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => {
                Err(no_account(tenant, account_id))
            }
            Err(e) => Err(sdk("DynamoDB UpdateItem", e)),
        }
    }

    async fn account_secret(
        &self,
        tenant: &str,
        account_id: &str,
        which: KeyUse,
    ) -> PortResult<Option<String>> {
        Ok(self
            .get(tenant_pk(tenant), &format!("ACCOUNT#{account_id}"))
            .await?
            .and_then(|item| item.get(secret_attribute(which))?.as_s().ok().cloned()))
    }
}

/// The account item's attribute holding the sealed secret of its key for `key`.
fn secret_attribute(key: KeyUse) -> &'static str {
    match key {
        KeyUse::Read => "secret_sealed",
        KeyUse::Act => "remediation_secret_sealed",
    }
}
