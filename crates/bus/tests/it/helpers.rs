use std::time::Duration;

use lyceum_bus::{
    ConsumerSpec, EventBus, EventHandler, HandlerError, MemoryBus, NatsBus, NatsSettings, NewEvent,
    OutgoingEvent,
};
use lyceum_proto::events::v1::{EnrollmentCreated, Envelope};
use lyceum_store::{Store, Tx, on_pool, on_tx};
use lyceum_testkit::{NatsServer, TestDatabase};

/// A bus of each kind: in-process always, NATS when a server can be started.
pub struct Buses {
    pub list: Vec<(&'static str, EventBus)>,
    _nats: Option<NatsServer>,
}

pub async fn buses() -> Buses {
    let mut list = vec![("memory", EventBus::Memory(MemoryBus::new()))];
    let nats = NatsServer::start();
    if let Some(server) = &nats {
        list.push(("nats", nats_bus(&server.url()).await));
    }
    Buses { list, _nats: nats }
}

pub async fn nats_bus(url: &str) -> EventBus {
    let mut settings = NatsSettings::new(url, "lyceum-test");
    settings.file_storage = true;
    EventBus::Nats(NatsBus::connect(settings).await.expect("connect"))
}

pub fn event(n: u32) -> NewEvent {
    NewEvent::proto(
        "lyceum.lms.enrollment.created",
        "test",
        n,
        &EnrollmentCreated {
            enrollment_id: n.to_string(),
            course_id: "c".into(),
            person_id: "p".into(),
        },
    )
}

pub fn outgoing(n: u32) -> OutgoingEvent {
    OutgoingEvent::from_new(&event(n))
}

pub fn number(e: &Envelope) -> u32 {
    use prost::Message;
    EnrollmentCreated::decode(e.payload.as_slice())
        .expect("payload")
        .enrollment_id
        .parse()
        .expect("number")
}

pub fn spec(name: &str, filter: &str) -> ConsumerSpec {
    let mut s = ConsumerSpec::new(name, filter);
    s.ack_wait = Duration::from_secs(1);
    s
}

/// A store with the bus tables and an `applied` table recording every effect.
pub async fn store(db: &TestDatabase) -> Store {
    let store = Store::connect(db.url()).await.expect("connect");
    store
        .migrate(&[&lyceum_bus::MIGRATIONS])
        .await
        .expect("migrate");
    on_pool!(&store, |pool| sqlx::query(
        "CREATE TABLE applied (event_id TEXT NOT NULL, n INTEGER NOT NULL)"
    )
    .execute(pool)
    .await
    .map(|_| ()))
    .expect("create applied");
    store
}

/// Records every application of an event; applying one twice would show as two rows.
pub struct Recorder;

impl EventHandler for Recorder {
    async fn handle(&self, tx: &mut Tx, event: &Envelope) -> Result<(), HandlerError> {
        let n = number(event) as i64;
        on_tx!(tx, |conn| sqlx::query(
            "INSERT INTO applied (event_id, n) VALUES ($1, $2)"
        )
        .bind(&event.id)
        .bind(n)
        .execute(conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}

/// (rows, distinct event ids) in `applied`.
pub async fn applied(store: &Store) -> (i64, i64) {
    on_pool!(store, |pool| sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM applied"
    )
    .fetch_one(pool)
    .await)
    .expect("count")
}

/// Polls until `applied` has `n` rows, at most `within`.
pub async fn wait_applied(store: &Store, n: i64, within: Duration) -> (i64, i64) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = applied(store).await;
        if got.0 >= n || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
