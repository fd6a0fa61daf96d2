//! Domain types: values that are valid once built, and the rules on them.

pub mod birth;
pub mod codes;
mod countries;
pub mod coverage;
pub mod former;
mod nhs_number;
pub mod patch;
pub mod patient;
pub mod python;
pub mod related;
pub mod search;

pub use nhs_number::{InvalidNhsNumber, NhsNumber};
pub use patient::Patient;
