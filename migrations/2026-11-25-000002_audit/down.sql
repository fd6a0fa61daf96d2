DROP FUNCTION audit_accesses(bigint, timestamptz, timestamptz);
DROP VIEW audit_trail;
DROP TABLE audit_codes;
DROP TABLE audit_events;
