-- A patient's European (or UK Global) Health Insurance Card, as PDS holds
-- it (GET/POST /Coverage, src/api/coverage.rs). Few patients have one, so
-- a table of its own costs the other 70 million nothing, where a field in
-- `patients.details` would change its fixed layout.
--
-- One row per EHIC a patient has had, keyed by the record version that set
-- it: POST /Coverage is an update of the patient record (version + 1, the
-- old version kept in `patient_versions`), and writes its row with that new
-- version in the same statement (src/store/coverage.rs). The EHIC of
-- version v of a record is its row with the highest version <= v: one
-- backward range scan of the primary key, the only index. So a read that
-- saw version v never pairs it with a later EHIC, and a retried POST shows
-- the EHIC it set, even after another has replaced it. Rows are only added
-- when an EHIC changes: nothing grows for patients without one.
--
-- Typed columns rather than an encoded value: the EHIC is five flat
-- scalars with no lists or optional parts to pack, so an encoding would
-- save only a few length bytes (a row is 78 bytes for the sandbox card,
-- 127 at the longest values, measured with pg_column_size, plus its
-- primary-key entry), and columns let PostgreSQL check the PDS limits
-- itself and let a person read the table. A later field is an ADD COLUMN, with no format byte.
--
-- `institution` and `personal_id` may be NULL for EHICs loaded from
-- elsewhere: PDS then returns no coverage at all ("If EHIC details are
-- stored on PDS but the personal ID or institution ID are missing then the
-- entire EHIC record will not be returned"), and so does this service. A
-- POST always sets both.
--
-- No foreign key to `patients`, as for `related_people`: rows are only read
-- after their patient's row, and a bulk load should not pay a lookup each.
CREATE TABLE patient_coverage (
    nhs_number  bigint  NOT NULL,
    version     integer NOT NULL CHECK (version > 0),
    -- Expiry of the card (FHIR `period.end`).
    expires     date    NOT NULL,
    -- ISO 3166-1 alpha-3 code of the issuing country (`identifier.assigner`).
    country     text    COLLATE "C" NOT NULL CHECK (country ~ '^[A-Z]{3}$'),
    -- Card number (`identifier.value`).
    card_number text    NOT NULL CHECK (char_length(card_number) BETWEEN 1 AND 25),
    -- Institution id (`payor.identifier.value`).
    institution text    CHECK (char_length(institution) BETWEEN 1 AND 30),
    -- Personal id (`beneficiary.identifier.value`).
    personal_id text    CHECK (char_length(personal_id) BETWEEN 1 AND 25),
    PRIMARY KEY (nhs_number, version)
);

-- Audit vocabulary (src/store/audit/row.rs): reading an EHIC, changing it,
-- and a retried change answered from its kept answer.
INSERT INTO audit_codes (field, code, name) VALUES
    ('action', 9, 'coverage'),
    ('action', 10, 'update-coverage'),
    ('action', 11, 'update-coverage-replay');
