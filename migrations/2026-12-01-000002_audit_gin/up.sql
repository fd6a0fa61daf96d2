-- Answers now wait for their audit row to be committed (src/store/audit),
-- so a stall of the audit writer is a stall of every request waiting on
-- it. With GIN's fast update (the default), inserts go to a pending list
-- that the inserting backend itself merges into the index once it passes
-- gin_pending_list_limit: hundreds of milliseconds, now and then, for the
-- searches that happened to be waiting (measured: search p99 356 ms).
-- Without it each multi-result search row updates the index directly, a
-- steady few entries per row (search p99 back to 20 ms).
ALTER INDEX audit_events_other_nhs_numbers SET (fastupdate = off);
