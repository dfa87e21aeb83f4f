-- Detection (mamori-guard): alerts, the queue of their webhook deliveries, and the guard's
-- switches (e.g. card payment closed after a change to the payment path). Every time column holds
-- Unix seconds. Nothing here is personal: an alert names its subject by path, page or id, and its
-- evidence (JSON) holds hashes, sizes, modes and URLs, never a customer's value.

CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    subject     TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'closed')),
    -- How often the condition was seen while the alert was not closed, and when first and last.
    seen_count  BIGINT NOT NULL DEFAULT 1,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    acked_by    TEXT,
    acked_at    BIGINT,
    ack_reason  TEXT,
    closed_by   TEXT,
    closed_at   BIGINT
);
-- De-duplication: one alert per kind and subject until it is closed; a repeat of the condition
-- bumps seen_count and last_seen of that row instead of adding a row (and sends no mail).
CREATE UNIQUE INDEX alerts_ongoing ON alerts (kind, subject) WHERE state <> 'closed';
CREATE INDEX alerts_recent ON alerts (last_seen);

-- Webhook deliveries of alerts: the exact JSON body is kept so that a retry sends the same bytes
-- (signed afresh with a new timestamp); the URL and secret are configuration, not stored here.
CREATE TABLE alert_webhooks (
    id              TEXT PRIMARY KEY,
    alert_id        TEXT NOT NULL REFERENCES alerts (id),
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX alert_webhooks_due ON alert_webhooks (state, next_attempt_at);
CREATE INDEX alert_webhooks_alert ON alert_webhooks (alert_id);

-- Switches the guard closes when a detection touches them (fail closed), reopened only by an
-- owner's approval: `card_payment` closed means the checkout offers the other payment methods.
CREATE TABLE guard_switches (
    name       TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    reason     TEXT NOT NULL,
    alert_id   TEXT,
    changed_by TEXT,
    changed_at BIGINT NOT NULL
);
