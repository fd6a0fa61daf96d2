//! FHIR `Patient` JSON → `domain::Patient`: the inverse of `fhir::patient::render`.
//!
//! PATCH renders the current record, applies the JSON-Patch operations to the
//! JSON and reads the result back with [`patient`]. The parser checks shape,
//! types, code lists and cardinality (what the OAS schemas say); the business
//! rules that compare old and new values (who may change what, one usual
//! name, period start not in the future, ...) belong to the PATCH layer.
//!
//! Every object is closed: a key the renderer does not write is
//! `AdditionalProperty`. Errors carry the JSON path of the offending element
//! without a leading slash (`name/0/given/2`, `extension/3/url`).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Map, Value};

use super::urls::*;
use crate::domain::codes::*;
use crate::domain::patient::*;
use crate::domain::{NhsNumber, Patient};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A value of the wrong type/format or outside its code list: 400 INVALID_VALUE,
    /// diagnostics `Invalid value - '<value>' in field '<field>'` (field as a path like
    /// `name/0/use`, `gender`, `deceasedDateTime`).
    InvalidValue { field: String, value: String },
    /// A key the Patient (or the sub-object) does not allow: 400 ADDITIONAL_PROPERTIES
    /// (`field` is the path of the key, e.g. `pets` or `name/0/nickname`).
    AdditionalProperty { field: String },
    /// A required element missing (e.g. `name/0/id`, `address/1/use`): 400 MISSING_VALUE
    /// `Missing value - '<field>'`.
    MissingValue { field: String },
    /// More items than allowed (e.g. >5 given names, >5 address lines, >1 identifier,
    /// >1 generalPractitioner): 400 TOO_MANY_VALUES_SUBMITTED.
    TooManyValues { field: String },
}

impl ParseError {
    /// The path of the element the error is about.
    pub fn field(&self) -> &str {
        match self {
            Self::InvalidValue { field, .. }
            | Self::AdditionalProperty { field }
            | Self::MissingValue { field }
            | Self::TooManyValues { field } => field,
        }
    }

    /// The same error, about the element at `f(field)` instead.
    pub fn map_field(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            Self::InvalidValue { field, value } => Self::InvalidValue {
                field: f(field),
                value,
            },
            Self::AdditionalProperty { field } => Self::AdditionalProperty { field: f(field) },
            Self::MissingValue { field } => Self::MissingValue { field: f(field) },
            Self::TooManyValues { field } => Self::TooManyValues { field: f(field) },
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidValue { field, value } => {
                write!(f, "Invalid value - '{value}' in field '{field}'")
            }
            Self::AdditionalProperty { field } => write!(f, "Additional property - '{field}'"),
            Self::MissingValue { field } => write!(f, "Missing value - '{field}'"),
            Self::TooManyValues { field } => write!(f, "Too many values submitted - '{field}'"),
        }
    }
}

impl std::error::Error for ParseError {}

type Result<T> = std::result::Result<T, ParseError>;

/// The keys a Patient may have, in the order PDS writes them.
const PATIENT_KEYS: &[&str] = &[
    "resourceType",
    "id",
    "identifier",
    "meta",
    "name",
    "gender",
    "birthDate",
    "multipleBirthInteger",
    "deceasedDateTime",
    "address",
    "telecom",
    "contact",
    "generalPractitioner",
    "managingOrganization",
    "extension",
];

const MAX_GIVEN: usize = 5;
const MAX_NAME_CHARS: usize = 35;
const MAX_LINES: usize = 5;
const MAX_CONTACT_TIMES_CHARS: usize = 40;

