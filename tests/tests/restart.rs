//! Stopping the embedded platform loses nothing: what was accepted before the stop is there
//! after a restart on the same data directory, including events still on their way.

use std::time::Duration;

use lyceum_e2e::eventually;
use lyceum_e2e::platforms::Embedded;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_stop_keeps_every_accepted_change_and_event() {
    let p = Embedded::start().await.unwrap();
    let http = p.http.clone();
    let admin = http
        .token(&p.creds.admin_email, &p.creds.admin_password)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..10 {
        let c = http
            .post(
                "/api/v1/courses",
                &admin,
                &json!({"title": format!("Restart {i}"), "skills": ["ops"], "modules": [{"title": "M",
                    "items": [{"title": "I", "kind": "link", "url": "https://x.example/l"}]}]}),
            )
            .await
            .unwrap()
            .expect(201)
            .unwrap()
            .json();
        let id = c["id"].as_str().unwrap().to_string();
        http.post(&format!("/api/v1/courses/{id}/publish"), &admin, &json!({}))
            .await
            .unwrap()
            .expect(200)
            .unwrap();
        ids.push(id);
    }
    // Stop at once: publication events may still be in the outbox or on the in-process bus.
    let (admin_email, admin_password) =
        (p.creds.admin_email.clone(), p.creds.admin_password.clone());
    let dir = p.stop_keeping_data().await.unwrap();

    let p = Embedded::start_in(dir, |_| {}).await.unwrap();
    let http = p.http.clone();
    let admin = http.token(&admin_email, &admin_password).await.unwrap();
    eventually(
        "every published course in the catalogue after the restart",
        Duration::from_secs(30),
        || async {
            let r = http
                .get("/api/v1/catalog?skill=ops&page_size=100", &admin)
                .await?
                .expect(200)?;
            let items = r.json()["items"].as_array().cloned().unwrap_or_default();
            Ok(ids
                .iter()
                .all(|id| items.iter().any(|i| i["id"] == id.as_str()))
                .then_some(()))
        },
    )
    .await
    .unwrap();
    let r = http
        .get("/api/v1/courses?page_size=100", &admin)
        .await
        .unwrap()
        .expect(200)
        .unwrap();
    assert!(r.json()["courses"].as_array().unwrap().len() >= 10);
    p.stop().await.unwrap();
}
