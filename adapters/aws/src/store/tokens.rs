//! Ingest tokens by hash, per account.

use super::*;

#[async_trait]
impl IngestTokens for DynamoStore {
    async fn add_token(&self, grant: &IngestGrant, token_sha256: &str) -> PortResult<()> {
        let mut token = doc_item(token_pk(token_sha256), "TOKEN", grant)?;
        token.insert("revoked".into(), AttributeValue::Bool(false));
        let items = vec![
            TransactWriteItem::builder()
                .condition_check(self.exists(
                    tenant_pk(&grant.tenant),
                    &format!("ACCOUNT#{}", grant.account_id),
                )?)
                .build(),
            self.put_item_in_transaction(token)?,
        ];
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(PortError::NotFound(format!(
                "account {} in tenant {}",
                grant.account_id, grant.tenant
            ))),
        }
    }

    async fn grant(&self, token_sha256: &str) -> PortResult<Option<IngestGrant>> {
        let Some(item) = self.get(token_pk(token_sha256), "TOKEN").await? else {
            return Ok(None);
        };
        if matches!(item.get("revoked"), Some(AttributeValue::Bool(true))) {
            return Ok(None);
        }
        // Tokens are keyed by hash alone, so removing an account cannot find them: a token
        // admits only while its account is still its tenant's.
        let grant: IngestGrant = from_doc(&item)?;
        let held = self.account(&grant.tenant, &grant.account_id).await?;
        Ok(held.map(|_| grant))
    }

    async fn revoke_token(&self, token_sha256: &str) -> PortResult<()> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(token_pk(token_sha256), "TOKEN")))
            .update_expression("SET revoked = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => {
                Err(PortError::NotFound("ingest token".into()))
            }
            Err(e) => Err(sdk("DynamoDB UpdateItem", e)),
        }
    }
}
