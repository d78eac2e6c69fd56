-- Each tenant's webhook signing secret (Standard Webhooks, `whsec_…`), beside its settings and
-- apart from their document: the settings are read back whole by admins and replaced whole by
-- `PUT /v1/settings`, the secret is shown once when made and only replaced by a new one.
ALTER TABLE settings ADD COLUMN webhook_secret text;
