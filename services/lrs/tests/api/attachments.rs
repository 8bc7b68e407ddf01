//! Attachments in `multipart/mixed` requests matched by SHA-2, returned with
//! `attachments=true`; signed statements (JWS) verified; the ids and canonical formats.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Method, StatusCode};
use lyceum_testkit::databases;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::*;

const BOUNDARY: &str = "lyceum-test-boundary";
const SIGNATURE: &str = "http://adlnet.gov/expapi/attachments/signature";

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One part: its headers and content.
type Part = (Vec<(&'static str, String)>, Vec<u8>);

/// A multipart body: the JSON, then each part.
fn multipart(json: &Value, parts: &[Part]) -> Vec<u8> {
    let mut out =
        format!("--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{json}\r\n").into_bytes();
    for (headers, content) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        for (name, value) in headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn part(content: &[u8], content_type: &str) -> Part {
    (
        vec![
            ("Content-Type", content_type.to_string()),
            ("Content-Transfer-Encoding", "binary".to_string()),
            ("X-Experience-API-Hash", sha256(content)),
        ],
        content.to_vec(),
    )
}

fn with_attachment(n: u32, content: &[u8], usage: &str, content_type: &str) -> Value {
    let mut s = mbox_statement("ada", n);
    s["attachments"] = json!([{
        "usageType": usage,
        "display": {"en-US": "an attachment"},
        "contentType": content_type,
        "length": content.len(),
        "sha2": sha256(content),
    }]);
    s
}

async fn post_multipart(app: &TestApp, body: Vec<u8>) -> Reply {
    let ct = format!("multipart/mixed; boundary={BOUNDARY}");
    app.xapi_as(
        "1.0.3",
        Method::POST,
        "/xapi/statements",
        &[("content-type", &ct)],
        Some(body),
    )
    .await
}

#[tokio::test]
async fn attachments_travel_as_multipart_parts_matched_by_sha2() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let content = b"here is a simple attachment\x00\xff";
        let s = with_attachment(
            1,
            content,
            "http://example.com/usage/report",
            "application/octet-stream",
        );
        let r = post_multipart(
            &app,
            multipart(&s, &[part(content, "application/octet-stream")]),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {:?}", app.backend, r.body);
        let id = r.json()[0].as_str().unwrap().to_string();

        // JSON only unless attachments=true; then multipart with the content.
        let r = app.get(&format!("/xapi/statements?statementId={id}")).await;
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        let r = app
            .get(&format!(
                "/xapi/statements?statementId={id}&attachments=true"
            ))
            .await;
        let ct = r.header("content-type").unwrap().to_string();
        assert!(ct.starts_with("multipart/mixed; boundary="), "{ct}");
        let boundary = ct.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8_lossy(&r.body);
        assert_eq!(text.matches(&format!("--{boundary}")).count(), 3, "{text}");
        assert!(r.body.windows(content.len()).any(|w| w == content));
        assert!(text.contains(&format!("X-Experience-API-Hash: {}", sha256(content))));
        // The list too.
        let r = app.get("/xapi/statements?attachments=true").await;
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("multipart/mixed")
        );

        // A fileUrl attachment needs no part; a plain JSON request is fine.
        let mut s = with_attachment(
            2,
            b"elsewhere",
            "http://example.com/usage/report",
            "text/plain",
        );
        s["attachments"][0]["fileUrl"] = json!("http://example.com/files/report.txt");
        assert_eq!(app.post(&s).await.status, StatusCode::OK);

        // Refused: missing part, hash mismatch, extra part, no transfer encoding, wrong first
        // part, multipart/form-data, no boundary.
        let s = with_attachment(3, content, "http://example.com/u", "text/plain");
        let mut no_cte = part(content, "text/plain");
        no_cte.0.retain(|(n, _)| *n != "Content-Transfer-Encoding");
        let mut wrong_hash = part(content, "text/plain");
        wrong_hash.0[2].1 = sha256(b"something else");
        let cases: Vec<(&str, Vec<u8>, String)> = vec![
            (
                "missing part",
                multipart(&s, &[]),
                format!("multipart/mixed; boundary={BOUNDARY}"),
            ),
            (
                "hash mismatch",
                multipart(&s, &[wrong_hash]),
                format!("multipart/mixed; boundary={BOUNDARY}"),
            ),
            (
                "extra part",
                multipart(
                    &s,
                    &[part(content, "text/plain"), part(b"more", "text/plain")],
                ),
                format!("multipart/mixed; boundary={BOUNDARY}"),
            ),
            (
                "no transfer encoding",
                multipart(&s, &[no_cte]),
                format!("multipart/mixed; boundary={BOUNDARY}"),
            ),
            (
                "form-data",
                multipart(&s, &[part(content, "text/plain")]),
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
            (
                "no boundary",
                multipart(&s, &[part(content, "text/plain")]),
                "multipart/mixed".to_string(),
            ),
            (
                "statement not JSON first",
                {
                    let mut b = multipart(&s, &[part(content, "text/plain")]);
                    let text =
                        String::from_utf8_lossy(&b).replacen("application/json", "text/plain", 1);
                    b = text.into_bytes();
                    b
                },
                format!("multipart/mixed; boundary={BOUNDARY}"),
            ),
        ];
        for (what, body, ct) in cases {
            let r = app
                .xapi_as(
                    "1.0.3",
                    Method::POST,
                    "/xapi/statements",
                    &[("content-type", &ct)],
                    Some(body),
                )
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {:?}", r.body);
        }
        app.stop().await;
    }
}

fn jws(header: &Value, payload: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)).into_bytes()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/api/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("fixture");
    STANDARD.decode(text.trim()).expect("base64 fixture")
}

