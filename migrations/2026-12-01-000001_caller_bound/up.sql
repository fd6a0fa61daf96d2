-- Retry answers are bound to the caller who got them, and kept as the
-- version they produced rather than the body that was sent.
--
-- * `request_hash` now covers the caller's identity (user and role, or the
--   client application, or the patient) as well as method, path and body
--   (src/api/writes.rs): a retry is recognised only for the same caller, and
--   anybody else reusing the id gets the 400 of a reused id.
-- * A replay re-reads the version (`nhs_number`, `version`) and renders it
--   for the clearance of whoever asks now, so an answer given to a caller
--   with sensitive access is never handed to one without. It also shrinks
--   the table: 12 bytes where a rendered Patient took several KB.
--
-- Answers kept before this migration cannot be checked against a caller,
-- so they are dropped: a retry of such a request is treated as new, and
-- finds the record's version moved on (PATCH: 409) or the patient already
-- there (POST: SINGLE_MATCH). Nothing is applied twice.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys
    DROP COLUMN body,
    DROP COLUMN etag_version,
    ADD COLUMN nhs_number bigint  NOT NULL,
    ADD COLUMN version    integer NOT NULL;

-- Audit vocabulary (src/store/audit/mod.rs): retries answered from a kept
-- answer, and tokens that verified but carry no scope of this API.
INSERT INTO audit_codes (field, code, name) VALUES
    ('action', 7, 'update-replay'),
    ('action', 8, 'create-replay'),
    ('access_mode', 6, 'unknown-scope');
