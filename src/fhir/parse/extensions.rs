//! The Patient's extensions: the pharmacies, death notification,
//! communication, contact preference, birth place, removal and the
//! record-sharing consent.

use super::*;

pub(super) fn extensions(top: &Obj<'_>, d: &mut Details) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, item) in top.array("extension")?.into_iter().flatten().enumerate() {
        let Extension {
            path,
            map,
            url,
            url_path,
        } = extension(top, i, item)?;
        let keys: &[&str] = match url {
            EXT_NOMINATED_PHARMACY | EXT_PREFERRED_DISPENSER | EXT_APPLIANCE_SUPPLIER => {
                &["url", "valueReference"]
            }
            EXT_DEATH_NOTIFICATION
            | EXT_COMMUNICATION
            | EXT_CONTACT_PREFERENCE
            | EXT_REMOVAL
            | EXT_SHARING_CONSENT => &["url", "extension"],
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
            EXT_SHARING_CONSENT => d.extra.sharing_consent = Some(sharing_consent(&ext)?),
            _ => d.removal = Some(removal(&ext)?),
        }
    }
    Ok(())
}

/// Pharmacy, dispenser and appliance supplier: `valueReference.identifier.value`.
pub(super) fn ods_extension(ext: &Obj<'_>) -> Result<String> {
    let reference = ext.required_object("valueReference", &["identifier"])?;
    let identifier = reference.required_object("identifier", &["system", "value"])?;
    identifier.fixed("system", ODS_CODE)?;
    let code = identifier.required_string("value")?;
    if !(3..=10).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(&identifier.at("value"), &Value::from(code)));
    }
    Ok(code.to_owned())
}

pub(super) fn death_notification(ext: &Obj<'_>) -> Result<DeathNotification> {
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

pub(super) fn communication(ext: &Obj<'_>) -> Result<Communication> {
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

pub(super) fn contact_preference(ext: &Obj<'_>) -> Result<ContactPreference> {
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

pub(super) fn birth_place(ext: &Obj<'_>) -> Result<BirthPlace> {
    let place = ext.required_object("valueAddress", &["city", "district", "country"])?;
    Ok(BirthPlace {
        city: place.string("city")?,
        district: place.string("district")?,
        country: place.string("country")?,
    })
}

pub(super) fn removal(ext: &Obj<'_>) -> Result<Removal> {
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

/// The record-sharing consent, as the renderer writes it for applications
/// allowed it (an update keeps the stored value: it is read-only).
pub(super) fn sharing_consent(ext: &Obj<'_>) -> Result<SharingConsent> {
    let [kind, value] = ext.parts([
        ("consentType", "valueCodeableConcept"),
        ("consentValue", "valueCodeableConcept"),
    ])?;
    let kind = ext.require_part(kind, "consentType")?;
    let concept = kind.required_object("valueCodeableConcept", CODEABLE_KEYS)?;
    let codings = concept.required_array("coding")?;
    let c = single_coding(&concept, codings)?;
    let code = c.required_string("code")?;
    if code != "4" {
        return Err(invalid(&c.at("code"), &Value::from(code)));
    }
    c.string("display")?;
    let value = ext.require_part(value, "consentValue")?;
    let concept = value.required_object("valueCodeableConcept", CODEABLE_KEYS)?;
    let codings = concept.required_array("coding")?;
    let c = single_coding(&concept, codings)?;
    let code = c.required_string("code")?;
    c.string("display")?;
    SharingConsent::from_code(code).ok_or_else(|| invalid(&c.at("code"), &Value::from(code)))
}

/// ISO 639-1 codes (the UKCore-HumanLanguage list, with `q1`–`q5` for Braille
/// and sign languages); English is never recorded as a preference.
pub(super) fn is_language(code: &str) -> bool {
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
