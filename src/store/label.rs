//! What the `security` column of `patients` and `patient_versions` holds: a
//! record's confidentiality label, or that its number was invalidated. The
//! one mapping between those and the stored `smallint`, for rows and for
//! the statements written by hand alike.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::SmallInt;

use crate::domain::codes::Security;

/// Stored as 0 `U`, 1 `R`, 2 `V`, 3 invalidated (PDS "REDACTED"), the
/// range migrations/…_patients checks. Statements compare the codes, so
/// their order is part of the meaning: a stricter label has a higher code
/// (`label > clearance` is redacted, `max` is the strictest a record has
/// had), and a record below `Invalidated` may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = SmallInt)]
pub enum StoredLabel {
    Label(Security),
    /// Kept so the number is never reissued; never served.
    Invalidated,
}

impl StoredLabel {
    pub fn code(self) -> i16 {
        match self {
            Self::Label(Security::Unrestricted) => 0,
            Self::Label(Security::Restricted) => 1,
            Self::Label(Security::VeryRestricted) => 2,
            Self::Invalidated => 3,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        Some(match code {
            0 => Self::Label(Security::Unrestricted),
            1 => Self::Label(Security::Restricted),
            2 => Self::Label(Security::VeryRestricted),
            3 => Self::Invalidated,
            _ => return None,
        })
    }

    /// The record's label; an invalidated one counts as the strictest.
    pub fn label(self) -> Security {
        match self {
            Self::Label(label) => label,
            Self::Invalidated => Security::VeryRestricted,
        }
    }
}

impl ToSql<SmallInt, Pg> for StoredLabel {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <i16 as ToSql<SmallInt, Pg>>::to_sql(&self.code(), &mut out.reborrow())
    }
}

impl FromSql<SmallInt, Pg> for StoredLabel {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let code = <i16 as FromSql<SmallInt, Pg>>::from_sql(value)?;
        Self::from_code(code).ok_or_else(|| format!("unknown security code {code}").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> impl Iterator<Item = StoredLabel> {
        Security::ALL
            .iter()
            .map(|&s| StoredLabel::Label(s))
            .chain([StoredLabel::Invalidated])
    }

    #[test]
    fn codes_round_trip_and_fill_the_checked_range() {
        let codes: Vec<i16> = all().map(StoredLabel::code).collect();
        assert_eq!(codes, [0, 1, 2, 3]);
        for label in all() {
            assert_eq!(StoredLabel::from_code(label.code()), Some(label));
        }
        assert_eq!(StoredLabel::from_code(4), None);
        assert_eq!(StoredLabel::from_code(-1), None);
    }

    #[test]
    fn a_stricter_label_has_a_higher_code() {
        for &a in Security::ALL {
            for &b in Security::ALL {
                let (ca, cb) = (StoredLabel::Label(a).code(), StoredLabel::Label(b).code());
                let strictest = StoredLabel::Label(a.strictest(b)).code();
                assert_eq!(strictest, ca.max(cb), "{a:?} {b:?}");
            }
        }
    }
}
