//! Patient search: the request (parsed and validated in the PDS order), the
//! normal forms, how candidates are matched and scored, and the matching a
//! create does against the patients on file.

pub mod duplicates;
pub mod normalise;
pub mod params;
pub mod score;
