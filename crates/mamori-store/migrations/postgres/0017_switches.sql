-- The incident desk's switches (mamori-respond `switches`) share the guard's switch table: the
-- shop closed (`shop`), card payment stopped (`card_payment`, the same switch the file guard and
-- the browser monitor close), staff frozen (`staff`) and the key ring's generation (`key_ring`,
-- whose detail is the active master key id, so that every `mamori serve` reloads the key file).
-- `detail` holds a switch's non-secret parameter (the public notice URL of a closed shop, a
-- master key id); `incident_id` the incident it was turned for. Nothing here is personal.
ALTER TABLE guard_switches ADD COLUMN detail TEXT;
ALTER TABLE guard_switches ADD COLUMN incident_id BIGINT;
