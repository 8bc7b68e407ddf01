//! `spawn_app()`: the LRS on 127.0.0.1:0 with a fresh database, plus an HTTP client, a gRPC
//! client and statement builders.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lyceum_auth::Role;
use lyceum_bus::{ConsumerSpec, EventBus, MemoryBus, NatsBus, NatsSettings, Subscription};
use lyceum_config::Config;
use lyceum_lrs::LrsError;
use lyceum_proto::lrs::v1::statement_service_client::StatementServiceClient;
use lyceum_proto::lrs::v1::xapi_client_service_client::XapiClientServiceClient;
use lyceum_server::Platform;
use lyceum_store::Store;
use lyceum_testkit::TestDatabase;
use lyceum_xapi::platform::Identity;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use uuid::Uuid;

/// The platform's public URL in tests: the homePage of platform accounts.
pub const PUBLIC_URL: &str = "http://lyceum.test";
/// The bootstrap client.
pub const KEY: &str = "test-client";
pub const SECRET: &str = "test-secret-0123456789";
/// Largest accepted body in tests.
pub const MAX_BODY: usize = 64 * 1024;

/// A running LRS.
pub struct TestApp {
    pub addr: SocketAddr,
    pub platform: Platform,
    pub backend: &'static str,
    pub db_url: String,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), LrsError>>>,
    _data: tempfile::TempDir,
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem+json `detail`.
    pub fn detail(&self) -> String {
        self.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A fresh in-process bus.
pub fn memory_bus() -> EventBus {
    EventBus::Memory(MemoryBus::new())
}

/// A bus on a NATS server.
pub async fn nats_bus(url: &str) -> EventBus {
    let mut settings = NatsSettings::new(url, "lyceum-lrs-test");
    settings.file_storage = false;
    EventBus::Nats(NatsBus::connect(settings).await.expect("connect to NATS"))
}

/// Starts the LRS on `db` and `bus` and waits until it answers.
pub async fn spawn_app(db: &TestDatabase, bus: EventBus) -> TestApp {
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        public_url: PUBLIC_URL.into(),
        max_body_bytes: MAX_BODY,
        shutdown_grace_secs: 2,
        ..Config::default()
    };
    config.lrs.database_url = Some(db.url().to_string());
    config.lrs.database_max_connections = 4;
    config.lrs.bootstrap_client = Some(format!("{KEY}:{SECRET}"));
    let platform = Platform::with_bus(config, bus).expect("platform");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(lyceum_lrs::run(platform.clone(), listener, async move {
        let _ = stopped.await;
    }));
    let app = TestApp {
        addr,
        platform,
        backend: db.backend(),
        db_url: db.url().to_string(),
        client: Client::builder(TokioExecutor::new()).build_http(),
        stop: Some(stop),
        task: Some(task),
        _data: data,
    };
    app.wait_ready().await;
    app
}

