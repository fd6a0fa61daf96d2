//! A PATCH applied to a record: rendered as FHIR, patched under the PDS
//! list rules (`domain::patch::apply`), read back by the Patient parser and
//! checked against the PDS business rules (`domain::patch::check`).

use std::collections::HashSet;

use chrono::NaiveDate;

use super::parse::{self, ParseError};
use super::patient::View;
use crate::domain::Patient;
use crate::domain::codes::SharingConsent;
use crate::domain::patch::{self, Editor, Op, PatchError};

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
    let touched = patch::touched(&current, ops);
    let mut after = parse::patient(&patched, before.nhs_number, before.version, before.security)?;
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
    // Not rendered, or (the sharing consent) read-only.
    after.details.extra = before.details.extra.clone();
    keep_line_places(before, &mut after);
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
