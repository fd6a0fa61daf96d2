use super::*;
use crate::fhir::patient::{View, render};
use crate::seed::{generator::Population, sandbox};
use serde_json::json;

fn sandbox_patients() -> Vec<Patient> {
    sandbox::rows()
        .0
        .into_iter()
        // The invalidated number is stored with the "REDACTED" marker.
        .filter_map(|row| row.into_patient().ok())
        .collect()
}

fn jane() -> Patient {
    sandbox_patients()
        .into_iter()
        .find(|p| p.nhs_number.to_string() == sandbox::JANE_SMITH)
        .expect("Jane Smith is seeded")
}

fn parse_as(value: &Value, p: &Patient) -> Result<Patient> {
    patient(value, p.nhs_number, p.version, p.security)
}

/// Jane Smith rendered, edited by `edit`, then parsed.
fn edited(edit: impl FnOnce(&mut Value)) -> Result<Patient> {
    let p = jane();
    let mut v = render(&p, View::default());
    edit(&mut v);
    parse_as(&v, &p)
}

fn err(edit: impl FnOnce(&mut Value)) -> ParseError {
    edited(edit).expect_err("the edit is refused")
}

fn invalid_at(field: &str, value: &str) -> ParseError {
    ParseError::InvalidValue {
        field: field.into(),
        value: value.into(),
    }
}

/// What the renderer cannot express for an ordinary application: blank
/// address lines, the confidential removal reasons, the sharing consent, a
/// managing organisation's id and a textphone flag on anything but
/// `system: other`.
fn as_rendered(mut p: Patient) -> Patient {
    let d = &mut p.details;
    d.extra.sharing_consent = None;
    for a in &mut d.addresses {
        a.lines = a
            .lines
            .iter()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
    }
    if let Some(r) = &mut d.removal {
        r.reason = r.reason.public();
    }
    if let Some(m) = &mut d.managing_organisation {
        m.id = None;
    }
    for t in &mut d.telecoms {
        t.textphone &= t.system == TelecomSystem::Other;
    }
    p
}

fn assert_round_trip(p: &Patient) {
    let parsed = parse_as(&render(p, View::default()), p)
        .unwrap_or_else(|e| panic!("{}: {e:?}\n{:#}", p.nhs_number, render(p, View::default())));
    assert_eq!(parsed, as_rendered(p.clone()), "{}", p.nhs_number);
}

#[test]
fn sandbox_patients_round_trip() {
    let patients = sandbox_patients();
    assert!(patients.len() >= 10);
    for p in &patients {
        assert_round_trip(p);
    }
}

#[test]
fn generated_patients_round_trip() {
    let (mut deaths, mut temporary, mut contacts, mut former) = (0, 0, 0, 0);
    for generated in Population::new(1).take(2_000) {
        let p = &generated.patient;
        assert_round_trip(p);
        deaths += usize::from(p.deceased.is_some());
        temporary += usize::from(p.details.addresses.len() > 1);
        contacts += usize::from(!p.details.contacts.is_empty());
        former += usize::from(p.details.names.len() > 1);
    }
    // The sample exercises the rarer elements too.
    assert!(deaths > 0 && temporary > 0 && contacts > 0 && former > 0);
}

#[test]
fn renderer_normalisations_are_applied() {
    let mut p = jane();
    p.details.addresses[0].lines = vec![" 1 Road ".into(), "  ".into(), "Leeds".into()];
    p.details.removal.as_mut().unwrap().reason = RemovalReason::ArmedForces;
    let parsed = parse_as(&render(&p, View::default()), &p).unwrap();
    assert_eq!(parsed.details.addresses[0].lines, ["1 Road", "Leeds"]);
    assert_eq!(parsed.details.removal.unwrap().reason, RemovalReason::Other);
}