/// Parses a FHIR Patient as the renderer produces it (and as PDS clients write it).
/// `resourceType`, `id`, `identifier` and `meta` are read-only: they must still be present
/// and unchanged (id equal to `nhs_number`, identifier value equal, versionId equal to
/// `version`, security code equal to `security`) — a change to any of them is
/// `InvalidValue` on that field.
///
/// The NHS-number verification status is read from the identifier's extension; the
/// caller compares it with the stored one if it must not change.
pub fn patient(
    value: &Value,
    nhs_number: NhsNumber,
    version: u32,
    security: Security,
) -> Result<Patient> {
    let Value::Object(map) = value else {
        return Err(invalid("Patient", value));
    };
    let top = Obj::new(map, String::new(), PATIENT_KEYS)?;
    let nhs = nhs_number.to_string();

    let resource_type = top.required("resourceType")?;
    if resource_type.as_str() != Some("Patient") {
        return Err(invalid("resourceType", resource_type));
    }
    let id = top.required("id")?;
    if id.as_str() != Some(nhs.as_str()) {
        return Err(invalid("id", id));
    }
    let verification = identifier(&top, &nhs)?;
    meta(&top, version, security)?;

    let names = top.list("name", name)?;
    let gender = top.code("gender", Gender::from_code)?;
    let birth_date = top.date("birthDate")?;
    let multiple_birth = match top.get("multipleBirthInteger") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| (1..=9).contains(n))
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| invalid("multipleBirthInteger", v))?,
        ),
    };
    let deceased = top.instant("deceasedDateTime")?;
    let addresses = top.list("address", address)?;
    let telecoms = top.list("telecom", telecom)?;
    let contacts = top.list("contact", contact)?;
    let general_practitioner = general_practitioner(&top)?;
    let managing_organisation = match top.object("managingOrganization", &["type", "identifier"])? {
        None => None,
        Some(org) => Some(organisation(&org, None)?),
    };

    let mut details = Details {
        verification,
        multiple_birth,
        names,
        addresses,
        telecoms,
        contacts,
        general_practitioner,
        managing_organisation,
        ..Details::default()
    };
    extensions(&top, &mut details)?;

    Ok(Patient {
        nhs_number,
        version,
        security,
        gender,
        birth_date,
        deceased,
        details,
    })
}

// ---------------------------------------------------------------------------
// Read-only elements

fn identifier(top: &Obj<'_>, nhs: &str) -> Result<Option<Verification>> {
    let items = top.required_array("identifier")?;
    match items.len() {
        0 => return Err(missing(top.at("identifier/0"))),
        1 => {}
        _ => return Err(too_many(top.at("identifier"))),
    }
    let item = Obj::item(
        &items[0],
        top.at("identifier/0"),
        &["system", "value", "extension"],
    )?;
    item.fixed("system", NHS_NUMBER)?;
    let value = item.required("value")?;
    if value.as_str() != Some(nhs) {
        return Err(invalid(&item.at("value"), value));
    }
    let Some(extensions) = item.array("extension")? else {
        return Ok(None);
    };
    if extensions.len() > 1 {
        return Err(too_many(item.at("extension")));
    }
    let Some(first) = extensions.first() else {
        return Ok(None);
    };
    let ext = Obj::item(
        first,
        item.at("extension/0"),
        &["url", "valueCodeableConcept"],
    )?;
    ext.url(EXT_VERIFICATION)?;
    let concept = ext.required_object("valueCodeableConcept", CODEABLE_KEYS)?;
    Ok(Some(codeable(
        &concept,
        CS_VERIFICATION,
        Verification::from_code,
    )?))
}

