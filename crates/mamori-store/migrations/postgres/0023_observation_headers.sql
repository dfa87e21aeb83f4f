-- The browser monitor also records the main document's security headers and the origin the
-- document ended on after redirects. Nullable: a row from before this migration reads as "not
-- recorded yet", and the monitor's next walk adopts what it sees into the known-good row silently.

-- JSON object: lowercased header name -> value as sent (CSP, HSTS, X-Frame-Options, ...).
ALTER TABLE guard_observations ADD COLUMN headers TEXT;
-- The document's origin after redirects (ASCII serialization).
ALTER TABLE guard_observations ADD COLUMN final_origin TEXT;