#[test]
fn a_minimal_patient_needs_only_the_read_only_elements() {
    let p = Patient::minimal(NhsNumber::parse(sandbox::MINIMAL).unwrap(), 2);
    let v = json!({
        "resourceType": "Patient",
        "id": sandbox::MINIMAL,
        "identifier": [{"value": sandbox::MINIMAL}],
        "meta": {"versionId": "2", "security": [{"code": "U"}]}
    });
    let parsed = parse_as(&v, &p).unwrap();
    assert_eq!(parsed.details, Details::default());
    assert_eq!(parsed.nhs_number, p.nhs_number);
}

#[test]
fn read_only_elements_must_be_unchanged() {
    assert_eq!(
        err(|v| v["resourceType"] = json!("Practitioner")),
        invalid_at("resourceType", "Practitioner")
    );
    assert_eq!(
        err(|v| v["id"] = json!("9000000017")),
        invalid_at("id", "9000000017")
    );
    assert_eq!(
        err(|v| v["identifier"][0]["value"] = json!("9000000017")),
        invalid_at("identifier/0/value", "9000000017")
    );
    assert_eq!(
        err(|v| v["meta"]["versionId"] = json!("3")),
        invalid_at("meta/versionId", "3")
    );
    assert_eq!(
        err(|v| v["meta"]["versionId"] = json!(2)),
        invalid_at("meta/versionId", "2")
    );
    assert_eq!(
        err(|v| v["meta"]["security"][0]["code"] = json!("R")),
        invalid_at("meta/security/0/code", "R")
    );
    assert_eq!(
        err(|v| v["meta"]["security"][0]["code"] = json!("REDACTED")),
        invalid_at("meta/security/0/code", "REDACTED")
    );
    let extra = json!({"value": sandbox::JANE_SMITH});
    assert_eq!(
        err(|v| v["identifier"].as_array_mut().unwrap().push(extra)),
        ParseError::TooManyValues {
            field: "identifier".into()
        }
    );
    for key in ["resourceType", "id", "identifier", "meta"] {
        assert_eq!(
            err(|v| {
                v.as_object_mut().unwrap().remove(key);
            }),
            ParseError::MissingValue { field: key.into() }
        );
    }
    assert_eq!(
        err(|v| {
            v["meta"].as_object_mut().unwrap().remove("versionId");
        }),
        ParseError::MissingValue {
            field: "meta/versionId".into()
        }
    );
}

