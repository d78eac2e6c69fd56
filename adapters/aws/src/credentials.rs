//! Reading and acting on a customer's account: STS AssumeRole into a role the customer created
//! for dd0c/cost (the read-only one, or the remediation one), with the ExternalId dd0c/cost generated for that account (the confused-deputy
//! guard: another tenant who learns the role ARN cannot assume it without the ExternalId).

use aws_config::sts::AssumeRoleProvider;
use dd0c_ports::domain::Account;
use dd0c_ports::remediation::ActionId;
use dd0c_ports::{PortError, PortResult};

/// The SDK configuration for calls into `account`, through its role and ExternalId. Credentials
/// are fetched on first use and refreshed before they expire.
pub async fn customer_config(
    config: &aws_config::SdkConfig,
    account: &Account,
) -> PortResult<aws_config::SdkConfig> {
    let role_arn = account.role_arn.as_deref().ok_or_else(|| {
        PortError::Invalid(format!(
            "account {} of tenant {} has no role_arn to assume",
            account.account_id, account.tenant
        ))
    })?;
    let session = format!("dd0c-cost-{}", account.tenant);
    assume(config, account, role_arn, &session).await
}

/// The SDK configuration for acting on `account`'s resources for `action_id`, through its
/// remediation role and the same ExternalId, in a session named after the action (which the
/// account's CloudTrail records with every call); `Invalid` when it has no such role.
pub async fn remediation_config(
    config: &aws_config::SdkConfig,
    account: &Account,
    action_id: &ActionId,
) -> PortResult<aws_config::SdkConfig> {
    let role_arn = account.remediation_role_arn.as_deref().ok_or_else(|| {
        PortError::Invalid(format!(
            "account {} of tenant {} has no remediation role: no action is taken on it",
            account.account_id, account.tenant
        ))
    })?;
    assume(config, account, role_arn, &format!("dd0c-cost-{action_id}")).await
}

/// `config` with credentials of `role_arn`, assumed with `account`'s ExternalId in `session`.
async fn assume(
    config: &aws_config::SdkConfig,
    account: &Account,
    role_arn: &str,
    session: &str,
) -> PortResult<aws_config::SdkConfig> {
    let external_id = account.external_id.as_deref().ok_or_else(|| {
        PortError::Invalid(format!(
            "account {} of tenant {} has no external_id: refusing to assume its role without one",
            account.account_id, account.tenant
        ))
    })?;
    let provider = AssumeRoleProvider::builder(role_arn)
        .external_id(external_id)
        .session_name(session)
        .configure(config)
        .build()
        .await;
    Ok(config
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build())
}
