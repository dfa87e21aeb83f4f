-- The script inventory (PCI DSS 6.4.3): every script a page of the shop, the back office or the
-- payment provider's card page may run, with its SHA-384 digest (base64, as CSP hash sources and
-- SRI spell it), the pages it may run on (space-separated patterns: `*`, `/path`, `/prefix*`)
-- and why it is there. The storefront's Content-Security-Policy is built from the shop's rows.
-- Each change is a new version, written with who made it and why; every version is kept in
-- script_inventory_history. Nothing here is personal.
CREATE TABLE script_inventory (
    url           TEXT PRIMARY KEY,
    site          TEXT NOT NULL,
    sha384        TEXT NOT NULL,
    pages         TEXT NOT NULL,
    justification TEXT NOT NULL,
    -- 'active' or 'retired' (a retired script is allowed nowhere).
    state         TEXT NOT NULL,
    version       BIGINT NOT NULL,
    changed_by    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    changed_at    BIGINT NOT NULL
);
CREATE TABLE script_inventory_history (
    url           TEXT NOT NULL,
    site          TEXT NOT NULL,
    sha384        TEXT NOT NULL,
    pages         TEXT NOT NULL,
    justification TEXT NOT NULL,
    state         TEXT NOT NULL,
    version       BIGINT NOT NULL,
    changed_by    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    changed_at    BIGINT NOT NULL,
    PRIMARY KEY (url, version)
);
