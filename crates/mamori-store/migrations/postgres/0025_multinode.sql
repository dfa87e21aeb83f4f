-- Several `mamori serve` processes on one database. PostgreSQL dialect; times are Unix seconds.

-- Back-office (staff) sessions, apart from the storefront's `sessions`: the key is a hash of the
-- session id, the record opaque bytes sealed under the staff-session system key. A storefront
-- session id is never looked up here, and the back office's own timeouts decide their purge.
CREATE TABLE staff_sessions (
    key        BYTEA PRIMARY KEY,
    record     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX staff_sessions_last_seen ON staff_sessions (last_seen);
CREATE INDEX staff_sessions_created ON staff_sessions (created_at);

-- Leases of the background jobs that run on one process at a time (housekeeping, the browser
-- monitor): the holder is a process's own random id; a lease not renewed by expires_at is free.
CREATE TABLE job_leases (
    job        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    taken_at   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
