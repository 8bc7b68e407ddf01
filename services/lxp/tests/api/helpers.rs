use std::future::Future;
use std::time::Duration;

use lyceum_auth::Role;
use lyceum_bus::{
    EventBus, MemoryBus, NatsBus, NatsSettings, NewEvent, Outbox, OutgoingEvent, RelaySettings,
    subjects,
};
use lyceum_config::Config;
use lyceum_proto::events::v1::{CoursePublished, StatementStored};
use lyceum_proto::lxp::v1 as pb;
use lyceum_proto::lxp::v1::catalog_service_client::CatalogServiceClient;
use lyceum_proto::lxp::v1::feed_service_client::FeedServiceClient;
use lyceum_proto::timestamp::from_time;
use lyceum_server::{Platform, authorized};
use lyceum_store::Store;
use lyceum_testkit::TestDatabase;
use lyceum_xapi::platform::{Activity, Identity};
use lyceum_xapi::vocab::activity_types;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

pub const PUBLIC_URL: &str = "http://lyceum.test";

/// A running LXP and what tests need to talk to it.
pub struct TestApp {
    pub platform: Platform,
    pub channel: Channel,
    pub addr: std::net::SocketAddr,
    pub backend: &'static str,
    pub identity: Identity,
    database_url: String,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    dir: Option<tempfile::TempDir>,
}

/// Starts the LXP on a free port with a fresh database, on the in-process bus.
pub async fn spawn_app(db: &TestDatabase) -> TestApp {
    spawn_app_on(db, memory_bus()).await
}

/// Starts the LXP on a free port with a fresh database, on `bus`.
pub async fn spawn_app_on(db: &TestDatabase, bus: EventBus) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    start(db.url().to_string(), db.backend(), bus, dir).await
}

async fn start(
    database_url: String,
    backend: &'static str,
    bus: EventBus,
    dir: tempfile::TempDir,
) -> TestApp {
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        public_url: PUBLIC_URL.into(),
        shutdown_grace_secs: 2,
        ..Default::default()
    };
    config.lxp.database_url = Some(database_url.clone());
    let platform = Platform::with_bus(config, bus).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (platform, stop) = (platform.clone(), stop.clone());
        async move {
            lyceum_lxp::run(platform, listener, stop.cancelled_owned())
                .await
                .expect("lxp runs");
        }
    });
    let channel = lyceum_server::channel(&format!("http://{addr}")).unwrap();
    let app = TestApp {
        platform,
        channel,
        addr,
        backend,
        identity: Identity::new(PUBLIC_URL),
        database_url,
        stop,
        task: Some(task),
        dir: Some(dir),
    };
    // Migrations run before the listener serves: wait until it answers.
    let token = app.token(Uuid::now_v7(), Role::Learner);
    eventually("the LXP answers", || async {
        app.catalog()
            .list_items(authorized(pb::ListItemsRequest::default(), &token))
            .await
            .ok()
    })
    .await;
    app
}

pub fn memory_bus() -> EventBus {
    EventBus::Memory(MemoryBus::new())
}

pub async fn nats_bus(url: &str) -> EventBus {
    let mut settings = NatsSettings::new(url, "lyceum-lxp-test");
    settings.file_storage = false;
    EventBus::Nats(NatsBus::connect(settings).await.expect("connect to NATS"))
}

impl TestApp {
    pub fn catalog(&self) -> CatalogServiceClient<Channel> {
        CatalogServiceClient::new(self.channel.clone())
    }

    pub fn feed(&self) -> FeedServiceClient<Channel> {
        FeedServiceClient::new(self.channel.clone())
    }

    /// A token for a person with `role`.
    pub fn token(&self, person: Uuid, role: Role) -> String {
        self.platform.signer.as_ref().unwrap().person_token(
            person,
            role,
            &format!("{}@lyceum.test", person.simple()),
            "Test Person",
        )
    }

    /// A new learner and their token.
    pub fn learner(&self) -> (Uuid, String) {
        let id = Uuid::now_v7();
        (id, self.token(id, Role::Learner))
    }

    /// Publishes events on the bus, as a producer's outbox relay would.
    pub async fn emit(&self, events: &[NewEvent]) {
        let outgoing: Vec<OutgoingEvent> = events.iter().map(OutgoingEvent::from_new).collect();
        self.platform.bus.publish(&outgoing).await.unwrap();
    }

    /// Publishes events the way a service does: written to the outbox of a scratch store in one
    /// transaction, then relayed.
    pub async fn emit_through_outbox(&self, events: &[NewEvent]) {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate(&[&lyceum_bus::MIGRATIONS]).await.unwrap();
        let outbox = Outbox::new(
            store.clone(),
            self.platform.bus.clone(),
            RelaySettings::default(),
        );
        let mut tx = store.begin().await.unwrap();
        Outbox::enqueue(&mut tx, events).await.unwrap();
        outbox.commit(tx).await.unwrap();
        let mut sent = 0;
        while sent < events.len() {
            sent += outbox.relay_once().await.unwrap();
        }
        store.close().await;
    }

