-- A self-hosted install may act on an account's resources with an access key of its own,
-- apart from the reading one: its id, and its secret sealed as the reading key's is.
ALTER TABLE accounts ADD COLUMN remediation_access_key_id text;
ALTER TABLE accounts ADD COLUMN remediation_secret_sealed text;
