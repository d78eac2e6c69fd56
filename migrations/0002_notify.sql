-- Notifications: outbox claims (so replicas do not notify twice) and per-channel delivery, so a
-- retry after a Slack failure does not e-mail twice.

ALTER TABLE outbox ADD COLUMN claimed_until timestamptz;
ALTER TABLE outbox ADD COLUMN channels_delivered text[] NOT NULL DEFAULT '{}';
