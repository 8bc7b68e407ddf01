//! `lyceum.lrs.v1.StatementService`: recording by administrators and services, queries with
//! the same filters and cursor as the HTTP API.

use lyceum_auth::Role;
use lyceum_proto::lrs::v1::{QueryStatementsRequest, RecordStatementsRequest};
use lyceum_server::authorized;
use lyceum_testkit::databases;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

fn token(header: &str) -> &str {
    header.strip_prefix("Bearer ").unwrap()
}

#[tokio::test]
async fn record_and_query_over_grpc() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut grpc = app.grpc().await;
        let admin = app.bearer(Uuid::now_v7(), Role::Admin);
        let service = app.service_bearer();
        let ada = Uuid::now_v7();
        let learner = app.bearer(ada, Role::Learner);

        let record = |statements: Vec<Value>| RecordStatementsRequest {
            statements_json: statements.iter().map(Value::to_string).collect(),
        };
        let ids = grpc
            .record_statements(authorized(
                record(vec![
                    statement(person_agent(ada), 1),
                    mbox_statement("bob", 2),
                ]),
                token(&admin),
            ))
            .await
            .expect("admin records")
            .into_inner()
            .statement_ids;
        assert_eq!(ids.len(), 2);
        grpc.record_statements(authorized(
            record(vec![statement(person_agent(ada), 3)]),
            token(&service),
        ))
        .await
        .expect("a service records");

        // Learners may not record over gRPC; nobody may without a token.
        let denied = grpc
            .record_statements(authorized(
                record(vec![statement(person_agent(ada), 4)]),
                token(&learner),
            ))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        let anonymous = grpc
            .record_statements(tonic::Request::new(record(vec![])))
            .await
            .unwrap_err();
        assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);

        // Invalid statements name the field.
        let mut bad = mbox_statement("bob", 5);
        bad["actor"]["mbox"] = json!("bob");
        let invalid = grpc
            .record_statements(authorized(
                record(vec![mbox_statement("bob", 6), bad]),
                token(&admin),
            ))
            .await
            .unwrap_err();
        assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
        assert!(
            invalid
                .message()
                .starts_with("statements_json[1].actor.mbox:"),
            "{}",
            invalid.message()
        );

        // Pages of one, oldest first, following `more`.
        let mut seen = Vec::new();
        let mut req = QueryStatementsRequest {
            limit: 1,
            ascending: true,
            ..Default::default()
        };
        loop {
            let page = grpc
                .query_statements(authorized(req.clone(), token(&admin)))
                .await
                .expect("query")
                .into_inner();
            for s in &page.statements_json {
                let v: Value = serde_json::from_str(s).unwrap();
                seen.push(v["object"]["id"].as_str().unwrap().to_string());
            }
            if page.more.is_empty() {
                break;
            }
            req = QueryStatementsRequest {
                more: page.more,
                ..Default::default()
            };
        }
        assert_eq!(
            seen,
            vec![
                "http://example.com/activities/1",
                "http://example.com/activities/2",
                "http://example.com/activities/3"
            ],
            "{}",
            app.backend
        );

        // Filters: verb and agent.
        let by_agent = grpc
            .query_statements(authorized(
                QueryStatementsRequest {
                    agent_json: json!({"mbox": "mailto:bob@example.com"}).to_string(),
                    verb: "http://adlnet.gov/expapi/verbs/experienced".into(),
                    ..Default::default()
                },
                token(&admin),
            ))
            .await
            .expect("query")
            .into_inner();
        assert_eq!(by_agent.statements_json.len(), 1);

        // A learner gets only their own statements.
        let own = grpc
            .query_statements(authorized(
                QueryStatementsRequest::default(),
                token(&learner),
            ))
            .await
            .expect("learner query")
            .into_inner();
        assert_eq!(own.statements_json.len(), 2);
        for s in &own.statements_json {
            let v: Value = serde_json::from_str(s).unwrap();
            assert_eq!(v["actor"]["account"]["name"], json!(ada.to_string()));
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn activity_summary_per_person() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut grpc = app.grpc().await;
        let ada = Uuid::now_v7();
        let at = |s: &mut Value, t: &str| s["timestamp"] = json!(t);
        let mut batch = Vec::new();
        for (n, verb, t) in [
            (
                1,
                "http://adlnet.gov/expapi/verbs/experienced",
                "2026-01-01T10:00:00Z",
            ),
            (
                1,
                "http://adlnet.gov/expapi/verbs/completed",
                "2026-01-02T10:00:00Z",
            ),
            (
                2,
                "http://adlnet.gov/expapi/verbs/experienced",
                "2026-01-03T10:00:00Z",
            ),
            (
                3,
                "http://adlnet.gov/expapi/verbs/experienced",
                "2025-06-01T10:00:00Z",
            ),
        ] {
            let mut s = statement(person_agent(ada), n);
            s["verb"]["id"] = json!(verb);
            at(&mut s, t);
            batch.push(s);
        }
        batch.push(statement(person_agent(Uuid::now_v7()), 9));
        for s in &batch {
            assert_eq!(app.post(s).await.status, http::StatusCode::OK);
        }
        let ts = |t: &str| {
            lyceum_proto::timestamp::from_time(
                lyceum_xapi::validate::parse_timestamp(t).expect("timestamp"),
            )
        };
        let req = lyceum_proto::lrs::v1::SummarizeActivityRequest {
            person_id: ada.to_string(),
            from: Some(ts("2026-01-01T00:00:00Z")),
            to: Some(ts("2027-01-01T00:00:00Z")),
            activity_limit: 0,
        };
        let own = app.bearer(ada, Role::Learner);
        let s = grpc
            .summarize_activity(authorized(req.clone(), token(&own)))
            .await
            .expect("own summary")
            .into_inner();
        assert_eq!(s.statements, 3, "{}", app.backend);
        assert_eq!(
            s.verbs[0].verb_id,
            "http://adlnet.gov/expapi/verbs/experienced"
        );
        assert_eq!(s.verbs[0].statements, 2);
        assert_eq!(
            s.activities[0].activity_id,
            "http://example.com/activities/1"
        );
        assert_eq!(s.activities[0].statements, 2);
        assert_eq!(s.first_at, Some(ts("2026-01-01T10:00:00Z")));
        assert_eq!(s.last_at, Some(ts("2026-01-03T10:00:00Z")));
        // Another learner may not; a manager may.
        let other = app.bearer(Uuid::now_v7(), Role::Learner);
        let denied = grpc
            .summarize_activity(authorized(req.clone(), token(&other)))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        let manager = app.bearer(Uuid::now_v7(), Role::Manager);
        grpc.summarize_activity(authorized(req, token(&manager)))
            .await
            .expect("manager summary");
        app.stop().await;
    }
}

