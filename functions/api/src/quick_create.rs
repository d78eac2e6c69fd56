//! The cloud's one-click onboarding: the CloudFormation quick-create link of a new account.
//!
//! The customer's template (`infra-cdk/onboarding/`) takes the account's ExternalId, our AWS
//! account (trusted to assume the role), our event bus (where its rules forward CloudTrail) and
//! the role's name as parameters; the link fills them in, so one click in the customer's console
//! creates the read-only role and the forwarding rule.

/// The stack name the link proposes.
pub const STACK_NAME: &str = "dd0c-cost";

/// The name of the role the customer's template creates (the Lambda functions may assume
/// `dd0c-cost-*` roles only).
pub const ROLE_NAME: &str = "dd0c-cost-reader";

/// The role the customer's template creates when they opt in to remediation: it may take
/// exactly the actions of `dd0c_ports::remediation`, never on a resource tagged `dd0c:protect`.
pub const REMEDIATION_ROLE_NAME: &str = "dd0c-cost-remediation";

/// Where the customer's template is, and the bus its rules forward to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickCreate {
    template_url: String,
    bus_arn: String,
    region: String,
    our_account: String,
}

/// Why a quick-create setting cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuickCreateError {
    /// The template is not at an https URL.
    #[error("the customer template's URL {0:?} is not https://…")]
    TemplateUrl(String),
    /// The bus is not named by an EventBridge event bus ARN.
    #[error("{0:?} is not an event bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)")]
    BusArn(String),
}

impl QuickCreate {
    /// The template at `template_url` forwarding to the event bus `bus_arn`, whose region and
    /// account are the console's region and the account the role trusts.
    pub fn new(template_url: &str, bus_arn: &str) -> Result<QuickCreate, QuickCreateError> {
        if !template_url.starts_with("https://") {
            return Err(QuickCreateError::TemplateUrl(template_url.to_owned()));
        }
        let parts: Vec<&str> = bus_arn.splitn(6, ':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "events"
            && !parts[3].is_empty()
            && dd0c_ports::domain::is_account_id(parts[4])
            && parts[5].starts_with("event-bus/");
        if !valid {
            return Err(QuickCreateError::BusArn(bus_arn.to_owned()));
        }
        Ok(QuickCreate {
            template_url: template_url.to_owned(),
            bus_arn: bus_arn.to_owned(),
            region: parts[3].to_owned(),
            our_account: parts[4].to_owned(),
        })
    }

    /// The console link that creates the customer's stack for an account with `external_id`.
    pub fn url(&self, external_id: &str) -> String {
        let params = [
            ("templateURL", self.template_url.as_str()),
            ("stackName", STACK_NAME),
            ("param_ExternalId", external_id),
            ("param_Dd0cAccountId", self.our_account.as_str()),
            ("param_EventBusArn", self.bus_arn.as_str()),
            ("param_RoleName", ROLE_NAME),
        ];
        // Encoding a list of string pairs cannot fail.
        let query = serde_urlencoded::to_string(params).unwrap_or_default();
        format!(
            "https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stacks/quickcreate?{query}",
            region = self.region
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUS: &str = "arn:aws:events:eu-west-1:210987654321:event-bus/dd0c-cost";

    #[test]
    fn the_link_fills_every_parameter_of_the_customer_template() {
        let quick = QuickCreate::new("https://t.s3.amazonaws.com/customer.json", BUS).unwrap();
        let url = quick.url("ext-1/2");
        assert!(url.starts_with(
            "https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks/quickcreate?"
        ));
        for part in [
            "templateURL=https%3A%2F%2Ft.s3.amazonaws.com%2Fcustomer.json",
            "stackName=dd0c-cost",
            "param_ExternalId=ext-1%2F2",
            "param_Dd0cAccountId=210987654321",
            "param_EventBusArn=arn%3Aaws%3Aevents%3Aeu-west-1%3A210987654321%3Aevent-bus%2Fdd0c-cost",
            "param_RoleName=dd0c-cost-reader",
        ] {
            assert!(url.contains(part), "{part} in {url}");
        }
    }

    #[test]
    fn a_setting_that_cannot_work_is_refused_by_name() {
        assert_eq!(
            QuickCreate::new("http://t/customer.json", BUS),
            Err(QuickCreateError::TemplateUrl(
                "http://t/customer.json".into()
            ))
        );
        for arn in [
            "arn:aws:sqs:eu-west-1:210987654321:queue",
            "arn:aws:events:eu-west-1:2109:event-bus/x",
            "arn:aws:events::210987654321:event-bus/x",
        ] {
            assert_eq!(
                QuickCreate::new("https://t/c.json", arn),
                Err(QuickCreateError::BusArn(arn.into()))
            );
        }
    }
}
