//! `CONFIG_FILE`: settings from a file, the environment winning.

use std::path::Path;
use std::process::Command;

fn token_with(config: &Path, env_keys: Option<&Path>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pds"));
    command
        .args(["token", "clinician"])
        .env("CONFIG_FILE", config)
        .env_remove("DEV_KEYS_DIR");
    if let Some(dir) = env_keys {
        command.env("DEV_KEYS_DIR", dir);
    }
    command.output().expect("running pds")
}

#[test]
fn a_config_file_sets_what_the_environment_does_not() {
    let dir = std::env::temp_dir().join(format!("pds-config-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let from_file = dir.join("keys-from-file");
    let from_env = dir.join("keys-from-env");
    let config = dir.join("pds.env");
    std::fs::write(
        &config,
        format!("# settings\nDEV_KEYS_DIR={}\n", from_file.display()),
    )
    .unwrap();

    let output = token_with(&config, None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(from_file.is_dir(), "the key went where the file said");

    std::fs::remove_dir_all(&from_file).unwrap();
    let output = token_with(&config, Some(&from_env));
    assert!(output.status.success());
    assert!(
        from_env.is_dir() && !from_file.exists(),
        "the environment wins"
    );

    let output = token_with(&dir.join("missing.env"), None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("CONFIG_FILE"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's curl examples take their X-Request-ID from `pds uuid`, so
/// they work on machines without `uuidgen`.
#[test]
fn pds_uuid_prints_a_fresh_request_id() {
    let run = || {
        let output = Command::new(env!("CARGO_BIN_EXE_pds"))
            .arg("uuid")
            .output()
            .expect("running pds uuid");
        assert!(output.status.success());
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    let (first, second) = (run(), run());
    let id = uuid::Uuid::try_parse(first.trim_end()).expect("a UUID");
    assert_eq!(id.get_version_num(), 4);
    assert_eq!(first.len(), 37, "hyphenated, one line: {first:?}");
    assert_ne!(first, second);
}

#[test]
fn a_bad_allocation_range_refuses_to_start() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pds"))
        .arg("serve")
        .env("ALLOCATION_RANGE", "9000001000")
        .env("BIND", "127.0.0.1:0")
        .env(
            "PG_DATA_DIR",
            std::env::temp_dir().join("pds-never-started"),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running pds");
    // Refused while reading the settings, before any database or port.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for pds") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("pds started with ALLOCATION_RANGE=9000001000");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("invalid ALLOCATION_RANGE: '9000001000' is not a range"),
        "{stderr}"
    );
}
