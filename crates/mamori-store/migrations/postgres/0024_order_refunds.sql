-- Refunds of part of an order (a full refund moves the order to 'refunded' and is recorded here
-- too): the amount, the staff member's reason, the provider's refund id for card orders, and
-- the key that makes a resubmitted confirmation refund once. Unix seconds, like the back
-- office's tables. Nothing here names a person.
CREATE TABLE order_refunds (
    id                 TEXT PRIMARY KEY,
    order_id           TEXT NOT NULL REFERENCES orders (id),
    amount             BIGINT NOT NULL CHECK (amount > 0),
    reason             TEXT NOT NULL,
    provider_refund_id TEXT,
    idempotency_key    TEXT NOT NULL UNIQUE,
    staff_id           TEXT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX order_refunds_by_order ON order_refunds (order_id, created_at);
