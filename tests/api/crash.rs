//! A hard crash of the server (SIGKILL under load) loses no audit row of an
//! answer a client received: every answer leaves only after its row is
//! committed.

use crate::helpers::{
    free_port, patient_token, seeded_database, server_command, token, wait_until_serving,
};
use pds::auth::personas::Persona;
use pds::seed::sandbox;
use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The tokens of the load, minted once (the server then verifies each
/// signature once, as it would for a real client).
struct Tokens {
    clerk: String,
    clinician: String,
    patient: String,
}

/// One kind of request of the load, and how to make the n-th of it.
fn request(
    client: &reqwest::Client,
    base: &str,
    tokens: &Tokens,
    n: usize,
    id: &str,
) -> reqwest::RequestBuilder {
    let clerk = &tokens.clerk;
    let jane = format!("{base}/Patient/{}", sandbox::JANE_SMITH);
    let r = match n % 9 {
        0 => client.get(&jane).bearer_auth(clerk),
        1 => client
            .get(format!("{base}/Patient/9111231130"))
            .bearer_auth(clerk),
        2 => client
            .get(format!(
                "{base}/Patient?family=Smith&birthdate=eq2010-10-22"
            ))
            .bearer_auth(clerk),
        3 => client.get(format!("{jane}/_history")).bearer_auth(clerk),
        4 => client
            .get(format!("{jane}/RelatedPerson"))
            .bearer_auth(clerk),
        5 => client.get(&jane).bearer_auth("not-a-token"),
        6 => client.get(&jane).bearer_auth(&tokens.patient),
        // A stale If-Match: 409.
        7 => client
            .patch(&jane)
            .bearer_auth(&tokens.clinician)
            .header("If-Match", "W/\"1\"")
            .header("Content-Type", "application/json-patch+json")
            .body(r#"{"patches":[{"op":"replace","path":"/gender","value":"male"}]}"#),
        _ => client
            .get(format!("{base}/Patient/{}", sandbox::SUPERSEDED))
            .bearer_auth(clerk),
    };
    r.header("X-Request-ID", id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sigkill_under_load_every_answer_received_has_its_audit_row() {
    let database = seeded_database();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = server_command(database.url(), port)
        .env("RATE_LIMIT_PER_SECOND", "0")
        .env("WORKERS", "2")
        .env("RUST_LOG", "error")
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the server");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    wait_until_serving(&client, &base).await;

    // 16 clients, each sending the next request as soon as the last is
    // answered, and noting the request id of every answer it received.
    let received = Arc::new(Mutex::new(Vec::<(String, u16)>::new()));
    let tokens = Arc::new(Tokens {
        clerk: token(Persona::Clerk),
        clinician: token(Persona::Clinician),
        patient: patient_token(sandbox::JAYNE_SMYTH),
    });
    let mut clients = Vec::new();
    for c in 0..16 {
        let (client, base, received) = (client.clone(), base.clone(), received.clone());
        let tokens = tokens.clone();
        clients.push(tokio::spawn(async move {
            for n in c.. {
                let id = uuid::Uuid::new_v4().to_string();
                match request(&client, &base, &tokens, n, &id).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        // Received means the whole answer, body included.
                        if response.bytes().await.is_ok() {
                            received.lock().unwrap().push((id, status));
                        }
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("SIGKILL");
    server.wait().expect("reaping the server");
    for c in clients {
        let _ = tokio::time::timeout(Duration::from_secs(10), c).await;
    }

    let received = received.lock().unwrap().clone();
    let statuses: HashSet<u16> = received.iter().map(|(_, s)| *s).collect();
    assert!(
        received.len() > 100,
        "only {} answers under load",
        received.len()
    );
    for expected in [200, 401, 403, 404, 409] {
        assert!(
            statuses.contains(&expected),
            "no {expected} in {statuses:?}"
        );
    }
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        request_id: Option<String>,
    }
    let audited: HashSet<String> = diesel::sql_query("SELECT request_id FROM audit_trail")
        .load::<Id>(&mut database.connect())
        .unwrap()
        .into_iter()
        .filter_map(|r| r.request_id)
        .collect();
    let missing: Vec<&(String, u16)> = received
        .iter()
        .filter(|(id, _)| !audited.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answers received have no audit row, e.g. {:?}",
        missing.len(),
        received.len(),
        &missing[..missing.len().min(5)]
    );
}
