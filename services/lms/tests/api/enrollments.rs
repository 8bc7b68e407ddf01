use lyceum_bus::subjects;
use lyceum_proto::lms::v1 as pb;
use lyceum_server::authorized;
use lyceum_testkit::databases;
use serde_json::Value;
use tonic::Code;

use crate::helpers::{assert_status, course_request, field_of, spawn_app};

fn statements(events: &[lyceum_proto::events::v1::Envelope]) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            assert_eq!(e.content_type, "application/json");
            serde_json::from_slice(&e.payload).unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn completing_every_required_item_completes_the_enrolment_with_statements() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let (learner, token) = app.person(pb::Role::Learner).await;
        let course = app.published_course("SQL Fundamentals").await;
        let items: Vec<String> = course.modules[0]
            .items
            .iter()
            .map(|i| i.id.clone())
            .collect();

        let e = app
            .enrollments()
            .enroll(authorized(
                pb::EnrollRequest {
                    course_id: course.id.clone(),
                    person_id: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (e.status, e.progress),
            (pb::EnrollmentStatus::Active as i32, 0.0)
        );
        assert_status(
            app.enrollments()
                .enroll(authorized(
                    pb::EnrollRequest {
                        course_id: course.id.clone(),
                        person_id: String::new(),
                    },
                    &token,
                ))
                .await,
            Code::AlreadyExists,
            "already enrolled",
        );

        let req = |item: &str| pb::CompleteItemRequest {
            enrollment_id: e.id.clone(),
            item_id: item.to_string(),
        };
        let after_one = app
            .enrollments()
            .complete_item(authorized(req(&items[0]), &token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (after_one.status, after_one.progress),
            (pb::EnrollmentStatus::Active as i32, 0.5)
        );
        // Completing the same item again is harmless.
        let again = app
            .enrollments()
            .complete_item(authorized(req(&items[0]), &token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.completed_item_ids.len(), 1);
        let done = app
            .enrollments()
            .complete_item(authorized(req(&items[1]), &token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (done.status, done.progress),
            (pb::EnrollmentStatus::Completed as i32, 1.0)
        );
        assert!(done.completed_at.is_some());

        let st = statements(&app.events(subjects::XAPI_SUBMIT, 4).await);
        assert_eq!(
            st.len(),
            4,
            "{}: registered, 2 items completed, course completed",
            app.backend
        );
        let verbs: Vec<&str> = st
            .iter()
            .map(|s| s["verb"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            verbs,
            [
                "http://adlnet.gov/expapi/verbs/registered",
                "http://adlnet.gov/expapi/verbs/completed",
                "http://adlnet.gov/expapi/verbs/completed",
                "http://adlnet.gov/expapi/verbs/completed",
            ]
        );
        for s in &st {
            assert_eq!(s["actor"]["account"]["homePage"], "http://lyceum.test");
            assert_eq!(s["actor"]["account"]["name"], learner.id.as_str());
            assert_eq!(s["context"]["registration"], e.id.as_str());
        }
        assert_eq!(st[0]["object"]["id"], course.activity_id.as_str());
        assert_eq!(
            st[1]["context"]["contextActivities"]["parent"][0]["id"],
            course.activity_id.as_str()
        );
        assert_eq!(st[3]["object"]["id"], course.activity_id.as_str());
        assert_eq!(st[3]["result"]["completion"], true);

        assert_eq!(app.events(subjects::ENROLLMENT_COMPLETED, 1).await.len(), 1);
        assert_eq!(app.events(subjects::ENROLLMENT_CREATED, 1).await.len(), 1);
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn enrolments_are_private_and_checked() {
    let db = lyceum_testkit::TestDatabase::sqlite();
    let app = spawn_app(&db).await;
    let (_, token) = app.person(pb::Role::Learner).await;
    let (other, other_token) = app.person(pb::Role::Learner).await;
    let course = app.published_course("Security").await;
    let draft = app
        .courses()
        .create_course(authorized(course_request("Draft"), &app.admin_token))
        .await
        .unwrap()
        .into_inner();

    assert_status(
        app.enrollments()
            .enroll(authorized(
                pb::EnrollRequest {
                    course_id: draft.id.clone(),
                    person_id: String::new(),
                },
                &token,
            ))
            .await,
        Code::NotFound,
        "",
    );
    assert_status(
        app.enrollments()
            .enroll(authorized(
                pb::EnrollRequest {
                    course_id: draft.id.clone(),
                    person_id: String::new(),
                },
                &app.admin_token,
            ))
            .await,
        Code::FailedPrecondition,
        "not published",
    );
    // Only admins enrol others.
    assert_status(
        app.enrollments()
            .enroll(authorized(
                pb::EnrollRequest {
                    course_id: course.id.clone(),
                    person_id: other.id.clone(),
                },
                &token,
            ))
            .await,
        Code::PermissionDenied,
        "",
    );
    let theirs = app
        .enrollments()
        .enroll(authorized(
            pb::EnrollRequest {
                course_id: course.id.clone(),
                person_id: other.id.clone(),
            },
            &app.admin_token,
        ))
        .await
        .unwrap()
        .into_inner();

    assert_status(
        app.enrollments()
            .get_enrollment(authorized(
                pb::GetEnrollmentRequest {
                    id: theirs.id.clone(),
                },
                &token,
            ))
            .await,
        Code::NotFound,
        "",
    );
    let item = course.modules[0].items[0].id.clone();
    assert_status(
        app.enrollments()
            .complete_item(authorized(
                pb::CompleteItemRequest {
                    enrollment_id: theirs.id.clone(),
                    item_id: item.clone(),
                },
                &token,
            ))
            .await,
        Code::NotFound,
        "",
    );
    let foreign_item = draft.modules[0].items[0].id.clone();
    let e = app
        .enrollments()
        .complete_item(authorized(
            pb::CompleteItemRequest {
                enrollment_id: theirs.id.clone(),
                item_id: foreign_item,
            },
            &other_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), field_of(&e).as_deref()),
        (Code::InvalidArgument, Some("item_id"))
    );
    let e = app
        .enrollments()
        .complete_item(authorized(
            pb::CompleteItemRequest {
                enrollment_id: "x".into(),
                item_id: item,
            },
            &other_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_of(&e).as_deref(), Some("enrollment_id"));

    let mine = app
        .enrollments()
        .list_my_enrollments(authorized(
            pb::ListMyEnrollmentsRequest::default(),
            &other_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.enrollments.len(), 1);
    assert_eq!(mine.enrollments[0].id, theirs.id);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_completions_of_the_last_items_complete_the_enrolment_once() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let (_, token) = app.person(pb::Role::Learner).await;
        let course = app.published_course("Race").await;
        let e = app
            .enrollments()
            .enroll(authorized(
                pb::EnrollRequest {
                    course_id: course.id.clone(),
                    person_id: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        let calls = course.modules[0].items.iter().map(|i| {
            let mut client = app.enrollments();
            let req = authorized(
                pb::CompleteItemRequest {
                    enrollment_id: e.id.clone(),
                    item_id: i.id.clone(),
                },
                &token,
            );
            async move { client.complete_item(req).await.unwrap().into_inner() }
        });
        futures_util::future::join_all(calls).await;
        let e = app
            .enrollments()
            .get_enrollment(authorized(
                pb::GetEnrollmentRequest { id: e.id.clone() },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            e.status,
            pb::EnrollmentStatus::Completed as i32,
            "{}",
            app.backend
        );
        assert_eq!(
            app.events(subjects::ENROLLMENT_COMPLETED, 1).await.len(),
            1,
            "{}",
            app.backend
        );
        app.stop().await;
    }
}