fn rsa_sign(message: &[u8]) -> Vec<u8> {
    let key = ring::signature::RsaKeyPair::from_pkcs8(&fixture("signer-pkcs8.der.b64"))
        .expect("test key");
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message,
        &mut sig,
    )
    .expect("sign");
    sig
}

/// A statement with its signature attachment, as multipart.
fn signed(statement: &Value, jws: &[u8], content_type: &str) -> Vec<u8> {
    let mut s = statement.clone();
    s["attachments"] = json!([{"usageType": SIGNATURE, "display": {"en-US": "signature"},
        "contentType": content_type, "length": jws.len(), "sha2": sha256(jws)}]);
    multipart(&s, &[part(jws, content_type)])
}

#[tokio::test]
async fn signed_statements_are_verified() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let cert = STANDARD.encode(fixture("signer-cert.der.b64"));
        let mut statement = mbox_statement("ada", 10);
        statement["id"] = json!(Uuid::new_v4().to_string());

        // RS256 with the signer's certificate: verified and stored.
        let header = json!({"alg": "RS256", "x5c": [cert]});
        let good = jws(&header, &statement, rsa_sign);
        let r = post_multipart(&app, signed(&statement, &good, "application/octet-stream")).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {:?}", app.backend, r.body);

        let refused = |what: &'static str, body: Vec<u8>| (what, body);
        let mut other = statement.clone();
        other["id"] = json!(Uuid::new_v4().to_string());
        let mut tampered = other.clone();
        tampered["verb"]["id"] = json!("http://example.com/verbs/forged");
        for (what, body) in [
            refused(
                "bad content type",
                signed(&other, &jws(&header, &other, rsa_sign), "text/plain"),
            ),
            refused(
                "HS256",
                signed(
                    &other,
                    &jws(&json!({"alg": "HS256"}), &other, |_| vec![1, 2]),
                    "application/octet-stream",
                ),
            ),
            refused(
                "payload of another statement",
                signed(
                    &other,
                    &jws(&header, &tampered, rsa_sign),
                    "application/octet-stream",
                ),
            ),
            refused(
                "signature does not verify",
                signed(
                    &other,
                    &jws(&header, &other, |_| vec![0; 256]),
                    "application/octet-stream",
                ),
            ),
            refused(
                "not a JWS",
                signed(&other, b"not.a-jws", "application/octet-stream"),
            ),
        ] {
            let r = post_multipart(&app, body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {:?}", r.body);
        }
        // Without a certificate only the form and the payload can be checked.
        let r = post_multipart(
            &app,
            signed(
                &other,
                &jws(&json!({"alg": "RS512"}), &other, |_| vec![7; 256]),
                "application/octet-stream",
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        app.stop().await;
    }
}

#[tokio::test]
async fn formats_ids_exact_and_canonical() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let activity = format!("http://example.com/activities/{}", Uuid::new_v4());
        let s = json!({
            "actor": {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://example.com/verbs/attended", "display": {"en-US": "attended", "en-GB": "attended (GB)"}},
            "object": {"objectType": "SubStatement",
                "actor": {"objectType": "Group", "name": "Team", "mbox": "mailto:team@example.com"},
                "verb": {"id": "http://example.com/verbs/met", "display": {"en-US": "met"}},
                "object": {"objectType": "Activity", "id": activity,
                    "definition": {"name": {"en": "Meeting", "en-GB": "Meeting (GB)"}, "type": "http://example.com/types/meeting"}}},
            "context": {"contextActivities": {"category": {"id": "http://example.com/category",
                "definition": {"name": {"en-US": "Cat", "en-GB": "Cat (GB)"}}}}}
        });
        let id = app.post(&s).await.json()[0].as_str().unwrap().to_string();
        let one = |format: &str| format!("/xapi/statements?statementId={id}&format={format}");

        let exact = app.get(&one("exact")).await.json();
        assert_eq!(exact["actor"], s["actor"]);
        assert_eq!(exact["verb"], s["verb"]);
        // Single context activities are stored as lists.
        assert!(exact["context"]["contextActivities"]["category"].is_array());

        let ids = app.get(&one("ids")).await.json();
        assert_eq!(
            ids["actor"],
            json!({"objectType": "Agent", "mbox": "mailto:ada@example.com"})
        );
        assert_eq!(
            ids["verb"],
            json!({"id": "http://example.com/verbs/attended"})
        );
        assert_eq!(
            ids["object"]["actor"],
            json!({"objectType": "Group", "mbox": "mailto:team@example.com"})
        );
        assert_eq!(ids["object"]["object"], json!({"id": activity}));

        let canonical = app
            .xapi_as(
                "1.0.3",
                Method::GET,
                &one("canonical"),
                &[("accept-language", "en-GB")],
                None,
            )
            .await
            .json();
        assert_eq!(
            canonical["verb"]["display"],
            json!({"en-GB": "attended (GB)"})
        );
        assert_eq!(
            canonical["object"]["object"]["definition"]["name"],
            json!({"en-GB": "Meeting (GB)"})
        );
        assert_eq!(
            canonical["context"]["contextActivities"]["category"][0]["definition"]["name"],
            json!({"en-GB": "Cat (GB)"})
        );
        assert_eq!(canonical["actor"], s["actor"]);
        // The page carries the format too, and its `more` keeps it.
        let page = app.get("/xapi/statements?format=ids&limit=1").await.json();
        assert_eq!(
            page["statements"][0]["verb"],
            json!({"id": "http://example.com/verbs/attended"})
        );
        assert_eq!(
            app.get("/xapi/statements?format=full").await.status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            app.get("/xapi/statements?attachments=yes").await.status,
            StatusCode::BAD_REQUEST
        );
        app.stop().await;
    }
}
