//! NHS number allocation for `POST /Patient`, and the locks a create takes.
//!
//! Numbers come from one configured block ([`AllocationRange`], the
//! `ALLOCATION_RANGE` variable), counted in `nhs_number_allocation` (see the
//! migration): one row per range, its `next_stem` advanced inside the
//! create's transaction. The row lock makes concurrent creates on every
//! server instance queue for the counter, a rolled-back create leaves it
//! where it was, and nothing is ever handed out twice.
//!
//! The default block, 9000001000–9099999999, is used by nothing else: the
//! sandbox patients are `90000000xx`, and the synthetic population takes the
//! never-issued `999` range and then continues at 9100000000.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::Integer;
use uuid::Uuid;

use super::schema::{nhs_number_allocation as alloc, patients};
use crate::domain::NhsNumber;

/// A block of NHS numbers to allocate from, as nine-digit stems (the number
/// without its check digit), both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationRange {
    first_stem: u64,
    last_stem: u64,
}

/// 9000001000–9099999999: see the module documentation.
pub const DEFAULT_RANGE: AllocationRange = AllocationRange {
    first_stem: 900_000_100,
    last_stem: 909_999_999,
};

/// Stems examined per round trip while looking for a free number.
const WINDOW: u64 = 64;

impl AllocationRange {
    /// `<first>-<last>`: two ten-digit numbers, inclusive
    /// (`9000001000-9099999999`). Only stems whose every number lies inside
    /// the bounds are used, so the check digit never takes a number out.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not a range of NHS numbers like 9000001000-9099999999");
        let (first, last) = text.trim().split_once('-').ok_or_else(bad)?;
        let number = |s: &str| {
            let s = s.trim();
            (s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
                .ok_or_else(bad)
        };
        let (first, last) = (number(first)?, number(last)?);
        let first_stem = first.div_ceil(10);
        let last_stem = match (last + 1) / 10 {
            0 => return Err(bad()),
            n => n - 1,
        };
        if first_stem > last_stem {
            return Err(format!("'{text}' holds no whole block of ten numbers"));
        }
        Ok(Self {
            first_stem,
            last_stem,
        })
    }

    /// The lowest number the range can hand out.
    pub fn first(&self) -> u64 {
        self.first_stem * 10
    }

    /// The highest number the range can hand out.
    pub fn last(&self) -> u64 {
        self.last_stem * 10 + 9
    }

    pub fn contains(&self, n: NhsNumber) -> bool {
        (self.first_stem..=self.last_stem).contains(&(n.as_u64() / 10))
    }
}

impl fmt::Display for AllocationRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}-{:010}", self.first(), self.last())
    }
}

/// The next free number of `range`, or None when the range is used up. Call
/// inside the create's transaction: the counter row stays locked until it
/// commits or rolls back.
pub fn next_number(
    conn: &mut PgConnection,
    range: AllocationRange,
) -> QueryResult<Option<NhsNumber>> {
    let first = range.first_stem as i64;
    let last = range.last_stem as i64;
    let locked = |conn: &mut PgConnection| {
        alloc::table
            .find(first)
            .select(alloc::next_stem)
            .for_update()
            .first::<i64>(conn)
            .optional()
    };
    let next = match locked(conn)? {
        Some(next) => next,
        None => {
            // First use of this range; a concurrent first use inserts too.
            diesel::insert_into(alloc::table)
                .values((
                    alloc::first_stem.eq(first),
                    alloc::last_stem.eq(last),
                    alloc::next_stem.eq(first),
                ))
                .on_conflict_do_nothing()
                .execute(conn)?;
            locked(conn)?.ok_or(diesel::result::Error::NotFound)?
        }
    };
    let mut stem = next.max(first) as u64;
    let mut found = None;
    while found.is_none() && stem <= range.last_stem {
        let high = (stem + WINDOW - 1).min(range.last_stem);
        let taken: Vec<i64> = patients::table
            .select(patients::nhs_number)
            .filter(patients::nhs_number.between((stem * 10) as i64, (high * 10 + 9) as i64))
            .load(conn)?;
        found = (stem..=high)
            .filter_map(NhsNumber::from_stem)
            .find(|n| !taken.contains(&n.as_i64()));
        stem = high + 1;
    }
    // A range's end may be moved (ALLOCATION_RANGE); the row follows it.
    let next_stem = found.map_or(range.last_stem + 1, |n| n.as_u64() / 10 + 1);
    diesel::update(alloc::table.find(first))
        .set((
            alloc::next_stem.eq(next_stem as i64),
            alloc::last_stem.eq(last),
        ))
        .execute(conn)?;
    Ok(found)
}

