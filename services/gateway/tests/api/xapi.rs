//! `/xapi/*` passed through to the LRS untouched (methods, HEAD, CORS preflight, multipart
//! bodies, status codes and headers), and the administrators' `/api/v1/admin/xapi-clients`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lyceum_auth::Role;
use lyceum_config::Config;
use lyceum_server::Platform;
use serde_json::{Value, json};

const BOOTSTRAP: &str = "gw-test:gw-test-secret";

struct Running {
    gateway: SocketAddr,
    platform: Platform,
    client: Client<HttpConnector, Body>,
    _data: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

async fn start() -> Running {
    let data = tempfile::tempdir().expect("temp dir");
    let lrs_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gw_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let lrs = lrs_listener.local_addr().expect("addr");
    let gateway = gw_listener.local_addr().expect("addr");
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        max_body_bytes: 64 * 1024,
        ..Config::default()
    };
    config.lrs.bootstrap_client = Some(BOOTSTRAP.into());
    config.gateway.lrs_url = format!("http://{lrs}");
    // Nothing listens there; these tests do not reach the LMS or the LXP.
    config.gateway.lms_url = "http://127.0.0.1:9".into();
    config.gateway.lxp_url = "http://127.0.0.1:9".into();
    let bus = lyceum_bus::EventBus::Memory(lyceum_bus::MemoryBus::new());
    let platform = Platform::with_bus(config, bus).expect("platform");
    tokio::spawn(lyceum_lrs::run(
        platform.clone(),
        lrs_listener,
        std::future::pending(),
    ));
    tokio::spawn(lyceum_gateway::run(
        platform.clone(),
        gw_listener,
        std::future::pending(),
    ));
    let running = Running {
        gateway,
        platform,
        client: Client::builder(TokioExecutor::new()).build_http(),
        _data: data,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = running
            .send(Method::GET, "/xapi/about", &[], Bytes::new())
            .await;
        if r.status == StatusCode::OK {
            return running;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the LRS did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Running {
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.gateway));
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let resp = self
            .client
            .request(req.body(Body::from(body)).expect("request"))
            .await
            .expect("HTTP");
        let (parts, body) = resp.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.expect("body").to_bytes(),
        }
    }

    fn admin(&self) -> String {
        let signer = self.platform.signer.as_ref().expect("signer");
        format!(
            "Bearer {}",
            signer.person_token(uuid::Uuid::now_v7(), Role::Admin, "a@lyceum.test", "A")
        )
    }
}

