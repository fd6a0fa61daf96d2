-- The search, retrieve and update queries as src/store sends them (diesel
-- builds the same SQL with bind parameters), for EXPLAIN (ANALYZE, BUFFERS)
-- at scale. Searches are shown as a caller without sensitive access sends
-- them (`security <> 2`: very restricted records are not fetched); with
-- sensitive access the filter is absent and the plan the same.
-- bench/plans.sh runs this file and writes bench/plans/<patients>.txt.
\pset pager off
\echo == family + birth date (the common GP search)
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM patients
 WHERE superseded_by IS NULL AND security < 3 AND security <> 2
   AND birth_date >= :'birth' AND birth_date <= :'birth' AND family_key = :'family' LIMIT 10001;
\echo == wildcard family (first three letters) + birth date
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM patients
 WHERE superseded_by IS NULL AND security < 3 AND security <> 2
   AND birth_date >= :'birth' AND birth_date <= :'birth' AND family_key LIKE :'prefix' LIMIT 10001;
\echo == family + an open birth-date range (birthdate=ge1950-01-01)
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM patients
 WHERE superseded_by IS NULL AND security < 3 AND security <> 2
   AND birth_date >= '1950-01-01' AND family_key = :'family' LIMIT 10001;
\echo == fuzzy: every candidate born that day, names compared in code
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM patients
 WHERE superseded_by IS NULL AND security < 3 AND security <> 2
   AND birth_date >= :'birth' AND birth_date <= :'birth' LIMIT 10001;
\echo == history: former family names, then current or former
EXPLAIN (ANALYZE, BUFFERS) SELECT nhs_number FROM patient_former_names
 WHERE family_key = :'family' AND birth_date >= :'birth' AND birth_date <= :'birth' LIMIT 10001;
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM patients
 WHERE superseded_by IS NULL AND security < 3 AND security <> 2
   AND birth_date >= :'birth' AND birth_date <= :'birth'
   AND (family_key = :'family' OR nhs_number = ANY(ARRAY[9990000018, 9990000026]::bigint[])) LIMIT 10001;
\echo == retrieve by NHS number
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM patients WHERE nhs_number = 9990000018 LIMIT 1;
\echo == a batch of retrieves (src/store/lookup.rs): 32 random numbers in one query
SELECT array_agg(nhs_number) AS batch FROM (SELECT nhs_number FROM patients TABLESAMPLE SYSTEM (0.01) LIMIT 32) s \gset
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM patients WHERE nhs_number = ANY(:'batch'::bigint[]);
\echo == PATCH: read the row and look up the request id in one query (src/store/updates.rs, current)
EXPLAIN (ANALYZE, BUFFERS) SELECT p.*, EXISTS (SELECT 1 FROM idempotency_keys k
   WHERE k.request_id = 'a3f1c0de-0000-4000-8000-000000000001' AND k.created_at > now() - interval '24 hours')
 FROM patients p WHERE p.nhs_number = 9990000018 LIMIT 1;
\echo == history and vread: how many earlier versions are kept, and their strictest label (src/store/updates.rs, history_summary)
EXPLAIN (ANALYZE, BUFFERS) SELECT count(*), max(security) FROM patient_versions WHERE nhs_number = 9990000018;
