//! Rebuilds when a migration is added: `embed_migrations!` reads the
//! migrations directory at compile time, and cargo does not otherwise
//! notice a new directory in it (a stale binary would run without it).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
