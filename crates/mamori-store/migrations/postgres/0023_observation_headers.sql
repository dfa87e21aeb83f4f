-- The browser monitor also records the main document's security headers and the origin the
-- document ended on after redirects. Nullable: a row from before this migration reads as "not
-- recorded yet", and the monitor's next walk adopts what it sees into the known-good row silently.

-- JSON object: lowercased header name -> value as sent (CSP, HSTS, X-Frame-Options, ...).
ALTER TABLE guard_observations ADD COLUMN headers TEXT;
-- The document's origin after redirects (ASCII serialization).
ALTER TABLE guard_observations ADD COLUMN final_origin TEXT;

-- Every walk's observation of every page, newest kept (the monitor prunes each page to its newest
-- 100): what the back office's guard page lists. Nothing here is personal either.
CREATE TABLE guard_observation_history (
    id           TEXT PRIMARY KEY,
    page         TEXT NOT NULL,
    scripts      TEXT NOT NULL,
    form_origins TEXT NOT NULL,
    headers      TEXT,
    final_origin TEXT,
    observed_at  BIGINT NOT NULL
);
CREATE INDEX guard_observation_history_page ON guard_observation_history (page, observed_at);
