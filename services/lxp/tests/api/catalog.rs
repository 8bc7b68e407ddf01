use lyceum_auth::Role;
use lyceum_proto::lxp::v1 as pb;
use lyceum_server::authorized;
use lyceum_testkit::databases;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::helpers::{field_of, http_status, page, spawn_app};

#[tokio::test]
async fn a_published_course_appears_in_the_catalogue() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let (_, token) = app.learner();
        let sql = app
            .course("SQL Fundamentals", &["SQL", "data-analysis"])
            .await;
        let talk = app.course("Negotiation", &["negotiation"]).await;

        let item = app.item(sql).await;
        assert_eq!(item.id, sql.to_string(), "{}", app.backend);
        assert_eq!(item.source, "lms");
        assert_eq!(item.kind, "course");
        assert_eq!(item.title, "SQL Fundamentals");
        assert_eq!(item.url, app.identity.course_activity(sql));
        assert_eq!(item.skills, vec!["sql", "data-analysis"]);
        assert_eq!(item.popularity, 0);
        assert!(item.published_at.is_some());

        // Newest first, paged.
        let first = app
            .catalog()
            .list_items(authorized(
                pb::ListItemsRequest {
                    page: page(1, ""),
                    skill: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.items[0].id, talk.to_string(), "{}", app.backend);
        let next = first.page.unwrap().next_page_token;
        assert!(!next.is_empty());
        let second = app
            .catalog()
            .list_items(authorized(
                pb::ListItemsRequest {
                    page: page(1, &next),
                    skill: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.items[0].id, sql.to_string());
        assert!(second.page.unwrap().next_page_token.is_empty());

        // Filtered by skill, case-insensitively.
        let by_skill = app
            .catalog()
            .list_items(authorized(
                pb::ListItemsRequest {
                    page: None,
                    skill: " Data-Analysis ".into(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        let ids: Vec<_> = by_skill.items.iter().map(|i| i.id.clone()).collect();
        assert_eq!(ids, vec![sql.to_string()], "{}", app.backend);
        app.stop().await;
    }
}

#[tokio::test]
async fn external_items_are_validated_and_unique_by_url() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let author = app.token(Uuid::now_v7(), Role::Author);
        let (_, learner) = app.learner();
        let request = |url: &str| pb::AddExternalItemRequest {
            kind: "video".into(),
            title: "Window functions in 10 minutes".into(),
            description: "A short video".into(),
            url: url.into(),
            skills: vec!["SQL".into()],
        };

        let e = app
            .catalog()
            .add_external_item(authorized(request("https://v.example/w"), &learner))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), http_status(&e)),
            (tonic::Code::PermissionDenied, 403)
        );

        for (req, field) in [
            (request("ftp://v.example/w"), "url"),
            (request("/relative"), "url"),
            (
                pb::AddExternalItemRequest {
                    kind: "hologram".into(),
                    ..request("https://v.example/w")
                },
                "kind",
            ),
            (
                pb::AddExternalItemRequest {
                    title: "  ".into(),
                    ..request("https://v.example/w")
                },
                "title",
            ),
            (
                pb::AddExternalItemRequest {
                    skills: vec!["".into()],
                    ..request("https://v.example/w")
                },
                "skills[0]",
            ),
        ] {
            let e = app
                .catalog()
                .add_external_item(authorized(req, &author))
                .await
                .unwrap_err();
            assert_eq!(
                (e.code(), http_status(&e)),
                (tonic::Code::InvalidArgument, 400),
                "{field}: {e:?}"
            );
            assert_eq!(field_of(&e).as_deref(), Some(field));
            assert!(e.message().starts_with(field), "{}", e.message());
        }

        let item = app
            .catalog()
            .add_external_item(authorized(request(" https://v.example/w "), &author))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (item.source.as_str(), item.kind.as_str(), item.url.as_str()),
            ("external", "video", "https://v.example/w"),
            "{}",
            app.backend
        );
        assert_eq!(item.skills, vec!["sql"]);
        assert_eq!(app.item(item.id.parse().unwrap()).await, item);

        let admin = app.token(Uuid::now_v7(), Role::Admin);
        let e = app
            .catalog()
            .add_external_item(authorized(request("https://v.example/w"), &admin))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), http_status(&e)),
            (tonic::Code::AlreadyExists, 409),
            "{}",
            app.backend
        );
        assert_eq!(field_of(&e).as_deref(), Some("url"));
        app.stop().await;
    }
}

#[tokio::test]
async fn unknown_items_are_not_found() {
    let db = lyceum_testkit::TestDatabase::sqlite();
    let app = spawn_app(&db).await;
    let (_, token) = app.learner();
    let e = app
        .catalog()
        .get_item(authorized(
            pb::GetItemRequest {
                id: Uuid::now_v7().to_string(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!((e.code(), http_status(&e)), (tonic::Code::NotFound, 404));
    let e = app
        .catalog()
        .get_item(authorized(pb::GetItemRequest { id: "x".into() }, &token))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(field_of(&e).as_deref(), Some("id"));
    app.stop().await;
}

#[tokio::test]
async fn every_call_needs_a_valid_token() {
    let db = lyceum_testkit::TestDatabase::sqlite();
    let app = spawn_app(&db).await;
    let e = app
        .catalog()
        .list_items(pb::ListItemsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), http_status(&e)),
        (tonic::Code::Unauthenticated, 401)
    );
    let e = app
        .feed()
        .get_feed(pb::GetFeedRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    let e = app
        .catalog()
        .add_external_item(authorized(
            pb::AddExternalItemRequest::default(),
            "not-a-token",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    // Service tokens read the catalogue but have no feed.
    let service = app
        .platform
        .signer
        .as_ref()
        .unwrap()
        .service_token("gateway", &[]);
    app.catalog()
        .list_items(authorized(pb::ListItemsRequest::default(), &service))
        .await
        .unwrap();
    let e = app
        .feed()
        .get_feed(authorized(pb::GetFeedRequest::default(), &service))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    app.stop().await;
}

#[tokio::test]
async fn health_endpoints_answer_on_the_grpc_port() {
    let db = lyceum_testkit::TestDatabase::sqlite();
    let app = spawn_app(&db).await;
    for path in ["/healthz", "/readyz"] {
        let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        tcp.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: lxp\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut response = String::new();
        tcp.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }
    app.stop().await;
}