fn meta(top: &Obj<'_>, version: u32, security: Security) -> Result<()> {
    let meta = top.required_object("meta", &["versionId", "security"])?;
    let version_id = meta.required("versionId")?;
    if version_id.as_str() != Some(version.to_string().as_str()) {
        return Err(invalid(&meta.at("versionId"), version_id));
    }
    let labels = meta.required_array("security")?;
    match labels.len() {
        0 => return Err(missing(meta.at("security/0"))),
        1 => {}
        _ => return Err(too_many(meta.at("security"))),
    }
    let label = Obj::item(&labels[0], meta.at("security/0"), CODING_KEYS)?;
    let code = coding(&label, CONFIDENTIALITY, Security::from_code)?;
    if code != security {
        return Err(invalid(&label.at("code"), &Value::from(code.code())));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Lists

fn name(item: &Value, path: String) -> Result<WithId<Name>> {
    let n = Obj::item(
        item,
        path,
        &["id", "use", "period", "given", "family", "prefix", "suffix"],
    )?;
    let id = n.id()?;
    let name_use = n.required_code("use", NameUse::from_code)?;
    let period = n.period("period")?;
    let given = n.strings("given")?;
    if given.len() > MAX_GIVEN {
        return Err(too_many(n.at("given")));
    }
    for (i, g) in given.iter().enumerate() {
        if g.chars().count() > MAX_NAME_CHARS {
            return Err(invalid(
                &n.at(&format!("given/{i}")),
                &Value::from(g.as_str()),
            ));
        }
    }
    let family = n.string("family")?;
    if let Some(f) = &family
        && f.chars().count() > MAX_NAME_CHARS
    {
        return Err(invalid(&n.at("family"), &Value::from(f.as_str())));
    }
    // PDS removes a trailing full stop from a title: `Mrs.` is stored as `Mrs`.
    let prefix = n
        .strings("prefix")?
        .into_iter()
        .map(|p| match p.strip_suffix('.') {
            Some(stripped) => stripped.to_owned(),
            None => p,
        })
        .collect();
    let suffix = n.strings("suffix")?;
    Ok(WithId::new(
        id,
        Name {
            name_use,
            period,
            given,
            family,
            prefix,
            suffix,
        },
    ))
}

fn address(item: &Value, path: String) -> Result<WithId<Address>> {
    let a = Obj::item(
        item,
        path,
        &[
            "id",
            "period",
            "use",
            "text",
            "line",
            "postalCode",
            "extension",
        ],
    )?;
    let id = a.id()?;
    let period = a.period("period")?;
    let address_use = a.required_code("use", AddressUse::from_code)?;
    let text = a.string("text")?;
    let mut lines = Vec::new();
    if let Some(items) = a.array("line")? {
        if items.len() > MAX_LINES {
            return Err(too_many(a.at("line")));
        }
        for (i, line) in items.iter().enumerate() {
            match line {
                // Blank lines (and the null placeholders some PDS responses carry)
                // are dropped, as the renderer drops them.
                Value::Null => {}
                Value::String(s) if s.trim().is_empty() => {}
                Value::String(s) => lines.push(s.trim().to_owned()),
                other => return Err(invalid(&a.at(&format!("line/{i}")), other)),
            }
        }
    }
    let postal_code = a.string("postalCode")?;
    let mut keys = Vec::new();
    for (i, ext) in a.array("extension")?.into_iter().flatten().enumerate() {
        let ext = Obj::item(ext, a.at(&format!("extension/{i}")), &["url", "extension"])?;
        ext.url(EXT_ADDRESS_KEY)?;
        let [key_type, value] = ext.parts([("type", "valueCoding"), ("value", "valueString")])?;
        let key_type = ext.require_part(key_type, "type")?;
        let coding_obj = key_type.required_object("valueCoding", CODING_KEYS)?;
        let key_type = coding(&coding_obj, CS_ADDRESS_KEY, AddressKeyType::from_code)?;
        let value = ext.require_part(value, "value")?;
        let text = value.required_string("valueString")?;
        let well_formed = text.bytes().all(|b| b.is_ascii_digit())
            && match key_type {
                AddressKeyType::Paf => text.len() == 8,
                AddressKeyType::Uprn => (1..=12).contains(&text.len()),
            };
        if !well_formed {
            return Err(invalid(&value.at("valueString"), &Value::from(text)));
        }
        keys.push(AddressKey {
            key_type,
            value: text.to_owned(),
        });
    }
    Ok(WithId::new(
        id,
        Address {
            address_use,
            period,
            text,
            lines,
            postal_code,
            keys,
        },
    ))
}

fn telecom(item: &Value, path: String) -> Result<WithId<Telecom>> {
    let t = Obj::item(
        item,
        path,
        &["id", "period", "system", "value", "use", "extension"],
    )?;
    let id = t.id()?;
    let period = t.period("period")?;
    let system = t.required_code("system", TelecomSystem::from_code)?;
    let value = t.required_string("value")?.to_owned();
    let telecom_use = t.code("use", TelecomUse::from_code)?;
    let mut textphone = false;
    if let Some(extensions) = t.array("extension")? {
        if extensions.len() > 1 {
            return Err(too_many(t.at("extension")));
        }
        if let Some(first) = extensions.first() {
            let ext = Obj::item(first, t.at("extension/0"), &["url", "valueCoding"])?;
            ext.url(EXT_OTHER_CONTACT)?;
            let c = ext.required_object("valueCoding", CODING_KEYS)?;
            c.fixed("system", CS_OTHER_CONTACT)?;
            let code = c.required_string("code")?;
            if code != "textphone" {
                return Err(invalid(&c.at("code"), &Value::from(code)));
            }
            c.string("display")?;
            // The textphone extension only qualifies `system: other`.
            if system != TelecomSystem::Other {
                return Err(invalid(&t.at("system"), &Value::from(system.code())));
            }
            textphone = true;
        }
    }
    Ok(WithId::new(
        id,
        Telecom {
            period,
            system,
            value,
            telecom_use,
            textphone,
        },
    ))
}

fn contact(item: &Value, path: String) -> Result<EmergencyContact> {
    let c = Obj::item(item, path, &["id", "period", "relationship", "telecom"])?;
    let id = c.id()?;
    let period = c.period("period")?;
    let relationships = c.required_array("relationship")?;
    match relationships.len() {
        0 => return Err(missing(c.at("relationship/0"))),
        1 => {}
        _ => return Err(too_many(c.at("relationship"))),
    }
    let relationship = Obj::item(&relationships[0], c.at("relationship/0"), CODEABLE_KEYS)?;
    // Only emergency contacts (`C`) live on the Patient.
    codeable(&relationship, CS_CONTACT_RELATIONSHIP, |code| {
        (code == "C").then_some(())
    })?;
    let mut telecoms = Vec::new();
    for (i, item) in c.required_array("telecom")?.iter().enumerate() {
        let t = Obj::item(item, c.at(&format!("telecom/{i}")), &["system", "value"])?;
        telecoms.push(ContactPoint {
            system: t.required_code("system", TelecomSystem::from_code)?,
            value: t.required_string("value")?.to_owned(),
        });
    }
    Ok(EmergencyContact {
        id,
        period,
        telecoms,
    })
}

fn general_practitioner(top: &Obj<'_>) -> Result<Option<OrganisationRef>> {
    let Some(items) = top.array("generalPractitioner")? else {
        return Ok(None);
    };
    if items.len() > 1 {
        return Err(too_many(top.at("generalPractitioner")));
    }
    let Some(first) = items.first() else {
        return Ok(None);
    };
    let gp = Obj::item(
        first,
        top.at("generalPractitioner/0"),
        &["id", "type", "identifier"],
    )?;
    let id = match gp.get("id") {
        None => None,
        Some(_) => Some(gp.id()?),
    };
    organisation(&gp, id).map(Some)
}

/// A reference to an organisation by ODS code (`generalPractitioner[0]`,
/// `managingOrganization`).
fn organisation(reference: &Obj<'_>, id: Option<String>) -> Result<OrganisationRef> {
    reference.fixed("type", "Organization")?;
    let identifier = reference.required_object("identifier", &["system", "value", "period"])?;
    identifier.fixed("system", ODS_CODE)?;
    let ods_code = identifier.required_string("value")?;
    if ods_code.is_empty()
        || !ods_code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return Err(invalid(&identifier.at("value"), &Value::from(ods_code)));
    }
    Ok(OrganisationRef {
        id,
        ods_code: ods_code.to_owned(),
        period: identifier.period("period")?,
    })
}

// ---------------------------------------------------------------------------
// Extensions

fn extensions(top: &Obj<'_>, d: &mut Details) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, item) in top.array("extension")?.into_iter().flatten().enumerate() {
        let path = top.at(&format!("extension/{i}"));
        let Value::Object(map) = item else {
            return Err(invalid(&path, item));
        };
        let url_path = format!("{path}/url");
        let url = match map.get("url") {
            None => return Err(missing(url_path)),
            Some(Value::String(url)) => url.as_str(),
            Some(other) => return Err(invalid(&url_path, other)),
        };
        let keys: &[&str] = match url {
            EXT_NOMINATED_PHARMACY | EXT_PREFERRED_DISPENSER | EXT_APPLIANCE_SUPPLIER => {
                &["url", "valueReference"]
            }
            EXT_DEATH_NOTIFICATION | EXT_COMMUNICATION | EXT_CONTACT_PREFERENCE | EXT_REMOVAL => {
                &["url", "extension"]
            }
            EXT_BIRTH_PLACE => &["url", "valueAddress"],
            _ => return Err(invalid(&url_path, &Value::from(url))),
        };
        // Zero or one of each.
        if seen.contains(&url) {
            return Err(too_many(top.at("extension")));
        }
        seen.push(url);
        let ext = Obj::new(map, path, keys)?;
        match url {
            EXT_NOMINATED_PHARMACY => d.nominated_pharmacy = Some(ods_extension(&ext)?),
            EXT_PREFERRED_DISPENSER => d.preferred_dispenser = Some(ods_extension(&ext)?),
            EXT_APPLIANCE_SUPPLIER => d.appliance_supplier = Some(ods_extension(&ext)?),
            EXT_DEATH_NOTIFICATION => d.death_notification = Some(death_notification(&ext)?),
            EXT_COMMUNICATION => d.communication = Some(communication(&ext)?),
            EXT_CONTACT_PREFERENCE => d.contact_preference = Some(contact_preference(&ext)?),
            EXT_BIRTH_PLACE => d.birth_place = Some(birth_place(&ext)?),
            _ => d.removal = Some(removal(&ext)?),
        }
    }
    Ok(())
}

