-- Webhooks (API.md, "Notifications for force systems"): a force system's
-- subscriptions, the outbox of changes to report, and one delivery per
-- subscription and change. Messages and deliveries are written in the same
-- transaction as the change they report.

CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    force_id TEXT NOT NULL,
    url TEXT NOT NULL,
    -- The events delivered, comma-separated (closure.created, ...).
    events TEXT NOT NULL,
    -- whsec_<base64>: needed in clear to sign each delivery (HMAC-SHA256).
    secret TEXT NOT NULL,
    created_by_user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Deleted subscriptions are kept (their deliveries name them) but never served.
    deleted_at BIGINT,
    -- Paused after a delivery failed for the whole retry window; why, in words.
    paused_at BIGINT,
    paused_reason TEXT,
    -- The delivery worker that holds the subscription, and until when (its
    -- deliveries go out in order, from one worker at a time).
    lease_owner TEXT,
    lease_until BIGINT
);
CREATE INDEX webhook_subscriptions_by_force ON webhook_subscriptions (force_id)
    WHERE deleted_at IS NULL;

-- One change to report: the body every subscription receives.
CREATE TABLE webhook_messages (
    id BIGSERIAL PRIMARY KEY,
    event_type TEXT NOT NULL,
    force_id TEXT NOT NULL,
    closure_id TEXT NOT NULL,
    -- {"type", "timestamp", "data": <the closure>} as sent.
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One message to one subscription. `seq` orders a subscription's deliveries
-- as their changes committed; `id` is the webhook-id, the same on every attempt.
CREATE TABLE webhook_deliveries (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id),
    message_id BIGINT NOT NULL REFERENCES webhook_messages (id),
    -- pending, delivered or failed.
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_at BIGINT,
    last_attempt_at BIGINT,
    last_status_code INTEGER,
    last_error TEXT,
    next_attempt_at BIGINT NOT NULL,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (subscription_id, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (subscription_id, seq);
