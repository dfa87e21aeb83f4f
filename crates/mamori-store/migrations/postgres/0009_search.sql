-- Catalogue search. `search_text` is the product's names, descriptions, SKU and category names
-- folded by the application (NFKC, lower case, katakana as hiragana: mamori_domain::search), so
-- ＬＥＤ, LED and led, or パッキン and ぱっきん, are the same text. Every query term is matched as a
-- substring (LIKE) with a pg_trgm trigram index (a trusted extension: the database owner may
-- create it). The store fills the column for products written before this migration when it
-- migrates.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER TABLE products ADD COLUMN search_text TEXT;
CREATE INDEX products_search ON products USING gin (search_text gin_trgm_ops);
