-- The shop: member email confirmation, sessions, webhook replay guard, payments, the mail outbox,
-- single-use tokens and member carts. PostgreSQL dialect; times are Unix seconds unless noted.
-- Nothing here is plaintext personal data: session records and mail payloads are sealed by their
-- owners (the web layer, the gateway) before they reach the database.

-- Members confirm their email before their first login (NULL: not yet confirmed; guests stay NULL).
ALTER TABLE customers ADD COLUMN email_verified_at BIGINT;

-- Web sessions: the key is a hash of the session id, the record opaque bytes sealed by the shop.
CREATE TABLE sessions (
    key        BYTEA PRIMARY KEY,
    record     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX sessions_last_seen ON sessions (last_seen);
CREATE INDEX sessions_created ON sessions (created_at);

-- Payment provider webhooks already processed (replay guard); rows go after keep_until.
CREATE TABLE webhook_events (
    event_id    TEXT PRIMARY KEY,
    keep_until  BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_keep_until ON webhook_events (keep_until);

-- One payment per order at the provider. Of a card, mamori keeps the brand and last four digits only.
CREATE TABLE payments (
    order_id   TEXT PRIMARY KEY REFERENCES orders (id),
    provider   TEXT NOT NULL,
    payment_id TEXT NOT NULL UNIQUE,
    status     TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    brand      TEXT,
    last4      TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The transactional outbox: a mail row is written in the transaction of the change that causes it.
-- payload_ct is sealed with the customer's data key (erasing the customer makes it unreadable).
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    customer_id     TEXT REFERENCES customers (id),
    kind            TEXT NOT NULL,
    payload_ct      BYTEA NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    claim_token     TEXT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_customer ON mail_outbox (customer_id);

-- Single-use tokens (email confirmation, email change, password reset): only a SHA-256 of the token.
CREATE TABLE auth_tokens (
    token_hash  BYTEA PRIMARY KEY,
    purpose     TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    payload_ct  BYTEA,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX auth_tokens_customer ON auth_tokens (customer_id, purpose);
CREATE INDEX auth_tokens_expires ON auth_tokens (expires_at);

-- A member's cart between visits: SKUs and quantities, nothing personal.
CREATE TABLE member_carts (
    customer_id TEXT NOT NULL REFERENCES customers (id),
    sku         TEXT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (customer_id, sku)
);
