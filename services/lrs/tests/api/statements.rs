//! The Statement resource: POST, PUT, GET, version headers, validation, conflicts, voiding.

use std::time::Duration;

use http::{Method, StatusCode};
use lyceum_testkit::databases;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn post_put_get_round_trip_with_version_headers() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut events = app.stored_events("test-round-trip").await;
        let person = Uuid::now_v7();

        // POST one statement: 200 with its id.
        let posted = app.post(&statement(person_agent(person), 1)).await;
        assert_eq!(
            posted.status,
            StatusCode::OK,
            "{}: {:?}",
            app.backend,
            posted.body
        );
        assert_eq!(posted.header("x-experience-api-version"), Some("1.0.3"));
        let ids = posted.json();
        let id = ids[0].as_str().expect("id").to_string();
        assert_eq!(ids.as_array().unwrap().len(), 1);

        // PUT one with a chosen id: 204; again with the same content: 204.
        let chosen = Uuid::new_v4();
        let put_path = format!("/xapi/statements?statementId={chosen}");
        let body = mbox_statement("ada", 2);
        let auth = basic(KEY, SECRET);
        let put = app.xapi(Method::PUT, &put_path, &auth, Some(&body)).await;
        assert_eq!(put.status, StatusCode::NO_CONTENT, "{:?}", put.body);
        assert_eq!(put.header("x-experience-api-version"), Some("1.0.3"));
        let again = app.xapi(Method::PUT, &put_path, &auth, Some(&body)).await;
        assert_eq!(again.status, StatusCode::NO_CONTENT);

        // GET by id: as stored, with stored, authority and version set by the LRS.
        let got = app
            .get(&format!("/xapi/statements?statementId={chosen}"))
            .await;
        assert_eq!(got.status, StatusCode::OK);
        assert!(got.header("x-experience-api-consistent-through").is_some());
        let s = got.json();
        assert_eq!(s["id"], chosen.to_string());
        assert_eq!(s["actor"]["mbox"], "mailto:ada@example.com");
        assert_eq!(s["version"], "1.0.0");
        assert_eq!(s["authority"]["account"]["name"], KEY);
        let stored = s["stored"].as_str().expect("stored");
        assert!(lyceum_xapi::validate::parse_timestamp(stored).is_some());
        assert_eq!(s["timestamp"], s["stored"]);

        // 2.0 clients get 2.0 answers.
        let v2 = app
            .request(
                Method::GET,
                &format!("/xapi/statements?statementId={id}"),
                &[
                    ("x-experience-api-version", "2.0.0"),
                    ("authorization", &auth),
                ],
                None,
            )
            .await;
        assert_eq!(v2.status, StatusCode::OK);
        assert_eq!(v2.header("x-experience-api-version"), Some("2.0.0"));

        // The list: newest first, no more pages.
        let list = app.get("/xapi/statements").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.header("x-experience-api-consistent-through").is_some());
        let list = list.json();
        let ids: Vec<&str> = list["statements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![chosen.to_string().as_str(), id.as_str()]);
        assert_eq!(list["more"], "");

        // Filters.
        let by_agent = app
            .get(&format!(
                "/xapi/statements?agent={}",
                encode(&json!({"mbox": "mailto:ada@example.com"}).to_string())
            ))
            .await
            .json();
        assert_eq!(by_agent["statements"].as_array().unwrap().len(), 1);
        let by_activity = app
            .get(&format!(
                "/xapi/statements?activity={}",
                encode("http://example.com/activities/1")
            ))
            .await
            .json();
        assert_eq!(by_activity["statements"][0]["id"], id.as_str());

        // Every stored statement was announced once; person_id is set for platform accounts.
        let stored = drain(
            &mut events,
            2,
            Duration::from_secs(10),
            Duration::from_millis(500),
        )
        .await;
        assert_eq!(stored.len(), 2, "{stored:?}");
        let first = stored.iter().find(|e| e.statement_id == id).expect("event");
        assert_eq!(first.person_id, person.to_string());
        assert_eq!(first.activity_id, "http://example.com/activities/1");
        let second = stored
            .iter()
            .find(|e| e.statement_id == chosen.to_string())
            .expect("event");
        assert_eq!(second.person_id, "");

        app.stop().await;
    }
}

#[tokio::test]
async fn the_version_header_is_required_except_on_about() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let auth = basic(KEY, SECRET);
        let missing = app
            .request(
                Method::GET,
                "/xapi/statements",
                &[("authorization", &auth)],
                None,
            )
            .await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert!(
            missing.detail().contains("X-Experience-API-Version"),
            "{}",
            missing.detail()
        );
        assert!(missing.header("x-experience-api-version").is_some());
        let old = app
            .request(
                Method::GET,
                "/xapi/statements",
                &[
                    ("authorization", &auth),
                    ("x-experience-api-version", "0.95"),
                ],
                None,
            )
            .await;
        assert_eq!(old.status, StatusCode::BAD_REQUEST);

        let about = app.request(Method::GET, "/xapi/about", &[], None).await;
        assert_eq!(about.status, StatusCode::OK);
        assert!(about.header("x-experience-api-version").is_some());
        let versions = about.json()["version"].clone();
        assert!(versions.as_array().unwrap().contains(&json!("1.0.3")));
        assert!(versions.as_array().unwrap().contains(&json!("2.0.0")));
        app.stop().await;
    }
}