#[tokio::test]
async fn xapi_clients_are_administered_over_grpc() {
    use lyceum_proto::lrs::v1::{
        CreateXapiClientRequest, DeleteXapiClientRequest, ListXapiClientsRequest,
    };
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let mut admin = app.admin().await;
        let root = app.bearer(Uuid::now_v7(), Role::Admin);
        let created = admin
            .create_xapi_client(authorized(
                CreateXapiClientRequest {
                    key: "reporting".into(),
                    secret: String::new(),
                    scopes: vec!["statements/read".into()],
                    authority_json: String::new(),
                },
                token(&root),
            ))
            .await
            .expect("create")
            .into_inner();
        assert!(created.secret.len() >= 32, "a generated secret");
        let auth = basic("reporting", &created.secret);
        let r = app
            .xapi(http::Method::GET, "/xapi/statements", &auth, None)
            .await;
        assert_eq!(r.status, http::StatusCode::OK);
        let r = app
            .xapi(
                http::Method::POST,
                "/xapi/statements",
                &auth,
                Some(&mbox_statement("ada", 1)),
            )
            .await;
        assert_eq!(r.status, http::StatusCode::FORBIDDEN);

        let list = admin
            .list_xapi_clients(authorized(
                ListXapiClientsRequest { page: None },
                token(&root),
            ))
            .await
            .expect("list")
            .into_inner();
        let keys: Vec<&str> = list.clients.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, vec!["reporting", KEY]);

        // Bad input and non-administrators are refused.
        for (key, scopes) in [("a:b", vec!["all"]), ("ok", vec![]), ("ok", vec!["write"])] {
            let e = admin
                .create_xapi_client(authorized(
                    CreateXapiClientRequest {
                        key: key.into(),
                        secret: String::new(),
                        scopes: scopes.into_iter().map(String::from).collect(),
                        authority_json: String::new(),
                    },
                    token(&root),
                ))
                .await
                .unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{key}");
        }
        let learner = app.bearer(Uuid::now_v7(), Role::Learner);
        let e = admin
            .list_xapi_clients(authorized(
                ListXapiClientsRequest { page: None },
                token(&learner),
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);

        // Deleting takes effect at once, despite the credential cache.
        admin
            .delete_xapi_client(authorized(
                DeleteXapiClientRequest {
                    key: "reporting".into(),
                },
                token(&root),
            ))
            .await
            .expect("delete");
        let r = app
            .xapi(http::Method::GET, "/xapi/statements", &auth, None)
            .await;
        assert_eq!(r.status, http::StatusCode::UNAUTHORIZED);
        let e = admin
            .delete_xapi_client(authorized(
                DeleteXapiClientRequest {
                    key: "reporting".into(),
                },
                token(&root),
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::NotFound);
        app.stop().await;
    }
}
