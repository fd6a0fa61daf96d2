//! The attack suite: what a hostile caller with an ordinary, valid token
//! (or none) would try. Each test asserts what that caller sees, and has a
//! control showing the same request succeeds for someone allowed.

mod oracles;
mod patient_mode;
mod replays;
mod tokens;