#[tokio::test]
async fn invalid_statements_are_refused_naming_the_field() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut bad = mbox_statement("ada", 1);
        bad["actor"]["mbox"] = json!("ada@example.com");
        let r = app.post(&bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], "actor.mbox");
        assert!(
            r.detail().starts_with("actor.mbox: must start with"),
            "{}",
            r.detail()
        );

        let mut no_verb = mbox_statement("ada", 1);
        no_verb.as_object_mut().unwrap().remove("verb");
        let r = app.post(&no_verb).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], "verb");

        let r = app.post(&json!("hello")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        let malformed = app
            .request(
                Method::POST,
                "/xapi/statements",
                &[
                    ("x-experience-api-version", "1.0.3"),
                    ("authorization", &basic(KEY, SECRET)),
                    ("content-type", "application/json"),
                ],
                Some(b"{\"actor\":".to_vec()),
            )
            .await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

        // PUT without statementId, or with an id that disagrees with the body.
        let auth = basic(KEY, SECRET);
        let r = app
            .xapi(
                Method::PUT,
                "/xapi/statements",
                &auth,
                Some(&mbox_statement("ada", 1)),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], "statementId");
        let mut with_id = mbox_statement("ada", 1);
        with_id["id"] = json!(Uuid::new_v4().to_string());
        let r = app
            .xapi(
                Method::PUT,
                &format!("/xapi/statements?statementId={}", Uuid::new_v4()),
                &auth,
                Some(&with_id),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], "id");

        // Unknown and malformed query parameters.
        let r = app.get("/xapi/statements?colour=red").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], "colour");
        let r = app.get("/xapi/statements?since=yesterday").await;
        assert_eq!(r.json()["field"], "since");
        let r = app.get("/xapi/statements?agent=%7B%7D").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], "agent");

        // Nothing was stored.
        let list = app.get("/xapi/statements").await.json();
        assert_eq!(list["statements"], json!([]));
        app.stop().await;
    }
}

#[tokio::test]
async fn a_known_id_with_other_content_is_a_conflict() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let id = Uuid::new_v4();
        let auth = basic(KEY, SECRET);
        let path = format!("/xapi/statements?statementId={id}");
        let first = mbox_statement("ada", 1);
        assert_eq!(
            app.xapi(Method::PUT, &path, &auth, Some(&first))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let other = mbox_statement("ada", 2);
        let r = app.xapi(Method::PUT, &path, &auth, Some(&other)).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);

        // POST of the same id with other content: 409 too; with the same content: 200.
        let mut same = first.clone();
        same["id"] = json!(id.to_string());
        assert_eq!(app.post(&same).await.status, StatusCode::OK);
        let mut different = other.clone();
        different["id"] = json!(id.to_string());
        assert_eq!(app.post(&different).await.status, StatusCode::CONFLICT);

        let stored = app
            .get(&format!("/xapi/statements?statementId={id}"))
            .await
            .json();
        assert_eq!(stored["object"]["id"], "http://example.com/activities/1");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_batch_with_one_bad_statement_stores_nothing() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut bad = mbox_statement("bob", 2);
        bad["verb"]["id"] = json!("not an iri");
        let batch = json!([mbox_statement("ada", 1), bad, mbox_statement("cy", 3)]);
        let r = app.post(&batch).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], "statements[1].verb.id");

        // A conflict late in a batch rolls back the earlier statements too.
        let id = Uuid::new_v4();
        let mut existing = mbox_statement("ada", 9);
        existing["id"] = json!(id.to_string());
        assert_eq!(app.post(&existing).await.status, StatusCode::OK);
        let mut clash = mbox_statement("ada", 10);
        clash["id"] = json!(id.to_string());
        let r = app.post(&json!([mbox_statement("dee", 4), clash])).await;
        assert_eq!(r.status, StatusCode::CONFLICT);

        // Duplicate ids inside one batch.
        let dup = Uuid::new_v4().to_string();
        let mut a = mbox_statement("ada", 5);
        a["id"] = json!(dup);
        let r = app.post(&json!([a.clone(), a])).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], "statements[1].id");

        let list = app.get("/xapi/statements").await.json();
        let ids: Vec<Value> = list["statements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!(id.to_string())], "{}", app.backend);

        // A good batch: 200 with the ids in request order.
        let r = app
            .post(&json!([mbox_statement("ada", 6), mbox_statement("bob", 7)]))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let ids = r.json();
        assert_eq!(ids.as_array().unwrap().len(), 2);
        let first = app
            .get(&format!(
                "/xapi/statements?statementId={}",
                ids[0].as_str().unwrap()
            ))
            .await
            .json();
        assert_eq!(first["actor"]["mbox"], "mailto:ada@example.com");
        app.stop().await;
    }
}

