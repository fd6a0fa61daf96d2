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
\echo == the batch of retrieves with its audit rows (src/store/lookup.rs, Audited), rolled back
BEGIN;
EXPLAIN (ANALYZE, BUFFERS) WITH job AS (
  SELECT now() AS at, k AS nhs_number, gen_random_uuid() AS request_id, NULL::uuid AS correlation_id,
         1::int2 AS access_mode, 1::int2 AS action, 4::int2 AS level,
         '555254240101' AS user_id, '555254242106' AS role_id, 'S8000:G8000:R8000' AS role_code,
         'A81001' AS org_code, NULL::text AS client_id, NULL::text AS request_id_text,
         NULL::text AS correlation_id_text, NULL::text AS access_mode_name, NULL::text AS action_name,
         NULL::text AS level_name, 0::int2 AS clearance
  FROM unnest(:'batch'::bigint[]) k),
found AS (SELECT * FROM patients WHERE nhs_number = ANY(:'batch'::bigint[])),
merged AS (SELECT * FROM patients WHERE nhs_number IN (SELECT superseded_by FROM found
  WHERE security < 3 AND superseded_by IS NOT NULL)),
shown AS (SELECT j.*, CASE WHEN f.security = 3 THEN NULL WHEN f.superseded_by IS NULL THEN f.security
                            WHEN m.security < 3 THEN m.security END AS label,
                 f.superseded_by AS merged_into, m.superseded_by AS merged_again
  FROM job j LEFT JOIN found f ON f.nhs_number = j.nhs_number
  LEFT JOIN merged m ON m.nhs_number = f.superseded_by AND f.security < 3),
audited AS (INSERT INTO audit_events (at, nhs_number, request_id, correlation_id, status, access_mode,
    action, level, redacted, sensitive_override, user_id, role_id, role_code, org_code, client_id,
    request_id_text, correlation_id_text, access_mode_name, action_name, level_name, other_nhs_numbers)
  SELECT at, nhs_number, request_id, correlation_id, CASE WHEN label IS NULL THEN 404 ELSE 200 END,
         access_mode, action, level, coalesce(label > 0 AND label > clearance, false),
         coalesce(label > 0 AND label <= clearance, false), user_id, role_id, role_code, org_code,
         client_id, request_id_text, correlation_id_text, access_mode_name, action_name, level_name,
         CASE WHEN label IS NOT NULL AND merged_into IS NOT NULL THEN ARRAY[merged_into] END
  FROM shown WHERE merged_again IS NULL)
SELECT * FROM found UNION ALL SELECT * FROM merged;
ROLLBACK;