fn basic(pair: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[tokio::test]
async fn xapi_passes_through_untouched() {
    let gw = start().await;
    let auth = basic(BOOTSTRAP);
    let v = ("x-experience-api-version", "1.0.3");

    // Multipart with binary content, through and back.
    let content: &[u8] = b"\x00\x01 binary attachment \xff";
    let sha2: String = {
        use sha2::Digest;
        sha2::Sha256::digest(content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let statement = json!({"actor": {"mbox": "mailto:ada@example.com"},
        "verb": {"id": "http://example.com/v"}, "object": {"id": "http://example.com/a"},
        "attachments": [{"usageType": "http://example.com/u", "display": {"en-US": "a"},
            "contentType": "application/octet-stream", "length": content.len(), "sha2": sha2}]});
    let mut body = format!("--b\r\nContent-Type: application/json\r\n\r\n{statement}\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha2}\r\n\r\n").into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(b"\r\n--b--\r\n");
    let r = gw
        .send(
            Method::POST,
            "/xapi/statements",
            &[
                v,
                ("authorization", &auth),
                ("content-type", "multipart/mixed; boundary=b"),
            ],
            Bytes::from(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = serde_json::from_slice::<Value>(&r.body).unwrap()[0]
        .as_str()
        .unwrap()
        .to_string();
    let r = gw
        .send(
            Method::GET,
            &format!("/xapi/statements?statementId={id}&attachments=true"),
            &[v, ("authorization", &auth)],
            Bytes::new(),
        )
        .await;
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("multipart/mixed")
    );
    assert!(r.body.windows(content.len()).any(|w| w == content));
    assert!(
        r.headers
            .contains_key("x-experience-api-consistent-through")
    );

    // HEAD: the headers of GET, no body.
    let r = gw
        .send(
            Method::HEAD,
            "/xapi/statements",
            &[v, ("authorization", &auth)],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert_eq!(r.headers["x-experience-api-version"], "1.0.3");

    // CORS preflight answered by the LRS.
    let r = gw
        .send(
            Method::OPTIONS,
            "/xapi/activities/state",
            &[
                ("origin", "http://content.example"),
                ("access-control-request-method", "PUT"),
            ],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "http://content.example"
    );

    // Status codes and their headers: 401 with the Basic challenge, 412, 404.
    let r = gw
        .send(Method::GET, "/xapi/statements", &[v], Bytes::new())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.headers
            .get_all("www-authenticate")
            .iter()
            .any(|h| h == "Basic realm=\"xapi\"")
    );
    let r = gw
        .send(
            Method::PUT,
            "/xapi/activities/profile?activityId=http%3A%2F%2Fexample.com%2Fa&profileId=p",
            &[
                v,
                ("authorization", &auth),
                ("if-match", "\"nope\""),
                ("content-type", "text/plain"),
            ],
            Bytes::from_static(b"x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn administrators_manage_xapi_clients() {
    let gw = start().await;
    let admin = gw.admin();
    let json_ct = ("content-type", "application/json");
    let r = gw
        .send(
            Method::POST,
            "/api/v1/admin/xapi-clients",
            &[("authorization", &admin), json_ct],
            Bytes::from(
                json!({"key": "lms-content", "scopes": ["statements/write", "state"]}).to_string(),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let created: Value = serde_json::from_slice(&r.body).unwrap();
    let secret = created["secret"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    assert_eq!(created["scopes"], json!(["statements/write", "state"]));

    // The new client works at once.
    let statement = json!({"actor": {"mbox": "mailto:ada@example.com"},
        "verb": {"id": "http://example.com/v"}, "object": {"id": "http://example.com/a"}});
    let r = gw
        .send(
            Method::POST,
            "/xapi/statements",
            &[
                ("x-experience-api-version", "2.0.0"),
                ("authorization", &basic(&format!("lms-content:{secret}"))),
                json_ct,
            ],
            Bytes::from(statement.to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let r = gw
        .send(
            Method::GET,
            "/api/v1/admin/xapi-clients",
            &[("authorization", &admin)],
            Bytes::new(),
        )
        .await;
    let list: Value = serde_json::from_slice(&r.body).unwrap();
    let keys: Vec<&str> = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["gw-test", "lms-content"]);
    assert!(list["clients"][1].get("secret").is_none());

    // Bad scopes: 400; not an administrator: 403; no token: 401.
    let r = gw
        .send(
            Method::POST,
            "/api/v1/admin/xapi-clients",
            &[("authorization", &admin), json_ct],
            Bytes::from(json!({"key": "x", "scopes": ["everything"]}).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let learner = format!(
        "Bearer {}",
        gw.platform.signer.as_ref().unwrap().person_token(
            uuid::Uuid::now_v7(),
            Role::Learner,
            "l@lyceum.test",
            "L"
        )
    );
    let r = gw
        .send(
            Method::GET,
            "/api/v1/admin/xapi-clients",
            &[("authorization", &learner)],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = gw
        .send(Method::GET, "/api/v1/admin/xapi-clients", &[], Bytes::new())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = gw
        .send(
            Method::DELETE,
            "/api/v1/admin/xapi-clients/lms-content",
            &[("authorization", &admin)],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = gw
        .send(
            Method::DELETE,
            "/api/v1/admin/xapi-clients/lms-content",
            &[("authorization", &admin)],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