#[test]
fn the_verification_status_is_read_from_the_identifier() {
    let p = edited(|v| {
        v["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] =
            json!("02")
    })
    .unwrap();
    assert_eq!(p.details.verification, Some(Verification::NotTraced));
    let p = edited(|v| {
        v["identifier"][0]
            .as_object_mut()
            .unwrap()
            .remove("extension");
    })
    .unwrap();
    assert_eq!(p.details.verification, None);
    assert_eq!(
        err(|v| {
            v["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] =
                json!("09")
        }),
        invalid_at(
            "identifier/0/extension/0/valueCodeableConcept/coding/0/code",
            "09"
        )
    );
}

#[test]
fn unknown_keys_are_additional_properties() {
    let additional = |field: &str| ParseError::AdditionalProperty {
        field: field.into(),
    };
    assert_eq!(err(|v| v["pets"] = json!("cat")), additional("pets"));
    assert_eq!(
        err(|v| v["name"][0]["nickname"] = json!("Janey")),
        additional("name/0/nickname")
    );
    assert_eq!(
        err(|v| v["address"][1]["city"] = json!("Leeds")),
        additional("address/1/city")
    );
    assert_eq!(
        err(|v| v["contact"][0]["telecom"][0]["use"] = json!("home")),
        additional("contact/0/telecom/0/use")
    );
    assert_eq!(
        err(|v| v["managingOrganization"]["id"] = json!("X1")),
        additional("managingOrganization/id")
    );
    assert_eq!(
        err(|v| v["extension"][6]["valueAddress"]["state"] = json!("X")),
        additional("extension/6/valueAddress/state")
    );
    assert_eq!(
        err(|v| v["meta"]["lastUpdated"] = json!("2020-01-01")),
        additional("meta/lastUpdated")
    );
}

#[test]
fn list_items_need_ids_and_required_elements() {
    let missing = |field: &str| ParseError::MissingValue {
        field: field.into(),
    };
    let remove = |list: &'static str, i: usize, key: &'static str| {
        move |v: &mut Value| {
            v[list][i].as_object_mut().unwrap().remove(key);
        }
    };
    assert_eq!(err(remove("name", 0, "id")), missing("name/0/id"));
    assert_eq!(err(remove("name", 0, "use")), missing("name/0/use"));
    assert_eq!(err(remove("address", 1, "id")), missing("address/1/id"));
    assert_eq!(err(remove("address", 1, "use")), missing("address/1/use"));
    assert_eq!(err(remove("telecom", 2, "id")), missing("telecom/2/id"));
    assert_eq!(
        err(remove("telecom", 0, "value")),
        missing("telecom/0/value")
    );
    assert_eq!(err(remove("contact", 0, "id")), missing("contact/0/id"));
    assert_eq!(
        err(remove("contact", 0, "relationship")),
        missing("contact/0/relationship")
    );
    assert_eq!(
        err(|v| v["name"][0]["id"] = json!("")),
        invalid_at("name/0/id", "")
    );
    assert_eq!(
        err(|v| v["name"][0]["id"] = json!(123)),
        invalid_at("name/0/id", "123")
    );
    assert_eq!(
        err(|v| {
            v["extension"][0].as_object_mut().unwrap().remove("url");
        }),
        missing("extension/0/url")
    );
    assert_eq!(
        err(|v| {
            v["extension"][4]["extension"].as_array_mut().unwrap().pop();
        }),
        missing("extension/4/extension/interpreterRequired")
    );
}

#[test]
fn cardinality_limits() {
    let too_many = |field: &str| ParseError::TooManyValues {
        field: field.into(),
    };
    assert_eq!(
        err(|v| v["name"][0]["given"] = json!(["A", "B", "C", "D", "E", "F"])),
        too_many("name/0/given")
    );
    assert!(edited(|v| v["name"][0]["given"] = json!(["A", "B", "C", "D", "E"])).is_ok());
    assert_eq!(
        err(|v| v["address"][0]["line"] = json!(["1", "2", "3", "4", "5", "6"])),
        too_many("address/0/line")
    );
    assert_eq!(
        err(|v| {
            let gp = v["generalPractitioner"][0].clone();
            v["generalPractitioner"].as_array_mut().unwrap().push(gp);
        }),
        too_many("generalPractitioner")
    );
    assert_eq!(
        err(|v| {
            let pharmacy = v["extension"][0].clone();
            v["extension"].as_array_mut().unwrap().push(pharmacy);
        }),
        too_many("extension")
    );
    assert_eq!(
        err(|v| {
            let status = v["extension"][3]["extension"][0].clone();
            v["extension"][3]["extension"]
                .as_array_mut()
                .unwrap()
                .push(status);
        }),
        too_many("extension/3/extension")
    );
    let p = edited(|v| v["generalPractitioner"] = json!([])).unwrap();
    assert_eq!(p.details.general_practitioner, None);
}

#[test]
fn values_are_checked_against_types_and_code_lists() {
    assert_eq!(
        err(|v| v["name"][0]["use"] = json!("official")),
        invalid_at("name/0/use", "official")
    );
    assert_eq!(
        err(|v| v["gender"] = json!("robot")),
        invalid_at("gender", "robot")
    );
    assert_eq!(
        err(|v| v["gender"] = json!(null)),
        invalid_at("gender", "None")
    );
    assert_eq!(
        err(|v| v["name"][0]["family"] = json!(42)),
        invalid_at("name/0/family", "42")
    );
    assert_eq!(
        err(|v| v["name"][0]["given"][0] = json!(["Jane"])),
        invalid_at("name/0/given/0", "['Jane']")
    );
    let long = "A".repeat(36);
    assert_eq!(
        err(|v| v["name"][0]["family"] = json!(long)),
        invalid_at("name/0/family", &long)
    );
    assert_eq!(
        err(|v| v["name"][0]["given"] = json!(["Jane", long])),
        invalid_at("name/0/given/1", &long)
    );
    // 35 characters, not bytes.
    let accented = "É".repeat(35);
    assert!(edited(|v| v["name"][0]["family"] = json!(accented)).is_ok());
    assert_eq!(
        err(|v| v["birthDate"] = json!("2010-10")),
        invalid_at("birthDate", "2010-10")
    );
    assert_eq!(
        err(|v| v["birthDate"] = json!("2010-02-30")),
        invalid_at("birthDate", "2010-02-30")
    );
    for bad in [json!(0), json!(10), json!("1"), json!(1.5), json!(-1)] {
        let shown = shown(&bad);
        assert_eq!(
            err(|v| v["multipleBirthInteger"] = bad),
            invalid_at("multipleBirthInteger", &shown)
        );
    }
    assert_eq!(
        err(|v| v["address"][0]["use"] = json!("holiday")),
        invalid_at("address/0/use", "holiday")
    );
    assert_eq!(
        err(|v| v["address"][0]["extension"][0]["extension"][1]["valueString"] = json!("1234")),
        invalid_at("address/0/extension/0/extension/1/valueString", "1234")
    );
    assert_eq!(
        err(|v| v["telecom"][0]["system"] = json!("pager")),
        invalid_at("telecom/0/system", "pager")
    );
    assert_eq!(
        err(|v| v["telecom"][0]["extension"] = v["telecom"][2]["extension"].clone()),
        invalid_at("telecom/0/system", "phone")
    );
    assert_eq!(
        err(|v| v["contact"][0]["relationship"][0]["coding"][0]["code"] = json!("N")),
        invalid_at("contact/0/relationship/0/coding/0/code", "N")
    );
    assert_eq!(
        err(|v| v["generalPractitioner"][0]["identifier"]["value"] = json!("y12345")),
        invalid_at("generalPractitioner/0/identifier/value", "y12345")
    );
    assert_eq!(
        err(|v| v["generalPractitioner"][0]["type"] = json!("Practitioner")),
        invalid_at("generalPractitioner/0/type", "Practitioner")
    );
    assert_eq!(
        err(|v| v["extension"][0]["valueReference"]["identifier"]["value"] = json!("F!")),
        invalid_at("extension/0/valueReference/identifier/value", "F!")
    );
    assert_eq!(
        err(
            |v| v["extension"][4]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] =
                json!("en")
        ),
        invalid_at(
            "extension/4/extension/0/valueCodeableConcept/coding/0/code",
            "en"
        )
    );
    assert_eq!(
        err(|v| v["extension"][4]["extension"][1]["valueBoolean"] = json!("yes")),
        invalid_at("extension/4/extension/1/valueBoolean", "yes")
    );
    assert_eq!(
        err(
            |v| v["extension"][5]["extension"][1]["valueCodeableConcept"]["coding"][0]["code"] =
                json!("9")
        ),
        invalid_at(
            "extension/5/extension/1/valueCodeableConcept/coding/0/code",
            "9"
        )
    );
    let times = "x".repeat(41);
    assert_eq!(
        err(|v| v["extension"][5]["extension"][2]["valueString"] = json!(times)),
        invalid_at("extension/5/extension/2/valueString", &times)
    );
    assert_eq!(
        err(
            |v| v["extension"][3]["extension"][0]["valueCodeableConcept"]["coding"][0]["system"] =
                json!("http://example.org")
        ),
        invalid_at(
            "extension/3/extension/0/valueCodeableConcept/coding/0/system",
            "http://example.org"
        )
    );
}

#[test]
fn codes_are_read_with_their_displays_ignored() {
    let p = edited(|v| {
        v["extension"][3]["extension"][0]["valueCodeableConcept"]["coding"][0] =
            json!({"code": "1"});
        v["extension"][4]["extension"][0]["valueCodeableConcept"]["coding"][0] =
            json!({"code": "q4", "display": "British Sign Language"});
        v["extension"][5]["extension"][0]["valueCodeableConcept"]["coding"][0]["display"] =
            json!("anything");
    })
    .unwrap();
    let d = p.details;
    assert_eq!(d.death_notification.unwrap().status, DeathStatus::Informal);
    let c = d.communication.unwrap();
    assert_eq!(c.language, "q4");
    assert_eq!(c.language_display.as_deref(), Some("British Sign Language"));
    assert_eq!(
        d.contact_preference.unwrap().written_format,
        Some(WrittenFormat::Braille)
    );
}

#[test]
fn unknown_extensions_are_refused() {
    assert_eq!(
        err(|v| v["extension"][2]["url"] = json!("https://example.org/pets")),
        invalid_at("extension/2/url", "https://example.org/pets")
    );
    assert_eq!(
        err(|v| v["extension"][3]["extension"][1]["url"] = json!("dateOfDeath")),
        invalid_at("extension/3/extension/1/url", "dateOfDeath")
    );
    assert_eq!(
        err(|v| v["address"][0]["extension"][0]["url"] = json!("https://example.org")),
        invalid_at("address/0/extension/0/url", "https://example.org")
    );
    assert_eq!(
        err(|v| v["telecom"][2]["extension"][0]["url"] = json!("https://example.org")),
        invalid_at("telecom/2/extension/0/url", "https://example.org")
    );
}

#[test]
fn periods_must_not_end_before_they_start() {
    assert_eq!(
        err(|v| v["name"][0]["period"] = json!({"start": "2021-01-01", "end": "2020-12-31"})),
        invalid_at(
            "name/0/period",
            // As Python shows the dict (members here in key order).
            "{'end': '2020-12-31', 'start': '2021-01-01'}"
        )
    );
    assert_eq!(
        err(|v| v["address"][1]["period"]["start"] = json!("2020-1-1")),
        invalid_at("address/1/period/start", "2020-1-1")
    );
    assert_eq!(
        err(|v| v["generalPractitioner"][0]["identifier"]["period"]["end"] = json!("2019-01-01"))
            .field(),
        "generalPractitioner/0/identifier/period"
    );
    let p = edited(|v| v["name"][0]["period"] = json!({"end": "2021-12-31"})).unwrap();
    assert_eq!(
        p.details.names[0].period,
        Some(Period {
            start: None,
            end: NaiveDate::from_ymd_opt(2021, 12, 31)
        })
    );
}

#[test]
fn deceased_date_time_forms() {
    let at = |text: &str| edited(|v| v["deceasedDateTime"] = json!(text));
    let expect = |y, m, d, h, min, s| {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, s)
            .unwrap()
            .and_utc()
    };
    for text in [
        "2025-01-05T10:20:30+00:00",
        "2025-01-05T10:20:30Z",
        "2025-01-05T10:20:30",
        "2025-01-05T10:20:30-00:00",
    ] {
        assert_eq!(
            at(text).unwrap().deceased,
            Some(expect(2025, 1, 5, 10, 20, 30)),
            "{text}"
        );
    }
    assert_eq!(
        at("2025-01-05").unwrap().deceased,
        Some(expect(2025, 1, 5, 0, 0, 0))
    );
    for text in [
        "2025-01-05T00:00:00+01:00",
        "2025-01-05T00:00:00-05:00",
        "2025-01-05T00:00:00+0000",
        "2025-01-05T00:00:00.000+00:00",
        "2025-01-05T24:00:00+00:00",
        "2025-01-05T00:00",
        "2025-01",
        "2025",
        "2025-13-01",
        "",
        "2025-01-05T00:00:00+00:00 ",
        "２０２５-01-05",
    ] {
        assert_eq!(
            at(text).unwrap_err(),
            invalid_at("deceasedDateTime", text),
            "{text}"
        );
    }
    assert_eq!(
        err(|v| v["deceasedDateTime"] = json!(20250105)),
        invalid_at("deceasedDateTime", "20250105")
    );
    let p = edited(|v| {
        v["extension"][3]["extension"][1]["valueDateTime"] = json!("2010-10-23T01:02:03Z")
    })
    .unwrap();
    assert_eq!(
        p.details.death_notification.unwrap().effective,
        Some(expect(2010, 10, 23, 1, 2, 3))
    );
    assert_eq!(
        err(|v| v["extension"][3]["extension"][1]["valueDateTime"] =
            json!("2010-10-23T01:02:03+02:00")),
        invalid_at(
            "extension/3/extension/1/valueDateTime",
            "2010-10-23T01:02:03+02:00"
        )
    );
}

