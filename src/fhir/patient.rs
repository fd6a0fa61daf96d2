//! `domain::Patient` → FHIR `Patient`, in the element order PDS uses.

use serde_json::{Map, Value, json};

use super::{date, instant, urls::*};
use crate::domain::codes::{SharingConsent, TelecomSystem};
use crate::domain::patient::*;

/// How one application is shown records: the per-application options PDS
/// calls custom attributes (see `auth::apps`). They choose how what the
/// caller may see is written, after redaction (`Patient::visible_to`),
/// never what it may see. The default is what PDS shows an ordinary app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct View {
    /// AFN and SDN as themselves, not ORR.
    pub confidential_removal_reasons: bool,
    /// Empty address lines as `null`, each with a data-absent-reason in `_line`.
    pub empty_address_lines: bool,
    /// The NHS record-sharing consent extension (consent or dissent only).
    pub record_sharing_consent: bool,
}

pub fn render(patient: &Patient, view: View) -> Value {
    let d = &patient.details;
    let nhs = patient.nhs_number.to_string();
    let mut out = Map::new();
    out.insert("resourceType".into(), json!("Patient"));
    out.insert("id".into(), json!(nhs));
    let mut identifier = json!({"system": NHS_NUMBER, "value": nhs});
    if let Some(v) = d.verification {
        identifier["extension"] = json!([{
            "url": EXT_VERIFICATION,
            "valueCodeableConcept": {"coding": [{
                "system": CS_VERIFICATION, "version": "1.0.0",
                "code": v.code(), "display": v.display()
            }]}
        }]);
    }
    out.insert("identifier".into(), json!([identifier]));
    out.insert(
        "meta".into(),
        json!({
            "versionId": patient.version.to_string(),
            "security": [{
                "system": CONFIDENTIALITY,
                "code": patient.security.code(),
                "display": patient.security.display()
            }]
        }),
    );
    put_list(&mut out, "name", d.names.iter().map(|n| with_id(n, name)));
    if let Some(g) = patient.gender {
        out.insert("gender".into(), json!(g.code()));
    }
    if let Some(b) = &patient.birth_date {
        out.insert("birthDate".into(), json!(date(b)));
    }
    if let Some(n) = d.multiple_birth {
        out.insert("multipleBirthInteger".into(), json!(n));
    }
    if let Some(at) = &patient.deceased {
        out.insert("deceasedDateTime".into(), json!(instant(at)));
    }
    let address_of = match view.empty_address_lines {
        true => address_with_empty_lines,
        false => address,
    };
    put_list(
        &mut out,
        "address",
        d.addresses.iter().map(|a| with_id(a, address_of)),
    );
    put_list(
        &mut out,
        "telecom",
        d.telecoms.iter().map(|t| with_id(t, telecom)),
    );
    put_list(&mut out, "contact", d.contacts.iter().map(contact));
    if let Some(gp) = &d.general_practitioner {
        let mut reference = organisation(gp);
        if let Some(id) = &gp.id {
            reference.insert("id".into(), json!(id));
        }
        out.insert("generalPractitioner".into(), json!([reference]));
    }
    if let Some(org) = &d.managing_organisation {
        out.insert(
            "managingOrganization".into(),
            Value::Object(organisation(org)),
        );
    }
    put_list(&mut out, "extension", extensions(d, view).into_iter());
    Value::Object(out)
}

fn put_list(out: &mut Map<String, Value>, key: &str, items: impl Iterator<Item = Value>) {
    let items: Vec<Value> = items.collect();
    if !items.is_empty() {
        out.insert(key.into(), Value::Array(items));
    }
}

pub(super) fn period(p: &Option<Period>, into: &mut Map<String, Value>) {
    if let Some(p) = p {
        let mut v = Map::new();
        if let Some(s) = &p.start {
            v.insert("start".into(), json!(date(s)));
        }
        if let Some(e) = &p.end {
            v.insert("end".into(), json!(date(e)));
        }
        into.insert("period".into(), Value::Object(v));
    }
}

/// A list item: its `id`, then its elements.
fn with_id<T>(item: &WithId<T>, elements: fn(&T) -> Map<String, Value>) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(item.id));
    v.extend(elements(&item.item));
    Value::Object(v)
}

/// A name's elements (shared with related people, whose names have no id).
pub(super) fn name(n: &Name) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert("use".into(), json!(n.name_use.code()));
    period(&n.period, &mut v);
    if !n.given.is_empty() {
        v.insert("given".into(), json!(n.given));
    }
    if let Some(f) = &n.family {
        v.insert("family".into(), json!(f));
    }
    if !n.prefix.is_empty() {
        v.insert("prefix".into(), json!(n.prefix));
    }
    if !n.suffix.is_empty() {
        v.insert("suffix".into(), json!(n.suffix));
    }
    v
}

