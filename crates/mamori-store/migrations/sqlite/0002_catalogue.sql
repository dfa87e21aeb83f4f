-- The catalogue: nothing personal here, so nothing sealed.

CREATE TABLE categories (
    id       TEXT PRIMARY KEY,
    slug     TEXT NOT NULL UNIQUE,
    name_ja  TEXT NOT NULL,
    name_en  TEXT NOT NULL,
    position INTEGER NOT NULL
);

CREATE TABLE products (
    id                  TEXT PRIMARY KEY,
    sku                 TEXT NOT NULL UNIQUE,
    category_id         TEXT NOT NULL REFERENCES categories (id),
    name_ja             TEXT NOT NULL,
    name_en             TEXT NOT NULL,
    description_ja      TEXT NOT NULL,
    description_en      TEXT NOT NULL,
    price_incl          INTEGER NOT NULL CHECK (price_incl >= 0),
    tax_rate            TEXT NOT NULL CHECK (tax_rate IN ('standard', 'reduced')),
    stock               INTEGER NOT NULL CHECK (stock >= 0),
    offers_personalisation INTEGER NOT NULL,
    offers_noshi        INTEGER NOT NULL,
    active              INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX products_category ON products (category_id, active, sku);
