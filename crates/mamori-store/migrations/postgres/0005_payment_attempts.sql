-- Every payment attempt of an order is its own row: a declined card followed by a retry gives two.
-- Before, one row per order was replaced by each attempt, so a late update of an old attempt (its
-- webhook) could put the old payment id back over the new one. `attempt` numbers them per order.
ALTER TABLE payments DROP CONSTRAINT payments_pkey;
ALTER TABLE payments DROP CONSTRAINT payments_payment_id_key;
ALTER TABLE payments ADD PRIMARY KEY (payment_id);
ALTER TABLE payments ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE payments ALTER COLUMN attempt DROP DEFAULT;
CREATE INDEX payments_order ON payments (order_id, attempt);