impl TestApp {
    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(task) = &self.task
                && task.is_finished()
            {
                panic!("the LRS stopped while starting");
            }
            let ready = tokio::time::timeout(
                Duration::from_secs(2),
                self.request(Method::GET, "/readyz", &[], None),
            )
            .await;
            if matches!(ready, Ok(r) if r.status == StatusCode::OK) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the LRS did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the LRS and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("join")
                .expect("the LRS ran without error");
        }
    }

    /// A raw request.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let req = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("request");
        let resp = self.client.request(req).await.expect("HTTP request");
        let (parts, body) = resp.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.expect("body").to_bytes(),
        }
    }

    /// An xAPI request with the version header, `authorization` and, with a body, JSON.
    pub async fn xapi(
        &self,
        method: Method,
        path: &str,
        authorization: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut headers = vec![("x-experience-api-version", "1.0.3")];
        if !authorization.is_empty() {
            headers.push(("authorization", authorization));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.request(
            method,
            path,
            &headers,
            body.map(|b| serde_json::to_vec(b).expect("JSON")),
        )
        .await
    }

    /// POSTs statements with the bootstrap client.
    pub async fn post(&self, body: &Value) -> Reply {
        self.xapi(
            Method::POST,
            "/xapi/statements",
            &basic(KEY, SECRET),
            Some(body),
        )
        .await
    }

    /// GETs with the bootstrap client.
    pub async fn get(&self, path_and_query: &str) -> Reply {
        self.xapi(Method::GET, path_and_query, &basic(KEY, SECRET), None)
            .await
    }

    /// A Bearer header for a person with `role`.
    pub fn bearer(&self, person: Uuid, role: Role) -> String {
        let signer = self.platform.signer.as_ref().expect("signer");
        format!(
            "Bearer {}",
            signer.person_token(person, role, "p@lyceum.test", "P")
        )
    }

    /// A Bearer header for an internal service.
    pub fn service_bearer(&self) -> String {
        let signer = self.platform.signer.as_ref().expect("signer");
        format!("Bearer {}", signer.service_token("lxp", &[]))
    }

    /// A gRPC client.
    pub async fn grpc(&self) -> StatementServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("url")
            .connect()
            .await
            .expect("gRPC connect");
        StatementServiceClient::new(channel)
    }

    /// The LRS's database.
    pub async fn store(&self) -> Store {
        Store::connect(&self.db_url).await.expect("connect")
    }

    /// Registers another xAPI client through the running LRS (administration gRPC), so it
    /// takes effect at once.
    pub async fn client(&self, key: &str, secret: &str, scopes: &[&str]) {
        let mut admin = self.admin().await;
        let mut req = tonic::Request::new(lyceum_proto::lrs::v1::CreateXapiClientRequest {
            key: key.into(),
            secret: secret.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            authority_json: String::new(),
        });
        let token = self.bearer(Uuid::now_v7(), Role::Admin);
        req.metadata_mut()
            .insert("authorization", token.parse().expect("header"));
        admin.create_xapi_client(req).await.expect("create client");
    }

    /// Registers an xAPI client in the database, as the command line does.
    pub async fn client_in_database(&self, key: &str, secret: &str, scopes: &[&str]) {
        let store = self.store().await;
        lyceum_lrs::register_client(&store, PUBLIC_URL, key, secret, scopes)
            .await
            .expect("register client");
        store.close().await;
    }

    /// The client administration gRPC client.
    pub async fn admin(&self) -> XapiClientServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("url")
            .connect()
            .await
            .expect("gRPC connect");
        XapiClientServiceClient::new(channel)
    }

    /// An xAPI request under `version` with the bootstrap client and extra headers.
    pub async fn xapi_as(
        &self,
        version: &str,
        method: Method,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let auth = basic(KEY, SECRET);
        let mut headers = vec![
            ("x-experience-api-version", version),
            ("authorization", auth.as_str()),
        ];
        headers.extend_from_slice(extra);
        self.request(method, path, &headers, body).await
    }

    /// POSTs statements under xAPI 2.0 with the bootstrap client.
    pub async fn post2(&self, body: &Value) -> Reply {
        self.xapi_as(
            "2.0.0",
            Method::POST,
            "/xapi/statements",
            &[("content-type", "application/json")],
            Some(serde_json::to_vec(body).expect("JSON")),
        )
        .await
    }

    /// A durable consumer of `lyceum.lrs.statement.stored`, bound now.
    pub async fn stored_events(&self, name: &str) -> Subscription {
        self.platform
            .bus
            .subscribe(&ConsumerSpec::new(
                name,
                lyceum_bus::subjects::STATEMENT_STORED,
            ))
            .await
            .expect("subscribe")
    }
}

/// A Basic header.
pub fn basic(key: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{key}:{secret}")))
}

/// A platform person's agent.
pub fn person_agent(person: Uuid) -> Value {
    Identity::new(PUBLIC_URL).agent(person, "Person")
}

/// A minimal valid statement by `actor` on activity `n`.
pub fn statement(actor: Value, n: u32) -> Value {
    json!({
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
        "object": {"id": format!("http://example.com/activities/{n}")},
    })
}

/// A statement by an e-mail agent.
pub fn mbox_statement(who: &str, n: u32) -> Value {
    statement(json!({"mbox": format!("mailto:{who}@example.com")}), n)
}

/// Collects `lyceum.lrs.statement.stored` events until `n` arrived (at most `within`), then
/// for `extra` longer, so an unexpected additional event shows up too.
pub async fn drain(
    sub: &mut Subscription,
    n: usize,
    within: Duration,
    extra: Duration,
) -> Vec<lyceum_proto::events::v1::StatementStored> {
    use prost::Message;
    let mut deadline = tokio::time::Instant::now() + within;
    let mut out = Vec::new();
    let mut reached = false;
    loop {
        if !reached && out.len() >= n {
            reached = true;
            deadline = tokio::time::Instant::now() + extra;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return out;
        }
        match tokio::time::timeout(left, sub.next_batch(100)).await {
            Ok(Ok(batch)) => {
                for d in batch {
                    out.push(
                        lyceum_proto::events::v1::StatementStored::decode(
                            d.envelope.payload.as_slice(),
                        )
                        .expect("StatementStored payload"),
                    );
                    d.ack().await.expect("ack");
                }
            }
            Ok(Err(e)) => panic!("subscription failed: {e}"),
            Err(_) => return out,
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
