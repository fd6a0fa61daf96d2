//! A PATCH applied to a record: rendered as FHIR, patched under the PDS
//! list rules (`domain::patch::apply`), read back by the Patient parser and
//! checked against the PDS business rules (`domain::patch::check`).

use std::collections::HashSet;

use chrono::NaiveDate;
use serde_json::Value;

use super::parse::{self, ParseError};
use super::patient::View;
use super::urls::EXT_COMMUNICATION;
use crate::domain::codes::SharingConsent;
use crate::domain::patch::{self, Editor, Op, PatchError};
use crate::domain::{Patient, former, python};

/// The record `before` becomes under `ops` by `editor`: the next version,
/// its read-only elements as stored. The operations apply to the record as
/// the caller's application is shown it (`view`), so their paths mean what
/// the caller saw. Fails with a [`PatchError`] (the operations or the
/// rules) or a [`ParseError`] (what they made of the record), whichever `E`
/// makes of them.
pub fn apply<E>(
    before: &Patient,
    ops: &[Op],
    editor: Editor,
    today: NaiveDate,
    view: View,
) -> Result<Patient, E>
where
    E: From<PatchError> + From<ParseError>,
{
    let current = super::patient::render(before, view);
    let mut new_id = patch::item_ids(used_ids(before));
    let patched = patch::apply(&current, ops, &mut new_id)?;
    keeps_interpreter(&current, &patched)?;
    let touched = patch::touched(&current, ops);
    let mut after =
        match parse::patient(&patched, before.nhs_number, before.version, before.security) {
            Ok(after) => after,
            // PDS shows the values of a list that is too long.
            Err(ParseError::TooManyValues { field }) => {
                let values = patched
                    .pointer(&format!("/{field}"))
                    .map(python::repr)
                    .unwrap_or_default();
                return Err(PatchError::TooManyValues { field, values }.into());
            }
            Err(other) => return Err(other.into()),
        };
    after.version = before.version + 1;
    // Read-only elements come from the store, not from what was sent (the
    // renderer shows confidential removal reasons as ORR, for instance).
    after.details.removal = before.details.removal.clone();
    after.details.verification = before.details.verification;
    if after.details.extra.sharing_consent != shown_consent(before, view) {
        return Err(PatchError::Forbidden(
            "source not permitted to update 'nhsRecordSharingConsent'".into(),
        )
        .into());
    }
    // Not rendered, or (the sharing consent) read-only: carried over, with
    // what this update replaced or removed added to the former values.
    after.details.extra = before.details.extra.clone();
    keep_line_places(before, &mut after);
    after.details.extra.former = former::after_update(&before.details, &after.details);
    patch::check(before, &after, editor, &touched, today)?;
    Ok(after)
}

/// The sharing consent as the caller was shown it: what the patched record
/// must still say, as the consent is read-only (like the removal).
fn shown_consent(before: &Patient, view: View) -> Option<SharingConsent> {
    before
        .details
        .extra
        .sharing_consent
        .filter(|c| view.record_sharing_consent && super::patient::consent_is_shown(*c))
}

/// An application shown no empty address lines cannot send them back: an
/// address whose written lines it left as they were keeps its stored lines,
/// empty ones in their places, rather than losing them to an unrelated
/// change.
fn keep_line_places(before: &Patient, after: &mut Patient) {
    let written = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    for address in &mut after.details.addresses {
        let stored = before.details.addresses.iter().find(|a| a.id == address.id);
        if let Some(stored) = stored
            && stored.lines != address.lines
            && written(&stored.lines) == written(&address.lines)
        {
            address.lines = stored.lines.clone();
        }
    }
}

/// The ids of the record's list items, which an appended item must not
/// reuse.
fn used_ids(patient: &Patient) -> HashSet<String> {
    let d = &patient.details;
    d.names
        .iter()
        .map(|n| n.id.clone())
        .chain(d.addresses.iter().map(|a| a.id.clone()))
        .chain(d.telecoms.iter().map(|t| t.id.clone()))
        .chain(d.contacts.iter().map(|c| c.id.clone()))
        .collect()
}

/// PDS refuses a patch that leaves the communication extension without its
/// `interpreterRequired` part (a blanked url, the part removed or replaced
/// by another): `interpreterRequired cannot be removed`. Removing the whole
/// extension is allowed.
fn keeps_interpreter(current: &Value, patched: &Value) -> Result<(), PatchError> {
    let has_flag = |doc: &Value| {
        communication(doc).map(|ext| {
            ext.get("extension")
                .and_then(Value::as_array)
                .is_some_and(|parts| {
                    parts.iter().any(|p| {
                        p.get("url").and_then(Value::as_str) == Some("interpreterRequired")
                    })
                })
        })
    };
    match (has_flag(current), has_flag(patched)) {
        (Some(true), Some(false)) => Err(PatchError::Invalid(
            "interpreterRequired cannot be removed".into(),
        )),
        _ => Ok(()),
    }
}

/// The record's communication extension, if it has one.
fn communication(doc: &Value) -> Option<&Value> {
    doc.get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(EXT_COMMUNICATION))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(parts: Value) -> Value {
        json!({"extension": [
            {"url": super::super::urls::EXT_BIRTH_PLACE, "valueAddress": {"city": "Leeds"}},
            {"url": EXT_COMMUNICATION, "extension": parts}]})
    }

    fn language() -> Value {
        json!({"url": "language", "valueCodeableConcept": {"coding": [{"code": "fr"}]}})
    }

    #[test]
    fn the_interpreter_flag_cannot_be_blanked() {
        let before =
            record(json!([language(), {"url": "interpreterRequired", "valueBoolean": true}]));
        let flipped =
            record(json!([language(), {"url": "interpreterRequired", "valueBoolean": false}]));
        assert_eq!(keeps_interpreter(&before, &flipped), Ok(()));
        let refused = Err(PatchError::Invalid(
            "interpreterRequired cannot be removed".into(),
        ));
        for after in [
            record(json!([language(), {"url": " ", "valueBoolean": false}])),
            record(json!([language()])),
            record(json!([])),
        ] {
            assert_eq!(keeps_interpreter(&before, &after), refused, "{after}");
        }
        // The whole extension may go, and a record without the flag may
        // stay without it.
        let gone = json!({"extension": [before["extension"][0].clone()]});
        assert_eq!(keeps_interpreter(&before, &gone), Ok(()));
        let without = record(json!([language()]));
        assert_eq!(keeps_interpreter(&without, &without), Ok(()));
    }
}
