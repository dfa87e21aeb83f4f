-- CSP violation reports from the shop's pages, aggregated: one row per page path, effective
-- directive and blocked origin, with a count and first/last seen times (Unix seconds). The page is
-- the document URL's path only (a query can hold a personal value) and the blocked resource is
-- kept as its origin (scheme, host, port) or a keyword (`inline`, `eval`), never a full URL. The
-- report endpoint is public, so the writer caps the number of rows: a flood of forged reports
-- bumps counts or is dropped, it does not grow the table without bound.
CREATE TABLE csp_reports (
    page            TEXT NOT NULL,
    directive       TEXT NOT NULL,
    blocked_origin  TEXT NOT NULL,
    report_count    BIGINT NOT NULL DEFAULT 1,
    first_seen      BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL,
    -- The document's URL (origin and path, no query) as first reported.
    sample_document TEXT NOT NULL,
    PRIMARY KEY (page, directive, blocked_origin)
);
CREATE INDEX csp_reports_recent ON csp_reports (last_seen);