#[test]
fn a_trailing_full_stop_is_removed_from_prefixes() {
    let p = edited(|v| v["name"][0]["prefix"] = json!(["Mrs.", "Dr"])).unwrap();
    assert_eq!(p.details.names[0].prefix, ["Mrs", "Dr"]);
}

#[test]
fn blank_and_null_address_lines_keep_their_places_but_trailing_ones_go() {
    let p =
        edited(|v| v["address"][0]["line"] = json!(["1 Road", "", null, "  Leeds ", " "])).unwrap();
    assert_eq!(p.details.addresses[0].lines, ["1 Road", "", "", "Leeds"]);
    assert_eq!(
        err(|v| v["address"][0]["line"] = json!(["1 Road", 7])),
        invalid_at("address/0/line/1", "7")
    );
    assert_eq!(
        err(|v| v["address"][0]["_line"] = json!([null, "x"])),
        invalid_at("address/0/_line/1", "x")
    );
}

const EVERYTHING: View = View {
    confidential_removal_reasons: true,
    empty_address_lines: true,
    record_sharing_consent: true,
};

#[test]
fn an_application_shown_everything_gets_lines_in_place_and_the_consent() {
    let mut p = jane();
    p.details.addresses[0].lines = vec!["1 Road".into(), "".into(), "Leeds".into()];
    p.details.removal.as_mut().unwrap().reason = RemovalReason::ArmedForces;
    p.details.extra.sharing_consent = Some(SharingConsent::Dissent);
    let v = render(&p, EVERYTHING);
    assert_eq!(v["address"][0]["line"], json!(["1 Road", null, "Leeds"]));
    assert_eq!(
        v["address"][0]["_line"],
        json!([null, {"extension": [{"url": EXT_DATA_ABSENT_REASON, "valueCode": "unknown"}]}, null])
    );
    // An address without empty lines has no `_line`.
    assert!(v["address"][1].get("_line").is_none());
    let consent = v["extension"].as_array().unwrap().last().unwrap();
    assert_eq!(consent["url"], EXT_SHARING_CONSENT);
    assert_eq!(
        consent["extension"][1]["valueCodeableConcept"]["coding"][0]["code"],
        "2"
    );
    // What it is shown parses back to the record.
    let parsed = parse_as(&v, &p).unwrap();
    assert_eq!(parsed.details.addresses, p.details.addresses);
    assert_eq!(
        parsed.details.extra.sharing_consent,
        Some(SharingConsent::Dissent)
    );
    assert_eq!(parsed.details.removal, p.details.removal);
    // Values 3 and 5 are never shown.
    p.details.extra.sharing_consent = Some(SharingConsent::Unknown);
    let v = render(&p, EVERYTHING);
    assert!(
        v["extension"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["url"] != EXT_SHARING_CONSENT)
    );
}

