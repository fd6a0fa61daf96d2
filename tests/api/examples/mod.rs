//! Every example request of the PDS OpenAPI document
//! (`personal-demographics.yaml`: the "Sandbox test scenarios" tables of
//! retrieve, search and update, the search parameters' `examples`, and the
//! PATCH request bodies in `components/examples/requests/PatientPatch/`),
//! walked on the seeded server as a healthcare worker would send it.
//!
//! Where the document contradicts itself or the sandbox's own bodies, the
//! sandbox's records win (README, "Where the documented examples
//! disagree"); the rows marked ≠ answer differently from the document, and
//! say why.
//!
//! Retrieve (`GET /Patient/{id}`):
//!
//! | request | documented answer | here |
//! |---|---|---|
//! | `9000000009` | 200, the full record | the sandbox body, field by field; telecom periods open-ended ≠ |
//! | `9000000025` | 200, restricted data removed | the sandbox body, field by field |
//! | `9000000033` | 200, minimal data | the sandbox body, field by field |
//! | `9111231130` | 404 | 404 `RESOURCE_NOT_FOUND` |
//! | `9000000000` | 400 | 400 `INVALID_RESOURCE_ID` |
//! | no `X-Request-ID` | 400 | 400 `MISSING_VALUE` |
//!
//! Search (`GET /Patient`; `Sm*` is sent as `Sm%2A`):
//!
//! | scenario | request | documented answer | here |
//! |---|---|---|---|
//! | phone & email positive | `family=Smith, gender=female, birthdate=eq2010-10-22, email=jane.smith@example.com, phone=01632960587` | one result | `9000000009` |
//! | phone & email negative | the same with `email=deb.trotter@example.com, phone=0121111111` | no results | none |
//! | wildcard | `family=Sm*, gender=female, birthdate=eq2010-10-22` | two results | ≠ three: `9000000009`, `9000000017`, and `9000000025` (Janet Smythe, born 2010-10-22 in the sandbox's record) |
//! | wildcard, email and phone | `family=Sm*, …, email=jane.smith@…, phone=01632960587` | one result | `9000000009` |
//! | limited results | the same with `_max-results=1` | one result | `9000000009` |
//! | date range | `family=Smith, gender=female, birthdate=ge2010-10-21, birthdate=le2010-10-23, email, phone` | one result | `9000000009` |
//! | fuzzy, phone and email | `family=Smith, given=Jane, gender=female, birthdate=eq2010-10-22, email, phone, _fuzzy-match=true` | one result (sandbox: `9000000009`) | `9000000009` (a supplied email or phone the others never had excludes them) |
//! | fuzzy, no phone or email | `family=Smith, given=Jane, gender=female, birthdate=eq2010-10-22, _fuzzy-match=true` | one result (sandbox: `9000000017` alone) | ≠ every homophone, best first: `9000000009`, `9000000017`, `9000000025` |
//! | restricted | `family=Smythe, given=Janet, gender=female, birthdate=eq2005-06-16, email=janet.smythe@…, phone` | one result, restricted data omitted | ≠ none (her record says 2010-10-22); with `eq2010-10-22` `9000000025`, redacted, for a caller who may see her telecoms; nobody for one who may not |
//! | compound name | `family=Smith, given=John Paul, given=James, gender=male, birthdate=eq2010-10-22, email=johnp.smith@…, phone` | one result (`9000000015`) | `9000000157` (`9000000015` fails the check digit) |
//! | unsuccessful search | any other valid search | 200, a sandbox-only warning | 200 with what matches (here none) |
//! | valid/invalid criteria | `family=Sm*, gender=female, invalidParam=123, birthdate, email, phone` | 400 | 400 `ADDITIONAL_PROPERTIES` |
//! | email/phone only | `email=j.smith@example.com, phone=0163` | 400 | 400 `MISSING_VALUE` |
//! | invalid date format | `birthdate` or `death-date` not `YYYY-MM-DD` | 400 | 400 `INVALID_VALUE` |
//! | too few parameters | an invalid combination; none at all | 400 | 400 `INVALID_SEARCH_DATA`; `UNSUPPORTED_SERVICE` |
//! | missing `X-Request-ID` | a valid search | 400 | 400 `MISSING_VALUE` |
//!
//! Search parameter examples:
//!
//! | parameter | example | documented answer | here |
//! |---|---|---|---|
//! | `family` | `Sm*t*` | matches Smith, Smythe | `9000000009`, `9000000017`, `9000000157`, `9000000025` (with `birthdate=eq2010-10-22`) |
//! | `birthdate` | `ge2010-10-22`, `le2010-10-22` | include 2010-10-22 | `9000000009` (with `family=Smith, gender=female` and the other end of a short range) |
//! | `death-date` | `eq`, `ge`, `le2010-10-22` | include 2010-10-22 | `9000000009` |
//! | `address-postalcode`, `address-postcode` | `LS1 6AE`, `LS16AE`, `LS1*` | spaces ignored, a wildcard | Carol YOUDS `9000000106`, whose home address is current; Jane Smith's ended in 2021, so she is found by it only with `_history` |
//! | `general-practitioner` | `Y12345` | exact | `9000000009` |
//!
//! Update (`PATCH /Patient/9000000009`, `If-Match: W/"2"`, each on a fresh
//! copy of the seed; the document says the sandbox applies no business
//! rules, so its "200 with updated patient" holds here only where the rules
//! the same document lists allow it):
//!
//! | example | documented answer | here |
//! |---|---|---|
//! | `add-deceased-date-time` | 200 | 200, `deceasedDateTime` as sent |
//! | `add-name` | 200 | 200, the `old` name appended with an id of its own |
//! | `add-extension` (nominated pharmacy) | 200 | ≠ 400 `TOO_MANY_VALUES_SUBMITTED` (she has one); on `9000000033`, the patient the document names for adding, 400 `ADDITIONAL_PROPERTIES`: the identifier's `period` is not in the extension's schema; without it 200 |
//! | `update-gender` | 200 | 200, `male` |
//! | `update-address` | 200 | 200, line 1 and postcode replaced, other lines kept |
//! | `update-address-alternative` | 200 | ≠ 400 `INVALID_VALUE`: its PAF key `9876543` has 7 digits, the schema says 8; with `09876543` 200 |
//! | `update-extension` (informal death notification) | 200 | ≠ 403 `FORBIDDEN_UPDATE`: her notification is formal, which cannot be replaced |
//! | `delete-gender` | 200 | ≠ 403 `FORBIDDEN_UPDATE`: gender cannot be removed (as the sandbox's own demo) |
//! | `delete-name` | 200 | ≠ 403 `FORBIDDEN_UPDATE`: the usual name cannot be removed (as the sandbox's demo) |
//! | `delete-name-alternative` | 200 | ≠ 400 `INVALID_UPDATE`: its `test` value has suffix `MBE`, her record none; with her name as it is, 403 as `delete-name` |
//! | `delete-extension` (preferred dispenser) | 200 | 200, that extension gone, the other seven kept |
//!
//! Update scenarios: `9111231130` 404 `RESOURCE_NOT_FOUND`; `9000000000`
//! 400 `INVALID_RESOURCE_ID`; no `If-Match` 412 `PRECONDITION_FAILED`
//! (`If-Match: 2`, "set to format other than `W/"<version>"`", 412 too);
//! `W/"1"` 409 `RESOURCE_VERSION_MISMATCH`; a content type not
//! `application/json…`, or none, 400 `UNSUPPORTED_SERVICE`; no `patches`
//! 400 `INVALID_UPDATE`; an invalid operation 400 `INVALID_VALUE`; no
//! `X-Request-ID` 400 `MISSING_VALUE`.

mod bodies;
mod retrieve;
mod search;
mod update;
