//! The attack suite: what a hostile caller with an ordinary, valid token
//! (or none) would try, over real sockets against the running server:
//! token attacks, cross-caller replays, search oracles, cross-patient
//! access, hostile inputs, slow clients, label cardinality. Each test
//! asserts what that caller sees, and has a control showing the same
//! request succeeds for someone allowed.

mod inputs;
mod metrics;
mod oracles;
mod patient_mode;
mod raw;
mod replays;
mod slow;
mod tokens;
