use lyceum_auth::Role;
use lyceum_proto::common::v1::PageRequest;
use lyceum_proto::lms::v1 as pb;
use lyceum_server::authorized;
use lyceum_testkit::databases;
use tonic::Code;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, assert_status, field_of, spawn_app};

fn new_person(email: &str) -> pb::CreatePersonRequest {
    pb::CreatePersonRequest {
        email: email.into(),
        name: "Ada Lovelace".into(),
        department: "Engineering".into(),
        role: pb::Role::Learner as i32,
        password: "analytical-engine".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_creates_people_and_bad_input_names_the_field() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let p = app
            .people()
            .create_person(authorized(
                new_person(" Ada@Example.COM "),
                &app.admin_token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(p.email, "ada@example.com", "{}", app.backend);
        assert_eq!(p.role, pb::Role::Learner as i32);

        let dup = app
            .people()
            .create_person(authorized(new_person("ada@example.com"), &app.admin_token))
            .await;
        assert_status(dup, Code::AlreadyExists, "ada@example.com");

        for (req, field) in [
            (
                pb::CreatePersonRequest {
                    email: "not-an-email".into(),
                    ..new_person("x")
                },
                "email",
            ),
            (
                pb::CreatePersonRequest {
                    name: " ".into(),
                    ..new_person("b@example.com")
                },
                "name",
            ),
            (
                pb::CreatePersonRequest {
                    password: "short".into(),
                    ..new_person("c@example.com")
                },
                "password",
            ),
            (
                pb::CreatePersonRequest {
                    role: 0,
                    ..new_person("d@example.com")
                },
                "role",
            ),
            (
                pb::CreatePersonRequest {
                    role: 99,
                    ..new_person("e@example.com")
                },
                "role",
            ),
        ] {
            let e = app
                .people()
                .create_person(authorized(req, &app.admin_token))
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
            assert_eq!(field_of(&e).as_deref(), Some(field), "{e:?}");
        }
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_are_enforced_and_bad_tokens_refused() {
    let db = lyceum_testkit::TestDatabase::sqlite();
    let app = spawn_app(&db).await;
    let (learner, token) = app.person(pb::Role::Learner).await;
    let (other, _) = app.person(pb::Role::Learner).await;

    // A learner may not create people or list them, but may read themself.
    assert_status(
        app.people()
            .create_person(authorized(new_person("z@example.com"), &token))
            .await,
        Code::PermissionDenied,
        "admin",
    );
    assert_status(
        app.people()
            .list_people(authorized(pb::ListPeopleRequest::default(), &token))
            .await,
        Code::PermissionDenied,
        "",
    );
    let me = app
        .people()
        .get_person(authorized(
            pb::GetPersonRequest {
                id: learner.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap();
    assert_eq!(me.into_inner().id, learner.id);
    assert_status(
        app.people()
            .get_person(authorized(
                pb::GetPersonRequest {
                    id: other.id.clone(),
                },
                &token,
            ))
            .await,
        Code::PermissionDenied,
        "",
    );

    // Missing, malformed, foreign and none tokens are unauthenticated.
    let missing = app
        .people()
        .get_person(tonic::Request::new(pb::GetPersonRequest {
            id: learner.id.clone(),
        }))
        .await;
    assert_status(missing, Code::Unauthenticated, "missing");
    let garbage = app
        .people()
        .get_person(authorized(
            pb::GetPersonRequest {
                id: learner.id.clone(),
            },
            "abc.def.ghi",
        ))
        .await;
    assert_status(garbage, Code::Unauthenticated, "");
    let foreign_key = lyceum_auth::keys::generate();
    let foreign =
        lyceum_auth::TokenSigner::new(&foreign_key, "lyceum", std::time::Duration::from_secs(60))
            .person_token(learner.id.parse().unwrap(), Role::Admin, "x@y.z", "X");
    assert_status(
        app.people()
            .get_person(authorized(
                pb::GetPersonRequest {
                    id: learner.id.clone(),
                },
                &foreign,
            ))
            .await,
        Code::Unauthenticated,
        "signature",
    );

    // Unknown id and malformed id.
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_status(
        app.people()
            .get_person(authorized(
                pb::GetPersonRequest { id: unknown },
                &app.admin_token,
            ))
            .await,
        Code::NotFound,
        "not found",
    );
    let e = app
        .people()
        .get_person(authorized(
            pb::GetPersonRequest { id: "nope".into() },
            &app.admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), field_of(&e).as_deref()),
        (Code::InvalidArgument, Some("id"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authenticate_is_for_the_gateway_only_and_checks_passwords() {
    let db = lyceum_testkit::TestDatabase::sqlite();
    let app = spawn_app(&db).await;
    let service = app
        .platform
        .signer
        .as_ref()
        .unwrap()
        .service_token("gateway", &[]);
    let ok = app
        .people()
        .authenticate(authorized(
            pb::AuthenticateRequest {
                email: ADMIN_EMAIL.to_uppercase(),
                password: ADMIN_PASSWORD.into(),
            },
            &service,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.role, pb::Role::Admin as i32);
    for (email, password) in [
        (ADMIN_EMAIL, "wrong-password"),
        ("nobody@lyceum.test", ADMIN_PASSWORD),
    ] {
        let r = app
            .people()
            .authenticate(authorized(
                pb::AuthenticateRequest {
                    email: email.into(),
                    password: password.into(),
                },
                &service,
            ))
            .await;
        assert_status(r, Code::Unauthenticated, "wrong e-mail or password");
    }
    let r = app
        .people()
        .authenticate(authorized(
            pb::AuthenticateRequest {
                email: ADMIN_EMAIL.into(),
                password: ADMIN_PASSWORD.into(),
            },
            &app.admin_token,
        ))
        .await;
    assert_status(r, Code::PermissionDenied, "service");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn people_are_listed_in_pages_by_name() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        for i in 0..7 {
            let req = pb::CreatePersonRequest {
                name: format!("Person {i:02}"),
                department: if i % 2 == 0 {
                    "Even".into()
                } else {
                    "Odd".into()
                },
                ..new_person(&format!("p{i}@example.com"))
            };
            app.people()
                .create_person(authorized(req, &app.admin_token))
                .await
                .unwrap();
        }
        let mut names = Vec::new();
        let mut token = String::new();
        loop {
            let req = pb::ListPeopleRequest {
                page: Some(PageRequest {
                    page_size: 3,
                    page_token: token.clone(),
                }),
                department: String::new(),
            };
            let resp = app
                .people()
                .list_people(authorized(req, &app.admin_token))
                .await
                .unwrap()
                .into_inner();
            assert!(resp.people.len() <= 3);
            names.extend(resp.people.into_iter().map(|p| p.name));
            token = resp.page.unwrap().next_page_token;
            if token.is_empty() {
                break;
            }
        }
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "{}", app.backend);
        assert_eq!(names.len(), 8, "seven people and the administrator");
        let req = pb::ListPeopleRequest {
            page: None,
            department: "Odd".into(),
        };
        let odd = app
            .people()
            .list_people(authorized(req, &app.admin_token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(odd.people.len(), 3);
        let bad = pb::ListPeopleRequest {
            page: Some(PageRequest {
                page_size: 3,
                page_token: "garbage!".into(),
            }),
            department: String::new(),
        };
        let e = app
            .people()
            .list_people(authorized(bad, &app.admin_token))
            .await
            .unwrap_err();
        assert_eq!(field_of(&e).as_deref(), Some("page_token"));
        app.stop().await;
    }
}
