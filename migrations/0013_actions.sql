-- Remediation: each action on a customer's resources (the record as JSONB, with the columns its
-- listings filter and order on), and its decision log, appended to and never updated: the
-- application role may not UPDATE it (the schema's default privileges grant UPDATE on every new
-- table, so it is revoked here). Retention deletes a final action with its log.
CREATE TABLE actions (
    tenant_id text NOT NULL,
    action_id text NOT NULL,
    account_id text NOT NULL,
    status text NOT NULL,
    requested_at timestamptz NOT NULL,
    payload jsonb NOT NULL,
    PRIMARY KEY (tenant_id, action_id)
);
CREATE INDEX actions_by_time ON actions (tenant_id, requested_at DESC, action_id DESC);
ALTER TABLE actions ENABLE ROW LEVEL SECURITY;
ALTER TABLE actions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON actions USING (dd0c_tenant_visible(tenant_id))
    WITH CHECK (dd0c_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON actions TO dd0c_app;

CREATE TABLE action_log (
    tenant_id text NOT NULL,
    action_id text NOT NULL,
    seq integer NOT NULL,
    payload jsonb NOT NULL,
    PRIMARY KEY (tenant_id, action_id, seq),
    FOREIGN KEY (tenant_id, action_id) REFERENCES actions ON DELETE CASCADE
);
ALTER TABLE action_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE action_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON action_log USING (dd0c_tenant_visible(tenant_id))
    WITH CHECK (dd0c_tenant_visible(tenant_id));
REVOKE UPDATE ON action_log FROM dd0c_app;
GRANT SELECT, INSERT, DELETE ON action_log TO dd0c_app;

-- The role assumed to act on an account's resources (the customer's opt-in second role).
ALTER TABLE accounts ADD COLUMN remediation_role_arn text;
