DROP TABLE patient_versions;
DROP TABLE patients;