#[test]
fn errors_render_as_pds_diagnostics() {
    let e = err(|v| v["deceasedDateTime"] = json!("2025-01-05T00:00:00+01:00"));
    assert_eq!(
        e.to_string(),
        "Invalid value - '2025-01-05T00:00:00+01:00' in field 'deceasedDateTime'"
    );
    assert_eq!(e.field(), "deceasedDateTime");
    let e = err(|v| {
        v["name"][0].as_object_mut().unwrap().remove("id");
    });
    assert_eq!(e.to_string(), "Missing value - 'name/0/id'");
}

/// Every JSON pointer below `value`, parents before children.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// A small deterministic generator of arbitrary JSON.
struct Garbage(u64);

impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn value(&mut self, depth: u32) -> Value {
        let strings = [
            "",
            "x",
            "Patient",
            "usual",
            "home",
            "C",
            "U",
            "1",
            "2010-10-22",
            "phone",
            "textphone",
            "url",
            "extension",
            "9000000009",
            "é",
        ];
        match self.next() % if depth == 0 { 6 } else { 8 } {
            0 => Value::Null,
            1 => json!(self.next().is_multiple_of(2)),
            2 => json!(self.next() % 20),
            3 => json!(-1.5),
            4 | 5 => json!(strings[(self.next() % strings.len() as u64) as usize]),
            6 => Value::Array(
                (0..self.next() % 4)
                    .map(|_| self.value(depth - 1))
                    .collect(),
            ),
            _ => {
                let keys = [
                    "url",
                    "id",
                    "use",
                    "coding",
                    "extension",
                    "value",
                    "code",
                    "x",
                ];
                Value::Object(
                    (0..self.next() % 4)
                        .map(|_| {
                            let k = keys[(self.next() % keys.len() as u64) as usize];
                            (k.to_owned(), self.value(depth - 1))
                        })
                        .collect(),
                )
            }
        }
    }
}

