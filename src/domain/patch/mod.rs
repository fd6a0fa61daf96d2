//! PDS-style JSON Patch for patient records.
//!
//! A PATCH is handled in three steps, all in this module:
//!
//! 1. [`parse_ops`] reads the body (`{"patches":[...]}` or a bare RFC 6902
//!    array) into [`Op`]s, rejecting unknown operations and missing values.
//! 2. [`apply`] applies the ops to the patient's FHIR JSON under the PDS list
//!    rules (append with `/-`, item ids in the request, a `test` before each
//!    removal, ...). [`touched`] names the top-level fields the ops change.
//! 3. [`check`] compares the record before and after (both parsed into
//!    [`Patient`](super::Patient) by the caller) against the PDS business
//!    rules and the editor's permissions.
//!
//! Every step returns a [`PatchError`] and changes nothing on failure: the
//! caller keeps the old record.

mod apply;
mod ops;
mod rules;

use std::collections::HashSet;

pub use apply::{apply, touched};
pub use ops::{Op, OpKind, parse_ops};
pub use rules::{Editor, check, may_edit};

/// Why a patch was refused. Each variant is one PDS error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// 400 INVALID_UPDATE `No patches found`.
    NoPatches,
    /// 400 INVALID_VALUE `Invalid value - '<value>' in field '<field>'`,
    /// e.g. field `0/op` value `move`.
    InvalidValue { field: String, value: String },
    /// 400 INVALID_UPDATE `Invalid update with error - <text>`.
    Invalid(String),
    /// 403 FORBIDDEN_UPDATE (severity information)
    /// `Forbidden update with error - <text>`.
    Forbidden(String),
    /// 400 TOO_MANY_VALUES_SUBMITTED `Too many values submitted - <values>
    /// in field '<field>'`, the values as Python shows them
    /// (`['One', 'Two', ...]`).
    TooManyValues { field: String, values: String },
}

impl PatchError {
    /// The PDS error code (`issue.details.coding.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoPatches | Self::Invalid(_) => "INVALID_UPDATE",
            Self::InvalidValue { .. } => "INVALID_VALUE",
            Self::Forbidden(_) => "FORBIDDEN_UPDATE",
            Self::TooManyValues { .. } => "TOO_MANY_VALUES_SUBMITTED",
        }
    }

    /// The HTTP status PDS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Forbidden(_) => 403,
            _ => 400,
        }
    }

    /// The reason without the `Invalid update with error - ` /
    /// `Forbidden update with error - ` prefix (for INVALID_VALUE, the
    /// whole diagnostics).
    pub fn reason(&self) -> String {
        match self {
            Self::NoPatches => "No patches found".to_owned(),
            Self::InvalidValue { field, value } => {
                format!("Invalid value - '{value}' in field '{field}'")
            }
            Self::Invalid(text) | Self::Forbidden(text) => text.clone(),
            Self::TooManyValues { field, values } => {
                format!("Too many values submitted - {values} in field '{field}'")
            }
        }
    }

    /// The full `diagnostics` text of the OperationOutcome.
    pub fn diagnostics(&self) -> String {
        match self {
            Self::NoPatches | Self::Invalid(_) => {
                format!("Invalid update with error - {}", self.reason())
            }
            Self::Forbidden(_) => format!("Forbidden update with error - {}", self.reason()),
            Self::InvalidValue { .. } | Self::TooManyValues { .. } => self.reason(),
        }
    }
}

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostics())
    }
}

impl std::error::Error for PatchError {}

