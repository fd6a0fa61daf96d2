//! Every log line written while a request is served names the request: its
//! X-Request-ID, route template and access mode (the `request` span).

use crate::helpers::{
    free_port, seeded_database, server_command, test_cluster_dir, token, wait_until_serving,
};
use diesel::RunQueryDsl;
use pds::auth::personas::Persona;
use pds::seed::sandbox;
use serde_json::Value;

#[tokio::test]
async fn lines_inside_a_request_name_its_id_route_and_access_mode() {
    let database = seeded_database();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = test_cluster_dir(&format!("logs-{}.jsonl", uuid::Uuid::new_v4().simple()));
    let mut server = server_command(database.url(), port)
        // The third request is over the limit: its "rate limited" line is
        // written deep inside the request, after the gate.
        .env("RATE_LIMIT_PER_SECOND", "1")
        .env("RATE_LIMIT_BURST", "2")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("starting the server");
    // A record that cannot be decoded: its retrieve is a 500, whose cause
    // the log must tell, under the request's id.
    diesel::sql_query(format!(
        "UPDATE patients SET details = '\\x09' WHERE nhs_number = {}",
        sandbox::JAYNE_SMYTH
    ))
    .execute(&mut database.connect())
    .expect("corrupting a record");
    let client = reqwest::Client::new();
    wait_until_serving(&client, &base).await;
    let clinician = token(Persona::Clinician);
    let ids: Vec<String> = (0..3).map(|_| crate::helpers::rid()).collect();
    let mut statuses = Vec::new();
    for (id, number) in ids.iter().zip([
        sandbox::JANE_SMITH,
        sandbox::JAYNE_SMYTH,
        sandbox::JANE_SMITH,
    ]) {
        let response = client
            .get(format!("{base}/Patient/{number}"))
            .bearer_auth(&clinician)
            .header("X-Request-ID", id.as_str())
            .send()
            .await
            .expect("answer");
        statuses.push(response.status().as_u16());
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(statuses, [200, 500, 429]);

    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let _ = std::fs::remove_file(&log);
    let line = |id: &str, message: &str| {
        lines
            .iter()
            .find(|l| l["span"]["request_id"] == id && l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line for {id}: {lines:#?}"))
            .clone()
    };
    for (id, status) in ids.iter().zip([200, 500, 429]) {
        let done = line(id, "request");
        assert_eq!(done["fields"]["status"], status);
        assert_eq!(done["span"]["name"], "request");
        assert_eq!(done["span"]["route"], "/Patient/{id}");
        assert_eq!(done["span"]["method"], "GET");
        assert_eq!(done["span"]["access_mode"], "healthcare-worker");
        assert!(
            !done.to_string().contains(sandbox::JANE_SMITH),
            "the NHS number is not logged: {done}"
        );
    }
    let failed = line(&ids[1], "answering 500");
    assert_eq!(failed["span"]["access_mode"], "healthcare-worker");
    let cause = failed["fields"]["cause"].as_str().unwrap_or_default();
    assert!(cause.contains("format 9"), "the cause is told: {failed}");
    let limited = line(&ids[2], "rate limited");
    assert_eq!(limited["span"]["route"], "/Patient/{id}");
    assert_eq!(limited["span"]["access_mode"], "healthcare-worker");
}
