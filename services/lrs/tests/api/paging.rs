//! `more`: following it walks every matching statement once, in order.

use http::StatusCode;
use lyceum_testkit::databases;
use serde_json::{Value, json};

use crate::helpers::*;

async fn walk(app: &TestApp, first: &str) -> (Vec<Vec<String>>, Vec<Value>) {
    let mut pages = Vec::new();
    let mut all = Vec::new();
    let mut next = first.to_string();
    while !next.is_empty() {
        let r = app.get(&next).await;
        assert_eq!(r.status, StatusCode::OK, "{next}: {:?}", r.body);
        let page = r.json();
        let statements = page["statements"].as_array().unwrap().clone();
        pages.push(
            statements
                .iter()
                .map(|s| s["object"]["id"].as_str().unwrap().to_string())
                .collect(),
        );
        all.extend(statements);
        next = page["more"].as_str().unwrap().to_string();
        assert!(pages.len() < 20, "more does not end");
    }
    (pages, all)
}

fn activity(n: u32) -> String {
    format!("http://example.com/activities/{n}")
}

#[tokio::test]
async fn more_pages_through_every_statement_once() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        for n in 1..=5 {
            assert_eq!(
                app.post(&mbox_statement("ada", n)).await.status,
                StatusCode::OK
            );
        }
        app.post(&mbox_statement("bob", 99)).await;

        let agent = encode(&json!({"mbox": "mailto:ada@example.com"}).to_string());
        let (pages, _) = walk(&app, &format!("/xapi/statements?agent={agent}&limit=2")).await;
        assert_eq!(
            pages,
            vec![
                vec![activity(5), activity(4)],
                vec![activity(3), activity(2)],
                vec![activity(1)],
            ],
            "{}",
            app.backend
        );

        let (pages, _) = walk(
            &app,
            &format!("/xapi/statements?agent={agent}&limit=2&ascending=true"),
        )
        .await;
        assert_eq!(
            pages,
            vec![
                vec![activity(1), activity(2)],
                vec![activity(3), activity(4)],
                vec![activity(5)],
            ]
        );

        // Exactly one full page: `more` leads to nothing rather than an empty page.
        let (pages, _) = walk(&app, "/xapi/statements?limit=6").await;
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].len(), 6);

        // since/until bound by stored time.
        let (_, all) = walk(&app, "/xapi/statements?ascending=true").await;
        let third_stored = all[2]["stored"].as_str().unwrap();
        let (pages, _) = walk(
            &app,
            &format!(
                "/xapi/statements?ascending=true&since={}",
                encode(third_stored)
            ),
        )
        .await;
        assert!(!pages[0].contains(&activity(3)));
        assert!(pages[0].contains(&activity(99)));
        let (pages, _) = walk(
            &app,
            &format!(
                "/xapi/statements?ascending=true&until={}",
                encode(third_stored)
            ),
        )
        .await;
        assert!(pages[0].contains(&activity(3)));
        assert!(!pages[0].contains(&activity(99)));

        // A tampered cursor is refused.
        let r = app.get("/xapi/statements?more=garbage").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], "more");
        app.stop().await;
    }
}
