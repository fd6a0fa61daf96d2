-- One row per NHS number. Only what queries filter or lock on gets a column;
-- the lists and extensions live in `details`, a compact encoded value that
-- the server renders to FHIR (see src/store/codec.rs). At 70 million rows
-- every byte here costs 70 MB, so columns are ordered widest first to avoid
-- alignment padding and there are at most eight (a null bitmap beyond eight
-- columns pushes the tuple header from 24 to 32 bytes).
CREATE TABLE patients (
    nhs_number    bigint      PRIMARY KEY,
    -- Set when this number was merged into another record (PDS "superseded").
    superseded_by bigint,
    deceased_at   timestamptz,
    version       integer     NOT NULL CHECK (version > 0),
    birth_date    date,
    -- 0 unrestricted (U), 1 restricted (R), 2 very restricted (V),
    -- 3 invalidated (PDS's REDACTED: never returned).
    security      smallint    NOT NULL CHECK (security BETWEEN 0 AND 3),
    -- 0 male, 1 female, 2 other, 3 unknown.
    gender        smallint    CHECK (gender BETWEEN 0 AND 3),
    details       bytea       NOT NULL,
    CHECK (superseded_by IS NULL OR superseded_by <> nhs_number)
);

-- Every earlier version of a record, written by updates in the same
-- transaction that changes `patients`. Keyed for "version n of patient x"
-- and "all versions of x, newest first".
CREATE TABLE patient_versions (
    nhs_number    bigint      NOT NULL,
    version       integer     NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    superseded_by bigint,
    deceased_at   timestamptz,
    birth_date    date,
    security      smallint    NOT NULL,
    gender        smallint,
    details       bytea       NOT NULL,
    PRIMARY KEY (nhs_number, version)
);
