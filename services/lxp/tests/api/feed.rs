use lyceum_auth::Role;
use lyceum_bus::NewEvent;
use lyceum_proto::lxp::v1 as pb;
use lyceum_server::authorized;
use lyceum_testkit::databases;
use lyceum_xapi::vocab::verbs;
use uuid::Uuid;

use crate::helpers::{TestApp, eventually, page, spawn_app, titles};

/// How a scenario's events reach the bus.
#[derive(Clone, Copy)]
pub enum Emit {
    /// Published directly.
    Bus,
    /// Through a producer's outbox and relay.
    Outbox,
}

async fn emit(app: &TestApp, how: Emit, events: &[NewEvent]) {
    match how {
        Emit::Bus => app.emit(events).await,
        Emit::Outbox => app.emit_through_outbox(events).await,
    }
}

/// Someone completes "SQL Fundamentals" [sql, data-analysis]: courses sharing its skills
/// outrank a more popular unrelated one, and the completed course leaves the feed.
pub async fn skills_scenario(app: &TestApp, how: Emit) {
    let backend = app.backend;
    let courses = [
        ("SQL Fundamentals", vec!["sql", "data-analysis"]),
        ("Negotiation", vec!["negotiation"]),
        ("Advanced SQL", vec!["sql"]),
        ("Data Visualisation", vec!["data-analysis"]),
    ];
    let mut ids = Vec::new();
    for (title, skills) in &courses {
        let id = Uuid::now_v7();
        emit(app, how, &[app.course_event(id, title, skills)]).await;
        app.wait_for_item(id).await;
        ids.push(id);
    }
    let [fundamentals, negotiation, advanced, _visualisation] = ids[..] else {
        unreachable!()
    };

    // Colleagues: three took Negotiation, one Advanced SQL.
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(app.statement_event(
            Uuid::now_v7(),
            verbs::REGISTERED,
            &app.identity.course_activity(negotiation),
        ));
    }
    events.push(app.statement_event(
        Uuid::now_v7(),
        verbs::COMPLETED,
        &app.identity.course_activity(advanced),
    ));

    let (me, token) = app.learner();
    let course = app.identity.course_activity(fundamentals);
    events.extend([
        app.statement_event(me, verbs::REGISTERED, &course),
        app.statement_event(
            me,
            verbs::COMPLETED,
            &app.identity.item_activity(fundamentals, Uuid::now_v7()),
        ),
        app.statement_event(me, verbs::COMPLETED, &course),
    ]);
    emit(app, how, &events).await;
    app.wait_for_item_where(negotiation, |i| i.popularity == 3)
        .await;
    app.wait_for_item_where(advanced, |i| i.popularity == 1)
        .await;

    let feed = eventually("the completed course to leave the feed", || async {
        let feed = app.feed_of(&token).await;
        (feed.recommendations.len() == 3).then_some(feed)
    })
    .await;
    assert_eq!(
        titles(&feed),
        vec!["Advanced SQL", "Data Visualisation", "Negotiation"],
        "{backend}"
    );
    let r = &feed.recommendations;
    assert_eq!(r[0].matched_skills, vec!["sql"]);
    assert_eq!(r[0].reason, "Builds on sql from SQL Fundamentals");
    assert_eq!(r[1].matched_skills, vec!["data-analysis"]);
    assert_eq!(r[1].reason, "Builds on data-analysis from SQL Fundamentals");
    assert!(r[2].matched_skills.is_empty());
    assert!(r[0].score > r[1].score && r[1].score > r[2].score);
    assert_eq!(r[2].item.as_ref().unwrap().popularity, 3);
    // A completion outweighs the registration and the item activity on the same course.
    assert_eq!(feed.profile.len(), 2);
    assert_eq!(feed.profile["sql"], 1.0);
    assert_eq!(feed.profile["data-analysis"], 1.0);
    assert_eq!(app.item(fundamentals).await.popularity, 1);

    // Paged: two, then the last one.
    let first = app
        .feed()
        .get_feed(authorized(pb::GetFeedRequest { page: page(2, "") }, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(titles(&first), vec!["Advanced SQL", "Data Visualisation"]);
    let next = first.page.unwrap().next_page_token;
    let second = app
        .feed()
        .get_feed(authorized(
            pb::GetFeedRequest {
                page: page(2, &next),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(titles(&second), vec!["Negotiation"]);
    assert!(second.page.unwrap().next_page_token.is_empty());

    // Someone new gets the most popular first, then the newest.
    let newcomer = app.token(Uuid::now_v7(), Role::Manager);
    let feed = app.feed_of(&newcomer).await;
    assert_eq!(
        titles(&feed),
        vec![
            "Negotiation",
            "Advanced SQL",
            "SQL Fundamentals",
            "Data Visualisation"
        ],
        "{backend}"
    );
    assert!(feed.profile.is_empty());
    assert_eq!(
        feed.recommendations[0].reason,
        "Popular: taken by 3 colleagues"
    );
    assert_eq!(feed.recommendations[3].reason, "New in the catalogue");
}

#[tokio::test]
async fn the_feed_ranks_what_builds_on_completed_courses_first() {
    for db in databases().await {
        let app = spawn_app(&db).await;
        skills_scenario(&app, Emit::Bus).await;
        app.stop().await;
    }
}
