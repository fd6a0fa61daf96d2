//! A birth registration (`POST /Patient/$process-birth-details`): the facts
//! of one birth as the maternity system notifies them, and the rule that
//! ties the baby's vital status to them.
//!
//! The facts are checked and not kept (the record holds no place for them;
//! PDS passes them on in its birth notification, which this service does
//! not publish). What is kept is the baby's record, with the birth order,
//! place of birth and (a stillbirth) the formal death, and the mother as
//! the baby's related person.

use chrono::{DateTime, FixedOffset, Utc};

use super::codes::DeathStatus;
use super::{NhsNumber, Patient};

/// Live or still birth (NHS Data Dictionary LIVE OR STILL BIRTH, PDS code
/// system `2.16.840.1.113883.2.1.3.2.4.17.172`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Live,
    /// Still birth: ante-partum (`2`), intra-partum (`3`), indeterminate
    /// or post-partum (`4`).
    Still(u8),
}

impl Delivery {
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "1" => Some(Self::Live),
            "2" | "3" | "4" => code.parse().ok().map(Self::Still),
            _ => None,
        }
    }
}

/// Suspected congenital abnormality (code system `…17.171`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abnormality {
    Yes,
    No,
    NotKnown,
}

impl Abnormality {
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "Y" => Some(Self::Yes),
            "N" => Some(Self::No),
            "U" => Some(Self::NotKnown),
            _ => None,
        }
    }
}

/// Birth weight in grams: four digits, as the birth notification data set
/// records it (ONS and NN4B: 0001–9999). PDS refuses five.
pub const BIRTH_WEIGHT_GRAMS: std::ops::RangeInclusive<u64> = 1..=9999;
/// Gestation at delivery in whole weeks (NHS Data Dictionary GESTATION
/// LENGTH (AT DELIVERY): 10–49).
pub const GESTATION_WEEKS: std::ops::RangeInclusive<u64> = 10..=49;
/// Babies in this confinement (and so the largest birth order).
pub const FOETUSES: std::ops::RangeInclusive<u64> = 1..=9;

/// The facts of the birth (the Observations of the request).
#[derive(Debug, Clone, PartialEq)]
pub struct BirthFacts {
    /// As sent, with its offset (the local time of the birth).
    pub time: DateTime<FixedOffset>,
    pub weight_grams: u16,
    pub gestation_weeks: u8,
    pub foetuses: u8,
    pub delivery: Delivery,
    pub abnormality: Abnormality,
}

/// A checked birth registration: the baby to create (numbered once
/// allocated) and the mother's NHS number.
#[derive(Debug, Clone)]
pub struct Registration {
    pub baby: Patient,
    pub mother: NhsNumber,
    pub facts: BirthFacts,
}

/// Whether the baby's vital status agrees with the delivery: a live birth
/// is not recorded as dead, and a still birth is recorded as a formal
/// death (PDS: INSERT_BIRTH_DEATH_STATUS_INCONSISTENT otherwise). A death
/// notification `U` (removed) says the baby is not dead, as no notification.
pub fn consistent(
    delivery: Delivery,
    deceased: Option<DateTime<Utc>>,
    notification: Option<DeathStatus>,
) -> bool {
    let dead_notice = matches!(
        notification,
        Some(DeathStatus::Informal | DeathStatus::Formal)
    );
    match delivery {
        Delivery::Live => deceased.is_none() && !dead_notice,
        Delivery::Still(_) => deceased.is_some() && notification == Some(DeathStatus::Formal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_strictly() {
        assert_eq!(Delivery::from_code("1"), Some(Delivery::Live));
        assert_eq!(Delivery::from_code("3"), Some(Delivery::Still(3)));
        assert_eq!(Delivery::from_code("5"), None);
        assert_eq!(Abnormality::from_code("N"), Some(Abnormality::No));
        assert_eq!(Abnormality::from_code("n"), None);
    }

    #[test]
    fn a_live_birth_is_alive_and_a_still_birth_a_formal_death() {
        let now = Some(Utc::now());
        let (formal, informal, removed) = (
            Some(DeathStatus::Formal),
            Some(DeathStatus::Informal),
            Some(DeathStatus::Removed),
        );
        assert!(consistent(Delivery::Live, None, None));
        assert!(consistent(Delivery::Live, None, removed));
        assert!(!consistent(Delivery::Live, now, formal));
        assert!(!consistent(Delivery::Live, None, informal));
        assert!(!consistent(Delivery::Live, now, None));
        assert!(consistent(Delivery::Still(2), now, formal));
        assert!(!consistent(Delivery::Still(2), now, informal));
        assert!(!consistent(Delivery::Still(4), None, formal));
        assert!(!consistent(Delivery::Still(3), None, None));
    }
}
