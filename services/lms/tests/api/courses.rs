use lyceum_bus::subjects;
use lyceum_proto::events::v1::CoursePublished;
use lyceum_proto::lms::v1 as pb;
use lyceum_server::authorized;
use lyceum_testkit::databases;
use prost::Message;
use tonic::Code;

use crate::helpers::{assert_status, course_request, field_of, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn publishing_announces_the_course_with_skills_and_items() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let draft = app
            .courses()
            .create_course(authorized(
                course_request("SQL Fundamentals"),
                &app.admin_token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(draft.status, pb::CourseStatus::Draft as i32);
        assert_eq!(
            draft.skills,
            vec!["sql", "data-analysis"],
            "skills are normalised"
        );
        assert_eq!(draft.modules[0].items.len(), 2);
        assert!(draft.activity_id.starts_with("http://lyceum.test/courses/"));

        let published = app
            .courses()
            .publish_course(authorized(
                pb::PublishCourseRequest {
                    id: draft.id.clone(),
                },
                &app.admin_token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(published.status, pb::CourseStatus::Published as i32);
        assert!(published.published_at.is_some());
        // Publishing again changes nothing and announces nothing.
        app.courses()
            .publish_course(authorized(
                pb::PublishCourseRequest {
                    id: draft.id.clone(),
                },
                &app.admin_token,
            ))
            .await
            .unwrap();

        let events = app.events(subjects::COURSE_PUBLISHED, 1).await;
        assert_eq!(events.len(), 1, "{}: one announcement", app.backend);
        let e = &events[0];
        assert_eq!(
            (e.source.as_str(), e.subject_id.as_str()),
            ("lms", draft.id.as_str())
        );
        let payload = CoursePublished::decode(e.payload.as_slice()).unwrap();
        assert_eq!(payload.title, "SQL Fundamentals");
        assert_eq!(payload.skills, vec!["sql", "data-analysis"]);
        assert_eq!(payload.items.len(), 2);
        assert_eq!(payload.activity_id, draft.activity_id);
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_courses_are_refused_with_the_field_named() {
    let db = lyceum_testkit::TestDatabase::sqlite();
    let app = spawn_app(&db).await;
    let mut no_modules = course_request("x");
    no_modules.modules.clear();
    let mut bad_url = course_request("x");
    bad_url.modules[0].items[1].url = "not a url".into();
    let mut bad_kind = course_request("x");
    bad_kind.modules[0].items[0].kind = "hologram".into();
    let mut empty_title = course_request("x");
    empty_title.modules[0].title = "".into();
    let mut bad_skill = course_request("x");
    bad_skill.skills = vec!["ok".into(), "".into()];
    for (req, field) in [
        (course_request("  "), "title"),
        (no_modules, "modules"),
        (bad_url, "modules[0].items[1].url"),
        (bad_kind, "modules[0].items[0].kind"),
        (empty_title, "modules[0].title"),
        (bad_skill, "skills[1]"),
    ] {
        let e = app
            .courses()
            .create_course(authorized(req, &app.admin_token))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert_eq!(field_of(&e).as_deref(), Some(field));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn learners_see_published_courses_only_and_cannot_author() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let (_, learner) = app.person(pb::Role::Learner).await;
        let (_, author) = app.person(pb::Role::Author).await;
        let published = app.published_course("B published").await;
        let draft = app
            .courses()
            .create_course(authorized(course_request("A draft"), &author))
            .await
            .unwrap()
            .into_inner();

        assert_status(
            app.courses()
                .create_course(authorized(course_request("x"), &learner))
                .await,
            Code::PermissionDenied,
            "author",
        );
        assert_status(
            app.courses()
                .publish_course(authorized(
                    pb::PublishCourseRequest {
                        id: draft.id.clone(),
                    },
                    &learner,
                ))
                .await,
            Code::PermissionDenied,
            "",
        );
        assert_status(
            app.courses()
                .get_course(authorized(
                    pb::GetCourseRequest {
                        id: draft.id.clone(),
                    },
                    &learner,
                ))
                .await,
            Code::NotFound,
            "not found",
        );
        let seen = app
            .courses()
            .get_course(authorized(
                pb::GetCourseRequest {
                    id: published.id.clone(),
                },
                &learner,
            ))
            .await
            .unwrap();
        assert_eq!(seen.into_inner().title, "B published");

        let list = app
            .courses()
            .list_courses(authorized(pb::ListCoursesRequest::default(), &learner))
            .await
            .unwrap()
            .into_inner();
        let titles: Vec<_> = list.courses.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, vec!["B published"], "{}", app.backend);
        let list = app
            .courses()
            .list_courses(authorized(pb::ListCoursesRequest::default(), &author))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(list.courses.len(), 2);
        assert_status(
            app.courses()
                .publish_course(authorized(
                    pb::PublishCourseRequest {
                        id: uuid::Uuid::now_v7().to_string(),
                    },
                    &author,
                ))
                .await,
            Code::NotFound,
            "",
        );
        app.stop().await;
    }
}
