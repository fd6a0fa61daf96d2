-- A patient's related people (next of kin, guardians, carers, proxies):
-- one row per related person. The only query is "all related people of
-- patient x" (GET /Patient/{id}/RelatedPerson), so the primary key
-- (nhs_number, id) is the one index: a range scan over exactly that
-- patient's rows, and it keeps ids unique per patient. As in `patients`,
-- everything else is one compact encoded value in `details` (postcard with
-- a format byte, src/store/related.rs), rendered to FHIR on the way out:
-- the sandbox's fully detailed related person (name, address, phone, all
-- four extensions) is 287 bytes here against 2.4 KB of compact FHIR JSON;
-- one known only by NHS number is 74 bytes.
--
-- A superseded number has no related people of its own: a request for it
-- follows the merge and reads those of the retained record.
--
-- No foreign key to `patients`: related people are only ever read after
-- their patient's row, and a bulk load should not pay a lookup per row.
CREATE TABLE related_people (
    nhs_number bigint NOT NULL,
    id         text   COLLATE "C" NOT NULL,
    details    bytea  NOT NULL,
    PRIMARY KEY (nhs_number, id)
);
