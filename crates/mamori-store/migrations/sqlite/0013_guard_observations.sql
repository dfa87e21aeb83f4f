-- The browser monitor (mamori-guard): what a watched page executed, as a headless browser saw it
-- (every script by URL and SHA-384) and where its forms post (origins only). Per page there is one
-- known-good observation ('good': the first one, or the one an owner approved) and at most one
-- 'pending' (the latest one that differs from it, what an approval would accept). Nothing here is
-- personal: page routes, URLs and hashes.

CREATE TABLE guard_observations (
    id           TEXT PRIMARY KEY,
    page         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('good', 'pending')),
    -- JSON object: script key (URL, or "inline#n") -> "sha384-<base64>".
    scripts      TEXT NOT NULL,
    -- JSON array of the origins the page's forms post to.
    form_origins TEXT NOT NULL,
    observed_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX guard_observations_page_state ON guard_observations (page, state);
