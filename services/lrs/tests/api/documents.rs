//! The document resources: State, Activity Profile, Agent Profile. Byte-for-byte storage with
//! content types, id lists with `since`, JSON merge on POST, ETags with If-Match and
//! If-None-Match (412), profiles' 409 and 400 without them, DELETE, Last-Modified.

use http::{Method, StatusCode};
use lyceum_testkit::databases;
use serde_json::{Value, json};

use crate::helpers::*;

const ACTIVITY: &str = "http://example.com/activities/doc-test";

fn agent_param(name: &str) -> String {
    encode(&json!({"objectType": "Agent", "account": {"homePage": "http://example.com", "name": name}}).to_string())
}

fn state_path(agent: &str, state_id: Option<&str>, extra: &str) -> String {
    let mut p = format!(
        "/xapi/activities/state?activityId={}&agent={}",
        encode(ACTIVITY),
        agent_param(agent)
    );
    if let Some(id) = state_id {
        p.push_str(&format!("&stateId={}", encode(id)));
    }
    p.push_str(extra);
    p
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    app.xapi_as("1.0.3", method, path, headers, body.map(<[u8]>::to_vec))
        .await
}

#[tokio::test]
async fn state_documents_round_trip_byte_for_byte_merge_and_delete() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let path = state_path("ada", Some("bookmark"), "");

        // Unknown document: 404.
        let r = send(&app, Method::GET, &path, &[], None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", app.backend);

        // Any content type, stored and returned byte for byte.
        let bytes: &[u8] = b"\x00\x01binary\xff state";
        let r = send(
            &app,
            Method::PUT,
            &path,
            &[("content-type", "application/octet-stream")],
            Some(bytes),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = send(&app, Method::GET, &path, &[], None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(&r.body[..], bytes);
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        let etag = r.header("etag").expect("etag").to_string();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() == 42,
            "{etag}"
        );
        assert!(r.header("last-modified").is_some());

        // State allows a blind overwrite (Communication 3.1).
        let r = send(
            &app,
            Method::PUT,
            &path,
            &[("content-type", "application/json")],
            Some(br#"{"page": 1, "keep": true}"#),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);

        // POST merges JSON objects, top level.
        let r = send(
            &app,
            Method::POST,
            &path,
            &[("content-type", "application/json")],
            Some(br#"{"page": 2, "extra": "x"}"#),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let merged: Value = send(&app, Method::GET, &path, &[], None).await.json();
        assert_eq!(merged, json!({"page": 2, "keep": true, "extra": "x"}));

        // POST of non-JSON onto JSON, or of a non-object: 400 and nothing changes.
        for (ct, body) in [
            ("text/plain", &b"hi"[..]),
            ("application/json", &b"[1,2]"[..]),
        ] {
            let r = send(
                &app,
                Method::POST,
                &path,
                &[("content-type", ct)],
                Some(body),
            )
            .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ct}");
        }
        let again: Value = send(&app, Method::GET, &path, &[], None).await.json();
        assert_eq!(again, merged);

        // Registrations keep separate documents.
        let reg = "0190abcd-0000-7000-8000-000000000001";
        let with_reg = state_path("ada", Some("bookmark"), &format!("&registration={reg}"));
        let r = send(&app, Method::GET, &with_reg, &[], None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = send(
            &app,
            Method::PUT,
            &with_reg,
            &[("content-type", "text/plain")],
            Some(b"r"),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);

        // Ids, and since.
        let r = send(
            &app,
            Method::PUT,
            &state_path("ada", Some("second"), ""),
            &[("content-type", "text/plain")],
            Some(b"2"),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let ids: Value = send(&app, Method::GET, &state_path("ada", None, ""), &[], None)
            .await
            .json();
        assert_eq!(ids, json!(["bookmark", "second"]));
        let future = encode("2999-01-01T00:00:00Z");
        let ids: Value = send(
            &app,
            Method::GET,
            &state_path("ada", None, &format!("&since={future}")),
            &[],
            None,
        )
        .await
        .json();
        assert_eq!(ids, json!([]));
        let r = send(
            &app,
            Method::GET,
            &state_path("ada", None, "&since=yesterday"),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        // DELETE one, then all of the agent's state in the activity.
        let r = send(
            &app,
            Method::DELETE,
            &state_path("ada", Some("second"), ""),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = send(
            &app,
            Method::GET,
            &state_path("ada", Some("second"), ""),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = send(
            &app,
            Method::DELETE,
            &state_path("ada", None, ""),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let ids: Value = send(&app, Method::GET, &state_path("ada", None, ""), &[], None)
            .await
            .json();
        assert_eq!(ids, json!([]));
        app.stop().await;
    }
}

#[tokio::test]
async fn document_parameters_are_checked() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let agent = agent_param("ada");
        let act = encode(ACTIVITY);
        for (method, path) in [
            (
                Method::GET,
                format!("/xapi/activities/state?agent={agent}&stateId=x"),
            ),
            (
                Method::PUT,
                format!("/xapi/activities/state?activityId={act}&stateId=x"),
            ),
            (
                Method::PUT,
                format!("/xapi/activities/state?activityId={act}&agent={agent}"),
            ),
            (
                Method::GET,
                format!("/xapi/activities/state?activityId=not-an-iri&agent={agent}"),
            ),
            (
                Method::GET,
                format!("/xapi/activities/state?activityId={act}&agent=%7Bbad"),
            ),
            (
                Method::GET,
                format!("/xapi/activities/state?activityId={act}&agent={agent}&registration=nope"),
            ),
            (
                Method::GET,
                format!("/xapi/activities/state?activityId={act}&agent={agent}&StateId=x"),
            ),
            (
                Method::GET,
                "/xapi/activities/profile?profileId=x".to_string(),
            ),
            (
                Method::PUT,
                format!("/xapi/activities/profile?activityId={act}"),
            ),
            (Method::GET, "/xapi/agents/profile?profileId=x".to_string()),
            (
                Method::DELETE,
                format!("/xapi/agents/profile?agent={agent}"),
            ),
        ] {
            let r = send(
                &app,
                method.clone(),
                &path,
                &[("content-type", "application/json"), ("if-none-match", "*")],
                Some(b"{}"),
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{method} {path}: {:?}",
                r.body
            );
            assert!(!r.detail().is_empty());
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn profiles_use_etags_for_concurrency() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let act = encode(ACTIVITY);
        let agent = agent_param("bob");
        for path in [
            format!("/xapi/activities/profile?activityId={act}&profileId=p1"),
            format!("/xapi/agents/profile?agent={agent}&profileId=p1"),
        ] {
            let json = [("content-type", "application/json")];
            // A PUT without If-Match / If-None-Match: 400 when new ...
            let r = send(&app, Method::PUT, &path, &json, Some(b"{\"v\":1}")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
            // ... If-None-Match: * creates ...
            let r = send(
                &app,
                Method::PUT,
                &path,
                &[json[0], ("if-none-match", "*")],
                Some(b"{\"v\":1}"),
            )
            .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT);
            let etag = r.header("etag").expect("etag on PUT").to_string();
            // ... and refuses once it exists (412); without headers it is a conflict (409).
            let r = send(
                &app,
                Method::PUT,
                &path,
                &[json[0], ("if-none-match", "*")],
                Some(b"{\"v\":2}"),
            )
            .await;
            assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
            let r = send(&app, Method::PUT, &path, &json, Some(b"{\"v\":2}")).await;
            assert_eq!(r.status, StatusCode::CONFLICT);
            assert!(!r.body.is_empty());
            // A stale If-Match: 412 on PUT, POST and DELETE, and nothing changes.
            for method in [Method::PUT, Method::POST, Method::DELETE] {
                let r = send(
                    &app,
                    method.clone(),
                    &path,
                    &[
                        json[0],
                        ("if-match", "\"0000000000000000000000000000000000000000\""),
                    ],
                    Some(b"{\"v\":3}"),
                )
                .await;
                assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{method}");
            }
            let got = send(&app, Method::GET, &path, &[], None).await;
            assert_eq!(got.json(), json!({"v": 1}));
            assert_eq!(got.header("etag"), Some(etag.as_str()));
            // The right ETag: accepted.
            let r = send(
                &app,
                Method::PUT,
                &path,
                &[json[0], ("if-match", &etag)],
                Some(b"{\"v\":4}"),
            )
            .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT);
            let got = send(&app, Method::GET, &path, &[], None).await;
            assert_eq!(got.json(), json!({"v": 4}));
            let etag = got.header("etag").expect("etag").to_string();
            let r = send(&app, Method::DELETE, &path, &[("if-match", &etag)], None).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT);
            let r = send(&app, Method::GET, &path, &[], None).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        }
        // Profile ids list.
        let r = send(
            &app,
            Method::PUT,
            &format!("/xapi/activities/profile?activityId={act}&profileId=p2"),
            &[("content-type", "text/plain"), ("if-none-match", "*")],
            Some(b"x"),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let ids: Value = send(
            &app,
            Method::GET,
            &format!("/xapi/activities/profile?activityId={act}"),
            &[],
            None,
        )
        .await
        .json();
        assert_eq!(ids, json!(["p2"]));
        app.stop().await;
    }
}
