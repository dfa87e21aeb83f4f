-- mamori schema, SQLite dialect. Personal values are only ever stored as AEAD ciphertext (`*_ct`),
-- bound to table, column and row id; lookups go through keyed blind indexes (`*_bidx`).

CREATE TABLE customers (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('member', 'guest')),
    email_bidx    BLOB,
    name_ct       BLOB,
    email_ct      BLOB,
    phone_ct      BLOB,
    birth_date_ct BLOB,
    gender_ct     BLOB,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    erased_at     INTEGER
);
CREATE UNIQUE INDEX customers_member_email ON customers (email_bidx)
    WHERE kind = 'member' AND erased_at IS NULL;

-- One data key per customer, wrapped by a master key that never enters the database.
-- Deleting the row is the erasure (crypto-shredding).
CREATE TABLE customer_keys (
    customer_id   TEXT PRIMARY KEY REFERENCES customers (id),
    master_key_id TEXT NOT NULL,
    wrapped       BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    rotated_at    INTEGER
);
CREATE INDEX customer_keys_master ON customer_keys (master_key_id);

CREATE TABLE addresses (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    name_ct     BLOB,
    address_ct  BLOB,
    phone_ct    BLOB,
    created_at  INTEGER NOT NULL
);
CREATE INDEX addresses_customer ON addresses (customer_id);

CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    order_number     TEXT NOT NULL UNIQUE,
    customer_id      TEXT NOT NULL REFERENCES customers (id),
    idempotency_key  TEXT NOT NULL UNIQUE,
    state            TEXT NOT NULL,
    payment_method   TEXT NOT NULL,
    items_total      INTEGER NOT NULL,
    cod_fee          INTEGER NOT NULL,
    shipping_fee     INTEGER NOT NULL,
    total            INTEGER NOT NULL,
    tax_standard     INTEGER NOT NULL,
    tax_reduced      INTEGER NOT NULL,
    buyer_name_ct    BLOB,
    buyer_email_ct   BLOB,
    buyer_phone_ct   BLOB,
    buyer_address_ct BLOB,
    placed_at        INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, placed_at);
CREATE INDEX orders_placed ON orders (placed_at);

CREATE TABLE order_items (
    order_id           TEXT NOT NULL REFERENCES orders (id),
    line_no            INTEGER NOT NULL,
    sku                TEXT NOT NULL,
    product_name       TEXT NOT NULL,
    unit_price         INTEGER NOT NULL,
    tax_rate           TEXT NOT NULL,
    quantity           INTEGER NOT NULL,
    personalisation_ct BLOB,
    noshi_ct           BLOB,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE shipments (
    order_id      TEXT NOT NULL REFERENCES orders (id),
    shipment_no   INTEGER NOT NULL,
    name_ct       BLOB,
    address_ct    BLOB,
    phone_ct      BLOB,
    delivery_date TEXT,
    delivery_slot TEXT NOT NULL,
    PRIMARY KEY (order_id, shipment_no)
);

-- The access ledger: an RFC 9162 Merkle log. `seq` is the leaf index.
CREATE TABLE ledger_entries (
    seq         INTEGER PRIMARY KEY,
    leaf_hash   BLOB NOT NULL,
    event       BLOB NOT NULL,
    recorded_at INTEGER NOT NULL
);
-- Which customers each event touched: the scope of an incident is a query over this.
CREATE TABLE ledger_subjects (
    customer_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (customer_id, seq)
) WITHOUT ROWID;

CREATE TABLE ledger_state (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    size     INTEGER NOT NULL,
    frontier BLOB NOT NULL
);

CREATE TABLE ledger_checkpoints (
    size       INTEGER PRIMARY KEY,
    note       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
