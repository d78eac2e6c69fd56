-- An AWS account belongs to one tenant: its records are priced for, and teach, that tenant only.
-- (An install where two tenants already hold one account stops here, naming this index; the
-- operator removes the account from the tenant that does not own it — README, "Accounts".)
CREATE UNIQUE INDEX accounts_account_id ON accounts (account_id);

-- What the normalizer learned from one record to price a later one (an instance's type for its
-- StartInstances, a task definition's size), per tenant: the store is the truth, each
-- normalizer keeps a bounded cache of it, so a restart or another replica prices the same.
-- `fact_key` is `account/kind/name` (ports::recall::FactKey).
CREATE TABLE learned_facts (
    tenant_id text NOT NULL,
    fact_key text NOT NULL,
    fact jsonb NOT NULL,
    learned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, fact_key)
);
ALTER TABLE learned_facts ENABLE ROW LEVEL SECURITY;
ALTER TABLE learned_facts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON learned_facts USING (dd0c_tenant_visible(tenant_id))
    WITH CHECK (dd0c_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON learned_facts TO dd0c_app;
