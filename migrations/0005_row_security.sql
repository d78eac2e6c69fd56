-- Tenant isolation in depth: row-level security on every tenant table, forced (the owner too),
-- for the role the application connects as.
--
-- A connection sees the rows of the tenants named in its transaction's `dd0c.tenant` setting
-- (`acme`, or `acme,globex` for a scorer batch spanning tenants), or every tenant's when it is
-- `*` (the system's own work: retention, the outbox, sign-in and ingest-token lookups). Nothing
-- when it is unset: a query that forgot its tenant finds no rows and can write none.
--
-- The application connects as a login role that is a member of `dd0c_app` and is neither the
-- owner of these tables, nor a superuser, nor BYPASSRLS; migrations run as the owner.

-- Roles are cluster-wide: another database's migration may create it at the same moment.
DO $$
BEGIN
    CREATE ROLE dd0c_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE FUNCTION dd0c_tenant_visible(tenant text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('dd0c.tenant', true) = '*'
        OR tenant = ANY (string_to_array(current_setting('dd0c.tenant', true), ',')), false)
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['accounts', 'ingest_tokens', 'users', 'settings', 'processed_events',
                             'cost_events', 'baselines', 'anomalies', 'feedback', 'snoozes', 'outbox']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_rows ON %I USING (dd0c_tenant_visible(tenant_id)) '
                       'WITH CHECK (dd0c_tenant_visible(tenant_id))', t);
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA public TO dd0c_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dd0c_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO dd0c_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dd0c_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO dd0c_app;
