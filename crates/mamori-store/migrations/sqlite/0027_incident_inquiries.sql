-- The inquiry desk of an incident (the storefront's /oshirase/{incident}/inquiry form, read in
-- the back office under the incident). The sender's name, email, phone and message are sealed
-- together under a system key (purpose "incident.inquiry"), bound to the row's id: a copy of the
-- database shows that an inquiry came and when, not from whom nor what it says. email_bidx is the
-- back office's customer-search blind index of the email ("email:<normalised>", the key file's
-- blind-index key), so the desk can tell whether the sender matches a person in the incident's
-- scope without opening anything. customer_id is the member who was signed in, if any.
-- reception is the number shown to the sender (random, so it says nothing about how many came).
CREATE TABLE incident_inquiries (
    id          TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    reception   TEXT NOT NULL UNIQUE,
    received_at INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'answered')),
    customer_id TEXT,
    email_bidx  BLOB NOT NULL,
    sealed      BLOB NOT NULL,
    answered_at INTEGER,
    answered_by TEXT
);
CREATE INDEX incident_inquiries_incident ON incident_inquiries (incident_id, received_at);
