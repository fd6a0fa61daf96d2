use super::*;
use crate::domain::codes::Gender;
use serde_json::json;

const BUNDLE: &str = include_str!("../../../tests/fixtures/birth-registration.json");

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-12-01T12:00:00Z".parse().unwrap()
}

fn bundle(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v: Value = serde_json::from_str(BUNDLE).unwrap();
    edit(&mut v);
    v
}

fn parse(edit: impl FnOnce(&mut Value)) -> Result<BirthRequest, BirthError> {
    parse_bundle(&bundle(edit), today(), now())
}

fn err(edit: impl FnOnce(&mut Value)) -> BirthError {
    parse(edit).unwrap_err()
}

fn remove(v: &mut Value, pointer: &str, key: &str) {
    v.pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap()
        .remove(key);
}

fn missing(field: &str) -> BirthError {
    BirthError::Create(CreateError::MissingValue(field.into()))
}

fn invalid(field: &str, value: &str) -> BirthError {
    BirthError::Create(CreateError::InvalidValue {
        field: field.into(),
        value: value.into(),
    })
}

fn too_few(field: &str) -> BirthError {
    BirthError::Create(CreateError::TooFewValues {
        field: field.into(),
        values: TOO_LONG.into(),
    })
}

#[test]
fn the_example_is_a_live_girl_of_jane_smith() {
    let parsed = parse(|_| {}).unwrap();
    let r = parsed.registration;
    assert_eq!(r.mother.to_string(), "9000000009");
    assert_eq!(parsed.mother_field, "entry/7/resource/identifier/0/value");
    assert_eq!(r.baby.gender, Some(Gender::Female));
    assert_eq!(r.baby.birth_date, NaiveDate::from_ymd_opt(2026, 11, 28));
    assert_eq!(r.baby.details.multiple_birth, Some(1));
    assert_eq!(
        r.baby.details.birth_place.as_ref().unwrap().city.as_deref(),
        Some("Leeds")
    );
    // "Removed" on a live birth: nothing to keep.
    assert!(r.baby.details.death_notification.is_none() && r.baby.deceased.is_none());
    // Blank address lines keep their places, as on create (shown only to
    // applications that ask for them).
    assert_eq!(
        r.baby.details.addresses[0].lines,
        ["", "12 Wellington Street", "", "Leeds"]
    );
    let f = r.facts;
    assert_eq!(
        (f.weight_grams, f.gestation_weeks, f.foetuses),
        (3350, 39, 1)
    );
    assert_eq!(
        (f.delivery, f.abnormality),
        (Delivery::Live, Abnormality::No)
    );
    assert_eq!(f.time.to_rfc3339(), "2026-11-28T09:42:00+00:00");
}

#[test]
fn missing_values_have_their_path_in_the_bundle() {
    // The PDS cases (Karate `createNewPdsRecordAtBirth.feature`).
    assert_eq!(
        err(|v| remove(v, "/entry/0/resource/name/0", "use")),
        missing("entry/0/resource/name/0/use")
    );
    assert_eq!(
        err(|v| remove(v, "/entry/0/resource", "birthDate")),
        missing("entry/0/resource/birthDate")
    );
    assert_eq!(
        err(|v| remove(v, "/entry/0/resource", "gender")),
        missing("entry/0/resource/gender")
    );
    assert_eq!(
        err(|v| remove(v, "/entry/0/resource", "address")),
        missing("entry/0/resource/address")
    );
    assert_eq!(
        err(|v| remove(v, "/entry/1/resource/valueQuantity", "value")),
        missing("entry/1/resource/valueQuantity/value")
    );
    assert_eq!(
        err(|v| remove(v, "/entry/7/resource/identifier/0", "value")),
        missing("entry/7/resource/identifier/0/value")
    );
    assert_eq!(
        err(|v| remove(v, "/entry/7/resource", "identifier")),
        missing("entry/7/resource/identifier/0/value")
    );
    assert_eq!(
        err(|v| remove(v, "/entry/0/resource", "_birthDate")),
        missing("entry/0/resource/_birthDate")
    );
    // The create order inside the baby: name before address before gender.
    assert_eq!(
        err(|v| {
            remove(v, "/entry/0/resource", "gender");
            remove(v, "/entry/0/resource", "address");
        }),
        missing("entry/0/resource/address")
    );
}

