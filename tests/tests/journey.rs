//! The learning journey through all four services, in both ways Lyceum runs.

use lyceum_e2e::journey;
use lyceum_e2e::platforms::{Embedded, Microservices};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_journey_works_embedded() {
    let platform = Embedded::start().await.expect("embedded platform starts");
    let seen = journey::run(&platform.http, &platform.creds)
        .await
        .expect("journey");
    eprintln!("embedded: {seen:?}");
    platform.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_journey_works_as_microservices_on_postgres_and_nats() {
    let Some(platform) = Microservices::start().await.expect("microservices start") else {
        return;
    };
    let seen = journey::run(&platform.http, &platform.creds)
        .await
        .expect("journey");
    eprintln!("microservices: {seen:?}");
    platform.stop().await.expect("clean shutdown");
}
