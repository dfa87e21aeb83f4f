-- The storefront's receipts: what the shop said about itself on an order's receipt when it was
-- first issued (a receipt is a document: a later change of name, registration number or address
-- does not rewrite it). Shop data only, no customer value. Times in Unix seconds.
CREATE TABLE issued_receipts (
    order_id            TEXT PRIMARY KEY REFERENCES orders (id),
    shop_name           TEXT NOT NULL,
    legal_name          TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    address             TEXT NOT NULL,
    contact             TEXT NOT NULL,
    issued_at           INTEGER NOT NULL
);
