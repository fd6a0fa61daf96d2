//! `domain::related::RelatedPerson` → FHIR `RelatedPerson`, and the
//! `searchset` Bundle of a patient's related people.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::patient::{address, communication, contact_preference, name, period, telecom};
use super::urls::*;
use crate::domain::related::*;

pub const EXT_COPY_CORRESPONDENCE: &str =
    "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-CopyCorrespondenceIndicator";
pub const EXT_CONTACT_RANK: &str =
    "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-ContactRank";
pub const CS_ADDITIONAL_ROLE: &str =
    "https://fhir.nhs.uk/R4/CodeSystem/UKCore-AdditionalRelatedPersonRole";
/// PDS names the HL7 value set, not a code system, as the `system` of the
/// HL7 relationship codes (SPS, MTH, N, ...): it is the only other value its
/// schema allows (`codeable/Relationship.yaml`), and what it returns.
pub const CS_HL7_RELATIONSHIP: &str = "http://hl7.org/fhir/ValueSet/relatedperson-relationshiptype";

/// The Bundle for `GET /Patient/{id}/RelatedPerson`: a searchset whose
/// entries have no `search` element; with none the `entry` key is left out.
pub fn bundle(now: &DateTime<Utc>, entries: Vec<(String, Value)>) -> Value {
    super::bundle::searchset(
        now,
        entries
            .into_iter()
            .map(|(url, resource)| (url, None, resource))
            .collect(),
    )
}

pub fn render(person: &RelatedPerson) -> Value {
    let d = &person.details;
    let mut out = Map::new();
    out.insert("id".into(), json!(person.id));
    out.insert("resourceType".into(), json!("RelatedPerson"));
    let mut patient = Map::new();
    if let Some(nhs) = d.patient {
        patient.insert(
            "identifier".into(),
            json!({"system": NHS_NUMBER, "value": nhs.to_string()}),
        );
    }
    // `patient` is required by the schema, even when it names no one.
    out.insert("patient".into(), Value::Object(patient));
    out.insert("active".into(), json!(d.active));
    period(&d.period, &mut out);
    if let Some(n) = &d.name {
        out.insert("name".into(), Value::Array(vec![Value::Object(name(n))]));
    }
    let codings: Vec<Value> = d.relationship.iter().map(|r| relationship(*r)).collect();
    out.insert("relationship".into(), json!([{"coding": codings}]));
    let extensions = extensions(d);
    if !extensions.is_empty() {
        out.insert("extension".into(), Value::Array(extensions));
    }
    if !d.telecoms.is_empty() {
        out.insert(
            "telecom".into(),
            Value::Array(
                d.telecoms
                    .iter()
                    .map(|t| Value::Object(telecom(t)))
                    .collect(),
            ),
        );
    }
    if let Some(a) = &d.address {
        out.insert(
            "address".into(),
            Value::Array(vec![Value::Object(address(a))]),
        );
    }
    Value::Object(out)
}

fn relationship(r: Relationship) -> Value {
    let system = match r.system() {
        RelationshipSystem::UkCore => CS_ADDITIONAL_ROLE,
        RelationshipSystem::Hl7 => CS_HL7_RELATIONSHIP,
    };
    json!({"system": system, "code": r.code(), "display": r.display()})
}

/// Copy correspondence (only when true), contact rank, contact preference
/// and NHS communication, each at most once, in that order.
fn extensions(d: &RelatedDetails) -> Vec<Value> {
    let mut out = Vec::new();
    if d.copy_correspondence {
        out.push(json!({"url": EXT_COPY_CORRESPONDENCE, "valueBoolean": true}));
    }
    if let Some(rank) = d.contact_rank {
        out.push(json!({"url": EXT_CONTACT_RANK, "valuePositiveInt": rank}));
    }
    if let Some(p) = &d.contact_preference {
        out.push(contact_preference(p));
    }
    if let Some(c) = &d.communication {
        out.push(communication(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NhsNumber;
    use crate::fhir::instant;

    #[test]
    fn a_reference_only_person_renders_without_empty_lists() {
        let person = RelatedPerson {
            id: "B3380E98".into(),
            details: RelatedDetails {
                patient: Some(NhsNumber::parse("9000000009").unwrap()),
                active: true,
                relationship: vec![Relationship::Guardian, Relationship::NextOfKin],
                contact_rank: Some(2),
                ..RelatedDetails::default()
            },
        };
        let v = render(&person);
        assert_eq!(v["resourceType"], "RelatedPerson");
        assert_eq!(v["patient"]["identifier"]["value"], "9000000009");
        for absent in ["name", "address", "telecom", "period"] {
            assert!(v.get(absent).is_none(), "{absent}");
        }
        let codings = &v["relationship"][0]["coding"];
        assert_eq!(codings[0]["system"], CS_ADDITIONAL_ROLE);
        assert_eq!(codings[1]["system"], CS_HL7_RELATIONSHIP);
        assert_eq!(codings[1]["code"], "N");
        // Copy correspondence is false, so only the rank is there.
        assert_eq!(v["extension"].as_array().unwrap().len(), 1);
        assert_eq!(v["extension"][0]["valuePositiveInt"], 2);
    }

    #[test]
    fn an_empty_bundle_has_no_entry() {
        let now = Utc::now();
        let b = bundle(&now, Vec::new());
        assert_eq!(b["total"], 0);
        assert!(b.get("entry").is_none());
        assert_eq!(b["timestamp"], instant(&now));
    }
}
