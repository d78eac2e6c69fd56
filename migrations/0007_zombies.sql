-- The zombie hunter's findings: one row per (tenant, finding id), the finding as JSONB; listed by
-- waste, filtered by account, kind and status.
CREATE TABLE zombie_findings (
    tenant_id text NOT NULL,
    finding_id text NOT NULL,
    account_id text NOT NULL,
    region text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    monthly_waste_usd double precision NOT NULL,
    payload jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, finding_id)
);
CREATE INDEX zombie_findings_by_waste ON zombie_findings (tenant_id, monthly_waste_usd DESC, finding_id);
ALTER TABLE zombie_findings ENABLE ROW LEVEL SECURITY;
ALTER TABLE zombie_findings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON zombie_findings USING (dd0c_tenant_visible(tenant_id))
    WITH CHECK (dd0c_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON zombie_findings TO dd0c_app;

-- Self-hosted access to a customer account by access key: the key id in the clear, the secret
-- key sealed (AEAD under DD0C_SECRETS_KEY) and never returned by any query the API makes.
ALTER TABLE accounts ADD COLUMN access_key_id text;
ALTER TABLE accounts ADD COLUMN secret_sealed text;
