-- Finding a customer by name, reading (フリガナ), phone or email without storing any of them in
-- the clear: each is normalised and kept only as a keyed HMAC (a blind index under the key
-- file's blind-index key, purpose "customers.search"). Exact matches only; erasure removes them.
CREATE TABLE customer_search (
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    bidx        BLOB NOT NULL,
    PRIMARY KEY (bidx, customer_id)
);
CREATE INDEX customer_search_customer ON customer_search (customer_id);
