-- How dd0c/cost reaches an account in cloud mode: the role it assumes and the ExternalId of that
-- role's trust policy (generated server-side). A role belongs to one tenant only.
ALTER TABLE accounts ADD COLUMN role_arn text;
ALTER TABLE accounts ADD COLUMN external_id text;
CREATE UNIQUE INDEX accounts_role_arn ON accounts (role_arn) WHERE role_arn IS NOT NULL;
