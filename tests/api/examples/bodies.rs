//! The PATCH examples of `components/examples/requests/PatientPatch/`.

use serde_json::{Value, json};

pub const DEATH: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus";
pub const PHARMACY: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy";
pub const DISPENSER: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization";

pub fn add_deceased_date_time() -> Value {
    json!({"patches": [{"op": "add", "path": "/deceasedDateTime",
        "value": "2010-10-22T00:00:00+00:00"}]})
}

pub fn added_name() -> Value {
    json!({"use": "old", "period": {"start": "2019-12-31"}, "prefix": ["Dr"],
        "given": ["Joe", "Horation", "Maximus"], "family": "Bloggs", "suffix": ["PhD"]})
}

pub fn add_name() -> Value {
    json!({"patches": [{"op": "add", "path": "/name/-", "value": added_name()}]})
}

/// The nominated pharmacy, with the example's identifier `period` or
/// without it.
pub fn add_extension(period: bool) -> Value {
    let mut identifier = json!({
        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
        "value": "Y12345"});
    if period {
        identifier["period"] = json!({"start": "2020-01-01", "end": "2021-12-31"});
    }
    json!({"patches": [{"op": "add", "path": "/extension/-", "value": {
        "url": PHARMACY, "valueReference": {"identifier": identifier}}}]})
}

pub fn update_gender() -> Value {
    json!({"patches": [{"op": "replace", "path": "/gender", "value": "male"}]})
}

pub fn update_address() -> Value {
    json!({"patches": [
        {"op": "replace", "path": "/address/0/id", "value": "456"},
        {"op": "replace", "path": "/address/0/line/0", "value": "2 Whitehall Quay"},
        {"op": "replace", "path": "/address/0/postalCode", "value": "LS1 4BU"}]})
}

/// The whole-address replacement, with this PAF key.
pub fn replaced_address(paf: &str) -> Value {
    json!({"id": "456", "period": {"start": "2020-01-01", "end": "2021-12-31"},
        "use": "home", "line": ["2 Whitehall Quay", "Leeds", "West Yorkshire"],
        "postalCode": "LS1 4BU",
        "extension": [{
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
            "extension": [
                {"url": "type", "valueCoding": {
                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                    "code": "PAF"}},
                {"url": "value", "valueString": paf}]}]})
}

pub fn update_address_alternative(paf: &str) -> Value {
    json!({"patches": [{"op": "replace", "path": "/address/0", "value": replaced_address(paf)}]})
}

pub fn update_extension() -> Value {
    json!({"patches": [{"op": "replace", "path": "/extension/3", "value": {
        "url": DEATH,
        "extension": [{"url": "deathNotificationStatus", "valueCodeableConcept": {
            "coding": [{
                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
                "version": "1.0.0", "code": "1",
                "display": "Informal - death notice received via an update from a local NHS Organisation such as GP or Trust"}]}}]}}]})
}

pub fn delete_gender() -> Value {
    json!({"patches": [{"op": "remove", "path": "/gender"}]})
}

pub fn delete_name() -> Value {
    json!({"patches": [
        {"op": "test", "path": "/name/0/id", "value": "123"},
        {"op": "remove", "path": "/name/0"}]})
}

/// The name-object form, testing the name with these suffixes (none:
/// no `suffix` at all, as her record has it).
pub fn delete_name_alternative(suffix: &[&str]) -> Value {
    let mut name = json!({
        "id": "123", "use": "usual",
        "period": {"start": "2020-01-01", "end": "2021-12-31"},
        "given": ["Jane"], "family": "Smith", "prefix": ["Mrs"]});
    if !suffix.is_empty() {
        name["suffix"] = json!(suffix);
    }
    json!({"patches": [
        {"op": "test", "path": "/name/0", "value": name},
        {"op": "remove", "path": "/name/0"}]})
}

pub fn delete_extension() -> Value {
    json!({"patches": [
        {"op": "test", "path": "/extension/1/url", "value": DISPENSER},
        {"op": "remove", "path": "/extension/1"}]})
}