/// Server-assigned ids for new list items (an item appended by a PATCH,
/// every item of a create): 8 hex digits, as PDS, never one of `used` nor
/// one handed out before.
pub fn item_ids(mut used: HashSet<String>) -> impl FnMut() -> String {
    move || {
        loop {
            let candidate = format!("{:08X}", rand::random::<u32>());
            if used.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

/// Shorthand for [`PatchError::Invalid`].
fn invalid(text: impl Into<String>) -> PatchError {
    PatchError::Invalid(text.into())
}

/// Shorthand for [`PatchError::Forbidden`].
fn forbidden(text: impl Into<String>) -> PatchError {
    PatchError::Forbidden(text.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::{DeathStatus, Gender};
    use serde_json::{Value, json};

    const PHARMACY: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy";
    const DISPENSER: &str = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization";
    const SUPPLIER: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier";
    const DEATH: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus";
    const BIRTH_PLACE: &str = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace";
    const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
    const INFORMAL: &str = "Informal - death notice received via an update from a local NHS Organisation such as GP or Trust";

    fn ods_extension(url: &str, code: &str) -> Value {
        json!({"url": url, "valueReference": {"identifier": {"system": ODS, "value": code}}})
    }

    fn death_notification(code: &str, display: &str) -> Value {
        json!({"url": DEATH, "extension": [{"url": "deathNotificationStatus", "valueCodeableConcept": {
            "coding": [{"system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
                        "version": "1.0.0", "code": code, "display": display}]}}]})
    }

    fn address_key(kind: &str, value: &str) -> Value {
        json!({"url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
               "extension": [
                   {"url": "type", "valueCoding": {
                       "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType", "code": kind}},
                   {"url": "value", "valueString": value}]})
    }

    /// A record shaped like the OAS example patient 9000000009, with the
    /// usual name the delete-name examples test for and an informal death
    /// notification at `/extension/3` (the update-extension example), but
    /// not yet dead.
    fn example_record() -> Value {
        json!({
            "resourceType": "Patient",
            "id": "9000000009",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
            "meta": {"versionId": "2", "security": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                "code": "U", "display": "unrestricted"}]},
            "name": [{"id": "123", "use": "usual",
                      "period": {"start": "2020-01-01", "end": "2021-12-31"},
                      "given": ["Jane"], "family": "Smith", "prefix": ["Mrs"], "suffix": ["MBE"]}],
            "gender": "female",
            "birthDate": "2010-10-22",
            "address": [{"id": "456", "period": {"start": "2020-01-01"}, "use": "home",
                         "line": ["1 Trevelyan Square", "Boar Lane", "City Centre", "Leeds", "West Yorkshire"],
                         "postalCode": "LS1 6AE", "extension": [address_key("PAF", "12345678")]}],
            "telecom": [{"id": "789", "system": "phone", "value": "01632960587", "use": "home"}],
            "extension": [
                ods_extension(PHARMACY, "Y12345"),
                ods_extension(DISPENSER, "Y23456"),
                ods_extension(SUPPLIER, "Y34567"),
                death_notification("1", INFORMAL),
            ]
        })
    }

    /// Applies a request body to `record`, numbering new ids `NEW1`, ...
    fn patch(record: &Value, body: Value) -> Result<(Value, Vec<String>), PatchError> {
        let ops = parse_ops(&body)?;
        let mut n = 0;
        let out = apply(record, &ops, &mut || {
            n += 1;
            format!("NEW{n}")
        })?;
        Ok((out, touched(record, &ops)))
    }

    fn example(body: Value) -> (Value, Vec<String>) {
        patch(&example_record(), body).expect("the example applies")
    }

    #[test]
    fn oas_example_add_deceased_date_time() {
        let (out, touched) = example(json!({"patches": [
            {"op": "add", "path": "/deceasedDateTime", "value": "2010-10-22T00:00:00+00:00"}]}));
        assert_eq!(out["deceasedDateTime"], "2010-10-22T00:00:00+00:00");
        assert_eq!(touched, ["deceasedDateTime"]);
    }

    #[test]
    fn oas_example_add_extension() {
        let value = json!({"url": PHARMACY, "valueReference": {"identifier": {
            "system": ODS, "value": "Y12345", "period": {"start": "2020-01-01", "end": "2021-12-31"}}}});
        let (out, touched) = example(json!({"patches": [
            {"op": "add", "path": "/extension/-", "value": value}]}));
        assert_eq!(out["extension"][4], value);
        assert_eq!(touched, [format!("extension:{PHARMACY}")]);
    }

    #[test]
    fn oas_example_add_name() {
        let (out, touched) = example(
            json!({"patches": [{"op": "add", "path": "/name/-", "value": {
            "use": "old", "period": {"start": "2019-12-31"}, "prefix": ["Dr"],
            "given": ["Joe", "Horation", "Maximus"], "family": "Bloggs", "suffix": ["PhD"]}}]}),
        );
        assert_eq!(out["name"][1]["id"], "NEW1");
        assert_eq!(out["name"][1]["family"], "Bloggs");
        assert_eq!(out["name"][0], example_record()["name"][0]);
        assert_eq!(touched, ["name"]);
    }

    #[test]
    fn oas_example_delete_extension() {
        let (out, touched) = example(json!({"patches": [
            {"op": "test", "path": "/extension/1/url", "value": DISPENSER},
            {"op": "remove", "path": "/extension/1"}]}));
        let urls: Vec<&str> = out["extension"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["url"].as_str().unwrap())
            .collect();
        assert_eq!(urls, [PHARMACY, SUPPLIER, DEATH]);
        assert_eq!(touched, [format!("extension:{DISPENSER}")]);
    }

    #[test]
    fn oas_example_delete_gender_applies_but_is_forbidden() {
        let (out, touched) = example(json!({"patches": [{"op": "remove", "path": "/gender"}]}));
        assert!(out.get("gender").is_none());
        let before = rules::tests::patient();
        let mut after = before.clone();
        after.gender = None;
        assert_eq!(
            check(
                &before,
                &after,
                Editor::HealthcareWorker,
                &touched,
                rules::tests::today()
            ),
            Err(forbidden("source not permitted to remove 'gender'"))
        );
    }

    #[test]
    fn oas_examples_delete_name_apply_but_the_usual_name_stays() {
        let by_id = json!({"patches": [
            {"op": "test", "path": "/name/0/id", "value": "123"},
            {"op": "remove", "path": "/name/0"}]});
        let by_value = json!({"patches": [
            {"op": "test", "path": "/name/0", "value": {
                "id": "123", "use": "usual", "period": {"start": "2020-01-01", "end": "2021-12-31"},
                "given": ["Jane"], "family": "Smith", "prefix": ["Mrs"], "suffix": ["MBE"]}},
            {"op": "remove", "path": "/name/0"}]});
        for body in [by_id, by_value] {
            let (out, touched) = example(body);
            assert_eq!(out["name"], json!([]));
            assert_eq!(touched, ["name"]);
            let before = rules::tests::patient();
            let mut after = before.clone();
            after.details.names.clear();
            assert_eq!(
                check(
                    &before,
                    &after,
                    Editor::HealthcareWorker,
                    &touched,
                    rules::tests::today()
                ),
                Err(forbidden("not permitted to remove usual name"))
            );
        }
    }

    #[test]
    fn oas_examples_update_address() {
        let (out, touched) = example(json!({"patches": [
            {"op": "replace", "path": "/address/0/id", "value": "456"},
            {"op": "replace", "path": "/address/0/line/0", "value": "2 Whitehall Quay"},
            {"op": "replace", "path": "/address/0/postalCode", "value": "LS1 4BU"}]}));
        assert_eq!(out["address"][0]["line"][0], "2 Whitehall Quay");
        assert_eq!(out["address"][0]["line"][1], "Boar Lane");
        assert_eq!(out["address"][0]["postalCode"], "LS1 4BU");
        assert_eq!(touched, ["address"]);

        let value = json!({"id": "456", "period": {"start": "2020-01-01", "end": "2021-12-31"},
            "use": "home", "line": ["2 Whitehall Quay", "Leeds", "West Yorkshire"],
            "postalCode": "LS1 4BU", "extension": [address_key("PAF", "9876543")]});
        let (out, _) = example(json!({"patches": [
            {"op": "replace", "path": "/address/0", "value": value}]}));
        assert_eq!(out["address"], json!([value]));
    }

    #[test]
    fn oas_example_update_extension() {
        let value = death_notification("1", INFORMAL);
        let (out, touched) = example(json!({"patches": [
            {"op": "replace", "path": "/extension/3", "value": value}]}));
        assert_eq!(out["extension"][3], value);
        assert_eq!(touched, [format!("extension:{DEATH}")]);
    }

    #[test]
    fn oas_example_update_gender() {
        let (out, touched) = example(json!({"patches": [
            {"op": "replace", "path": "/gender", "value": "male"}]}));
        assert_eq!(out["gender"], "male");
        assert_eq!(touched, ["gender"]);
        let before = rules::tests::patient();
        let mut after = before.clone();
        after.gender = Some(Gender::Male);
        let today = rules::tests::today();
        assert_eq!(
            check(&before, &after, Editor::HealthcareWorker, &touched, today),
            Ok(())
        );
        assert_eq!(
            check(&before, &after, Editor::Patient, &touched, today),
            Err(invalid(
                "This user does not have permission to update the fields in the patches provided."
            ))
        );
    }

    #[test]
    fn request_example_death_with_its_notification() {
        let mut record = example_record();
        record["extension"].as_array_mut().unwrap().pop();
        let (out, touched) = patch(
            &record,
            json!({"patches": [
            {"op": "add", "path": "/extension/-", "value": death_notification("1", INFORMAL)},
            {"op": "add", "path": "/deceasedDateTime", "value": "2024-02-01T10:00:00+00:00"}]}),
        )
        .unwrap();
        assert_eq!(out["extension"][3]["url"], DEATH);
        assert_eq!(out["deceasedDateTime"], "2024-02-01T10:00:00+00:00");
        assert_eq!(
            touched,
            [format!("extension:{DEATH}"), "deceasedDateTime".into()]
        );
        let before = rules::tests::patient();
        let mut after = before.clone();
        after.deceased = Some(rules::tests::at(2024, 2, 1));
        after.details.death_notification = rules::tests::notification(DeathStatus::Informal);
        let today = rules::tests::today();
        assert_eq!(
            check(&before, &after, Editor::HealthcareWorker, &touched, today),
            Ok(())
        );
    }

    #[test]
    fn request_examples_pharmacy_place_of_birth_and_emergency_contact() {
        let mut record = example_record();
        record["extension"].as_array_mut().unwrap().remove(0);
        let (out, touched) = patch(
            &record,
            json!({"patches": [
            {"op": "add", "path": "/extension/-", "value": ods_extension(PHARMACY, "FWC87")}]}),
        )
        .unwrap();
        assert_eq!(out["extension"][3], ods_extension(PHARMACY, "FWC87"));
        assert_eq!(touched, [format!("extension:{PHARMACY}")]);

        let place = json!({"url": BIRTH_PLACE, "valueAddress": {
            "city": "Manchester", "district": "Greater Manchester", "country": "GBR"}});
        let (out, touched) = example(json!({"patches": [
            {"op": "add", "path": "/extension/-", "value": place}]}));
        assert_eq!(out["extension"][4], place);
        assert_eq!(touched, [format!("extension:{BIRTH_PLACE}")]);

        let contact = json!({"period": {"start": "2024-09-04"},
            "relationship": [{"coding": [{"code": "C", "display": "Emergency Contact",
                "system": "http://terminology.hl7.org/CodeSystem/v2-0131"}]}],
            "telecom": [{"system": "phone", "value": "07700900000"}]});
        let (out, touched) = example(json!({"patches": [
            {"op": "add", "path": "/contact/-", "value": contact}]}));
        let mut expected = contact.clone();
        expected["id"] = json!("NEW1");
        assert_eq!(out["contact"], json!([expected]));
        assert_eq!(touched, ["contact"]);
    }

    #[test]
    fn request_example_address_swap() {
        let new_address =
            json!({"use": "home", "line": ["2 Whitehall Quay", "Leeds"], "postalCode": "LS1 4BU"});
        let (out, touched) = example(json!({"patches": [
            {"op": "test", "path": "/address/0/id", "value": "456"},
            {"op": "remove", "path": "/address/0"},
            {"op": "add", "path": "/address/-", "value": new_address}]}));
        let mut expected = new_address.clone();
        expected["id"] = json!("NEW1");
        assert_eq!(out["address"], json!([expected]));
        assert_eq!(touched, ["address"]);
    }

    #[test]
    fn the_postman_patterns_pds_no_longer_accepts_are_refused() {
        // `remove /name/0` with no test.
        assert_eq!(
            patch(
                &example_record(),
                json!({"correction": false, "patches": [
                {"op": "remove", "path": "/name/0"}]})
            ),
            Err(invalid(
                "removal '/name/0' is not immediately preceded by equivalent test - instead it is the first item"
            ))
        );
    }

    #[test]
    fn errors_render_the_pds_diagnostics() {
        assert_eq!(
            PatchError::NoPatches.diagnostics(),
            "Invalid update with error - No patches found"
        );
        let e = PatchError::InvalidValue {
            field: "0/op".into(),
            value: "move".into(),
        };
        assert_eq!(e.diagnostics(), "Invalid value - 'move' in field '0/op'");
        assert_eq!((e.code(), e.status()), ("INVALID_VALUE", 400));
        let e = forbidden("multiple usual names cannot be added");
        assert_eq!(
            e.to_string(),
            "Forbidden update with error - multiple usual names cannot be added"
        );
        assert_eq!((e.code(), e.status()), ("FORBIDDEN_UPDATE", 403));
        let e = invalid("Update unsupported for resource - 'pets'");
        assert_eq!(
            e.diagnostics(),
            "Invalid update with error - Update unsupported for resource - 'pets'"
        );
        assert_eq!(e.reason(), "Update unsupported for resource - 'pets'");
        assert_eq!((e.code(), e.status()), ("INVALID_UPDATE", 400));
        let e = PatchError::TooManyValues {
            field: "name/0/given".into(),
            values: "['One', 'Two']".into(),
        };
        assert_eq!(
            e.diagnostics(),
            "Too many values submitted - ['One', 'Two'] in field 'name/0/given'"
        );
        assert_eq!((e.code(), e.status()), ("TOO_MANY_VALUES_SUBMITTED", 400));
    }
}
