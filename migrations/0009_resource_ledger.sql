-- The resource ledger: one row per resource a tenant's events named (account, region, id), its
-- changes as JSONB, with the columns its lookups, lists and retention read. Ids and names
-- compare bytewise ("C"), as the ports order them.
CREATE TABLE resources (
    tenant_id text NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    resource_id text COLLATE "C" NOT NULL,
    resource_kind text NOT NULL DEFAULT '',
    -- The first change's time; NULL while the row only holds an anomaly's link.
    first_at timestamptz,
    -- The end's time (an end event, or found gone), NULL while it lives.
    ended_at timestamptz,
    unseen_at timestamptz,
    anomaly_id text,
    record jsonb NOT NULL,
    PRIMARY KEY (tenant_id, account_id, region, resource_id)
);
CREATE INDEX resources_newest ON resources
    (tenant_id, first_at DESC, account_id DESC, region DESC, resource_id DESC)
    WHERE first_at IS NOT NULL;
CREATE INDEX resources_by_anomaly ON resources (tenant_id, anomaly_id) WHERE anomaly_id IS NOT NULL;
CREATE INDEX resources_ended ON resources (ended_at) WHERE ended_at IS NOT NULL;
ALTER TABLE resources ENABLE ROW LEVEL SECURITY;
ALTER TABLE resources FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON resources USING (dd0c_tenant_visible(tenant_id))
    WITH CHECK (dd0c_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON resources TO dd0c_app;
