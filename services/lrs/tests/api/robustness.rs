//! Bad input over HTTP: random statements, bodies, multipart bodies, query strings and
//! headers never get a 5xx (nor a 422); a batch with one bad statement stores nothing.

use http::{Method, StatusCode};
use lyceum_testkit::databases;
use lyceum_testkit::random::Rng;
use serde_json::{Map, Value, json};

use crate::helpers::*;

const WORDS: &[&str] = &[
    "",
    "x",
    "mailto:a@b.c",
    "http://example.com/a",
    "not an iri",
    "2024-05-01T12:00:00Z",
    "PT1H",
    "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "Agent",
    "Group",
    "SubStatement",
    "StatementRef",
    "http://adlnet.gov/expapi/verbs/voided",
    "en-US",
    "\u{0}",
    "日本",
    "%zz",
    "{",
    "true",
    "-1",
    "2.0.0",
];

fn arbitrary(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!((rng.next_u64() as i64) >> rng.below(63)),
        3 => json!(-1.5e300),
        4 => Value::String(WORDS[rng.below(WORDS.len())].to_string()),
        5 => Value::Array(
            (0..rng.below(3))
                .map(|_| arbitrary(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(3) {
                m.insert(
                    WORDS[rng.below(WORDS.len())].to_string(),
                    arbitrary(rng, depth + 1),
                );
            }
            Value::Object(m)
        }
    }
}

fn mutate(rng: &mut Rng, v: &mut Value) {
    match v {
        Value::Object(map) if !map.is_empty() && rng.below(4) != 0 => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let k = keys[rng.below(keys.len())].clone();
            match rng.below(3) {
                0 => {
                    map.remove(&k);
                }
                1 => {
                    map.insert(k, arbitrary(rng, 0));
                }
                _ => mutate(rng, map.get_mut(&k).expect("key")),
            }
        }
        Value::Array(list) if !list.is_empty() => {
            let i = rng.below(list.len());
            mutate(rng, &mut list[i]);
        }
        other => *other = arbitrary(rng, 0),
    }
}

fn rich_statement() -> Value {
    json!({
        "actor": {"objectType": "Group", "member": [{"mbox": "mailto:ada@example.com"}]},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"},
        "result": {"score": {"scaled": 0.5}, "duration": "PT1S"},
        "context": {"registration": "0190abcd-0000-7000-8000-000000000001",
            "contextActivities": {"parent": {"id": "http://example.com/p"}}},
        "attachments": [{"usageType": "http://example.com/u", "display": {"en-US": "d"},
            "contentType": "text/plain", "length": 3, "fileUrl": "http://example.com/f",
            "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"}]
    })
}

fn acceptable(status: StatusCode) -> bool {
    !status.is_server_error() && status != StatusCode::UNPROCESSABLE_ENTITY
}

#[tokio::test]
async fn random_input_never_gets_a_server_error() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut rng = Rng(0x10ad_5eed_0000_0001);
        for round in 0..150 {
            let mut v = rich_statement();
            for _ in 0..=rng.below(3) {
                mutate(&mut rng, &mut v);
            }
            let version = ["1.0.3", "2.0.0"][round % 2];
            let body = match rng.below(5) {
                0 => serde_json::to_vec(&json!([v, mbox_statement("ada", 1)])).unwrap(),
                1 => {
                    let text = v.to_string();
                    text.as_bytes()[..rng.below(text.len() + 1)].to_vec()
                }
                2 => format!("--b\r\nContent-Type: application/json\r\n\r\n{v}\r\n--b\r\nX-Experience-API-Hash: {}\r\n\r\nabc\r\n--b--", WORDS[rng.below(WORDS.len())]).into_bytes(),
                _ => serde_json::to_vec(&v).unwrap(),
            };
            let ct = [
                "application/json",
                "multipart/mixed; boundary=b",
                "text/plain",
                "multipart/mixed",
            ][rng.below(4)];
            let (method, path) = match rng.below(3) {
                0 => (
                    Method::PUT,
                    format!("/xapi/statements?statementId={}", uuid::Uuid::new_v4()),
                ),
                _ => (Method::POST, "/xapi/statements".to_string()),
            };
            let r = app
                .xapi_as(version, method, &path, &[("content-type", ct)], Some(body))
                .await;
            assert!(
                acceptable(r.status),
                "round {round}: {} {:?}",
                r.status,
                r.body
            );
        }
        // Query strings and document parameters.
        for round in 0..100 {
            let a = WORDS[rng.below(WORDS.len())];
            let b = arbitrary(&mut rng, 0).to_string();
            let path = [
                format!("/xapi/statements?agent={}&since={}", encode(&b), encode(a)),
                format!("/xapi/statements?verb={}&limit={}", encode(a), encode(&b)),
                format!("/xapi/statements?more={}", encode(&b)),
                format!(
                    "/xapi/activities/state?activityId={}&agent={}&stateId={}",
                    encode(a),
                    encode(&b),
                    encode(a)
                ),
                format!(
                    "/xapi/agents/profile?agent={}&profileId={}",
                    encode(&b),
                    encode(a)
                ),
                format!("/xapi/activities?activityId={}", encode(&b)),
                format!("/xapi/statements?{}={}", encode(a), encode(&b)),
            ][rng.below(7)]
            .clone();
            let method = [
                Method::GET,
                Method::PUT,
                Method::POST,
                Method::DELETE,
                Method::HEAD,
            ][rng.below(5)]
            .clone();
            let r = app
                .xapi_as(
                    "1.0.3",
                    method.clone(),
                    &path,
                    &[
                        ("content-type", "application/json"),
                        (
                            "if-match",
                            if a.chars().all(|c| c.is_ascii_graphic()) {
                                a
                            } else {
                                "*"
                            },
                        ),
                    ],
                    Some(b.clone().into_bytes()),
                )
                .await;
            assert!(
                acceptable(r.status),
                "round {round}: {method} {path}: {} {:?}",
                r.status,
                r.body
            );
        }
        // Nothing of the above that was refused left a trace, and the LRS still answers.
        assert_eq!(app.get("/xapi/about").await.status, StatusCode::OK);
        app.stop().await;
    }
}

#[tokio::test]
async fn one_bad_statement_in_a_batch_stores_nothing() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let good = mbox_statement("batch-good", 1);
        let mut good_id = good.clone();
        good_id["id"] = json!(uuid::Uuid::new_v4().to_string());
        let mut rng = Rng(0x10ad_5eed_0000_0002);
        for _ in 0..20 {
            let mut bad = rich_statement();
            bad["object"] = json!({"id": "http://example.com/a"});
            mutate(&mut rng, &mut bad);
            let r = app.post(&json!([good_id, bad])).await;
            if r.status == StatusCode::OK {
                continue;
            }
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
            assert!(r.detail().contains("statements[1]"), "{}", r.detail());
            let id = good_id["id"].as_str().unwrap();
            let got = app.get(&format!("/xapi/statements?statementId={id}")).await;
            assert_eq!(got.status, StatusCode::NOT_FOUND);
        }
        app.stop().await;
    }
}
