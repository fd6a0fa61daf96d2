use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel::{Connection, PgConnection};

use pds::auth::dev::DevKeys;
use pds::auth::personas::{self, Overrides, Persona};
use pds::config::Settings;
use pds::seed;
use pds::startup::{Application, prepare_database};
use pds::store::migrate;

// Requests allocate many small, short-lived values; mimalloc serves them with
// less CPU than the system allocator (about 40% more retrieves per second
// here; see bench/results).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (not named by libmimalloc-sys).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Return freed memory to the OS at once. Queries run on blocking threads
/// that free in bursts and then sit idle; with mimalloc's default delay the
/// resident set passed 250 MB under fuzzy search, with none about 90 MB.
#[allow(
    unsafe_code,
    reason = "mimalloc's options are set through its C API; the call is sound"
)]
fn purge_freed_memory_at_once() {
    // SAFETY: sets a plain integer option; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

#[derive(Parser)]
#[command(
    version,
    about = "FHIR R4 patient demographics service (PDS-compatible)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load a deterministic synthetic population with COPY.
    Seed {
        /// Number of synthetic patients.
        #[arg(long)]
        count: u64,
        /// Random seed; the same seed gives the same population.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Empty the store first (the sandbox patients are reloaded).
        #[arg(long)]
        replace: bool,
    },
    /// Print random synthetic patients, a line each, as benchmark inputs:
    /// NHS number, family, given, birth date, gender, home postcode.
    Sample {
        #[arg(long, default_value_t = 10_000)]
        count: i64,
    },
    /// Print a developer token for a persona, signed with the key in
    /// DEV_KEYS_DIR (trusted by a server running with AUTH_DEV_TRUST).
    Token {
        #[arg(value_enum)]
        persona: Persona,
        /// The patient's own NHS number (patient persona).
        #[arg(long)]
        nhs_number: Option<String>,
        /// Replace the role code, e.g. S8000:G8000:R8001.
        #[arg(long)]
        role_code: Option<String>,
        /// Replace the role's activity codes, comma-separated, e.g. B0820,B1611.
        #[arg(long, value_delimiter = ',')]
        activities: Option<Vec<String>>,
        /// Authentication assurance level (2 or 3).
        #[arg(long)]
        aal: Option<u8>,
        /// Extra scope, e.g. SMART user/Patient.rs (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Print a random (version 4) UUID, for the X-Request-ID header of a
    /// hand-made request on machines without `uuidgen`.
    Uuid,
}

fn main() -> anyhow::Result<()> {
    purge_freed_memory_at_once();
    pds::config::load_config_file()?;
    let cli = Cli::parse();
    let mut settings = Settings::from_env()?;
    pds::telemetry::init(settings.log_json);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Uuid => {
            println!("{}", uuid::Uuid::new_v4());
            Ok(())
        }
        Command::Token {
            persona,
            nhs_number,
            role_code,
            activities,
            aal,
            scopes,
        } => {
            let overrides = Overrides {
                nhs_number,
                role_code,
                activities,
                aal,
                scopes,
            };
            let claims = personas::claims(persona, &overrides)?;
            let keys = DevKeys::load_or_create(&settings.auth.dev_keys_dir)?;
            println!("{}", keys.mint(&claims)?);
            Ok(())
        }
        Command::Serve => serve(&settings),
        Command::Migrate => {
            settings.seed_count = 0;
            let url = database_url(&settings)?;
            let mut conn = PgConnection::establish(&url)?;
            let applied = migrate::run(&mut conn)?;
            println!("applied {} migration(s)", applied.len());
            Ok(())
        }
        Command::Sample { count } => {
            let url = database_url(&settings)?;
            let mut conn = PgConnection::establish(&url)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for d in pds::seed::sample::draw(&mut conn, count)? {
                use std::io::Write;
                writeln!(
                    out,
                    "{} {} {} {} {} {}",
                    d.nhs_number, d.family, d.given, d.birth_date, d.gender, d.postcode
                )?;
            }
            Ok(())
        }
        Command::Seed {
            count,
            seed,
            replace,
        } => {
            let url = database_url(&settings)?;
            let mut conn = PgConnection::establish(&url)?;
            migrate::run(&mut conn)?;
            let report = seed::reseed(&mut conn, count, seed, replace)?;
            println!(
                "loaded {} patients in {:.2} s ({:.0} patients/s); indexes built in {:.2} s",
                report.rows,
                report.elapsed.as_secs_f64(),
                report.rows_per_second(),
                report.index_build.as_secs_f64()
            );
            Ok(())
        }
    }
}

/// The URL after provisioning, without seeding the start-up population.
fn database_url(settings: &Settings) -> anyhow::Result<String> {
    let mut quiet = settings.clone();
    quiet.seed_count = 0;
    match &settings.database_url {
        Some(url) => Ok(url.clone()),
        None => prepare_database(&quiet),
    }
}

fn serve(settings: &Settings) -> anyhow::Result<()> {
    let url = prepare_database(settings)?;
    let system = actix_web::rt::System::new();
    system.block_on(async {
        let app = Application::build(settings, &url)?;
        tracing::info!(bind = %settings.bind, port = app.port(), "serving the API");
        app.run_until_stopped().await.context("server failed")
    })
}
