DROP TABLE patient_former_names;
DROP INDEX patients_birth_family;
DROP INDEX patients_family_birth;
ALTER TABLE patients DROP COLUMN family_key;