/// Large bodies are parsed and prepared off the async workers: same answers as small ones.
#[tokio::test]
async fn large_batches_are_all_or_nothing_too() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut batch: Vec<Value> = (0..300).map(|n| mbox_statement("ada", n)).collect();
        assert!(json!(batch).to_string().len() > 32 * 1024, "a large body");
        batch[250]["result"] = json!({"score": {"scaled": 2}});
        let r = app.post(&json!(batch)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", app.backend);
        assert_eq!(r.json()["field"], "statements[250].result.score.scaled");
        let list = app.get("/xapi/statements?limit=1").await.json();
        assert_eq!(list["statements"], json!([]), "nothing stored");

        batch[250] = mbox_statement("ada", 250);
        let r = app.post(&json!(batch)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        let ids = r.json();
        assert_eq!(ids.as_array().unwrap().len(), 300);
        let last = app
            .get(&format!(
                "/xapi/statements?statementId={}",
                ids[299].as_str().unwrap()
            ))
            .await
            .json();
        assert_eq!(last["actor"]["mbox"], "mailto:ada@example.com");
        let page = app
            .get("/xapi/statements?limit=300&format=ids")
            .await
            .json();
        assert_eq!(page["statements"].as_array().unwrap().len(), 300);
        app.stop().await;
    }
}

#[tokio::test]
async fn voided_statements_leave_queries_and_are_found_as_voided() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let target = app.post(&mbox_statement("ada", 1)).await.json()[0]
            .as_str()
            .unwrap()
            .to_string();
        let voiding = json!({
            "actor": {"mbox": "mailto:admin@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": target},
        });
        let voider = app.post(&voiding).await;
        assert_eq!(voider.status, StatusCode::OK);
        let voider = voider.json()[0].as_str().unwrap().to_string();

        let r = app
            .get(&format!("/xapi/statements?statementId={target}"))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = app
            .get(&format!("/xapi/statements?voidedStatementId={target}"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["id"], target.as_str());
        let list = app.get("/xapi/statements").await.json();
        let ids: Vec<&str> = list["statements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![voider.as_str()]);
        app.stop().await;
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut big = mbox_statement("ada", 1);
        big["result"] = json!({"response": "x".repeat(MAX_BODY)});
        let r = app.post(&big).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(r.header("x-experience-api-version").is_some());
        app.stop().await;
    }
}

#[tokio::test]
async fn concurrent_writes_are_committed_together_yet_answered_one_by_one() {
    for db in databases().await {
        let app = std::sync::Arc::new(spawn_app(&db, memory_bus()).await);
        let mut events = app.stored_events("test-group-commit").await;
        let mut tasks = tokio::task::JoinSet::new();
        let contested = Uuid::new_v4();
        for n in 0..48u32 {
            let app = app.clone();
            tasks.spawn(async move {
                let body = match n % 8 {
                    // Eight requests race for one id with two different contents.
                    0 => {
                        let mut s = mbox_statement(if n % 16 == 0 { "ada" } else { "bob" }, 0);
                        s["id"] = json!(contested.to_string());
                        s
                    }
                    // Batches with a bad statement among good ones.
                    1 => json!([mbox_statement("carl", n), {"actor": "nobody"}]),
                    2 => json!([mbox_statement("dora", n), mbox_statement("dora", n + 1000)]),
                    _ => mbox_statement("eve", n),
                };
                (n, app.post(&body).await)
            });
        }
        let mut stored = 0;
        let mut contested_ok = 0;
        while let Some(done) = tasks.join_next().await {
            let (n, r) = done.expect("task");
            match n % 8 {
                0 => {
                    assert!(
                        matches!(r.status, StatusCode::OK | StatusCode::CONFLICT),
                        "{}",
                        r.status
                    );
                    if r.status == StatusCode::OK {
                        contested_ok += 1;
                    }
                }
                1 => assert_eq!(r.status, StatusCode::BAD_REQUEST),
                2 => {
                    assert_eq!(r.status, StatusCode::OK);
                    assert_eq!(r.json().as_array().unwrap().len(), 2);
                    stored += 2;
                }
                _ => {
                    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
                    stored += 1;
                }
            }
        }
        // Whoever won the contested id, the requests with its content succeed, the others
        // conflict.
        let winner = app
            .get(&format!("/xapi/statements?statementId={contested}"))
            .await;
        assert_eq!(winner.status, StatusCode::OK);
        assert_eq!(
            contested_ok, 3,
            "three requests carried the winning content"
        );
        let all = app.get("/xapi/statements?limit=0").await.json();
        let count = all["statements"].as_array().unwrap().len();
        assert_eq!(count, stored + 1, "{}", app.backend);
        // One `statement.stored` event per stored statement, however many requests shared a
        // transaction.
        let announced = drain(
            &mut events,
            count,
            Duration::from_secs(10),
            Duration::from_millis(500),
        )
        .await;
        assert_eq!(announced.len(), count);
        match std::sync::Arc::try_unwrap(app) {
            Ok(app) => app.stop().await,
            Err(_) => panic!("the app is still shared"),
        }
    }
}
