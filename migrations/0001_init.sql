-- dd0c/cost schema, forward-only. Every tenant-owned table leads with tenant_id, so each
-- tenant's rows are one index range and row-level security (a later migration) can confine
-- them. Payloads are the domain types as JSONB; the columns beside them are what queries filter,
-- sort or enforce on.

CREATE TABLE tenants (
    name        text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    tenant_id   text NOT NULL,
    account_id  text NOT NULL,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id)
);

-- Ingest tokens are stored as SHA-256 hashes; the token itself is shown once, at creation.
CREATE TABLE ingest_tokens (
    token_sha256 text PRIMARY KEY,
    tenant_id    text NOT NULL,
    account_id   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, account_id) ON DELETE CASCADE
);

CREATE TABLE users (
    tenant_id     text NOT NULL,
    email         text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'member')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, email)
);

CREATE TABLE settings (
    tenant_id   text PRIMARY KEY,
    payload     jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The idempotency record: an event id is committed once per tenant. Rows older than 15 days
-- are purged by the scheduler's retention job (EventBridge retries for 24 h; redrives of
-- dead letters come within 14 days).
CREATE TABLE processed_events (
    tenant_id     text NOT NULL,
    event_id      text NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX processed_events_age ON processed_events (processed_at);

CREATE TABLE cost_events (
    tenant_id   text NOT NULL,
    event_id    text NOT NULL,
    account_id  text NOT NULL,
    event_time  timestamptz NOT NULL,
    severity    text,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
-- The cost time series and range listings: one tenant, a time window, oldest first.
CREATE INDEX cost_events_by_time ON cost_events (tenant_id, event_time, event_id);

-- Welford state per (tenant, account, resource kind; '*' for the account-wide baseline):
-- n, mean and M2 as columns (stddev = sqrt(M2 / (n - 1))), the rest of the baseline in payload.
CREATE TABLE baselines (
    tenant_id      text NOT NULL,
    account_id     text NOT NULL,
    resource_kind  text NOT NULL,
    version        bigint NOT NULL,
    n              bigint NOT NULL,
    mean           double precision NOT NULL,
    m2             double precision NOT NULL,
    payload        jsonb NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id, resource_kind)
);

CREATE TABLE anomalies (
    tenant_id   text NOT NULL,
    anomaly_id  text NOT NULL,
    event_id    text NOT NULL,
    account_id  text NOT NULL,
    event_time  timestamptz NOT NULL,
    severity    text NOT NULL,
    status      text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, anomaly_id)
);
-- The dashboard's list: newest first, keyset-paginated on (event_time, anomaly_id).
CREATE INDEX anomalies_newest ON anomalies (tenant_id, event_time DESC, anomaly_id DESC);
-- "Open criticals", "this account": the common filters, each still newest first.
CREATE INDEX anomalies_by_status ON anomalies (tenant_id, status, event_time DESC);
CREATE INDEX anomalies_by_account ON anomalies (tenant_id, account_id, event_time DESC);

CREATE TABLE feedback (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL,
    anomaly_id  text NOT NULL,
    payload     jsonb NOT NULL,
    at          timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, anomaly_id) REFERENCES anomalies (tenant_id, anomaly_id) ON DELETE CASCADE
);
CREATE INDEX feedback_by_anomaly ON feedback (tenant_id, anomaly_id, id);

CREATE TABLE snoozes (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL,
    scope       jsonb NOT NULL,
    until       timestamptz NOT NULL,
    set_by      text NOT NULL
);
CREATE INDEX snoozes_active ON snoozes (tenant_id, until);

-- Written in the scorer's transaction; the notifier delivers and marks each row once.
CREATE TABLE outbox (
    outbox_id     text PRIMARY KEY,
    tenant_id     text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    delivered_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox (created_at, outbox_id) WHERE delivered_at IS NULL;

-- Messages that failed max-receives times, with their last error, until redriven.
CREATE TABLE dead_letters (
    queue          text NOT NULL,
    message_id     text NOT NULL,
    group_key      text NOT NULL,
    body           text NOT NULL,
    error          text NOT NULL,
    receive_count  integer NOT NULL,
    failed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue, message_id)
);

-- pgmq has no deduplication: a send records its key here in the same statement, and a key
-- seen within the last five minutes (SQS FIFO's window) is not sent again.
CREATE TABLE queue_dedup (
    queue      text NOT NULL,
    dedup_key  text NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue, dedup_key)
);
CREATE INDEX queue_dedup_age ON queue_dedup (sent_at);

-- One row per scheduled job per tick, written by the replica holding the job's advisory lock.
CREATE TABLE job_runs (
    job       text NOT NULL,
    tick      timestamptz NOT NULL,
    ran_by    text NOT NULL,
    finished  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, tick)
);
