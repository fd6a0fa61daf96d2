//! End-to-end tests: the real server on a random port, each test with its own
//! PostgreSQL database cloned from a migrated, seeded template.

mod apps;
mod attacks;
mod audit;
mod auth;
mod birth;
mod browser;
mod config;
mod coverage;
mod crash;
mod create;
mod examples;
mod former;
mod headers;
mod health;
mod helpers;
mod history;
mod logs;
mod operations;
mod outage;
mod related;
mod replica;
mod retrieve;
mod search;
mod seed;
mod spec;
mod startup;
mod update;
