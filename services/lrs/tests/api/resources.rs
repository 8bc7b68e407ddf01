//! Activities (canonical definitions), Agents (Person), About; HEAD on every GET; CORS; the
//! xAPI headers on every answer; the 1.0.3 alternate request syntax and its refusal under 2.0.

use http::{Method, StatusCode};
use lyceum_testkit::databases;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn activities_agents_and_about() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let id = format!("http://example.com/activities/{}", Uuid::new_v4());
        let mut s = mbox_statement("ada", 0);
        s["object"] = json!({"id": id, "definition": {"name": {"en-US": "Quiz"},
            "type": "http://adlnet.gov/expapi/activities/assessment"}});
        assert_eq!(app.post(&s).await.status, StatusCode::OK);
        s["object"]["definition"] = json!({"name": {"fr-FR": "Quiz (fr)"},
            "description": {"en-US": "A quiz"}});
        assert_eq!(app.post(&s).await.status, StatusCode::OK);

        // The canonical definition merges both statements.
        let r = app
            .get(&format!("/xapi/activities?activityId={}", encode(&id)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        assert_eq!(
            r.json(),
            json!({"objectType": "Activity", "id": id, "definition": {
                "name": {"en-US": "Quiz", "fr-FR": "Quiz (fr)"},
                "description": {"en-US": "A quiz"},
                "type": "http://adlnet.gov/expapi/activities/assessment"}})
        );
        // An activity the LRS has no definition of: just its id.
        let unknown = "http://example.com/activities/never-seen";
        let r = app
            .get(&format!("/xapi/activities?activityId={}", encode(unknown)))
            .await;
        assert_eq!(r.json(), json!({"objectType": "Activity", "id": unknown}));
        for bad in [
            "/xapi/activities",
            "/xapi/activities?activityId=no-iri",
            "/xapi/activities?activityId=http://x.y&x=1",
        ] {
            assert_eq!(app.get(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
        }

        // Agents: a Person object of arrays.
        let agent = json!({"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"});
        let r = app
            .get(&format!(
                "/xapi/agents?agent={}",
                encode(&agent.to_string())
            ))
            .await;
        assert_eq!(
            r.json(),
            json!({"objectType": "Person", "name": ["Ada"], "mbox": ["mailto:ada@example.com"]})
        );
        assert_eq!(
            app.get("/xapi/agents").await.status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            app.get("/xapi/agents?agent=%7B%7D").await.status,
            StatusCode::BAD_REQUEST
        );

        // About needs neither credentials nor the version header.
        let r = app.request(Method::GET, "/xapi/about", &[], None).await;
        assert_eq!(r.status, StatusCode::OK);
        let about = r.json();
        assert!(
            about["version"]
                .as_array()
                .unwrap()
                .contains(&json!("1.0.3"))
        );
        assert!(
            about["version"]
                .as_array()
                .unwrap()
                .contains(&json!("2.0.0"))
        );
        assert!(about["extensions"].is_object());
        app.stop().await;
    }
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        assert_eq!(
            app.post(&mbox_statement("ada", 1)).await.status,
            StatusCode::OK
        );
        let agent = encode(&json!({"mbox": "mailto:ada@example.com"}).to_string());
        let act = encode("http://example.com/activities/1");
        for path in [
            "/xapi/about".to_string(),
            "/xapi/statements".to_string(),
            format!("/xapi/activities?activityId={act}"),
            format!("/xapi/agents?agent={agent}"),
            format!("/xapi/activities/state?activityId={act}&agent={agent}"),
            format!("/xapi/activities/profile?activityId={act}"),
            format!("/xapi/agents/profile?agent={agent}"),
        ] {
            let get = app.get(&path).await;
            let head = app
                .xapi(Method::HEAD, &path, &basic(KEY, SECRET), None)
                .await;
            assert_eq!(head.status, get.status, "{path}");
            assert!(head.body.is_empty(), "{path}");
            assert_eq!(head.header("content-type"), get.header("content-type"));
            assert!(head.header("x-experience-api-version").is_some());
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn every_answer_has_the_xapi_headers_and_cors() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        // Errors too: 400, 401, 404.
        for (path, auth, want) in [
            (
                "/xapi/statements?statementId=nope",
                basic(KEY, SECRET),
                StatusCode::BAD_REQUEST,
            ),
            (
                "/xapi/statements",
                basic("who", "nobody-knows"),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "/xapi/unknown-resource",
                basic(KEY, SECRET),
                StatusCode::NOT_FOUND,
            ),
        ] {
            let r = app
                .request(
                    Method::GET,
                    path,
                    &[
                        ("x-experience-api-version", "2.0.0"),
                        ("authorization", &auth),
                        ("origin", "http://content.example"),
                    ],
                    None,
                )
                .await;
            assert_eq!(r.status, want, "{path}");
            assert_eq!(r.header("x-experience-api-version"), Some("2.0.0"));
            assert!(r.header("x-experience-api-consistent-through").is_some());
            assert_eq!(
                r.header("access-control-allow-origin"),
                Some("http://content.example")
            );
            assert_ne!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        // Consistent-Through does not go stale while idle.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let before = time::OffsetDateTime::now_utc() - time::Duration::milliseconds(50);
        let r = app.get("/xapi/statements").await;
        let through = lyceum_xapi::validate::parse_timestamp(
            r.header("x-experience-api-consistent-through").unwrap(),
        )
        .unwrap();
        assert!(through >= before, "{through} < {before}");

        // Preflight: no credentials, no version header.
        let r = app
            .request(
                Method::OPTIONS,
                "/xapi/statements",
                &[
                    ("origin", "http://content.example"),
                    ("access-control-request-method", "PUT"),
                    (
                        "access-control-request-headers",
                        "authorization, x-experience-api-version",
                    ),
                ],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(
            r.header("access-control-allow-methods")
                .unwrap()
                .contains("PUT")
        );
        assert!(
            r.header("access-control-allow-headers")
                .unwrap()
                .contains("x-experience-api-version")
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn versions_pick_the_rules() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut s = mbox_statement("ada", 2);
        s["context"] = json!({"contextAgents": [{"objectType": "contextAgent",
            "agent": {"mbox": "mailto:coach@example.com"}}]});
        // contextAgents exist in 2.0 only.
        let r = app.post(&s).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.detail().contains("context.contextAgents"),
            "{}",
            r.detail()
        );
        assert_eq!(app.post2(&s).await.status, StatusCode::OK);
        // A statement of version 2.0.0 is a 2.0 statement.
        let mut v2 = mbox_statement("ada", 3);
        v2["version"] = json!("2.0.0");
        assert_eq!(app.post(&v2).await.status, StatusCode::BAD_REQUEST);
        let id = app.post2(&v2).await.json()[0].as_str().unwrap().to_string();
        let got = app
            .get(&format!("/xapi/statements?statementId={id}"))
            .await
            .json();
        assert_eq!(got["version"], "2.0.0");
        // Without a version, the LRS writes the request's.
        let id = app.post2(&mbox_statement("ada", 4)).await.json()[0]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            app.get(&format!("/xapi/statements?statementId={id}"))
                .await
                .json()["version"],
            "2.0.0"
        );
        let id = app.post(&mbox_statement("ada", 5)).await.json()[0]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            app.get(&format!("/xapi/statements?statementId={id}"))
                .await
                .json()["version"],
            "1.0.0"
        );
        // 2.0 stores timestamps in UTC.
        let mut t = mbox_statement("ada", 6);
        t["timestamp"] = json!("2023-05-04T12:00:00-05:00");
        let id = app.post2(&t).await.json()[0].as_str().unwrap().to_string();
        assert_eq!(
            app.get(&format!("/xapi/statements?statementId={id}"))
                .await
                .json()["timestamp"],
            "2023-05-04T17:00:00.000Z"
        );
        // Unsupported and missing versions: 400.
        for v in ["0.95", "1.1.0", "3.0.0", "two"] {
            let r = app
                .xapi_as(v, Method::GET, "/xapi/statements", &[], None)
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{v}");
        }
        let r = app
            .request(
                Method::GET,
                "/xapi/statements",
                &[("authorization", &basic(KEY, SECRET))],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.header("x-experience-api-version"), Some("0.9"));
        app.stop().await;
    }
}

#[tokio::test]
async fn the_alternate_request_syntax_works_under_1_0_3_only() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let id = Uuid::new_v4();
        let content = encode(&mbox_statement("ada", 7).to_string());
        let auth = encode(&basic(KEY, SECRET));
        let form = format!(
            "statementId={id}&content={content}&X-Experience-API-Version=1.0.3&Authorization={auth}&Content-Type=application%2Fjson"
        );
        let form_ct = ("content-type", "application/x-www-form-urlencoded");
        // Headers and parameters in the form: PUT issued as POST.
        let r = app
            .request(
                Method::POST,
                "/xapi/statements?method=PUT",
                &[form_ct],
                Some(form.clone().into_bytes()),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::NO_CONTENT,
            "{}: {:?}",
            app.backend,
            r.body
        );
        assert_eq!(
            app.get(&format!("/xapi/statements?statementId={id}"))
                .await
                .status,
            StatusCode::OK
        );
        // GET issued as POST.
        let r = app
            .xapi_as(
                "1.0.3",
                Method::POST,
                "/xapi/statements?method=GET",
                &[form_ct],
                Some(format!("statementId={id}").into_bytes()),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["id"], id.to_string());
        // Misuse: not a POST, extra query parameters, no content, unknown method.
        for (method, path, body) in [
            (Method::PUT, "/xapi/statements?method=POST", form.clone()),
            (
                Method::POST,
                &*format!("/xapi/statements?method=PUT&statementId={id}"),
                form.clone(),
            ),
            (
                Method::POST,
                "/xapi/statements?method=PUT",
                format!("statementId={id}"),
            ),
            (Method::POST, "/xapi/statements?method=PATCH", form.clone()),
        ] {
            let r = app
                .xapi_as(
                    "1.0.3",
                    method.clone(),
                    path,
                    &[form_ct],
                    Some(body.into_bytes()),
                )
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method} {path}");
        }
        // A version in the form counts like the header.
        let old = form.replace(
            "X-Experience-API-Version=1.0.3",
            "X-Experience-API-Version=0.8",
        );
        let r = app
            .request(
                Method::POST,
                "/xapi/statements?method=PUT",
                &[form_ct],
                Some(old.into_bytes()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // 2.0 has no alternate syntax.
        let r = app
            .xapi_as(
                "2.0.0",
                Method::POST,
                "/xapi/statements?method=GET",
                &[form_ct],
                Some(b"limit=1".to_vec()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let v2 = form.replace(
            "X-Experience-API-Version=1.0.3",
            "X-Experience-API-Version=2.0.0",
        );
        let r = app
            .request(
                Method::POST,
                "/xapi/statements?method=PUT",
                &[form_ct],
                Some(v2.into_bytes()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let _: Value = app.get("/xapi/statements").await.json();
        app.stop().await;
    }
}