#[test]
fn invalid_values_name_their_field_as_pds_does() {
    assert_eq!(
        err(|v| v["entry"][0]["resource"]["name"][0]["given"] = json!("not an array")),
        invalid("entry/0/resource/name/0/given", "not an array")
    );
    assert_eq!(
        err(|v| v["entry"][0]["resource"]["address"][0] = json!("another")),
        invalid("entry/0/resource/address/0", "another")
    );
    // PDS names these two without the entry.
    assert_eq!(
        err(|v| v["entry"][0]["resource"]["gender"] = json!("other")),
        invalid("gender", "other")
    );
    assert_eq!(
        err(|v| {
            v["entry"][0]["resource"]["birthDate"] = json!("not-a-date");
        }),
        invalid("birthDate", "not-a-date")
    );
    assert_eq!(
        err(|v| v["entry"][0]["resource"]["multipleBirthInteger"] = json!(100)),
        invalid("entry/0/resource/multipleBirthInteger", "100")
    );
    assert_eq!(
        err(|v| v["entry"][1]["resource"]["valueQuantity"]["value"] = json!(35552)),
        invalid("entry/1/resource/valueQuantity/value", "35552")
    );
    assert_eq!(
        err(|v| v["entry"][3]["resource"]["valueQuantity"]["value"] = json!(60)),
        invalid("entry/3/resource/valueQuantity/value", "60")
    );
    assert_eq!(
        err(|v| v["entry"][4]["resource"]["valueInteger"] = json!(0)),
        invalid("entry/4/resource/valueInteger", "0")
    );
    assert_eq!(
        err(
            |v| v["entry"][2]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = json!("7")
        ),
        invalid("entry/2/resource/valueCodeableConcept/coding/0/code", "7")
    );
    assert_eq!(
        err(|v| v["entry"][7]["resource"]["identifier"][0]["value"] = json!("9000000000")),
        invalid("entry/7/resource/identifier/0/value", "9000000000")
    );
    assert_eq!(
        err(|v| v["entry"][6]["resource"]["identifier"][0]["value"] = json!("9000000017")),
        invalid("entry/6/resource/identifier/0/value", "9000000017")
    );
    assert_eq!(
        err(|v| v["entry"][6]["resource"]["relationship"][0]["coding"][0]["code"] = json!("FTH")),
        invalid("entry/6/resource/relationship/0/coding/0/code", "FTH")
    );
    assert_eq!(
        err(|v| v["entry"][1]["resource"]["subject"]["reference"] = json!("urn:uuid:other")),
        invalid("entry/1/resource/subject/reference", "urn:uuid:other")
    );
    // Birth time: on the birth date, not in the future.
    let time = "/entry/0/resource/_birthDate/extension/0/valueDateTime";
    assert_eq!(
        err(|v| *v.pointer_mut(time).unwrap() = json!("2026-11-27T23:00:00+00:00")),
        invalid(
            "entry/0/resource/_birthDate/extension/0/valueDateTime",
            "2026-11-27T23:00:00+00:00"
        )
    );
    assert!(matches!(
        err(|v| *v.pointer_mut(time).unwrap() = json!("09:42")),
        BirthError::Create(CreateError::InvalidValue { .. })
    ));
    // A birth order beyond the number of foetuses.
    assert_eq!(
        err(|v| v["entry"][0]["resource"]["multipleBirthInteger"] = json!(2)),
        invalid("entry/0/resource/multipleBirthInteger", "2")
    );
}

