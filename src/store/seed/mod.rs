//! Seed data: the PDS sandbox patients and a synthetic population.

pub mod generator;
mod names;