    /// The `CoursePublished` event the LMS would send.
    pub fn course_event(&self, id: Uuid, title: &str, skills: &[&str]) -> NewEvent {
        NewEvent::proto(
            subjects::COURSE_PUBLISHED,
            "lms",
            id,
            &CoursePublished {
                course_id: id.to_string(),
                title: title.into(),
                description: format!("About {title}"),
                skills: skills.iter().map(|s| s.to_string()).collect(),
                items: vec![],
                published_at: Some(from_time(OffsetDateTime::now_utc())),
                activity_id: self.identity.course_activity(id),
            },
        )
    }

    /// The `StatementStored` event the LRS would send for `person` `verb` `activity_id`.
    pub fn statement_event(&self, person: Uuid, verb: &str, activity_id: &str) -> NewEvent {
        self.statement_event_with_id(Uuid::new_v4(), person, verb, activity_id)
    }

    pub fn statement_event_with_id(
        &self,
        statement_id: Uuid,
        person: Uuid,
        verb: &str,
        activity_id: &str,
    ) -> NewEvent {
        let mut statement = self.identity.statement(
            self.identity.agent(person, "Test Person"),
            verb,
            &Activity {
                id: activity_id.to_string(),
                kind: activity_types::COURSE,
                name: "Something",
            },
            None,
            None,
            OffsetDateTime::now_utc(),
        );
        statement["id"] = statement_id.to_string().into();
        NewEvent::proto(
            subjects::STATEMENT_STORED,
            "lrs",
            statement_id,
            &StatementStored {
                statement_id: statement_id.to_string(),
                person_id: person.to_string(),
                verb_id: verb.into(),
                activity_id: activity_id.into(),
                statement_json: statement.to_string(),
            },
        )
    }

    /// Publishes a course and waits until it is in the catalogue.
    pub async fn course(&self, title: &str, skills: &[&str]) -> Uuid {
        let id = Uuid::now_v7();
        self.emit(&[self.course_event(id, title, skills)]).await;
        self.wait_for_item(id).await;
        id
    }

    /// Waits until the item is in the catalogue.
    pub async fn wait_for_item(&self, id: Uuid) -> pb::CatalogItem {
        self.wait_for_item_where(id, |_| true).await
    }

    /// Waits until the item is in the catalogue and `check` holds.
    pub async fn wait_for_item_where(
        &self,
        id: Uuid,
        check: impl Fn(&pb::CatalogItem) -> bool,
    ) -> pb::CatalogItem {
        let (_, token) = self.learner();
        eventually(&format!("item {id} in the catalogue"), || async {
            let item = self
                .catalog()
                .get_item(authorized(
                    pb::GetItemRequest { id: id.to_string() },
                    &token,
                ))
                .await
                .ok()?
                .into_inner();
            check(&item).then_some(item)
        })
        .await
    }

    pub async fn item(&self, id: Uuid) -> pb::CatalogItem {
        let (_, token) = self.learner();
        self.catalog()
            .get_item(authorized(
                pb::GetItemRequest { id: id.to_string() },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// The first page (up to 100) of the caller's feed.
    pub async fn feed_of(&self, token: &str) -> pb::GetFeedResponse {
        self.feed()
            .get_feed(authorized(
                pb::GetFeedRequest {
                    page: page(100, ""),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// Stops the service and starts it again on the same database and keys, on `bus`.
    pub async fn restart(mut self, bus: EventBus) -> TestApp {
        let dir = self.dir.take().unwrap();
        let (url, backend) = (self.database_url.clone(), self.backend);
        self.shutdown().await;
        start(url, backend, bus, dir).await
    }

    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

pub fn page(size: u32, token: &str) -> Option<lyceum_proto::common::v1::PageRequest> {
    Some(lyceum_proto::common::v1::PageRequest {
        page_size: size,
        page_token: token.into(),
    })
}

/// Polls `probe` every 50 ms until it returns `Some`, for at most 10 s.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Title of the courses tests publish only to know the consumers caught up.
pub const SENTINEL: &str = "Sentinel";

/// Titles of a feed, best first, without sentinels.
pub fn titles(feed: &pb::GetFeedResponse) -> Vec<String> {
    feed.recommendations
        .iter()
        .map(|r| r.item.as_ref().unwrap().title.clone())
        .filter(|t| t != SENTINEL)
        .collect()
}

/// The `x-lyceum-field` of an error.
pub fn field_of(e: &tonic::Status) -> Option<String> {
    e.metadata()
        .get("x-lyceum-field")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The HTTP status of `err` as the gateway would map it.
pub fn http_status(e: &tonic::Status) -> u16 {
    lyceum_server::ApiError::from(e.clone())
        .kind
        .status()
        .as_u16()
}