/// Pharmacy, dispenser and appliance supplier: `valueReference.identifier.value`.
fn ods_extension(ext: &Obj<'_>) -> Result<String> {
    let reference = ext.required_object("valueReference", &["identifier"])?;
    let identifier = reference.required_object("identifier", &["system", "value"])?;
    identifier.fixed("system", ODS_CODE)?;
    let code = identifier.required_string("value")?;
    if !(3..=10).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(&identifier.at("value"), &Value::from(code)));
    }
    Ok(code.to_owned())
}

fn death_notification(ext: &Obj<'_>) -> Result<DeathNotification> {
    let [status, effective] = ext.parts([
        ("deathNotificationStatus", "valueCodeableConcept"),
        ("systemEffectiveDate", "valueDateTime"),
    ])?;
    let status = ext.require_part(status, "deathNotificationStatus")?;
    let concept = status.required_object("valueCodeableConcept", CODEABLE_KEYS)?;
    let status = codeable(&concept, CS_DEATH_NOTIFICATION, DeathStatus::from_code)?;
    let effective = match effective {
        None => None,
        Some(part) => part.instant("valueDateTime")?,
    };
    Ok(DeathNotification { status, effective })
}

fn communication(ext: &Obj<'_>) -> Result<Communication> {
    let [language, interpreter] = ext.parts([
        ("language", "valueCodeableConcept"),
        ("interpreterRequired", "valueBoolean"),
    ])?;
    let language = ext.require_part(language, "language")?;
    let concept = language.required_object("valueCodeableConcept", CODEABLE_KEYS)?;
    let codings = concept.required_array("coding")?;
    let c = single_coding(&concept, codings)?;
    c.fixed("system", CS_LANGUAGE)?;
    c.string("version")?;
    let code = c.required_string("code")?;
    if !is_language(code) {
        return Err(invalid(&c.at("code"), &Value::from(code)));
    }
    let language_display = c.string("display")?;
    // PDS refuses to blank `interpreterRequired`; a new communication
    // extension without it must be completed (false) by the caller.
    let interpreter = ext.require_part(interpreter, "interpreterRequired")?;
    let flag = interpreter.required("valueBoolean")?;
    let interpreter_required = flag
        .as_bool()
        .ok_or_else(|| invalid(&interpreter.at("valueBoolean"), flag))?;
    Ok(Communication {
        language: code.to_owned(),
        language_display,
        interpreter_required,
    })
}

