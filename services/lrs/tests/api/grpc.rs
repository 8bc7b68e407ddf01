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
