-- Mass-read limits (the gateway) and canary customers (the guard).
--
-- read_opens: for every principal (staff:<id>, system:<job>, guest:<session>) and customer it has
-- opened in plaintext, the time of the latest open (Unix seconds). The distinct customers a
-- principal opened in the last minute, hour or day are the rows with opened_at in that window.
-- Written in the ledger's append transaction, so that counting, deciding and recording are one
-- step under the ledger's lock (several processes on one PostgreSQL count together). Rows older
-- than a day are pruned. Names ids only, never a value.
CREATE TABLE read_opens (
    principal   TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    opened_at   INTEGER NOT NULL,
    PRIMARY KEY (principal, customer_id)
);
CREATE INDEX read_opens_window ON read_opens (principal, opened_at);
CREATE INDEX read_opens_age ON read_opens (opened_at);

-- read_principals: a principal's stop and its owner's decisions. stopped_at is set when a read
-- crossed a budget (further reads are refused until an owner lifts the stop); reset_at is the
-- last lift (opens before it no longer count); approved_until lifts the absolute daily ceiling
-- (a share of all customers) for a job an owner approved.
CREATE TABLE read_principals (
    principal       TEXT PRIMARY KEY,
    stopped_at      INTEGER,
    stop_window     INTEGER,
    stop_opened     INTEGER,
    stop_limit      INTEGER,
    reset_at        INTEGER NOT NULL DEFAULT 0,
    approved_until  INTEGER NOT NULL DEFAULT 0,
    approved_by     TEXT,
    lifted_by       TEXT,
    lifted_at       INTEGER
);

-- canary_marks: which customers are canaries (honey customers), each id sealed under a system
-- key and bound to the row's id, so that a copy of the database tells a canary from a real
-- customer no better than it tells two real customers apart (it shows how many marks exist).
CREATE TABLE canary_marks (
    id          TEXT PRIMARY KEY,
    sealed      BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
