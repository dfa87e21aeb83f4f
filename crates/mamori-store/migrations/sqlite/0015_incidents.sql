-- The incident desk (mamori-respond): incidents, their append-only timeline, and the scope
-- snapshots computed for them. Every time column holds Unix seconds. Nothing here is personal: an
-- incident names its kind, times, an alert id and a principal (staff id); its timeline holds what
-- staff wrote (the back office and the commands say that no customer's value belongs there) and
-- each entry's ledger sequence number; a scope snapshot holds customer and order ids, counts and
-- field names, never a value.

CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('database_copied', 'staff_misuse',
                     'payment_page_altered', 'card_script_altered', 'card_data_found', 'other')),
    state        TEXT NOT NULL CHECK (state IN ('open', 'contained', 'closed')),
    title        TEXT NOT NULL,
    -- 発覚: the time the shop knew; it starts the clocks of every deadline.
    known_at     INTEGER NOT NULL,
    -- The suspected window (either end may be unknown yet).
    window_from  INTEGER,
    window_to    INTEGER,
    -- The principal suspected (a staff account for staff_misuse), as the ledger names it.
    principal    TEXT,
    -- 1 when the cause is 不正の目的 (規則7条3号): the 確報 is due in 60 days instead of 30.
    malicious    INTEGER NOT NULL DEFAULT 0 CHECK (malicious IN (0, 1)),
    alert_id     TEXT REFERENCES alerts (id),
    opened_by    TEXT NOT NULL,
    opened_at    INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX incidents_opened ON incidents (opened_at);

-- Append-only: the triggers below refuse every UPDATE and DELETE. Each entry is also in the
-- ledger (an `incident` event whose reason is the SHA-256 of the entry), at `ledger_seq`.
CREATE TABLE incident_timeline (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('opened', 'alert', 'switch', 'staff_action', 'note',
                    'state', 'scope')),
    actor       TEXT NOT NULL,
    text        TEXT NOT NULL,
    ref_id      TEXT,
    ledger_seq  INTEGER NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
CREATE TRIGGER incident_timeline_no_update BEFORE UPDATE ON incident_timeline
BEGIN
    SELECT RAISE(ABORT, 'incident_timeline is append-only');
END;
CREATE TRIGGER incident_timeline_no_delete BEFORE DELETE ON incident_timeline
BEGIN
    SELECT RAISE(ABORT, 'incident_timeline is append-only');
END;

-- Scope snapshots: what was computed, against which ledger tree head, and the SHA-256 of the
-- canonical JSON content (so that a later run can show it computes the same).
CREATE TABLE incident_scopes (
    id             TEXT PRIMARY KEY,
    incident_id    INTEGER NOT NULL REFERENCES incidents (id),
    computed_at    INTEGER NOT NULL,
    computed_by    TEXT NOT NULL,
    tree_size      INTEGER NOT NULL,
    root_hash      TEXT NOT NULL,
    content        TEXT NOT NULL,
    content_sha256 TEXT NOT NULL
);
CREATE INDEX incident_scopes_incident ON incident_scopes (incident_id, computed_at);
CREATE TRIGGER incident_scopes_no_update BEFORE UPDATE ON incident_scopes
BEGIN
    SELECT RAISE(ABORT, 'incident_scopes is append-only');
END;

-- Payment attempts by time: the card page's visitors in a window.
CREATE INDEX payments_created ON payments (created_at);