#[test]
fn required_resources_and_extensions_are_too_few_values() {
    let without = |i: usize| {
        move |v: &mut Value| {
            v["entry"].as_array_mut().unwrap().remove(i);
        }
    };
    // Location, an Observation, the RelatedPerson, the mother.
    for i in [9, 2, 6, 7] {
        assert_eq!(err(without(i)), too_few("entry"), "without entry {i}");
    }
    assert_eq!(err(without(0)), too_few("entry"));
    // The optional ones may be left out.
    assert!(
        parse(|v| {
            let entries = v["entry"].as_array_mut().unwrap();
            entries.truncate(10);
            entries.remove(8);
        })
        .is_ok()
    );
    assert_eq!(
        err(|v| {
            v["entry"][0]["resource"]["extension"]
                .as_array_mut()
                .unwrap()
                .remove(1);
        }),
        too_few("entry/0/resource/extension")
    );
    let twice = err(|v| {
        let weight = v["entry"][1].clone();
        v["entry"].as_array_mut().unwrap().push(weight);
    });
    assert!(
        matches!(twice, BirthError::Create(CreateError::TooManyValues { field, .. }) if field == "entry")
    );
}

#[test]
fn the_bundle_itself_is_checked_first() {
    assert_eq!(err(|v| *v = json!({"bananas": 1})), missing("resourceType"));
    assert_eq!(
        err(|v| v["type"] = json!("batch")),
        invalid("type", "batch")
    );
    assert_eq!(
        err(|v| v["entry"][8]["resource"]["resourceType"] = json!("Encounter")),
        invalid("entry/8/resource/resourceType", "Encounter")
    );
    assert_eq!(
        err(|v| v["entry"][5]["resource"]["code"]["coding"][0]["code"] = json!("12345")),
        invalid("entry/5/resource/code/coding/0/code", "12345")
    );
    // An unknown resource beats a missing value in the baby.
    assert_eq!(
        err(|v| {
            v["entry"][8]["resource"]["resourceType"] = json!("Encounter");
            remove(v, "/entry/0/resource", "gender");
        }),
        invalid("entry/8/resource/resourceType", "Encounter")
    );
}

#[test]
fn the_create_rules_apply_to_the_baby() {
    let reason = |edit: &dyn Fn(&mut Value)| match parse_bundle(&bundle(edit), today(), now()) {
        Err(BirthError::Create(CreateError::Invalid(reason))) => reason,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        reason(
            &|v| v["entry"][0]["resource"]["address"][0]["line"] = json!(["12 Wellington Street"])
        ),
        "address lines 1 and 4 or 2 and 4 must be completed as a minimum"
    );
    assert_eq!(
        reason(&|v| v["entry"][0]["resource"]["name"][0]["period"]["end"] = json!("2026-11-29")),
        "An end date can not be provided on usual name"
    );
}

fn died(v: &mut Value, delivery: &str, status: &str) {
    let baby = &mut v["entry"][0]["resource"];
    baby["deceasedDateTime"] = json!("2026-11-28T09:42:00+00:00");
    baby["extension"][2]["extension"][0]["valueCodeableConcept"]["coding"][0] = json!({"system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus", "code": status});
    v["entry"][2]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = json!(delivery);
}

#[test]
fn the_vital_status_must_agree_with_the_delivery() {
    // A live birth recorded as a formal death (the PDS test).
    assert_eq!(
        err(|v| died(v, "1", "2")),
        BirthError::DeathStatusInconsistent
    );
    // A still birth recorded alive.
    assert_eq!(
        err(
            |v| v["entry"][2]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = json!("2")
        ),
        BirthError::DeathStatusInconsistent
    );
    // A still birth as a formal death: kept.
    let r = parse(|v| died(v, "2", "2")).unwrap().registration;
    assert_eq!(r.facts.delivery, Delivery::Still(2));
    assert_eq!(
        r.baby.details.death_notification.map(|n| n.status),
        Some(DeathStatus::Formal)
    );
    assert_eq!(
        r.baby.deceased.map(|d| d.to_rfc3339()),
        Some("2026-11-28T09:42:00+00:00".into())
    );
}

#[test]
fn a_place_of_birth_with_a_name_is_accepted_and_the_name_dropped() {
    let r = parse(|v| {
        v["entry"][0]["resource"]["extension"][3]["valueAddress"]["text"] = json!("St James's");
    })
    .unwrap()
    .registration;
    assert_eq!(
        r.baby.details.birth_place.unwrap().district.as_deref(),
        Some("West Yorkshire")
    );
}
