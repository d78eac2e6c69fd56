-- Ingestion without EventBridge (self-hosted): the trail buckets the poller reads, how far it
-- has read each folder, the files it has read (key + ETag, so a restart repeats nothing), the
-- agents' heartbeats and each account's newest event per source (ingest lag).
CREATE TABLE trails (
    tenant_id text NOT NULL,
    account_id text NOT NULL,
    location text NOT NULL,
    PRIMARY KEY (tenant_id, account_id)
);
CREATE TABLE trail_checkpoints (
    tenant_id text NOT NULL,
    account_id text NOT NULL,
    folder text NOT NULL,
    last_key text NOT NULL,
    PRIMARY KEY (tenant_id, account_id, folder)
);
CREATE TABLE trail_files_read (
    tenant_id text NOT NULL,
    account_id text NOT NULL,
    key text NOT NULL,
    etag text NOT NULL,
    read_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, account_id, key, etag)
);
CREATE TABLE agents (
    tenant_id text NOT NULL,
    agent_id text NOT NULL,
    account_id text NOT NULL,
    payload jsonb NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);
CREATE TABLE ingest_status (
    tenant_id text NOT NULL,
    account_id text NOT NULL,
    source text NOT NULL,
    last_seen timestamptz NOT NULL,
    newest_event_time timestamptz,
    PRIMARY KEY (tenant_id, account_id, source)
);
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['trails', 'trail_checkpoints', 'trail_files_read', 'agents', 'ingest_status'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_rows ON %I USING (dd0c_tenant_visible(tenant_id)) WITH CHECK (dd0c_tenant_visible(tenant_id))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO dd0c_app', t);
    END LOOP;
END $$;
