-- Search. Every accepted search has a birth date (PDS requires one), and
-- non-fuzzy searches a family name, so two composite indexes serve them all:
--   (family_key, birth_date): a family name (exact, or a wildcard with a
--     fixed prefix of at least two letters: LIKE 'SM%') with any birth-date
--     range, however wide;
--   (birth_date, family_key): a birth date or a short range, with the
--     family name (or its wildcard) checked inside the index, and the
--     candidate set of fuzzy and history searches, which compare names in
--     code (src/domain/search/score.rs).
-- Everything else (given name, gender, postcode, GP, email, phone) is checked
-- on those few candidates in code, so it costs no index.
--
-- family_key is the usual family name in normal form (upper case, accents
-- folded: src/domain/search/normalise.rs). The "C" collation makes LIKE
-- 'PREFIX%' an index range scan whatever the database's default collation.
ALTER TABLE patients ADD COLUMN family_key text COLLATE "C";

CREATE INDEX patients_family_birth ON patients (family_key, birth_date);
CREATE INDEX patients_birth_family ON patients (birth_date, family_key);

-- Family names a patient no longer uses (old, maiden), for `_history=true`
-- searches over a wide birth-date range. About one patient in twenty has
-- one, so this stays small.
CREATE TABLE patient_former_names (
    family_key  text   COLLATE "C" NOT NULL,
    birth_date  date,
    nhs_number  bigint NOT NULL
);
CREATE INDEX patient_former_names_family_birth
    ON patient_former_names (family_key, birth_date);
CREATE INDEX patient_former_names_nhs_number ON patient_former_names (nhs_number);
