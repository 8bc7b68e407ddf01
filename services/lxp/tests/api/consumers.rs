use lyceum_auth::Role;
use lyceum_bus::{NewEvent, subjects};
use lyceum_proto::events::v1::{CoursePublished, StatementStored};
use lyceum_proto::lxp::v1 as pb;
use lyceum_proto::timestamp::from_time;
use lyceum_server::authorized;
use lyceum_testkit::{NatsServer, databases};
use lyceum_xapi::vocab::verbs;
use prost::Message;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::feed::{Emit, skills_scenario};
use crate::helpers::{
    SENTINEL, TestApp, eventually, memory_bus, nats_bus, spawn_app, spawn_app_on, titles,
};

/// Waits until every event emitted so far has been applied by both consumers: a fresh course
/// and a registration for it go through after everything before them.
async fn drain(app: &TestApp) {
    let id = Uuid::now_v7();
    app.emit(&[
        app.statement_event(
            Uuid::now_v7(),
            verbs::REGISTERED,
            &app.identity.course_activity(id),
        ),
        app.course_event(id, SENTINEL, &[]),
    ])
    .await;
    app.wait_for_item_where(id, |i| i.popularity == 1).await;
}

fn with_payload(event: &NewEvent, payload: &impl Message) -> NewEvent {
    let mut e = event.clone();
    e.envelope.payload = payload.encode_to_vec();
    e
}

#[tokio::test]
async fn redelivered_and_duplicate_events_change_nothing() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let backend = app.backend;
        let course = Uuid::now_v7();
        let published = app.course_event(course, "Original", &["sql"]);
        let registered = app.statement_event(
            Uuid::now_v7(),
            verbs::REGISTERED,
            &app.identity.course_activity(course),
        );
        app.emit(&[published.clone(), registered.clone()]).await;
        app.wait_for_item_where(course, |i| i.popularity == 1).await;

        // The same events again, and the same statement in a new event.
        let stored = StatementStored::decode(registered.envelope.payload.as_slice()).unwrap();
        let again = NewEvent::proto(
            subjects::STATEMENT_STORED,
            "lrs",
            &stored.statement_id,
            &stored,
        );
        app.emit(&[published.clone(), registered.clone(), again])
            .await;
        drain(&app).await;
        assert_eq!(app.item(course).await.popularity, 1, "{backend}");

        // A redelivery the bus cannot de-duplicate (its memory is gone with the old process).
        // The payloads differ so that applying them again would show.
        let app = app.restart(memory_bus()).await;
        let mut changed = CoursePublished::decode(published.envelope.payload.as_slice()).unwrap();
        changed.title = "Applied twice".into();
        let mut other = stored.clone();
        other.statement_id = Uuid::new_v4().to_string();
        other.person_id = Uuid::now_v7().to_string();
        app.emit(&[
            with_payload(&published, &changed),
            with_payload(&registered, &other),
        ])
        .await;
        drain(&app).await;
        let item = app.item(course).await;
        assert_eq!(
            (item.title.as_str(), item.popularity),
            ("Original", 1),
            "{backend}"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_republished_course_is_updated_but_an_older_version_is_ignored() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let course = app.course("SQL", &["sql"]).await;
        let mut newer = app.course_event(course, "SQL, second edition", &["sql", "postgres"]);
        let mut payload = CoursePublished::decode(newer.envelope.payload.as_slice()).unwrap();
        payload.published_at = Some(from_time(OffsetDateTime::now_utc() + Duration::hours(1)));
        newer = with_payload(&newer, &payload);
        app.emit(&[newer]).await;
        let item = app
            .wait_for_item_where(course, |i| i.title == "SQL, second edition")
            .await;
        assert_eq!(item.skills, vec!["sql", "postgres"], "{}", app.backend);

        app.emit(&[app.course_event(course, "SQL, stale", &["sql"])])
            .await;
        drain(&app).await;
        let item = app.item(course).await;
        assert_eq!(item.title, "SQL, second edition", "{}", app.backend);
        assert_eq!(item.skills, vec!["sql", "postgres"]);
        app.stop().await;
    }
}

#[tokio::test]
async fn statements_that_arrive_before_their_content_still_count() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        let backend = app.backend;
        let (me, token) = app.learner();
        let (course, next) = (Uuid::now_v7(), Uuid::now_v7());
        let activity = app.identity.course_activity(course);
        let completion = Uuid::new_v4();
        let url = "https://blog.example/sql-joins";
        app.emit(&[
            app.statement_event(me, verbs::REGISTERED, &activity),
            app.statement_event_with_id(completion, me, verbs::COMPLETED, &activity),
            app.statement_event(me, verbs::COMPLETED, url),
        ])
        .await;
        drain(&app).await;

        app.emit(&[
            app.course_event(course, "SQL Fundamentals", &["sql"]),
            app.course_event(next, "Advanced SQL", &["sql"]),
        ])
        .await;
        app.wait_for_item(next).await;
        assert_eq!(app.item(course).await.popularity, 1, "{backend}");
        let feed = app.feed_of(&token).await;
        assert!(
            !titles(&feed).contains(&"SQL Fundamentals".to_string()),
            "{backend}"
        );
        assert_eq!(
            feed.recommendations[0].item.as_ref().unwrap().title,
            "Advanced SQL"
        );
        assert_eq!(
            feed.recommendations[0].reason,
            "Builds on sql from SQL Fundamentals"
        );
        assert_eq!(feed.profile["sql"], 1.0);

        // External content matches by URL when it is added.
        let author = app.token(Uuid::now_v7(), Role::Author);
        let article = app
            .catalog()
            .add_external_item(authorized(
                pb::AddExternalItemRequest {
                    kind: "article".into(),
                    title: "Joins explained".into(),
                    description: String::new(),
                    url: url.into(),
                    skills: vec!["sql".into()],
                },
                &author,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(article.popularity, 1, "{backend}");
        let feed = app.feed_of(&token).await;
        assert_eq!(titles(&feed), vec!["Advanced SQL"], "{backend}");
        assert_eq!(feed.profile["sql"], 2.0);

        // Voiding the course completion takes it back.
        let voiding = Uuid::new_v4();
        let statement = serde_json::json!({
            "id": voiding.to_string(),
            "actor": app.identity.agent(me, ""),
            "verb": {"id": verbs::VOIDED},
            "object": {"objectType": "StatementRef", "id": completion.to_string()},
        });
        app.emit(&[NewEvent::proto(
            subjects::STATEMENT_STORED,
            "lrs",
            voiding,
            &StatementStored {
                statement_id: voiding.to_string(),
                person_id: me.to_string(),
                verb_id: verbs::VOIDED.into(),
                activity_id: String::new(),
                statement_json: statement.to_string(),
            },
        )])
        .await;
        let feed = eventually("the voided completion to be forgotten", || async {
            let feed = app.feed_of(&token).await;
            (titles(&feed).len() == 2).then_some(feed)
        })
        .await;
        assert!(titles(&feed).contains(&"SQL Fundamentals".to_string()));
        // The registration remains.
        assert!(
            (feed.profile["sql"] - 1.3).abs() < 1e-9,
            "{:?}",
            feed.profile
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn the_consumers_work_on_nats() {
    for db in databases().await {
        let Some(nats) = NatsServer::start() else {
            return;
        };
        let app = spawn_app_on(&db, nats_bus(&nats.url()).await).await;
        skills_scenario(&app, Emit::Outbox).await;
        app.stop().await;
    }
}
