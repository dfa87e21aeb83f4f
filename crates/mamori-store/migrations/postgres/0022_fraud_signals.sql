-- Card testing and credential stuffing (issue 10): what the shop counts to notice them.
--
-- card_attempts: one row per card payment the checkout created at the provider, with who asked
-- for it (ip_key: a keyed hash of the client's address, IPv6 by /64; session_key: a keyed hash
-- of the session's id), the provider's card fingerprint once known (an HMAC of the card number
-- under the provider's secret; never the number) and when the provider declined it. The
-- decline counts per client, session, card and shop over sliding windows are indexed counts of
-- rows with declined_at in the window, so every `mamori serve` on one database counts together.
-- Rows older than the longest window are pruned. No personal value, no plain address.
CREATE TABLE card_attempts (
    payment_id  TEXT PRIMARY KEY,
    ip_key      TEXT NOT NULL,
    session_key TEXT NOT NULL,
    fingerprint TEXT,
    created_at  BIGINT NOT NULL,
    declined_at BIGINT
);
CREATE INDEX card_attempts_ip ON card_attempts (ip_key, declined_at) WHERE declined_at IS NOT NULL;
CREATE INDEX card_attempts_session ON card_attempts (session_key, declined_at)
    WHERE declined_at IS NOT NULL;
CREATE INDEX card_attempts_fingerprint ON card_attempts (fingerprint, declined_at)
    WHERE fingerprint IS NOT NULL;
CREATE INDEX card_attempts_declined ON card_attempts (declined_at) WHERE declined_at IS NOT NULL;
CREATE INDEX card_attempts_created ON card_attempts (created_at);

-- login_failures: a failed sign-in (realm 'member' for the storefront, 'staff' for the back
-- office) from a source (keyed hash of the client's address) to an account (keyed hash of the
-- name typed: never the name). Many distinct accounts from one source in a window is
-- credential stuffing. Pruned like card_attempts.
CREATE TABLE login_failures (
    id      TEXT PRIMARY KEY,
    realm   TEXT NOT NULL,
    source  TEXT NOT NULL,
    account TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX login_failures_source ON login_failures (realm, source, at);
CREATE INDEX login_failures_at ON login_failures (at);
