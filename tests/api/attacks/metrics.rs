//! `/metrics` must stay bounded whatever clients send: no method, path or
//! status a client can choose becomes a new series.

use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use std::time::Duration;

use crate::helpers::TestApp;

const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"];
const PATH_KINDS: usize = 6;

/// A method token no server knows (never CONNECT or TRACE, which clients
/// treat specially).
fn junk_method(rng: &mut impl Rng) -> Method {
    loop {
        let len = rng.random_range(3..12);
        let name: String = (0..len)
            .map(|_| char::from(rng.random_range(b'A'..=b'Z')))
            .collect();
        if !KNOWN.contains(&name.as_str()) && name != "CONNECT" && name != "TRACE" {
            return Method::from_bytes(name.as_bytes()).unwrap();
        }
    }
}

/// A path segment that names nothing the service serves.
fn junk_segment(rng: &mut impl Rng) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
    let len = rng.random_range(1..24);
    let mut out = String::from("x");
    for _ in 0..len {
        if rng.random_range(0..10) == 0 {
            out.push_str(&format!("%{:02X}", rng.random_range(0u8..=255)));
        } else {
            out.push(char::from(CHARS[rng.random_range(0..CHARS.len())]));
        }
    }
    out
}

/// A path of one of the kinds: on `/Patient` and off it.
fn junk_path(kind: usize, rng: &mut impl Rng) -> String {
    let mut seg = || junk_segment(rng);
    match kind {
        0 => format!("/Patient/{}", seg()),
        1 => format!("/Patient/{}/{}", seg(), seg()),
        2 => format!("/Patient?{}={}", seg(), seg()),
        3 => format!("/{}", seg()),
        4 => format!("/{}/{}?{}={}", seg(), seg(), seg(), seg()),
        _ => format!("/docs/{}", seg()),
    }
}

/// The series in an exposition: every line that is not a comment.
fn series(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.rsplit_once(' ').map_or(l, |(name, _)| name))
        .collect()
}

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn junk_methods_and_paths_add_no_series_to_metrics() {
    let app = TestApp::spawn().await;
    let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
    let send = |method: Method, path: String| {
        let request = app.client.request(method.clone(), app.url(&path)).send();
        async move {
            let response = request.await.unwrap();
            let status = response.status();
            assert!(!status.is_server_error(), "{method} {path}: {status}");
        }
    };

    // Warm-up: each kind of method (one unknown, every known one) on each
    // kind of path, once, so every series the junk can reach exists.
    for kind in 0..PATH_KINDS {
        let mut methods: Vec<Method> = KNOWN
            .iter()
            .map(|m| Method::from_bytes(m.as_bytes()).unwrap())
            .collect();
        methods.push(junk_method(&mut rng));
        for method in methods {
            send(method, junk_path(kind, &mut rng)).await;
        }
    }
    scrape(&app).await;
    let before = scrape(&app).await;

    let requests: Vec<(Method, String)> = (0..10_000)
        .map(|_| {
            let method = if rng.random_range(0..4) == 0 {
                Method::from_bytes(KNOWN[rng.random_range(0..KNOWN.len())].as_bytes()).unwrap()
            } else {
                junk_method(&mut rng)
            };
            let path = junk_path(rng.random_range(0..PATH_KINDS), &mut rng);
            (method, path)
        })
        .collect();
    tokio::time::timeout(
        Duration::from_secs(180),
        futures_util::stream::iter(requests)
            .map(|(method, path)| send(method, path))
            .buffer_unordered(16)
            .collect::<Vec<()>>(),
    )
    .await
    .expect("10,000 requests within 3 minutes");

    let after = scrape(&app).await;
    let (old, new) = (series(&before), series(&after));
    let added: Vec<&&str> = new.iter().filter(|s| !old.contains(s)).take(5).collect();
    assert_eq!(old.len(), new.len(), "new series, for example {added:?}");
    // Only the counts grow, by a few digits each.
    assert!(
        after.len() <= before.len() + 16 * 1024,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
    assert!(
        after.contains(r#"method="other",route="other",status="400""#),
        "{after}"
    );
    assert!(!after.contains("unmatched"), "{after}");
}
