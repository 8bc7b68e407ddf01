//! Statement queries: agent (with group members and related_agents), verb, activity (with
//! related_activities), registration, since/until, ascending, and statements that target a
//! matching statement through StatementRefs (voiding statements among them).

use http::StatusCode;
use lyceum_testkit::databases;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

async fn ids(app: &TestApp, query: &str) -> Vec<String> {
    let r = app.get(&format!("/xapi/statements?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
    r.json()["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

async fn post_one(app: &TestApp, s: &Value) -> String {
    let r = app.post(s).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.json()[0].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_filter_and_statement_refs() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let tag = Uuid::new_v4();
        let ada = json!({"mbox": format!("mailto:ada-{tag}@example.com")});
        let bob = json!({"mbox": format!("mailto:bob-{tag}@example.com")});
        let ada_q = encode(&ada.to_string());
        let bob_q = encode(&bob.to_string());
        let reg = Uuid::new_v4();
        let course = format!("http://example.com/courses/{tag}");
        let lesson = format!("http://example.com/lessons/{tag}");
        let verb = format!("http://example.com/verbs/{tag}");

        // a: ada did `verb` on the lesson, in the course, in `reg`.
        let a = post_one(
            &app,
            &json!({"actor": ada, "verb": {"id": verb},
            "object": {"id": lesson},
            "context": {"registration": reg.to_string(), "instructor": bob,
                "contextActivities": {"parent": [{"id": course}]}}}),
        )
        .await;
        // b: a group with bob as member experienced the course.
        let b = post_one(
            &app,
            &json!({"actor": {"objectType": "Group", "member": [bob]},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": course}}),
        )
        .await;
        // c: bob refers to a (a StatementRef), d: ada refers to c (a chain).
        let c = post_one(
            &app,
            &json!({"actor": bob, "verb": {"id": "http://example.com/verbs/liked"},
            "object": {"objectType": "StatementRef", "id": a}}),
        )
        .await;
        let d = post_one(
            &app,
            &json!({"actor": {"mbox": "mailto:carol@example.com"},
            "verb": {"id": "http://example.com/verbs/shared"},
            "object": {"objectType": "StatementRef", "id": c}}),
        )
        .await;

        // verb: a, and what refers to a (c, and d through c).
        assert_eq!(
            ids(&app, &format!("verb={}", encode(&verb))).await,
            vec![d.clone(), c.clone(), a.clone()]
        );
        // activity: object only, then anywhere.
        assert_eq!(
            ids(&app, &format!("activity={}", encode(&course))).await,
            vec![b.clone()]
        );
        assert_eq!(
            ids(
                &app,
                &format!("activity={}&related_activities=true", encode(&course))
            )
            .await,
            vec![d.clone(), c.clone(), b.clone(), a.clone()]
        );
        // registration.
        assert_eq!(
            ids(&app, &format!("registration={reg}")).await,
            vec![d.clone(), c.clone(), a.clone()]
        );
        // agent: actor or object (members of a group count), then anywhere.
        assert_eq!(
            ids(&app, &format!("agent={ada_q}")).await,
            vec![d.clone(), c.clone(), a.clone()]
        );
        assert_eq!(
            ids(&app, &format!("agent={bob_q}")).await,
            vec![d.clone(), c.clone(), b.clone()]
        );
        assert_eq!(
            ids(&app, &format!("agent={bob_q}&related_agents=true")).await,
            vec![d.clone(), c.clone(), b.clone(), a.clone()]
        );
        // Combined filters, ascending, limit.
        assert_eq!(
            ids(
                &app,
                &format!("agent={ada_q}&verb={}&ascending=true", encode(&verb))
            )
            .await,
            vec![a.clone(), c.clone(), d.clone()]
        );
        assert_eq!(
            ids(&app, &format!("registration={reg}&limit=1")).await,
            vec![d.clone()]
        );

        // since / until on stored.
        let stored = app
            .get(&format!("/xapi/statements?statementId={b}"))
            .await
            .json()["stored"]
            .as_str()
            .unwrap()
            .to_string();
        let after_b = ids(
            &app,
            &format!(
                "related_activities=true&activity={}&since={}",
                encode(&course),
                encode(&stored)
            ),
        )
        .await;
        assert!(
            !after_b.contains(&b) && !after_b.contains(&a),
            "{after_b:?}"
        );
        let until_b = ids(
            &app,
            &format!(
                "related_activities=true&activity={}&until={}",
                encode(&course),
                encode(&stored)
            ),
        )
        .await;
        assert!(until_b.contains(&b) && until_b.contains(&a));

        // Voiding a: a leaves the results, the voiding statement is found by a's filters.
        let v = post_one(
            &app,
            &json!({"actor": bob, "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": a}}),
        )
        .await;
        let by_verb = ids(&app, &format!("verb={}", encode(&verb))).await;
        assert_eq!(by_verb, vec![v.clone(), d.clone(), c.clone()]);
        assert_eq!(
            app.get(&format!("/xapi/statements?voidedStatementId={a}"))
                .await
                .status,
            StatusCode::OK
        );

        // Bad filter values: 400.
        for bad in [
            "verb=not-an-iri",
            "registration=x",
            "since=monday",
            "limit=-1",
            "ascending=yes",
            "agent=%7B%22name%22%3A%22x%22%7D",
            "statementId=x&verb=http://e.com/v",
            "Agent=x",
        ] {
            assert_eq!(
                app.get(&format!("/xapi/statements?{bad}")).await.status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn statement_refs_match_whatever_order_statements_arrive_in() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let tag = Uuid::new_v4();
        let ada = json!({"mbox": format!("mailto:ada-{tag}@example.com")});
        let bob = json!({"mbox": format!("mailto:bob-{tag}@example.com")});
        let ada_q = encode(&ada.to_string());
        let bob_q = encode(&bob.to_string());
        let verb = format!("http://example.com/verbs/{tag}");
        let lesson = format!("http://example.com/lessons/{tag}");
        let a = Uuid::new_v4().to_string();

        // c refers to a before a exists, d to c.
        let c = post_one(
            &app,
            &json!({"actor": bob, "verb": {"id": "http://example.com/verbs/liked"},
            "object": {"objectType": "StatementRef", "id": a}}),
        )
        .await;
        let d = post_one(
            &app,
            &json!({"actor": {"mbox": "mailto:carol@example.com"},
            "verb": {"id": "http://example.com/verbs/shared"},
            "object": {"objectType": "StatementRef", "id": c}}),
        )
        .await;
        assert!(
            ids(&app, &format!("verb={}", encode(&verb)))
                .await
                .is_empty()
        );
        post_one(
            &app,
            &json!({"id": a, "actor": ada, "verb": {"id": verb}, "object": {"id": lesson}}),
        )
        .await;
        let all = vec![a.clone(), d.clone(), c.clone()];
        assert_eq!(ids(&app, &format!("verb={}", encode(&verb))).await, all);
        assert_eq!(ids(&app, &format!("agent={ada_q}")).await, all);
        assert_eq!(
            ids(&app, &format!("activity={}", encode(&lesson))).await,
            all
        );
        assert_eq!(
            ids(&app, &format!("agent={ada_q}&verb={}", encode(&verb))).await,
            all
        );
        // One target must match every filter: c is bob's, a is `verb`'s, none is both.
        assert_eq!(
            ids(&app, &format!("agent={bob_q}&verb={}", encode(&verb))).await,
            Vec::<String>::new()
        );
        assert_eq!(
            ids(&app, &format!("agent={bob_q}")).await,
            vec![d.clone(), c.clone()]
        );
        // The authority is a related agent, of a target stored earlier too.
        let g = post_one(
            &app,
            &json!({"actor": bob, "verb": {"id": "http://example.com/verbs/liked"},
            "object": {"objectType": "StatementRef", "id": a}}),
        )
        .await;
        let authority = app
            .get(&format!("/xapi/statements?statementId={a}"))
            .await
            .json()["authority"]
            .to_string();
        assert_eq!(
            ids(
                &app,
                &format!(
                    "agent={}&related_agents=true&verb={}",
                    encode(&authority),
                    encode(&verb)
                )
            )
            .await,
            vec![g, a.clone(), d.clone(), c]
        );

        // A reference and its target in one batch.
        let f = Uuid::new_v4().to_string();
        let other = format!("http://example.com/verbs/other-{tag}");
        let r = app
            .post(&json!([
                {"actor": bob, "verb": {"id": "http://example.com/verbs/liked"},
                 "object": {"objectType": "StatementRef", "id": f}},
                {"id": f, "actor": ada, "verb": {"id": other}, "object": {"id": lesson}}
            ]))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let e = r.json()[0].as_str().unwrap().to_string();
        assert_eq!(
            ids(&app, &format!("verb={}", encode(&other))).await,
            vec![f, e]
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn voiding_rules() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let target = post_one(&app, &mbox_statement("ada", 20)).await;
        let voiding = |id: &str| {
            json!({"actor": {"mbox": "mailto:admin@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": id}})
        };
        let v1 = post_one(&app, &voiding(&target)).await;
        // Voiding again, voiding a voiding statement, voiding an unknown statement: accepted,
        // and a voiding statement is never voided.
        post_one(&app, &voiding(&target)).await;
        post_one(&app, &voiding(&v1)).await;
        post_one(&app, &voiding(&Uuid::new_v4().to_string())).await;
        assert_eq!(
            app.get(&format!("/xapi/statements?statementId={v1}"))
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            app.get(&format!("/xapi/statements?statementId={target}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get(&format!("/xapi/statements?voidedStatementId={target}"))
                .await
                .status,
            StatusCode::OK
        );
        // A voiding statement that arrives before its target voids it on arrival.
        let early = Uuid::new_v4();
        post_one(&app, &voiding(&early.to_string())).await;
        let mut late = mbox_statement("ada", 21);
        late["id"] = json!(early.to_string());
        post_one(&app, &late).await;
        assert_eq!(
            app.get(&format!("/xapi/statements?statementId={early}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get(&format!("/xapi/statements?voidedStatementId={early}"))
                .await
                .status,
            StatusCode::OK
        );
        // The object of a voiding statement must be a StatementRef.
        let mut bad = voiding(&target);
        bad["object"] = json!({"id": "http://example.com/a"});
        assert_eq!(app.post(&bad).await.status, StatusCode::BAD_REQUEST);
        app.stop().await;
    }
}
