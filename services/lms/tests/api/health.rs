//! `/healthz` and `/readyz`: ready only while the database and the bus answer.

use std::time::Duration;

use lyceum_bus::{EventBus, NatsBus, NatsSettings};
use lyceum_config::Config;
use lyceum_server::Platform;
use lyceum_testkit::{NatsServer, PgServer, TestDatabase, http_get};
use tokio_util::sync::CancellationToken;

async fn wait_for(addr: std::net::SocketAddr, status: u16, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok((s, body)) = http_get(addr, "/readyz").await
            && s == status
            && body.contains(needle)
        {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never answered {status} with {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_follows_the_database_and_the_bus() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let Some(mut pg) = PgServer::start() else {
        return;
    };
    let db = TestDatabase::postgres_on(&pg.admin_url())
        .await
        .expect("private PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        nats_url: Some(nats.url()),
        lms: lyceum_config::ServiceConfig {
            database_url: Some(db.url().to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    let bus = EventBus::Nats(
        NatsBus::connect(NatsSettings::new(nats.url(), "lms-test"))
            .await
            .unwrap(),
    );
    let platform = Platform::with_bus(config, bus).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(lyceum_lms::run(
        platform,
        listener,
        stop.clone().cancelled_owned(),
    ));

    wait_for(addr, 200, "ready").await;
    assert_eq!(http_get(addr, "/healthz").await.unwrap().0, 200);

    nats.stop();
    let body = wait_for(addr, 503, "bus").await;
    assert!(!body.contains("database"), "{body}");
    assert_eq!(
        http_get(addr, "/healthz").await.unwrap().0,
        200,
        "alive while not ready"
    );
    nats.restart();
    wait_for(addr, 200, "ready").await;

    pg.stop();
    wait_for(addr, 503, "database").await;
    pg.start_again();
    wait_for(addr, 200, "ready").await;

    stop.cancel();
    task.await.unwrap().unwrap();
    drop(db);
}