/// Namespaces (first key) of the transaction-scoped advisory locks below.
const LOCK_REQUEST_ID: i32 = 0x4352_0001;
const LOCK_BIRTH_DATE: i32 = 0x4352_0002;

fn advisory_xact_lock(conn: &mut PgConnection, space: i32, key: i32) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind::<Integer, _>(space)
        .bind::<Integer, _>(key)
        .execute(conn)
        .map(drop)
}

/// Requests with the same X-Request-ID wait for each other until commit, so
/// a retry sent while the first attempt is still running sees its answer
/// instead of creating the patient twice.
pub fn lock_request_id(conn: &mut PgConnection, request_id: Uuid) -> QueryResult<()> {
    let v = request_id.as_u128();
    let key = (v ^ (v >> 32) ^ (v >> 64) ^ (v >> 96)) as u32 as i32;
    advisory_xact_lock(conn, LOCK_REQUEST_ID, key)
}

/// Creates of people born on the same day wait for each other until
/// commit, so two simultaneous creates of one person cannot both find no
/// match (READ COMMITTED: the second's matching query sees the first).
pub fn lock_birth_date(conn: &mut PgConnection, birth: NaiveDate) -> QueryResult<()> {
    advisory_xact_lock(conn, LOCK_BIRTH_DATE, birth.num_days_from_ce())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Patient;
    use crate::store::migrate::test_database;
    use crate::store::patients::{self as store_patients, PatientRow};

    #[test]
    fn ranges_parse_to_whole_blocks_of_ten() {
        let r = AllocationRange::parse("9000001000-9099999999").unwrap();
        assert_eq!(r, DEFAULT_RANGE);
        assert_eq!(r.to_string(), "9000001000-9099999999");
        let r = AllocationRange::parse(" 9000001005 - 9000001098 ").unwrap();
        assert_eq!((r.first(), r.last()), (9000001010, 9000001089));
        for bad in [
            "",
            "9000001000",
            "900000100-9099999999",
            "9000001000-90999999990",
            "9099999999-9000001000",
            "9000001001-9000001008",
            "a000001000-9099999999",
        ] {
            assert!(AllocationRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_range_is_clear_of_the_seeded_numbers() {
        for seeded in ["9000000009", "9000000122", "9990000018", "9100000000"] {
            let n = seeded.parse::<u64>().unwrap();
            assert!(n < DEFAULT_RANGE.first() || n > DEFAULT_RANGE.last());
        }
    }

    fn store(conn: &mut PgConnection, n: NhsNumber) {
        let row = PatientRow::from_patient(&Patient::minimal(n, 1), None);
        store_patients::insert(conn, &[row], &[]).unwrap();
    }

    #[test]
    fn numbers_are_valid_skip_taken_ones_survive_rollback_and_run_out() {
        let (_db, mut conn) = test_database("alloc_test");
        // 30 stems: about 27 with a check digit.
        let range = AllocationRange::parse("9000002000-9000002299").unwrap();
        let valid: Vec<NhsNumber> = (900_000_200..=900_000_229)
            .filter_map(NhsNumber::from_stem)
            .collect();
        // Someone else already holds the second number.
        store(&mut conn, valid[1]);

        let take = |conn: &mut PgConnection| {
            conn.transaction(|conn| {
                let n = next_number(conn, range)?;
                if let Some(n) = n {
                    store(conn, n);
                }
                QueryResult::Ok(n)
            })
            .unwrap()
        };
        assert_eq!(take(&mut conn), Some(valid[0]));
        // A rolled-back create hands out nothing.
        let rolled_back = conn.transaction::<(), _, _>(|conn| {
            assert_eq!(next_number(conn, range)?, Some(valid[2]));
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(rolled_back.is_err());
        let mut got = vec![valid[0]];
        while let Some(n) = take(&mut conn) {
            assert!(range.contains(n));
            got.push(n);
        }
        let mut expected = valid.clone();
        expected.remove(1);
        assert_eq!(got, expected);
        // Used up, it stays used up.
        assert_eq!(take(&mut conn), None);
    }
}
