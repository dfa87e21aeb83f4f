-- The back office: staff accounts and their authentication factors, the staff log, shop settings,
-- product images, and which delivery an order line goes to. SQLite dialect; every time column added
-- here holds Unix seconds. No table here holds a customer's personal value: the staff log's detail
-- names customers and fields by id and name only. Staff rows hold the staff member's own work email
-- and display name in the clear (they are not customers; SECURITY.md says why).

CREATE TABLE staff (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'operator', 'support', 'auditor')),
    state         TEXT NOT NULL CHECK (state IN ('invited', 'active', 'disabled')),
    password_hash TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
);

-- WebAuthn passkeys: the credential id in the clear (the browser names it at login) and the
-- passkey as webauthn-rs serialises it (public key, counter, flags; no secret).
CREATE TABLE staff_passkeys (
    id            TEXT PRIMARY KEY,
    staff_id      TEXT NOT NULL REFERENCES staff (id),
    credential_id BLOB NOT NULL UNIQUE,
    passkey       TEXT NOT NULL,
    label         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX staff_passkeys_staff ON staff_passkeys (staff_id);

-- TOTP: the secret sealed by the caller under a system key; last_step makes each code single-use.
CREATE TABLE staff_totp (
    staff_id   TEXT PRIMARY KEY REFERENCES staff (id),
    secret     BLOB NOT NULL,
    last_step  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- Recovery codes: hashes only; each works once.
CREATE TABLE staff_recovery_codes (
    staff_id   TEXT NOT NULL REFERENCES staff (id),
    code_hash  BLOB NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (staff_id, code_hash)
);

-- Single-use staff tokens (enrolment and invitation links): only a hash of the token.
CREATE TABLE staff_tokens (
    token_hash BLOB PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES staff (id),
    purpose    TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX staff_tokens_staff ON staff_tokens (staff_id, purpose);

-- Devices a staff member signed in from (a keyed hash of a device cookie), for new-device mail.
CREATE TABLE staff_devices (
    staff_id    TEXT NOT NULL REFERENCES staff (id),
    device_hash BLOB NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (staff_id, device_hash)
);

-- Every change a member of staff makes. detail is JSON and never holds a customer's personal value.
CREATE TABLE staff_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    staff_id   TEXT,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    ip         TEXT
);
CREATE INDEX staff_log_staff ON staff_log (staff_id, at);
CREATE INDEX staff_log_action ON staff_log (action, at);

-- Shop settings as JSON values by key (name, address, invoice number, slots, payment methods).
CREATE TABLE shop_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT
);

-- Product images, checked by content and re-encoded before they get here.
CREATE TABLE product_images (
    id           TEXT PRIMARY KEY,
    product_id   TEXT NOT NULL REFERENCES products (id),
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    sha256       BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX product_images_product ON product_images (product_id, created_at);

-- Which delivery (shipments.shipment_no) an order line goes to; 0 on lines written before this
-- migration, which go with the order's first delivery.
ALTER TABLE order_items ADD COLUMN shipment_no INTEGER NOT NULL DEFAULT 0;

-- The back office filters orders by state and lists customers newest first.
CREATE INDEX orders_state ON orders (state, placed_at);
CREATE INDEX customers_created ON customers (created_at);
