//! `/docs` in a real browser: headless Chromium renders the page offline
//! (the server is the only thing it can reach) and it must list the Patient
//! operations. CI installs Debian's `chromium`; elsewhere the test needs
//! `CHROMIUM` or a `chromium` on the PATH, and says so if there is none.

use crate::helpers::TestApp;
use std::path::PathBuf;
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `url` with `extra` arguments; its stdout.
fn headless(browser: &PathBuf, url: &str, extra: &[&str]) -> String {
    let profile = tempdir();
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Let Redoc fetch the spec and render before the page is read.
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("running chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pds-chromium-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a profile directory");
    dir
}

#[tokio::test]
async fn the_docs_page_renders_the_patient_operations_in_a_browser() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium (apt-get install chromium)"
        );
        eprintln!("skipped: no chromium on PATH (set CHROMIUM to run this test)");
        return;
    };
    let app = TestApp::spawn().await;
    let url = app.url("/docs");
    let screenshot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/docs-screenshot.png");
    let _ = std::fs::remove_file(&screenshot);

    let (dom, shot) = tokio::task::spawn_blocking({
        let screenshot = screenshot.clone();
        move || {
            let dom = headless(&browser, &url, &["--dump-dom"]);
            let shot = format!("--screenshot={}", screenshot.display());
            headless(&browser, &url, &[&shot, "--window-size=1280,1600"]);
            (dom, screenshot.is_file())
        }
    })
    .await
    .unwrap();

    // Text Redoc renders from openapi.yaml, so the spec was fetched and read.
    for operation in [
        "Retrieve a patient by NHS number",
        "Search for patients by demographics",
        "Update a patient with JSON Patch",
        "Create a patient and allocate an NHS number",
    ] {
        assert!(dom.contains(operation), "{operation} not on the page");
    }
    assert!(shot, "no screenshot at {}", screenshot.display());
    let size = std::fs::metadata(&screenshot).map_or(0, |m| m.len());
    assert!(size > 10_000, "a blank screenshot? {size} bytes");
}
