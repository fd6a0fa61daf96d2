-- The audit trail: one row per request (retrieve, search, update, create,
-- denied attempt, ...), written in batches by src/store/audit.rs.
--
-- Sizing. At up to ~20,000 requests/s this table gains ~1.7 billion rows a
-- day, so every byte per row costs ~1.7 GB a day. The design keeps a typical
-- row (a retrieve by a healthcare worker, UUID request and correlation IDs)
-- at about 180 bytes on the heap:
--   line pointer 4 + tuple header 32 (23 bytes + a 3-byte null bitmap,
--   aligned to 8) + at 8 + nhs_number 8 + request_id 16 + correlation_id 16
--   + status, access_mode, action, level 4 x 2 + redacted, sensitive_override
--   2 x 1 + user_id 13 + role_id 13 + role_code 18 + org_code 7
--   + client_id ~33 (short text has a 1-byte header) = ~180 bytes,
-- plus ~40 bytes in the (nhs_number, at) btree (measured with 200,000 such
-- rows: 182 bytes of heap and 39 of btree per row; the BRIN index is three
-- pages). Storing the same as text would cost ~90 bytes more (two 37-byte
-- UUID strings, three names).
--
-- How values are stored:
-- * Vocabularies the service itself defines (access mode, action, access
--   level) are smallint codes, decoded by `audit_codes` and the
--   `audit_trail` view. A value the code table does not know yet is kept
--   verbatim in the matching `*_name` column instead (code NULL), so nothing
--   is lost when the application gains a new action before a migration adds
--   its code. NULL columns cost one bit in the null bitmap, nothing else.
-- * Request and correlation IDs are `uuid` (16 bytes instead of 37) when the
--   header held a canonical lower-case UUID, as PDS clients send; anything
--   else is kept verbatim in `*_text`.
-- * NHS numbers: `nhs_number` holds the first (for a retrieve, update or
--   create, the only) one; `other_nhs_numbers` holds the rest and is NULL
--   unless a search returned several. A bigint[] for every row would cost
--   24 bytes of array header on top of each 8-byte number, and would need a
--   GIN index over all rows; nearly all requests concern one patient.
-- * No primary key, no foreign keys and no CHECK constraints: the table is
--   append-only, nothing refers to its rows, and each constraint or extra
--   index is work on every one of the 20,000 inserts a second. The writer
--   guarantees the encoding (see src/store/audit.rs).
-- * Never tokens or patient data: identifiers of the caller and the NHS
--   numbers only.
--
-- At full production volume the table should be range-partitioned by `at`
-- (daily), so retention is a DROP of old partitions rather than a DELETE;
-- that needs a scheduler to create partitions ahead of time and is left to
-- deployment.
CREATE TABLE audit_events (
    -- Widest, fixed-width columns first to avoid alignment padding.
    at                  timestamptz NOT NULL,
    nhs_number          bigint,
    request_id          uuid,
    correlation_id      uuid,
    -- HTTP status of the response (a denied attempt: 401, 403, ...).
    status              smallint    NOT NULL,
    access_mode         smallint,
    action              smallint,
    level               smallint,
    -- A restricted record was returned with its location data removed.
    redacted            boolean     NOT NULL,
    -- A restricted record was returned unredacted (sensitive_view).
    sensitive_override  boolean     NOT NULL,
    -- The caller, as the token names it: CIS2 uid, person_roleid, role code
    -- (S8000:G8000:R8000), ODS org code; the client application's ID.
    user_id             text,
    role_id             text,
    role_code           text,
    org_code            text,
    client_id           text,
    -- Values that did not fit the compact columns above (normally NULL).
    request_id_text     text,
    correlation_id_text text,
    access_mode_name    text,
    action_name         text,
    level_name          text,
    other_nhs_numbers   bigint[]
);

-- An investigation asks "who accessed NHS number X between t1 and t2".
-- A btree on (nhs_number, at) answers it with one range scan over exactly
-- the matching rows; a GIN on an array of every row's numbers could not
-- use the time range, and GIN maintenance (pending-list merges) is costly
-- at this insert rate.
CREATE INDEX audit_events_nhs_number_at ON audit_events (nhs_number, at);

-- The remaining numbers of multi-result searches. Partial, so the ~99% of
-- rows without any pay nothing (GIN would otherwise index their NULLs).
CREATE INDEX audit_events_other_nhs_numbers ON audit_events
    USING gin (other_nhs_numbers) WHERE other_nhs_numbers IS NOT NULL;

-- Rows arrive in time order, so a BRIN index (a few pages for billions of
-- rows) serves time-range scans: "everything between t1 and t2", retention.
CREATE INDEX audit_events_at ON audit_events USING brin (at);

-- The codes of the smallint columns. Mirrors the constants in
-- src/store/audit.rs (a test checks they agree); a new value needs a new
-- migration adding its row.
CREATE TABLE audit_codes (
    field text     NOT NULL,
    code  smallint NOT NULL,
    name  text     NOT NULL,
    PRIMARY KEY (field, code),
    UNIQUE (field, name)
);

INSERT INTO audit_codes (field, code, name) VALUES
    ('access_mode', 1, 'healthcare-worker'),
    ('access_mode', 2, 'application-restricted'),
    ('access_mode', 3, 'privileged-application'),
    ('access_mode', 4, 'patient-access'),
    ('access_mode', 5, 'unauthenticated'),
    ('action', 1, 'retrieve'),
    ('action', 2, 'search'),
    ('action', 3, 'update'),
    ('action', 4, 'create'),
    ('action', 5, 'history'),
    ('action', 6, 'related'),
    ('level', 0, 'none'),
    ('level', 1, 'app_lookup'),
    ('level', 2, 'privileged_app'),
    ('level', 3, 'patient_self'),
    ('level', 4, 'staff_view'),
    ('level', 5, 'sensitive_view'),
    ('level', 6, 'demographics_update'),
    ('level', 7, 'demographics_admin');

-- The trail as people read it: names instead of codes, IDs as text.
CREATE VIEW audit_trail AS
SELECT e.at,
       coalesce(e.request_id::text, e.request_id_text) AS request_id,
       coalesce(e.correlation_id::text, e.correlation_id_text) AS correlation_id,
       coalesce(m.name, e.access_mode_name) AS access_mode,
       e.user_id,
       e.role_id,
       e.role_code,
       e.org_code,
       e.client_id,
       coalesce(l.name, e.level_name) AS level,
       coalesce(a.name, e.action_name) AS action,
       e.nhs_number,
       e.other_nhs_numbers,
       e.status,
       e.redacted,
       e.sensitive_override
FROM audit_events e
LEFT JOIN audit_codes m ON m.field = 'access_mode' AND m.code = e.access_mode
LEFT JOIN audit_codes a ON a.field = 'action' AND a.code = e.action
LEFT JOIN audit_codes l ON l.field = 'level' AND l.code = e.level;

-- The investigation, as one call that uses the two indexes above:
--   SELECT * FROM audit_accesses(9000000009, '2026-01-01', '2026-02-01');
CREATE FUNCTION audit_accesses(number bigint, since timestamptz, until timestamptz)
RETURNS SETOF audit_trail
LANGUAGE sql STABLE
AS $$
    SELECT * FROM (
        SELECT * FROM audit_trail
        WHERE nhs_number = number AND at >= since AND at < until
        UNION ALL
        SELECT * FROM audit_trail
        WHERE other_nhs_numbers @> ARRAY[number] AND at >= since AND at < until
    ) hits
    ORDER BY at
$$;
