DELETE FROM audit_codes
WHERE field = 'action' AND name IN ('coverage', 'update-coverage', 'update-coverage-replay');
DROP TABLE patient_coverage;