/// An address's elements (shared with related people).
pub(super) fn address(a: &Address) -> Map<String, Value> {
    address_elements(a, false)
}

/// An address's elements, its empty lines kept in their places.
fn address_with_empty_lines(a: &Address) -> Map<String, Value> {
    address_elements(a, true)
}

fn address_elements(a: &Address, empty_lines: bool) -> Map<String, Value> {
    let mut v = Map::new();
    period(&a.period, &mut v);
    v.insert("use".into(), json!(a.address_use.code()));
    if let Some(t) = &a.text {
        v.insert("text".into(), json!(t));
    }
    address_lines(&a.lines, empty_lines, &mut v);
    if let Some(p) = &a.postal_code {
        v.insert("postalCode".into(), json!(p));
    }
    if !a.keys.is_empty() {
        let keys: Vec<Value> = a
            .keys
            .iter()
            .map(|k| {
                json!({"url": EXT_ADDRESS_KEY, "extension": [
                    {"url": "type", "valueCoding": {"system": CS_ADDRESS_KEY, "code": k.key_type.code()}},
                    {"url": "value", "valueString": k.value}
                ]})
            })
            .collect();
        v.insert("extension".into(), Value::Array(keys));
    }
    v
}

/// The lines in their places (premises, street, locality, post town,
/// county). PDS drops blank lines unless the application asks for them;
/// then each is `null` in `line`, with the reason in the same place of
/// `_line` (FHIR's way to extend one item of a primitive list). Blank lines
/// after the last one written carry no place and are left out either way.
fn address_lines(lines: &[String], empty_lines: bool, into: &mut Map<String, Value>) {
    let lines: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    let written = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    let lines = &lines[..written];
    if lines.is_empty() {
        return;
    }
    if !empty_lines || lines.iter().all(|l| !l.is_empty()) {
        let kept: Vec<&str> = lines.iter().copied().filter(|l| !l.is_empty()).collect();
        into.insert("line".into(), json!(kept));
        return;
    }
    let line: Vec<Value> = lines
        .iter()
        .map(|l| if l.is_empty() { Value::Null } else { json!(l) })
        .collect();
    let absent: Vec<Value> = lines
        .iter()
        .map(|l| match l.is_empty() {
            true => json!({"extension": [{"url": EXT_DATA_ABSENT_REASON, "valueCode": "unknown"}]}),
            false => Value::Null,
        })
        .collect();
    into.insert("line".into(), Value::Array(line));
    into.insert("_line".into(), Value::Array(absent));
}

/// A telecom's elements (shared with related people).
pub(super) fn telecom(t: &Telecom) -> Map<String, Value> {
    let mut v = Map::new();
    period(&t.period, &mut v);
    v.insert("system".into(), json!(t.system.code()));
    v.insert("value".into(), json!(t.value));
    if let Some(u) = t.telecom_use {
        v.insert("use".into(), json!(u.code()));
    }
    if t.textphone && t.system == TelecomSystem::Other {
        v.insert(
            "extension".into(),
            json!([{"url": EXT_OTHER_CONTACT, "valueCoding": {
                "system": CS_OTHER_CONTACT, "code": "textphone", "display": "Minicom (Textphone)"
            }}]),
        );
    }
    v
}

fn contact(c: &EmergencyContact) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(c.id));
    period(&c.period, &mut v);
    v.insert(
        "relationship".into(),
        json!([{"coding": [{"system": CS_CONTACT_RELATIONSHIP, "code": "C", "display": "Emergency Contact"}]}]),
    );
    let telecoms: Vec<Value> = c
        .telecoms
        .iter()
        .map(|t| json!({"system": t.system.code(), "value": t.value}))
        .collect();
    v.insert("telecom".into(), Value::Array(telecoms));
    Value::Object(v)
}

fn organisation(org: &OrganisationRef) -> Map<String, Value> {
    let mut identifier = Map::new();
    identifier.insert("system".into(), json!(ODS_CODE));
    identifier.insert("value".into(), json!(org.ods_code));
    period(&org.period, &mut identifier);
    let mut v = Map::new();
    v.insert("type".into(), json!("Organization"));
    v.insert("identifier".into(), Value::Object(identifier));
    v
}

fn ods_extension(url: &str, ods: &Option<String>) -> Option<Value> {
    ods.as_ref().map(|code| {
        json!({"url": url, "valueReference": {"identifier": {"system": ODS_CODE, "value": code}}})
    })
}

