//! The birth Observations of a registration: which is which (by SNOMED CT
//! code), and their values read into [`BirthFacts`].

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use super::{invalid, missing, too_few};
use crate::domain::birth::*;
use crate::fhir::create::CreateError;

/// The birth Observations, by SNOMED CT code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Weight,
    Delivery,
    Gestation,
    Foetuses,
    Abnormality,
}

impl Kind {
    pub(super) const ALL: [Kind; 5] = [
        Kind::Weight,
        Kind::Delivery,
        Kind::Gestation,
        Kind::Foetuses,
        Kind::Abnormality,
    ];

    pub(super) fn from_code(code: &str) -> Option<Self> {
        match code {
            "364589006" => Some(Self::Weight),
            "237364002" => Some(Self::Delivery),
            "268477000" => Some(Self::Gestation),
            "246435002" => Some(Self::Foetuses),
            "66091009" => Some(Self::Abnormality),
            _ => None,
        }
    }
}

/// The five facts, as far as read.
#[derive(Default)]
pub(super) struct Facts {
    weight: Option<u16>,
    gestation: Option<u8>,
    foetuses: Option<u8>,
    delivery: Option<Delivery>,
    abnormality: Option<Abnormality>,
}

impl Facts {
    pub(super) fn read(
        &mut self,
        kind: Kind,
        resource: &Map<String, Value>,
        at: &str,
    ) -> Result<(), CreateError> {
        match kind {
            Kind::Weight => {
                self.weight = Some(quantity(resource, at, "g", BIRTH_WEIGHT_GRAMS)? as u16);
            }
            Kind::Gestation => {
                self.gestation = Some(quantity(resource, at, "wk", GESTATION_WEEKS)? as u8);
            }
            Kind::Foetuses => {
                let field = format!("{at}/valueInteger");
                let value = resource
                    .get("valueInteger")
                    .ok_or_else(|| missing(field.clone()))?;
                let n = value
                    .as_u64()
                    .filter(|n| FOETUSES.contains(n))
                    .ok_or_else(|| invalid(field, value))?;
                self.foetuses = Some(n as u8);
            }
            Kind::Delivery => self.delivery = Some(coded(resource, at, Delivery::from_code)?),
            Kind::Abnormality => {
                self.abnormality = Some(coded(resource, at, Abnormality::from_code)?);
            }
        }
        Ok(())
    }

    /// Every fact is read by now (each Observation is required).
    pub(super) fn complete(self, time: DateTime<FixedOffset>) -> Result<BirthFacts, CreateError> {
        let lacking = || too_few("entry");
        Ok(BirthFacts {
            time,
            weight_grams: self.weight.ok_or_else(lacking)?,
            gestation_weeks: self.gestation.ok_or_else(lacking)?,
            foetuses: self.foetuses.ok_or_else(lacking)?,
            delivery: self.delivery.ok_or_else(lacking)?,
            abnormality: self.abnormality.ok_or_else(lacking)?,
        })
    }
}

/// `valueQuantity.value`, a whole number in `range`, in `unit` when a
/// unit code is given.
fn quantity(
    resource: &Map<String, Value>,
    at: &str,
    unit: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, CreateError> {
    let quantity = resource
        .get("valueQuantity")
        .ok_or_else(|| missing(format!("{at}/valueQuantity")))?;
    let field = format!("{at}/valueQuantity/value");
    let value = quantity
        .get("value")
        .ok_or_else(|| missing(field.clone()))?;
    let n = value
        .as_u64()
        .filter(|n| range.contains(n))
        .ok_or_else(|| invalid(field, value))?;
    if let Some(code) = quantity.get("code")
        && code.as_str() != Some(unit)
    {
        return Err(invalid(format!("{at}/valueQuantity/code"), code));
    }
    Ok(n)
}

/// `valueCodeableConcept.coding[0].code`, read by `from_code`.
fn coded<T>(
    resource: &Map<String, Value>,
    at: &str,
    from_code: impl Fn(&str) -> Option<T>,
) -> Result<T, CreateError> {
    let field = format!("{at}/valueCodeableConcept/coding/0/code");
    let value = resource
        .get("valueCodeableConcept")
        .ok_or_else(|| missing(format!("{at}/valueCodeableConcept")))?
        .pointer("/coding/0/code")
        .ok_or_else(|| missing(field.clone()))?;
    value
        .as_str()
        .and_then(from_code)
        .ok_or_else(|| invalid(field, value))
}
