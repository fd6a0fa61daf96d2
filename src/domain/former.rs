//! The values an update replaces or removes, kept as history.
//!
//! PDS keeps a patient's former names, addresses and contact details after
//! an update replaces them, and finds the patient by them (`_history=true`
//! and fuzzy searches), though a retrieve no longer shows them. Here they go
//! to `Details::extra.former`, which is never rendered and which search
//! scores as history (`search::score`).
//!
//! Only what a search can match is kept, and only when it changed:
//!
//! * a name (family and given names) that no name of the record holds any
//!   more;
//! * a postcode that no address of the record holds any more (pseudo
//!   postcodes, `ZZ99 …`, never match, so are never kept);
//! * a phone number or email address that no telecom of the record holds
//!   any more.
//!
//! So an update that leaves these alone (a gender, a period, an address
//! line) adds nothing, and a record never updated costs nothing. The whole
//! earlier record is in the version history anyway; this is the search's
//! memory of it. A value in use again (a name changed back) leaves the
//! history, and each list keeps at most [`MAX_FORMER`] values, the oldest
//! dropped first, so a record updated very often stays small.

use super::codes::TelecomSystem;
use super::patient::{Address, Details, Former, Name, Telecom, WithId};
use super::search::normalise;

/// Most former values kept in each list (names, addresses, telecoms).
pub const MAX_FORMER: usize = 5;

/// What `after` (the next version of `before`) keeps as former values:
/// those `before` kept, and every name, postcode, phone and email `before`
/// held that `after` does not. None when there are none (the compact form
/// of a record without history).
pub fn after_update(before: &Details, after: &Details) -> Option<Box<Former>> {
    let kept = before.extra.former.as_deref();
    let names = merge(
        kept.map_or(&[][..], |f| &f.names),
        before.names.iter().map(|n| &n.item),
        &after.names,
        name_key,
        slim_name,
    );
    let addresses = merge(
        kept.map_or(&[][..], |f| &f.addresses),
        before.addresses.iter().map(|a| &a.item),
        &after.addresses,
        address_key,
        slim_address,
    );
    let telecoms = merge(
        kept.map_or(&[][..], |f| &f.telecoms),
        before.telecoms.iter().map(|t| &t.item),
        &after.telecoms,
        telecom_key,
        slim_telecom,
    );
    if names.is_empty() && addresses.is_empty() && telecoms.is_empty() {
        return None;
    }
    Some(Box::new(Former {
        names,
        addresses,
        telecoms,
    }))
}

/// `kept`, then each of `held_before` that `held_after` lacks (by `key`),
/// slimmed; without duplicates or values held again, the newest
/// [`MAX_FORMER`] of them. Values without a key (nothing searchable) are
/// never kept.
fn merge<'a, T: 'a, K: PartialEq>(
    kept: &[T],
    held_before: impl Iterator<Item = &'a T>,
    held_after: &[WithId<T>],
    key: impl Fn(&T) -> Option<K>,
    slim: impl Fn(&T) -> T,
) -> Vec<T> {
    let current: Vec<K> = held_after.iter().filter_map(|h| key(h)).collect();
    let mut keys: Vec<K> = Vec::new();
    let mut out: Vec<T> = Vec::new();
    let gone = held_before.filter(|h| key(h).is_some_and(|k| !current.contains(&k)));
    for value in kept.iter().map(&slim).chain(gone.map(&slim)) {
        let Some(k) = key(&value) else { continue };
        if current.contains(&k) || keys.contains(&k) {
            continue;
        }
        keys.push(k);
        out.push(value);
    }
    let excess = out.len().saturating_sub(MAX_FORMER);
    out.drain(..excess);
    out
}

/// Family and given names in normal form; None for a name without either.
fn name_key(name: &Name) -> Option<(String, Vec<String>)> {
    let family = normalise::name(name.family.as_deref().unwrap_or_default());
    let given: Vec<String> = name
        .given
        .iter()
        .map(|g| normalise::name(g))
        .filter(|g| !g.is_empty())
        .collect();
    (!family.is_empty() || !given.is_empty()).then_some((family, given))
}

/// The postcode in normal form; None for none, or a pseudo postcode.
fn address_key(address: &Address) -> Option<String> {
    let postcode = normalise::postcode(address.postal_code.as_deref().unwrap_or_default());
    (!postcode.is_empty() && !normalise::is_pseudo_postcode(&postcode)).then_some(postcode)
}

/// Phone numbers without spaces, email addresses in lower case; None for
/// the systems search does not match (fax, other).
fn telecom_key(telecom: &Telecom) -> Option<(TelecomSystem, String)> {
    let value = match telecom.system {
        TelecomSystem::Phone => normalise::phone(&telecom.value),
        TelecomSystem::Email => normalise::email(&telecom.value),
        _ => return None,
    };
    (!value.is_empty()).then_some((telecom.system, value))
}

/// What search compares of a name: its use, family and given names.
fn slim_name(name: &Name) -> Name {
    Name {
        name_use: name.name_use,
        period: None,
        given: name.given.clone(),
        family: name.family.clone(),
        prefix: Vec::new(),
        suffix: Vec::new(),
    }
}

/// What search compares of an address: its postcode (and use).
fn slim_address(address: &Address) -> Address {
    Address {
        address_use: address.address_use,
        period: None,
        text: None,
        lines: Vec::new(),
        postal_code: address.postal_code.clone(),
        keys: Vec::new(),
    }
}

