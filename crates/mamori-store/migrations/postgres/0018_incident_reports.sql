-- The incident desk's reports (mamori-respond's report module): every saved version of the PPC
-- report (速報 or 確報) of an incident, kept. Append-only like the timeline: the trigger below
-- refuses every UPDATE and DELETE, so an old version stays as it was saved. Each save is also an
-- entry of the incident's timeline (and so of the ledger) whose text names this row's id and the
-- SHA-256 of its content. The content is the report's JSON: staff's words, the reporter's details
-- and counts; never a customer's value.

CREATE TABLE incident_reports (
    id             TEXT PRIMARY KEY,
    incident_id    BIGINT NOT NULL REFERENCES incidents (id),
    kind           TEXT NOT NULL CHECK (kind IN ('sokuho', 'kakuho')),
    -- 1-based, per incident and kind.
    version        BIGINT NOT NULL,
    saved_at       BIGINT NOT NULL,
    saved_by       TEXT NOT NULL,
    -- The scope snapshot the counts come from, if one was computed.
    scope_id       TEXT REFERENCES incident_scopes (id),
    content        TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    -- The timeline entry that records the save.
    timeline_seq   BIGINT NOT NULL,
    UNIQUE (incident_id, kind, version)
);
-- incident_append_only() is 0015's (it names the table in its message).
CREATE TRIGGER incident_reports_append_only BEFORE UPDATE OR DELETE ON incident_reports
    FOR EACH ROW EXECUTE FUNCTION incident_append_only();
