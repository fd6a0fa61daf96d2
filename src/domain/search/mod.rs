//! Patient search: the request (parsed and validated in the PDS order), the
//! normal forms, and how candidates are matched and scored.

pub mod normalise;
pub mod params;
pub mod score;
