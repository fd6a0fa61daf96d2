DELETE FROM audit_codes
WHERE (field = 'action' AND code IN (7, 8)) OR (field = 'access_mode' AND code = 6);
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys
    DROP COLUMN nhs_number,
    DROP COLUMN version,
    ADD COLUMN etag_version integer,
    ADD COLUMN body bytea NOT NULL;
