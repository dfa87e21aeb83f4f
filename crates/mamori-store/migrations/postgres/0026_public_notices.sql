-- The public notice (公表, お詫びとお知らせ) of an incident (mamori-respond's public_notice
-- module), shown on the storefront at /oshirase/{incident id} while it is published.
--
-- public_notice_versions: every saved version of the page's text, kept. Append-only like the
-- timeline: an old version stays as it was saved (and as it was published). Each save is also an
-- entry of the incident's timeline (and so of the ledger). The text is staff's words and the
-- scope's counts and kinds of items; never a customer's value.
CREATE TABLE public_notice_versions (
    incident_id    BIGINT NOT NULL REFERENCES incidents (id),
    -- 1-based, per incident.
    version        BIGINT NOT NULL,
    saved_at       BIGINT NOT NULL,
    saved_by       TEXT NOT NULL,
    -- Why it was saved (staff's words, required).
    reason         TEXT NOT NULL,
    -- The scope snapshot the counts come from, if one was computed.
    scope_id       TEXT REFERENCES incident_scopes (id),
    title_ja       TEXT NOT NULL,
    body_ja        TEXT NOT NULL,
    title_en       TEXT NOT NULL,
    body_en        TEXT NOT NULL,
    -- SHA-256 of the four texts (length-prefixed), as the timeline entry names it.
    content_sha256 TEXT NOT NULL,
    PRIMARY KEY (incident_id, version)
);

-- Which version of an incident's notice is on the storefront: one row per incident that was
-- ever published; version is NULL once unpublished (the banner ends with it).
CREATE TABLE public_notices (
    incident_id  BIGINT PRIMARY KEY REFERENCES incidents (id),
    version      BIGINT,
    -- When the shown version was published (or the notice unpublished), and by whom.
    changed_at   BIGINT NOT NULL,
    changed_by   TEXT NOT NULL,
    -- The first publication of the incident's notice (the page's date stays).
    first_published_at BIGINT NOT NULL,
    FOREIGN KEY (incident_id, version) REFERENCES public_notice_versions (incident_id, version)
);
CREATE INDEX public_notices_published ON public_notices (version, first_published_at);

-- incident_append_only() is 0015's (it names the table in its message).
CREATE TRIGGER public_notice_versions_append_only BEFORE UPDATE OR DELETE ON public_notice_versions
    FOR EACH ROW EXECUTE FUNCTION incident_append_only();
