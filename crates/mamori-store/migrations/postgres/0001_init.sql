-- mamori schema, PostgreSQL dialect. Personal values are only ever stored as AEAD ciphertext (`*_ct`),
-- bound to table, column and row id; lookups go through keyed blind indexes (`*_bidx`).

CREATE TABLE customers (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('member', 'guest')),
    email_bidx    BYTEA,
    name_ct       BYTEA,
    email_ct      BYTEA,
    phone_ct      BYTEA,
    birth_date_ct BYTEA,
    gender_ct     BYTEA,
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    erased_at     BIGINT
);
CREATE UNIQUE INDEX customers_member_email ON customers (email_bidx)
    WHERE kind = 'member' AND erased_at IS NULL;

-- One data key per customer, wrapped by a master key that never enters the database.
-- Deleting the row is the erasure (crypto-shredding).
CREATE TABLE customer_keys (
    customer_id   TEXT PRIMARY KEY REFERENCES customers (id),
    master_key_id TEXT NOT NULL,
    wrapped       BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    rotated_at    BIGINT
);
CREATE INDEX customer_keys_master ON customer_keys (master_key_id);

CREATE TABLE addresses (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    name_ct     BYTEA,
    address_ct  BYTEA,
    phone_ct    BYTEA,
    created_at  BIGINT NOT NULL
);
CREATE INDEX addresses_customer ON addresses (customer_id);

CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    order_number     TEXT NOT NULL UNIQUE,
    customer_id      TEXT NOT NULL REFERENCES customers (id),
    idempotency_key  TEXT NOT NULL UNIQUE,
    state            TEXT NOT NULL,
    payment_method   TEXT NOT NULL,
    items_total      BIGINT NOT NULL,
    cod_fee          BIGINT NOT NULL,
    shipping_fee     BIGINT NOT NULL,
    total            BIGINT NOT NULL,
    tax_standard     BIGINT NOT NULL,
    tax_reduced      BIGINT NOT NULL,
    buyer_name_ct    BYTEA,
    buyer_email_ct   BYTEA,
    buyer_phone_ct   BYTEA,
    buyer_address_ct BYTEA,
    placed_at        BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, placed_at);
CREATE INDEX orders_placed ON orders (placed_at);

CREATE TABLE order_items (
    order_id           TEXT NOT NULL REFERENCES orders (id),
    line_no            BIGINT NOT NULL,
    sku                TEXT NOT NULL,
    product_name       TEXT NOT NULL,
    unit_price         BIGINT NOT NULL,
    tax_rate           TEXT NOT NULL,
    quantity           BIGINT NOT NULL,
    personalisation_ct BYTEA,
    noshi_ct           BYTEA,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE shipments (
    order_id      TEXT NOT NULL REFERENCES orders (id),
    shipment_no   BIGINT NOT NULL,
    name_ct       BYTEA,
    address_ct    BYTEA,
    phone_ct      BYTEA,
    delivery_date TEXT,
    delivery_slot TEXT NOT NULL,
    PRIMARY KEY (order_id, shipment_no)
);

-- The access ledger: an RFC 9162 Merkle log. `seq` is the leaf index.
CREATE TABLE ledger_entries (
    seq         BIGINT PRIMARY KEY,
    leaf_hash   BYTEA NOT NULL,
    event       BYTEA NOT NULL,
    recorded_at BIGINT NOT NULL
);
-- Which customers each event touched: the scope of an incident is a query over this.
CREATE TABLE ledger_subjects (
    customer_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (customer_id, seq)
);

CREATE TABLE ledger_state (
    id       SMALLINT PRIMARY KEY CHECK (id = 1),
    size     BIGINT NOT NULL,
    frontier BYTEA NOT NULL
);

CREATE TABLE ledger_checkpoints (
    size       BIGINT PRIMARY KEY,
    note       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
