-- Every payment attempt of an order is its own row: a declined card followed by a retry gives two.
-- Before, one row per order was replaced by each attempt, so a late update of an old attempt (its
-- webhook) could put the old payment id back over the new one. `attempt` numbers them per order.
CREATE TABLE payments_by_attempt (
    payment_id TEXT PRIMARY KEY,
    order_id   TEXT NOT NULL REFERENCES orders (id),
    attempt    INTEGER NOT NULL,
    provider   TEXT NOT NULL,
    status     TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    brand      TEXT,
    last4      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO payments_by_attempt (payment_id, order_id, attempt, provider, status, amount, brand, last4,
                                 created_at, updated_at)
SELECT payment_id, order_id, 1, provider, status, amount, brand, last4, created_at, updated_at
FROM payments;
DROP TABLE payments;
ALTER TABLE payments_by_attempt RENAME TO payments;
CREATE INDEX payments_order ON payments (order_id, attempt);
