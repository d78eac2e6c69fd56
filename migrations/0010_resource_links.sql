-- Which anomaly named each resource, apart from the resource's row. The scorer links every
-- resource of a burst as it joins: a narrow insert costs a fraction of rewriting the resource's
-- row (its JSONB record and every index on it). The first anomaly to name a resource keeps it;
-- a link may come before the resource's first change and waits here for it.
CREATE TABLE resource_links (
    tenant_id text NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    resource_id text COLLATE "C" NOT NULL,
    anomaly_id text NOT NULL,
    PRIMARY KEY (tenant_id, account_id, region, resource_id)
);
CREATE INDEX resource_links_by_anomaly ON resource_links (tenant_id, anomaly_id);
ALTER TABLE resource_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE resource_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON resource_links USING (dd0c_tenant_visible(tenant_id))
    WITH CHECK (dd0c_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON resource_links TO dd0c_app;

INSERT INTO resource_links (tenant_id, account_id, region, resource_id, anomaly_id)
    SELECT tenant_id, account_id, region, resource_id, anomaly_id FROM resources
    WHERE anomaly_id IS NOT NULL;
-- Rows that only held a link (no change yet, never found gone) are the link's now.
DELETE FROM resources WHERE first_at IS NULL AND unseen_at IS NULL;
DROP INDEX resources_by_anomaly;
ALTER TABLE resources DROP COLUMN anomaly_id;