pub(super) fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}]})
}

fn extensions(d: &Details, view: View) -> Vec<Value> {
    let mut out: Vec<Value> = [
        ods_extension(EXT_NOMINATED_PHARMACY, &d.nominated_pharmacy),
        ods_extension(EXT_PREFERRED_DISPENSER, &d.preferred_dispenser),
        ods_extension(EXT_APPLIANCE_SUPPLIER, &d.appliance_supplier),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(dn) = &d.death_notification {
        let mut parts = vec![
            json!({"url": "deathNotificationStatus", "valueCodeableConcept": {"coding": [{
                "system": CS_DEATH_NOTIFICATION, "version": "1.0.0",
                "code": dn.status.code(), "display": dn.status.display()
            }]}}),
        ];
        if let Some(at) = &dn.effective {
            parts.push(json!({"url": "systemEffectiveDate", "valueDateTime": instant(at)}));
        }
        out.push(json!({"url": EXT_DEATH_NOTIFICATION, "extension": parts}));
    }
    out.extend(d.communication.as_ref().map(communication));
    out.extend(d.contact_preference.as_ref().map(contact_preference));
    if let Some(b) = &d.birth_place {
        let mut place = Map::new();
        for (key, value) in [
            ("city", &b.city),
            ("district", &b.district),
            ("country", &b.country),
        ] {
            if let Some(value) = value {
                place.insert(key.into(), json!(value));
            }
        }
        out.push(json!({"url": EXT_BIRTH_PLACE, "valueAddress": place}));
    }
    if let Some(r) = &d.removal {
        let reason = r.reason.shown(view.confidential_removal_reasons);
        let mut effective = Map::new();
        if let Some(s) = &r.start {
            effective.insert("start".into(), json!(instant(s)));
        }
        if let Some(e) = &r.end {
            effective.insert("end".into(), json!(instant(e)));
        }
        out.push(json!({"url": EXT_REMOVAL, "extension": [
            {"url": "removalFromRegistrationCode",
             "valueCodeableConcept": coding(CS_REMOVAL, reason.code(), reason.display())},
            {"url": "effectiveTime", "valuePeriod": effective}
        ]}));
    }
    if view.record_sharing_consent {
        out.extend(d.extra.sharing_consent.and_then(sharing_consent));
    }
    out
}

/// Whether a consent value is ever shown: consent and dissent only.
pub(super) fn consent_is_shown(consent: SharingConsent) -> bool {
    matches!(consent, SharingConsent::Consent | SharingConsent::Dissent)
}

/// The record-sharing consent as PDS writes it: consent type 4 (NCRS) and
/// the value. PDS never shows the values 3 (unknown) and 5 (call-centre
/// callback), so neither do we.
fn sharing_consent(consent: SharingConsent) -> Option<Value> {
    if !consent_is_shown(consent) {
        return None;
    }
    Some(json!({"url": EXT_SHARING_CONSENT, "extension": [
        {"url": "consentType", "valueCodeableConcept": {"coding": [{"code": "4", "display": "ncrs"}]}},
        {"url": "consentValue", "valueCodeableConcept": {"coding": [
            {"code": consent.code(), "display": consent.display()}
        ]}}
    ]}))
}

pub(super) fn communication(c: &Communication) -> Value {
    let mut language = json!({"system": CS_LANGUAGE, "version": "1.0.0", "code": c.language});
    if let Some(display) = &c.language_display {
        language["display"] = json!(display);
    }
    json!({"url": EXT_COMMUNICATION, "extension": [
        {"url": "language", "valueCodeableConcept": {"coding": [language]}},
        {"url": "interpreterRequired", "valueBoolean": c.interpreter_required}
    ]})
}

pub(super) fn contact_preference(p: &ContactPreference) -> Value {
    let mut parts = Vec::new();
    if let Some(f) = p.written_format {
        parts.push(json!({"url": "PreferredWrittenCommunicationFormat",
            "valueCodeableConcept": coding(CS_WRITTEN_FORMAT, f.code(), f.display())}));
    }
    if let Some(m) = p.contact_method {
        parts.push(json!({"url": "PreferredContactMethod",
            "valueCodeableConcept": coding(CS_CONTACT_METHOD, m.code(), m.display())}));
    }
    if let Some(t) = &p.contact_times {
        parts.push(json!({"url": "PreferredContactTimes", "valueString": t}));
    }
    json!({"url": EXT_CONTACT_PREFERENCE, "extension": parts})
}
