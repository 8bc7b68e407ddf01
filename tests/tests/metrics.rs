//! `GET /metrics` on every service: request counts and latency by route and status, outbox lag,
//! consumer lag, database pool use — scraped after the learning journey and while NATS is down.

use std::net::SocketAddr;
use std::time::Duration;

use lyceum_e2e::platforms::Microservices;
use lyceum_e2e::{eventually, journey};
use lyceum_testkit::http_get;
use serde_json::json;

async fn scrape(addr: SocketAddr) -> String {
    let (status, body) = http_get(addr, "/metrics").await.expect("scrape");
    assert_eq!(status, 200, "{body}");
    body
}

/// The value of the first sample whose line starts with `series` (name and labels, in order).
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_service_reports_requests_lag_and_pool_use() {
    let Some(mut platform) = Microservices::start().await.expect("platform") else {
        return;
    };
    journey::run(&platform.http, &platform.creds)
        .await
        .expect("journey");
    let a = platform.addrs;

    let gw = scrape(a.gateway).await;
    let tokens = value(
        &gw,
        r#"http_requests_total{method="POST",route="/api/v1/auth/token",status="200"}"#,
    );
    assert!(tokens.is_some_and(|v| v >= 2.0), "{gw}");
    let timed = value(
        &gw,
        r#"http_request_duration_seconds_count{method="POST",route="/api/v1/enrollments/{id}/items/{item_id}/complete"}"#,
    );
    assert_eq!(timed, Some(2.0), "{gw}");

    let lms = scrape(a.lms).await;
    let completes = value(
        &lms,
        r#"grpc_requests_total{method="/lyceum.lms.v1.EnrollmentService/CompleteItem",code="Ok"}"#,
    );
    assert_eq!(completes, Some(2.0), "{lms}");
    assert!(
        value(
            &lms,
            r#"grpc_requests_total{method="/lyceum.lms.v1.PeopleService/CreatePerson",code="Ok"}"#
        )
        .is_some()
    );
    assert!(
        lms.contains("grpc_request_duration_seconds_bucket{"),
        "{lms}"
    );
    assert_eq!(value(&lms, "outbox_pending_events "), Some(0.0), "{lms}");
    assert!(
        value(&lms, "db_pool_connections ").is_some_and(|v| v >= 1.0),
        "{lms}"
    );
    assert!(
        value(&lms, "db_pool_connections_in_use ").is_some(),
        "{lms}"
    );

    let lrs = scrape(a.lrs).await;
    assert!(
        value(
            &lrs,
            r#"http_requests_total{method="GET",route="/xapi/{*rest}",status="200"}"#
        )
        .is_some(),
        "{lrs}"
    );
    assert_eq!(
        value(&lrs, r#"bus_consumer_lag_events{consumer="lrs-submit"}"#),
        Some(0.0),
        "{lrs}"
    );
    let lxp = scrape(a.lxp).await;
    assert!(
        value(&lxp, r#"bus_consumer_lag_events{consumer="lxp-profile"}"#).is_some(),
        "{lxp}"
    );
    assert!(
        value(&lxp, r#"bus_consumer_lag_events{consumer="lxp-catalog"}"#).is_some(),
        "{lxp}"
    );

    // With NATS down, what the LMS accepts waits in its outbox, and the metrics say so.
    platform.nats.stop();
    let http = platform.http.clone();
    let admin = http
        .token(&platform.creds.admin_email, &platform.creds.admin_password)
        .await
        .unwrap();
    http.post(
        "/api/v1/people",
        &admin,
        &json!({"email": "late@example.com", "name": "Late", "role": "learner", "password": "password-1"}),
    )
    .await
    .unwrap()
    .expect(201)
    .unwrap();
    let c = http
        .post(
            "/api/v1/courses",
            &admin,
            &json!({"title": "While NATS is down", "modules": [{"title": "M", "items": [{"title": "I", "kind": "quiz"}]}]}),
        )
        .await
        .unwrap()
        .expect(201)
        .unwrap()
        .json();
    let id = c["id"].as_str().unwrap();
    http.post(&format!("/api/v1/courses/{id}/publish"), &admin, &json!({}))
        .await
        .unwrap()
        .expect(200)
        .unwrap();
    eventually("the outbox lag shows", Duration::from_secs(10), || async {
        let m = scrape(a.lms).await;
        let pending = value(&m, "outbox_pending_events ").unwrap_or(0.0);
        let age = value(&m, "outbox_oldest_event_age_seconds ").unwrap_or(0.0);
        Ok((pending >= 1.0 && age > 0.0).then_some(()))
    })
    .await
    .unwrap();
    platform.nats.restart();
    eventually(
        "the outbox drains after NATS returns",
        Duration::from_secs(30),
        || async {
            let m = scrape(a.lms).await;
            Ok((value(&m, "outbox_pending_events ") == Some(0.0)).then_some(()))
        },
    )
    .await
    .unwrap();
    platform.stop().await.unwrap();
}
