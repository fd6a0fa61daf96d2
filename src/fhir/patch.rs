//! A PATCH applied to a record: rendered as FHIR, patched under the PDS
//! list rules (`domain::patch::apply`), read back by the Patient parser and
//! checked against the PDS business rules (`domain::patch::check`).

use std::collections::HashSet;

use chrono::NaiveDate;

use super::parse::{self, ParseError};
use crate::domain::patch::{self, Editor, Op, PatchError};
use crate::domain::{Patient, former};

/// The record `before` becomes under `ops` by `editor`: the next version,
/// its read-only elements as stored. Fails with a [`PatchError`] (the
/// operations or the rules) or a [`ParseError`] (what they made of the
/// record), whichever `E` makes of them.
pub fn apply<E>(
    before: &Patient,
    ops: &[Op],
    editor: Editor,
    today: NaiveDate,
) -> Result<Patient, E>
where
    E: From<PatchError> + From<ParseError>,
{
    let current = super::patient::render(before);
    let mut new_id = patch::item_ids(used_ids(before));
    let patched = patch::apply(&current, ops, &mut new_id)?;
    let touched = patch::touched(&current, ops);
    let mut after = parse::patient(&patched, before.nhs_number, before.version, before.security)?;
    after.version = before.version + 1;
    // Read-only elements come from the store, not from what was sent (the
    // renderer shows confidential removal reasons as ORR, for instance).
    after.details.removal = before.details.removal.clone();
    after.details.verification = before.details.verification;
    // Never rendered, so never in what was patched: carried over, with
    // what this update replaced or removed added to the former values.
    after.details.extra = before.details.extra.clone();
    after.details.extra.former = former::after_update(&before.details, &after.details);
    patch::check(before, &after, editor, &touched, today)?;
    Ok(after)
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
