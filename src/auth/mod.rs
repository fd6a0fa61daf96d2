//! Authentication (JWT bearer tokens) and authorisation (access levels).

pub mod apps;
pub mod caller;
pub mod dev;
pub mod jwks;
pub mod personas;
pub mod policy;
pub mod verify;
