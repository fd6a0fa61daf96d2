//! A FHIR R4 patient demographics service in the style of the NHS PDS.
//!
//! A request flows one way: `api` (HTTP) → `auth` (policy) → `domain` →
//! `store` (PostgreSQL) → `fhir` (rendering). `seed` (the sandbox patients,
//! synthetic populations) sits beside `store`, which does not use it.

pub mod api;
pub mod auth;
pub mod config;
pub mod domain;
pub mod fhir;
pub mod seed;
pub mod startup;
pub mod store;
pub mod telemetry;