fn contact_preference(ext: &Obj<'_>) -> Result<ContactPreference> {
    let [format, method, times] = ext.parts([
        (
            "PreferredWrittenCommunicationFormat",
            "valueCodeableConcept",
        ),
        ("PreferredContactMethod", "valueCodeableConcept"),
        ("PreferredContactTimes", "valueString"),
    ])?;
    let written_format = match format {
        None => None,
        Some(part) => {
            let concept = part.required_object("valueCodeableConcept", CODEABLE_KEYS)?;
            Some(codeable(
                &concept,
                CS_WRITTEN_FORMAT,
                WrittenFormat::from_code,
            )?)
        }
    };
    let contact_method = match method {
        None => None,
        Some(part) => {
            let concept = part.required_object("valueCodeableConcept", CODEABLE_KEYS)?;
            Some(codeable(
                &concept,
                CS_CONTACT_METHOD,
                ContactMethod::from_code,
            )?)
        }
    };
    let contact_times = match times {
        None => None,
        Some(part) => {
            let text = part.required_string("valueString")?;
            if text.chars().count() > MAX_CONTACT_TIMES_CHARS {
                return Err(invalid(&part.at("valueString"), &Value::from(text)));
            }
            Some(text.to_owned())
        }
    };
    Ok(ContactPreference {
        written_format,
        contact_method,
        contact_times,
    })
}

