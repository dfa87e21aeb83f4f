-- Notices to individuals (本人通知, 施行規則10条) of an incident (mamori-respond's notices module).
--
-- notice_runs: one run per incident, started by an owner or manager (or the command line) from
-- the incident's latest scope snapshot and a draft of the free-text parts. The draft (the
-- operator's words: 概要, 原因, 二次被害, the desk's contact; never a customer's value) is frozen
-- with its SHA-256 when the run starts, so a restart renders the same notice.
CREATE TABLE notice_runs (
    incident_id   INTEGER PRIMARY KEY REFERENCES incidents (id),
    scope_id      TEXT NOT NULL REFERENCES incident_scopes (id),
    draft         TEXT NOT NULL,
    draft_sha256  TEXT NOT NULL,
    -- Notices handed to the mail worker per minute (spread by the outbox's next_attempt_at).
    rate_per_min  INTEGER NOT NULL CHECK (rate_per_min > 0),
    -- People to notify (the scope's customers, once each, canaries left out).
    total         INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    started_by    TEXT NOT NULL,
    completed_at  INTEGER
);

-- One row per notice queued. The primary key (incident_id, customer_id) is the idempotency key:
-- the notice row and its outbox row are written in one transaction, and a second insert for the
-- same person does nothing, so a run killed at any moment and resumed never queues a notice twice.
-- id is the outbox row's id (and so the Message-ID's seed and the VERP address's notice id).
CREATE TABLE incident_notices (
    incident_id  INTEGER NOT NULL REFERENCES notice_runs (incident_id),
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    id           TEXT NOT NULL UNIQUE,
    -- 0-based position in the run (the rate spreads by it).
    position     INTEGER NOT NULL,
    queued_at    INTEGER NOT NULL,
    -- Delivery status notifications (RFC 3464) matched to the notice: 'permanent' (5.x.x, a
    -- letter is to be sent) or 'transient' (4.x.x), with the status code; no diagnostic text.
    bounce       TEXT CHECK (bounce IN ('permanent', 'transient')),
    bounce_status TEXT,
    bounced_at   INTEGER,
    PRIMARY KEY (incident_id, customer_id)
);
CREATE INDEX incident_notices_position ON incident_notices (incident_id, position);