#[test]
fn odd_input_never_panics() {
    let p = jane();
    let rendered = render(&p, View::default());
    let mut paths = Vec::new();
    pointers(&rendered, String::new(), &mut paths);
    let mut garbage = Garbage(0x9E37_79B9_7F4A_7C15);
    let mut fixed = vec![
        Value::Null,
        json!(0),
        json!(-1),
        json!(1.5),
        json!(""),
        json!("x"),
        json!([]),
        json!([null]),
        json!({}),
        json!({"a": {"b": [1, {"c": null}]}}),
        json!(true),
        json!(u64::MAX),
    ];
    let mut deep = json!("bottom");
    for i in 0..100 {
        deep = if i % 2 == 0 {
            json!([deep])
        } else {
            json!({"extension": deep})
        };
    }
    fixed.push(deep);
    let mut refused = 0;
    let mut total = 0;
    for path in &paths {
        let mut replacements = fixed.clone();
        replacements.extend((0..4).map(|_| garbage.value(4)));
        for replacement in replacements {
            let mut v = rendered.clone();
            *v.pointer_mut(path).unwrap() = replacement;
            total += 1;
            refused += usize::from(parse_as(&v, &p).is_err());
        }
        // Removing the element, and adding an unknown key beside it.
        let mut v = rendered.clone();
        if let Some((parent, key)) = path.rsplit_once('/') {
            match v.pointer_mut(parent).unwrap() {
                Value::Object(map) => {
                    map.remove(key);
                    map.insert("zzz".into(), json!(1));
                }
                Value::Array(items) => {
                    items.remove(key.parse::<usize>().unwrap());
                }
                _ => unreachable!(),
            }
            let _ = parse_as(&v, &p);
        }
    }
    // Nearly every odd value somewhere in a patient is an error.
    assert!(refused * 10 > total * 8, "{refused} of {total}");
    // Whole documents of garbage.
    for _ in 0..5_000 {
        let v = garbage.value(6);
        assert!(parse_as(&v, &p).is_err());
        let mut doc = rendered.clone();
        for key in PATIENT_KEYS {
            if garbage.next().is_multiple_of(4) {
                doc[*key] = garbage.value(5);
            }
        }
        let _ = parse_as(&doc, &p);
    }
}
