//! The `lrs-submit` consumer: statements from `lyceum.xapi.submit`, stored once however often
//! they arrive, each announced by exactly one `lyceum.lrs.statement.stored`; a different
//! statement under a known id is refused without touching the stored one.

use std::time::Duration;

use http::StatusCode;
use lyceum_bus::{EventBus, NewEvent, OutgoingEvent, subjects};
use lyceum_store::on_pool;
use lyceum_testkit::{NatsServer, databases};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

fn submit(statement: &Value) -> NewEvent {
    NewEvent::json(
        subjects::XAPI_SUBMIT,
        "lms",
        statement["id"].as_str().unwrap(),
        serde_json::to_vec(statement).unwrap(),
    )
}

/// The same envelope again under another message id, so the bus does not de-duplicate it:
/// what a redelivery looks like to the consumer.
fn redelivery(event: &NewEvent) -> OutgoingEvent {
    let mut out = OutgoingEvent::from_new(event);
    out.id = Uuid::now_v7();
    out
}

async fn processed(app: &TestApp, event: &NewEvent) -> bool {
    let store = app.store().await;
    let n: i64 = on_pool!(&store, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM inbox WHERE consumer = 'lrs-submit' AND event_id = $1"
    )
    .bind(event.id())
    .fetch_one(pool)
    .await)
    .expect("inbox");
    store.close().await;
    n == 1
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stored_once_and_conflicts_refused(app: TestApp) {
    let bus: EventBus = app.platform.bus.clone();
    let mut events = app.stored_events("test-bus-stored").await;
    let person = Uuid::now_v7();
    let id = Uuid::new_v4().to_string();
    let mut s = statement(person_agent(person), 1);
    s["id"] = json!(id);

    // The event, a redelivery of it, and the same statement in a second event.
    let first = submit(&s);
    let resent = submit(&s);
    bus.publish(&[
        OutgoingEvent::from_new(&first),
        redelivery(&first),
        OutgoingEvent::from_new(&resent),
    ])
    .await
    .expect("publish");
    let path = format!("/xapi/statements?statementId={id}");
    wait_for("the statement", async || {
        app.get(&path).await.status == StatusCode::OK
    })
    .await;
    wait_for("the second event", async || processed(&app, &resent).await).await;
    let stored = app.get(&path).await.json();
    assert_eq!(stored["authority"]["account"]["homePage"], PUBLIC_URL);
    assert_eq!(stored["authority"]["account"]["name"], "lyceum");

    let announced = drain(
        &mut events,
        1,
        Duration::from_secs(15),
        Duration::from_millis(1500),
    )
    .await;
    assert_eq!(
        announced.len(),
        1,
        "{} {}: {announced:?}",
        app.backend,
        bus.kind()
    );
    assert_eq!(announced[0].statement_id, id);
    assert_eq!(announced[0].person_id, person.to_string());
    assert_eq!(
        announced[0].verb_id,
        "http://adlnet.gov/expapi/verbs/experienced"
    );
    let body: Value = serde_json::from_str(&announced[0].statement_json).unwrap();
    assert_eq!(body, stored);

    // Another statement under the same id: refused (recorded as processed, skipped).
    let mut other = statement(person_agent(person), 2);
    other["id"] = json!(id);
    let conflicting = submit(&other);
    bus.publish(&[OutgoingEvent::from_new(&conflicting)])
        .await
        .expect("publish");
    wait_for("the conflicting event", async || {
        processed(&app, &conflicting).await
    })
    .await;
    assert_eq!(app.get(&path).await.json(), stored);
    let list = app.get("/xapi/statements").await.json();
    assert_eq!(list["statements"].as_array().unwrap().len(), 1);
    let more = drain(&mut events, 0, Duration::ZERO, Duration::from_millis(1500)).await;
    assert!(more.is_empty(), "{more:?}");
    app.stop().await;
}

#[tokio::test]
async fn submitted_statements_are_stored_once_on_the_in_process_bus() {
    for db in databases().await {
        stored_once_and_conflicts_refused(spawn_app(&db, memory_bus()).await).await;
    }
}

#[tokio::test]
async fn submitted_statements_are_stored_once_on_nats() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    for db in databases().await {
        let bus = nats_bus(&nats.url()).await;
        stored_once_and_conflicts_refused(spawn_app(&db, bus).await).await;
    }
}