fn birth_place(ext: &Obj<'_>) -> Result<BirthPlace> {
    let place = ext.required_object("valueAddress", &["city", "district", "country"])?;
    Ok(BirthPlace {
        city: place.string("city")?,
        district: place.string("district")?,
        country: place.string("country")?,
    })
}

fn removal(ext: &Obj<'_>) -> Result<Removal> {
    let [code, effective] = ext.parts([
        ("removalFromRegistrationCode", "valueCodeableConcept"),
        ("effectiveTime", "valuePeriod"),
    ])?;
    let code = ext.require_part(code, "removalFromRegistrationCode")?;
    let concept = code.required_object("valueCodeableConcept", CODEABLE_KEYS)?;
    let reason = codeable(&concept, CS_REMOVAL, RemovalReason::from_code)?;
    let (mut start, mut end) = (None, None);
    if let Some(part) = effective {
        let period = part.required_object("valuePeriod", &["start", "end"])?;
        start = period.instant("start")?;
        end = period.instant("end")?;
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            return Err(invalid(&period.path, &period.value()));
        }
    }
    Ok(Removal { reason, start, end })
}

/// ISO 639-1 codes (the UKCore-HumanLanguage list, with `q1`–`q5` for Braille
/// and sign languages); English is never recorded as a preference.
fn is_language(code: &str) -> bool {
    const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs \
        ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd \
        gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj \
        kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt \
        my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa \
        sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt \
        tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";
    code != "en"
        && (matches!(code, "q1" | "q2" | "q3" | "q4" | "q5")
            || ISO_639_1.split_whitespace().any(|c| c == code))
}

// ---------------------------------------------------------------------------
// Codings

const CODEABLE_KEYS: &[&str] = &["coding"];
const CODING_KEYS: &[&str] = &["system", "version", "code", "display"];

/// The one coding of a CodeableConcept.
fn single_coding<'a>(concept: &Obj<'a>, codings: &'a [Value]) -> Result<Obj<'a>> {
    match codings.len() {
        0 => Err(missing(concept.at("coding/0"))),
        1 => Obj::item(&codings[0], concept.at("coding/0"), CODING_KEYS),
        _ => Err(too_many(concept.at("coding"))),
    }
}

/// A CodeableConcept with one coding from `system`. The display is derived
/// from the code, so any string is accepted there.
fn codeable<T>(
    concept: &Obj<'_>,
    system: &str,
    from_code: impl Fn(&str) -> Option<T>,
) -> Result<T> {
    let codings = concept.required_array("coding")?;
    coding(&single_coding(concept, codings)?, system, from_code)
}

fn coding<T>(c: &Obj<'_>, system: &str, from_code: impl Fn(&str) -> Option<T>) -> Result<T> {
    c.fixed("system", system)?;
    c.string("version")?;
    c.string("display")?;
    let code = c.required_string("code")?;
    from_code(code).ok_or_else(|| invalid(&c.at("code"), &Value::from(code)))
}

// ---------------------------------------------------------------------------
// Scalars

/// `YYYY-MM-DD`, nothing else.
fn parse_date(text: &[u8]) -> Option<NaiveDate> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *text else {
        return None;
    };
    let year = number(&[y0, y1, y2, y3])?;
    let month = number(&[m0, m1])?;
    let day = number(&[d0, d1])?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// An instant in UTC: `YYYY-MM-DDTHH:MM:SS` followed by `+00:00`, `Z` or
/// nothing (UTC), or a bare `YYYY-MM-DD` (midnight UTC). Any other offset
/// and any fraction of a second is refused.
fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    let date = parse_date(bytes.get(..10)?)?;
    let rest = &bytes[10..];
    if rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN).and_utc());
    }
    let [b'T', h0, h1, b':', m0, m1, b':', s0, s1, ref zone @ ..] = *rest else {
        return None;
    };
    if !matches!(zone, b"" | b"Z" | b"+00:00" | b"-00:00") {
        return None;
    }
    let time = NaiveTime::from_hms_opt(number(&[h0, h1])?, number(&[m0, m1])?, number(&[s0, s1])?)?;
    Some(date.and_time(time).and_utc())
}

fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

// ---------------------------------------------------------------------------
// Errors

/// How a value is quoted in a diagnostic: strings as they are, anything else as JSON.
pub(super) fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn invalid(field: &str, value: &Value) -> ParseError {
    ParseError::InvalidValue {
        field: field.to_owned(),
        value: shown(value),
    }
}

fn missing(field: String) -> ParseError {
    ParseError::MissingValue { field }
}

fn too_many(field: String) -> ParseError {
    ParseError::TooManyValues { field }
}

// ---------------------------------------------------------------------------
// Typed access to one JSON object, with its path for errors

/// An object whose keys have been checked against the allowed set.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(map: &'a Map<String, Value>, path: String, allowed: &[&str]) -> Result<Self> {
        let obj = Self { map, path };
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ParseError::AdditionalProperty { field: obj.at(key) });
        }
        Ok(obj)
    }

    /// `value` must be an object with only `allowed` keys.
    fn item(value: &'a Value, path: String, allowed: &[&str]) -> Result<Self> {
        match value {
            Value::Object(map) => Self::new(map, path, allowed),
            other => Err(invalid(&path, other)),
        }
    }

    /// The whole object, for a diagnostic about it.
    fn value(&self) -> Value {
        Value::Object(self.map.clone())
    }

    /// The path of `key` inside this object.
    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn required(&self, key: &str) -> Result<&'a Value> {
        self.get(key).ok_or_else(|| missing(self.at(key)))
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(&self.at(key), other)),
        }
    }

    fn required_string(&self, key: &str) -> Result<&'a str> {
        match self.required(key)? {
            Value::String(s) => Ok(s),
            other => Err(invalid(&self.at(key), other)),
        }
    }

    /// A fixed value (a system URL, `type: Organization`); optional.
    fn fixed(&self, key: &str, expected: &str) -> Result<()> {
        match self.get(key) {
            None => Ok(()),
            Some(v) if v.as_str() == Some(expected) => Ok(()),
            Some(other) => Err(invalid(&self.at(key), other)),
        }
    }

    /// The `url` of an extension, which must be `expected`.
    fn url(&self, expected: &str) -> Result<()> {
        let url = self.required("url")?;
        if url.as_str() == Some(expected) {
            Ok(())
        } else {
            Err(invalid(&self.at("url"), url))
        }
    }

    /// The object id of a list item: a non-empty string.
    fn id(&self) -> Result<String> {
        match self.required("id")? {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            other => Err(invalid(&self.at("id"), other)),
        }
    }

    fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(invalid(&self.at(key), other)),
        }
    }

    fn required_array(&self, key: &str) -> Result<&'a Vec<Value>> {
        self.array(key)?.ok_or_else(|| missing(self.at(key)))
    }

    /// An array of strings (`given`, `prefix`, `suffix`).
    fn strings(&self, key: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (i, item) in self.array(key)?.into_iter().flatten().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => return Err(invalid(&self.at(&format!("{key}/{i}")), other)),
            }
        }
        Ok(out)
    }

    fn list<T>(&self, key: &str, parse: impl Fn(&'a Value, String) -> Result<T>) -> Result<Vec<T>> {
        self.array(key)?
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, item)| parse(item, self.at(&format!("{key}/{i}"))))
            .collect()
    }

    fn object(&self, key: &str, allowed: &[&str]) -> Result<Option<Obj<'a>>> {
        self.get(key)
            .map(|v| Obj::item(v, self.at(key), allowed))
            .transpose()
    }

    fn required_object(&self, key: &str, allowed: &[&str]) -> Result<Obj<'a>> {
        self.object(key, allowed)?
            .ok_or_else(|| missing(self.at(key)))
    }

    fn code<T>(&self, key: &str, from_code: impl Fn(&str) -> Option<T>) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(&from_code)
                .map(Some)
                .ok_or_else(|| invalid(&self.at(key), v)),
        }
    }

    fn required_code<T>(&self, key: &str, from_code: impl Fn(&str) -> Option<T>) -> Result<T> {
        self.code(key, from_code)?
            .ok_or_else(|| missing(self.at(key)))
    }

    fn date(&self, key: &str) -> Result<Option<NaiveDate>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(|s| parse_date(s.as_bytes()))
                .map(Some)
                .ok_or_else(|| invalid(&self.at(key), v)),
        }
    }

    fn instant(&self, key: &str) -> Result<Option<DateTime<Utc>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(parse_instant)
                .map(Some)
                .ok_or_else(|| invalid(&self.at(key), v)),
        }
    }

    /// `period{start,end}` of dates; the end may not precede the start. The
    /// renderer writes whichever ends are known, so both are optional here.
    fn period(&self, key: &str) -> Result<Option<Period>> {
        let Some(p) = self.object(key, &["start", "end"])? else {
            return Ok(None);
        };
        let start = p.date("start")?;
        let end = p.date("end")?;
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            return Err(invalid(&p.path, &p.value()));
        }
        Ok(Some(Period { start, end }))
    }

    /// The sub-extensions of a complex extension, matched to `known`
    /// (`(url, value key)`): each url at most once, unknown urls refused.
    fn parts<const N: usize>(&self, known: [(&str, &str); N]) -> Result<[Option<Obj<'a>>; N]> {
        let mut found: [Option<Obj<'a>>; N] = std::array::from_fn(|_| None);
        for (i, item) in self.required_array("extension")?.iter().enumerate() {
            let path = self.at(&format!("extension/{i}"));
            let Value::Object(map) = item else {
                return Err(invalid(&path, item));
            };
            let url_path = format!("{path}/url");
            let url = match map.get("url") {
                None => return Err(missing(url_path)),
                Some(Value::String(url)) => url.as_str(),
                Some(other) => return Err(invalid(&url_path, other)),
            };
            let Some(k) = known.iter().position(|(u, _)| *u == url) else {
                return Err(invalid(&url_path, &Value::from(url)));
            };
            if found[k].is_some() {
                return Err(too_many(self.at("extension")));
            }
            let (_, value_key) = known[k];
            let part = Obj::new(map, path, &["url", value_key])?;
            part.required(value_key)?;
            found[k] = Some(part);
        }
        Ok(found)
    }

    /// A sub-extension that must be present.
    fn require_part(&self, part: Option<Obj<'a>>, url: &str) -> Result<Obj<'a>> {
        part.ok_or_else(|| missing(self.at(&format!("extension/{url}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::patient::render;
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
        let mut v = render(&p);
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

    /// What the renderer cannot express: blank address lines, the confidential
    /// removal reasons, a managing organisation's id and a textphone flag on
    /// anything but `system: other`.
    fn as_rendered(mut p: Patient) -> Patient {
        let d = &mut p.details;
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
        let parsed = parse_as(&render(p), p)
            .unwrap_or_else(|e| panic!("{}: {e:?}\n{:#}", p.nhs_number, render(p)));
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
        let parsed = parse_as(&render(&p), &p).unwrap();
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
            invalid_at("gender", "null")
        );
        assert_eq!(
            err(|v| v["name"][0]["family"] = json!(42)),
            invalid_at("name/0/family", "42")
        );
        assert_eq!(
            err(|v| v["name"][0]["given"][0] = json!(["Jane"])),
            invalid_at("name/0/given/0", "[\"Jane\"]")
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
                r#"{"end":"2020-12-31","start":"2021-01-01"}"#
            )
        );
        assert_eq!(
            err(|v| v["address"][1]["period"]["start"] = json!("2020-1-1")),
            invalid_at("address/1/period/start", "2020-1-1")
        );
        assert_eq!(
            err(
                |v| v["generalPractitioner"][0]["identifier"]["period"]["end"] =
                    json!("2019-01-01")
            )
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
    fn blank_and_null_address_lines_are_dropped() {
        let p =
            edited(|v| v["address"][0]["line"] = json!(["1 Road", "", null, "  Leeds "])).unwrap();
        assert_eq!(p.details.addresses[0].lines, ["1 Road", "Leeds"]);
        assert_eq!(
            err(|v| v["address"][0]["line"] = json!(["1 Road", 7])),
            invalid_at("address/0/line/1", "7")
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
        let rendered = render(&p);
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
}