fn slim_telecom(telecom: &Telecom) -> Telecom {
    Telecom {
        period: None,
        system: telecom.system,
        value: telecom.value.clone(),
        telecom_use: telecom.telecom_use,
        textphone: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::{AddressUse, NameUse, TelecomUse};
    use crate::domain::patient::Period;

    fn name(family: &str, given: &[&str]) -> WithId<Name> {
        WithId::new(
            format!("n{family}"),
            Name {
                name_use: NameUse::Usual,
                period: Some(Period::default()),
                given: given.iter().map(|g| g.to_string()).collect(),
                family: Some(family.into()),
                prefix: vec!["Mrs".into()],
                suffix: vec![],
            },
        )
    }

    fn address(postcode: &str) -> WithId<Address> {
        WithId::new(
            "a",
            Address {
                address_use: AddressUse::Home,
                period: None,
                text: None,
                lines: vec!["1 Road".into(), "Leeds".into()],
                postal_code: Some(postcode.into()),
                keys: vec![],
            },
        )
    }

    fn telecom(system: TelecomSystem, value: &str) -> WithId<Telecom> {
        WithId::new(
            "t",
            Telecom {
                period: None,
                system,
                value: value.into(),
                telecom_use: Some(TelecomUse::Home),
                textphone: false,
            },
        )
    }

    fn record() -> Details {
        Details {
            names: vec![name("Smith", &["Jane"])],
            addresses: vec![address("LS1 6AE")],
            telecoms: vec![
                telecom(TelecomSystem::Phone, "01632 960587"),
                telecom(TelecomSystem::Email, "jane@example.com"),
            ],
            ..Details::default()
        }
    }

    fn former(before: &Details, after: &Details) -> Former {
        *after_update(before, after).expect("something was replaced")
    }

    #[test]
    fn an_update_that_changes_nothing_searchable_keeps_nothing() {
        let before = record();
        let mut after = before.clone();
        after.names[0].prefix = vec!["Dr".into()];
        after.names[0].period = None;
        after.addresses[0].lines = vec!["2 Road".into()];
        after.telecoms[0].value = "01632960587".into();
        after.telecoms[1].value = "JANE@example.com".into();
        after.telecoms.push(telecom(TelecomSystem::Fax, "0113"));
        assert_eq!(after_update(&before, &after), None);
        // A fax replaced is not searchable either.
        let mut later = after.clone();
        later.telecoms.pop();
        assert_eq!(after_update(&after, &later), None);
    }

    #[test]
    fn replaced_values_are_kept_slim() {
        let before = record();
        let mut after = before.clone();
        after.names[0].family = Some("Jones".into());
        after.addresses[0].postal_code = Some("LS2 7UE".into());
        after.telecoms[0].value = "07700900123".into();
        after.telecoms.remove(1);
        let f = former(&before, &after);
        assert_eq!(f.names.len(), 1);
        assert_eq!(f.names[0].family.as_deref(), Some("Smith"));
        assert_eq!(f.names[0].given, ["Jane"]);
        assert!(f.names[0].prefix.is_empty() && f.names[0].period.is_none());
        assert_eq!(f.addresses.len(), 1);
        assert_eq!(f.addresses[0].postal_code.as_deref(), Some("LS1 6AE"));
        assert!(f.addresses[0].lines.is_empty());
        let values: Vec<&str> = f.telecoms.iter().map(|t| t.value.as_str()).collect();
        assert_eq!(values, ["01632 960587", "jane@example.com"]);
    }

    #[test]
    fn a_given_name_change_keeps_the_old_name() {
        let before = record();
        let mut after = before.clone();
        after.names[0].given = vec!["Janet".into()];
        assert_eq!(former(&before, &after).names[0].given, ["Jane"]);
    }

    #[test]
    fn a_name_still_held_under_another_use_is_not_former() {
        let before = record();
        let mut after = before.clone();
        after.names[0].name_use = NameUse::Old;
        after.names.push(name("Jones", &["Jane"]));
        assert_eq!(after_update(&before, &after), None);
    }

    #[test]
    fn pseudo_postcodes_are_never_kept() {
        let mut before = record();
        before.addresses = vec![address("ZZ99 3WZ")];
        let mut after = before.clone();
        after.addresses = vec![address("LS1 6AE")];
        assert_eq!(after_update(&before, &after), None);
    }

    #[test]
    fn history_carries_over_and_a_value_in_use_again_leaves_it() {
        let v1 = record();
        let mut v2 = v1.clone();
        v2.names[0].family = Some("Jones".into());
        v2.extra.former = after_update(&v1, &v2);
        // An unrelated update keeps the history.
        let mut v3 = v2.clone();
        v3.addresses[0].lines.clear();
        v3.extra.former = after_update(&v2, &v3);
        assert_eq!(v3.extra.former, v2.extra.former);
        // Back to Smith: Smith is current again, Jones is former.
        let mut v4 = v3.clone();
        v4.names[0].family = Some("SMITH".into());
        let f = former(&v3, &v4);
        let families: Vec<_> = f.names.iter().map(|n| n.family.as_deref()).collect();
        assert_eq!(families, [Some("Jones")]);
    }

    #[test]
    fn each_list_keeps_the_newest_few() {
        let mut record = record();
        for i in 0..(MAX_FORMER + 3) {
            let mut next = record.clone();
            next.addresses[0].postal_code = Some(format!("LS{i} 1AA"));
            next.extra.former = after_update(&record, &next);
            record = next;
        }
        let f = record.extra.former.expect("history");
        assert_eq!(f.addresses.len(), MAX_FORMER);
        let newest = format!("LS{} 1AA", MAX_FORMER + 1);
        assert_eq!(f.addresses.last().unwrap().postal_code, Some(newest));
        // The first postcodes were dropped, oldest first.
        assert!(
            f.addresses
                .iter()
                .all(|a| a.postal_code.as_deref() != Some("LS1 6AE"))
        );
        assert_eq!(f.addresses[0].postal_code.as_deref(), Some("LS2 1AA"));
    }
}
