//! The Patient's lists: names, addresses, telecoms, emergency contacts, and
//! the organisation references (GP, managing organisation).

use super::*;

pub(super) fn name(item: &Value, path: String) -> Result<WithId<Name>> {
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

pub(super) fn address(item: &Value, path: String) -> Result<WithId<Address>> {
    let a = Obj::item(
        item,
        path,
        &[
            "id",
            "period",
            "use",
            "text",
            "line",
            "_line",
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
                // A blank line, or the null an application that asks for
                // empty lines is shown, keeps its place: the lines are
                // positional (premises, street, locality, post town, county).
                Value::Null => lines.push(String::new()),
                Value::String(s) => lines.push(s.trim().to_owned()),
                other => return Err(invalid(&a.at(&format!("line/{i}")), other)),
            }
        }
        // Blanks after the last line hold no place.
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
    }
    // `_line` only says why a line is empty (what this service writes
    // there itself): checked for shape, not kept.
    if let Some(items) = a.array("_line")? {
        if items.len() > MAX_LINES {
            return Err(too_many(a.at("_line")));
        }
        for (i, item) in items.iter().enumerate() {
            if !matches!(item, Value::Null | Value::Object(_)) {
                return Err(invalid(&a.at(&format!("_line/{i}")), item));
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

pub(super) fn telecom(item: &Value, path: String) -> Result<WithId<Telecom>> {
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

pub(super) fn contact(item: &Value, path: String) -> Result<EmergencyContact> {
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

pub(super) fn general_practitioner(top: &Obj<'_>) -> Result<Option<OrganisationRef>> {
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
pub(super) fn organisation(reference: &Obj<'_>, id: Option<String>) -> Result<OrganisationRef> {
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
