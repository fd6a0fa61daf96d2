//! Attacks on the running server over real sockets: hostile inputs, slow
//! clients, label cardinality.

mod inputs;
mod metrics;
mod raw;
mod slow;
