-- Phishing canaries (mamori-guard's canary mail listener): every message accepted for the canary
-- domain, kept as evidence for the incident desk. The raw message (bounded by the listener's size
-- limit) and the canary's customer id are sealed together under a system key, bound to the row's
-- id: a copy of the database shows that mail came, not to whom. kind is 'canary' (a planted
-- canary's address was among the recipients) or 'other' (only made-up addresses of the domain).
CREATE TABLE canary_mails (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('canary', 'other')),
    received_at BIGINT NOT NULL,
    -- SHA-256 of the raw message (hex), as the alert's evidence names it.
    sha256      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sealed      BYTEA NOT NULL
);
CREATE INDEX canary_mails_received ON canary_mails (received_at);
