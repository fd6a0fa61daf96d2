//! `openapi.yaml` against the server: the document describes exactly the
//! routes the code registers (`pds::api::ROUTES`), each of them is really
//! answered, and the document and its Redoc page are served offline.

use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

use crate::helpers::{TestApp, spine_code};
use pds::api::ROUTES;

const SPEC: &str = include_str!("../../openapi.yaml");

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec() -> Value {
    serde_norway::from_str(SPEC).expect("openapi.yaml parses")
}

/// Every (path, METHOD) the document describes.
fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_object().expect("paths");
    let mut pairs = BTreeSet::new();
    for (path, item) in paths {
        for key in item.as_object().expect("path item").keys() {
            if HTTP_METHODS.contains(&key.as_str()) {
                pairs.insert((path.clone(), key.to_uppercase()));
            }
        }
    }
    pairs
}

fn served() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect()
}

/// A concrete URL path for a template.
fn concrete(path: &str) -> String {
    path.replace("{id}", "9000000009").replace("{vid}", "1")
}

/// What to request to exercise `method` on `path`.
fn probe(path: &str, method: &Method) -> String {
    match (path, method) {
        ("/Patient", &Method::GET) => "/Patient?family=Smith&birthdate=eq2010-10-22".into(),
        _ => concrete(path),
    }
}

#[test]
fn the_document_describes_exactly_the_routes_the_server_registers() {
    let spec = spec();
    // Preflights are the CORS middleware's, not routes.
    let documented: BTreeSet<_> = documented(&spec)
        .into_iter()
        .filter(|(_, m)| m != "OPTIONS")
        .collect();
    let served = served();
    assert_eq!(served.len(), ROUTES.len(), "ROUTES has duplicates");
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in openapi.yaml: {undocumented:?}; \
         in openapi.yaml but not served: {unserved:?}"
    );
}

#[tokio::test]
async fn every_documented_operation_is_answered_and_no_other_method() {
    let app = TestApp::spawn().await;
    let spec = spec();
    let pairs = documented(&spec);
    for (path, method) in &pairs {
        let url = app.url(&concrete(path));
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = app
            .request(method.clone(), &probe(path, &method))
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string());
        // Handlers answer UNSUPPORTED_SERVICE themselves to a search with no
        // parameters or a body of another media type: send realistic ones.
        match method {
            Method::OPTIONS => {
                request = request
                    .header("Origin", "https://app.example.org")
                    .header("Access-Control-Request-Method", "GET");
            }
            Method::POST => {
                request = request
                    .header("Content-Type", "application/fhir+json")
                    .body("{}");
            }
            Method::PATCH => {
                request = request
                    .header("Content-Type", "application/json-patch+json")
                    .header("If-Match", "W/\"0\"")
                    .body("{\"patches\": []}");
            }
            _ => {}
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        if method == Method::OPTIONS {
            assert_eq!(status, 200, "OPTIONS {url}");
            assert!(
                response
                    .headers()
                    .contains_key("access-control-allow-origin"),
                "OPTIONS {url}"
            );
            continue;
        }
        let text = response.text().await.unwrap();
        let code = serde_json::from_str::<Value>(&text)
            .map(|body| spine_code(&body).to_owned())
            .unwrap_or_default();
        assert!(
            !matches!(code.as_str(), "UNSUPPORTED_REQUEST" | "UNSUPPORTED_SERVICE"),
            "{method} {path} is documented but not served: {text}"
        );
        if method == Method::HEAD {
            assert_eq!(status, 200, "HEAD {path}");
        }
    }
    // A method the document does not list is refused on every path.
    let paths: BTreeSet<&String> = pairs.iter().map(|(p, _)| p).collect();
    for path in paths {
        if pairs.contains(&(path.clone(), "DELETE".into())) {
            continue;
        }
        let response = app
            .request(Method::DELETE, &concrete(path))
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "DELETE {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(spine_code(&body), "UNSUPPORTED_SERVICE", "DELETE {path}");
    }
}

#[tokio::test]
async fn the_document_is_served_as_yaml_and_as_json() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/yaml");
    assert_eq!(response.text().await.unwrap(), SPEC);

    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let json: Value = response.json().await.unwrap();
    let keys = |v: &Value| -> Vec<String> {
        v["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(keys(&json), keys(&spec()));
    assert_eq!(json["openapi"], spec()["openapi"]);
}

/// Values of `attribute="..."` in an HTML page.
fn attributes<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!("{attribute}=\"");
    html.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

#[tokio::test]
async fn the_docs_page_loads_only_local_assets() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!response.headers().contains_key("x-request-id"));
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let scripts = attributes(&html, "src");
    assert!(!scripts.is_empty(), "{html}");
    let sources = scripts
        .iter()
        .chain(attributes(&html, "href").iter())
        .chain(attributes(&html, "spec-url").iter())
        .copied()
        .collect::<Vec<_>>();
    for source in &sources {
        assert!(
            source.starts_with('/') && !source.starts_with("//"),
            "{source} is not on this server"
        );
        let response = app.client.get(app.url(source)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{source}");
    }
    for script in scripts {
        let response = app.client.get(app.url(script)).send().await.unwrap();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/javascript")
                || content_type.starts_with("application/javascript"),
            "{script}: {content_type}"
        );
        assert!(response.bytes().await.unwrap().len() > 100_000, "{script}");
    }
}

#[tokio::test]
async fn other_methods_on_the_docs_get_an_operation_outcome() {
    let app = TestApp::spawn().await;
    for path in ["/docs", "/openapi.yaml", "/openapi.json"] {
        let response = app.client.post(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(spine_code(&body), "UNSUPPORTED_SERVICE", "{path}");
    }
}
