-- Catalogue search. `search_text` is the product's names, descriptions, SKU and category names
-- folded by the application (NFKC, lower case, katakana as hiragana: mamori_domain::search), so
-- ＬＥＤ, LED and led, or パッキン and ぱっきん, are the same text. Every query term is matched as a
-- substring through an FTS5 trigram index kept in step by triggers. The store fills the column
-- for products written before this migration when it migrates.
ALTER TABLE products ADD COLUMN search_text TEXT;

CREATE VIRTUAL TABLE products_search USING fts5(search_text, tokenize = 'trigram');

CREATE TRIGGER products_search_insert AFTER INSERT ON products
WHEN new.search_text IS NOT NULL BEGIN
    INSERT INTO products_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

CREATE TRIGGER products_search_update AFTER UPDATE OF search_text ON products BEGIN
    DELETE FROM products_search WHERE rowid = old.rowid;
    INSERT INTO products_search (rowid, search_text)
        SELECT new.rowid, new.search_text WHERE new.search_text IS NOT NULL;
END;

CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    DELETE FROM products_search WHERE rowid = old.rowid;
END;
