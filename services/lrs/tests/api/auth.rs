//! Who may do what: HTTP Basic clients and their scopes, platform tokens and their roles.

use http::{Method, StatusCode};
use lyceum_auth::Role;
use lyceum_testkit::databases;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

fn ids(list: &Value) -> Vec<String> {
    list["statements"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_with_a_basic_challenge() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let body = mbox_statement("ada", 1);
        for auth in [
            String::new(),
            basic(KEY, "wrong-secret"),
            basic("nobody", SECRET),
            "Basic !!!".to_string(),
            "Bearer not-a-token".to_string(),
            "Digest x".to_string(),
        ] {
            for (method, b) in [(Method::POST, Some(&body)), (Method::GET, None)] {
                let r = app.xapi(method.clone(), "/xapi/statements", &auth, b).await;
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} with {auth:?}");
                let challenges: Vec<_> = r
                    .headers
                    .get_all("www-authenticate")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_string())
                    .collect();
                assert_eq!(challenges[0], "Basic realm=\"xapi\"");
                assert!(r.header("x-experience-api-version").is_some());
                assert_eq!(r.header("content-type"), Some("application/problem+json"));
            }
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn scopes_limit_what_a_client_may_do() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        app.client("reader", "reader-secret", &["statements/read"])
            .await;
        app.client("writer", "writer-secret", &["statements/write"])
            .await;
        app.client(
            "mine",
            "mine-secret",
            &["statements/write", "statements/read/mine"],
        )
        .await;
        let reader = basic("reader", "reader-secret");
        let writer = basic("writer", "writer-secret");
        let mine = basic("mine", "mine-secret");

        let r = app
            .xapi(
                Method::POST,
                "/xapi/statements",
                &reader,
                Some(&mbox_statement("ada", 1)),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app
            .xapi(
                Method::POST,
                "/xapi/statements",
                &writer,
                Some(&mbox_statement("ada", 1)),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let by_writer = r.json()[0].as_str().unwrap().to_string();
        let r = app
            .xapi(Method::GET, "/xapi/statements", &writer, None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.detail().contains("statements/read"), "{}", r.detail());

        let r = app
            .xapi(
                Method::POST,
                "/xapi/statements",
                &mine,
                Some(&mbox_statement("bob", 2)),
            )
            .await;
        let by_mine = r.json()[0].as_str().unwrap().to_string();

        // statements/read sees everything; statements/read/mine only what it stored.
        let all = app
            .xapi(Method::GET, "/xapi/statements", &reader, None)
            .await;
        assert_eq!(ids(&all.json()).len(), 2);
        let own = app.xapi(Method::GET, "/xapi/statements", &mine, None).await;
        assert_eq!(ids(&own.json()), vec![by_mine.clone()]);
        let r = app
            .xapi(
                Method::GET,
                &format!("/xapi/statements?statementId={by_writer}"),
                &mine,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        app.stop().await;
    }
}

#[tokio::test]
async fn learners_record_and_read_only_their_own_statements() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let ada = Uuid::now_v7();
        let bob = Uuid::now_v7();
        let ada_auth = app.bearer(ada, Role::Learner);

        // Ada records her own statement; one about Bob is refused.
        let r = app
            .xapi(
                Method::POST,
                "/xapi/statements",
                &ada_auth,
                Some(&statement(person_agent(ada), 1)),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let adas = r.json()[0].as_str().unwrap().to_string();
        let r = app
            .xapi(
                Method::POST,
                "/xapi/statements",
                &ada_auth,
                Some(&statement(person_agent(bob), 2)),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.detail().starts_with("actor:"), "{}", r.detail());

        // Statements about Bob, stored by the platform.
        let bobs = app.post(&statement(person_agent(bob), 3)).await.json()[0]
            .as_str()
            .unwrap()
            .to_string();

        // Ada sees only hers, and may not ask for Bob's.
        let list = app
            .xapi(Method::GET, "/xapi/statements", &ada_auth, None)
            .await;
        assert_eq!(list.status, StatusCode::OK);
        assert_eq!(ids(&list.json()), vec![adas.clone()]);
        let r = app
            .xapi(
                Method::GET,
                &format!(
                    "/xapi/statements?agent={}",
                    encode(&person_agent(bob).to_string())
                ),
                &ada_auth,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app
            .xapi(
                Method::GET,
                &format!("/xapi/statements?statementId={bobs}"),
                &ada_auth,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = app
            .xapi(
                Method::GET,
                &format!(
                    "/xapi/statements?agent={}",
                    encode(&person_agent(ada).to_string())
                ),
                &ada_auth,
                None,
            )
            .await;
        assert_eq!(ids(&r.json()), vec![adas.clone()]);

        // Instructors and administrators read everything; so do internal services.
        for auth in [
            app.bearer(Uuid::now_v7(), Role::Instructor),
            app.bearer(Uuid::now_v7(), Role::Admin),
            app.service_bearer(),
        ] {
            let r = app.xapi(Method::GET, "/xapi/statements", &auth, None).await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(ids(&r.json()).len(), 2);
        }

        // The authority of Ada's statement is Ada.
        let s = app
            .get(&format!("/xapi/statements?statementId={adas}"))
            .await
            .json();
        assert_eq!(s["authority"]["account"]["name"], json!(ada.to_string()));

        // An expired or foreign token is a 401.
        let foreign = lyceum_auth::TokenSigner::new(
            &lyceum_auth::keys::generate(),
            "lyceum",
            std::time::Duration::from_secs(60),
        )
        .person_token(ada, Role::Learner, "a@b.c", "A");
        let r = app
            .xapi(
                Method::GET,
                "/xapi/statements",
                &format!("Bearer {foreign}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        app.stop().await;
    }
}

#[tokio::test]
async fn registering_a_client_again_replaces_its_secret_and_scopes() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        app.client("rotating", "old-secret", &["statements/read"])
            .await;
        let old = basic("rotating", "old-secret");
        let r = app.xapi(Method::GET, "/xapi/statements", &old, None).await;
        assert_eq!(r.status, StatusCode::OK);

        app.client("rotating", "new-secret", &["statements/write"])
            .await;
        let r = app.xapi(Method::GET, "/xapi/statements", &old, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let new = basic("rotating", "new-secret");
        let r = app.xapi(Method::GET, "/xapi/statements", &new, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app
            .xapi(
                Method::POST,
                "/xapi/statements",
                &new,
                Some(&mbox_statement("ada", 1)),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        app.stop().await;
    }
}

#[tokio::test]
async fn document_scopes_and_definitions() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        app.client("state-only", "state-secret", &["state"]).await;
        app.client("profile-only", "profile-secret", &["profile"])
            .await;
        app.client("reader", "reader-secret", &["all/read"]).await;
        app.client("writer", "writer-secret", &["statements/write"])
            .await;
        app.client("definer", "definer-secret", &["statements/write", "define"])
            .await;
        let agent = encode(&json!({"mbox": "mailto:ada@example.com"}).to_string());
        let act = encode("http://example.com/activities/scoped");
        let state = format!("/xapi/activities/state?activityId={act}&agent={agent}&stateId=s");
        let profile = format!("/xapi/activities/profile?activityId={act}&profileId=p");
        let put = |who: &'static str, secret: &'static str, path: String| {
            let app = &app;
            async move {
                app.request(
                    Method::PUT,
                    &path,
                    &[
                        ("x-experience-api-version", "1.0.3"),
                        ("authorization", &basic(who, secret)),
                        ("content-type", "text/plain"),
                        ("if-none-match", "*"),
                    ],
                    Some(b"doc".to_vec()),
                )
                .await
                .status
            }
        };
        assert_eq!(
            put("state-only", "state-secret", state.clone()).await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            put("state-only", "state-secret", profile.clone()).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            put("profile-only", "profile-secret", profile.clone()).await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            put("profile-only", "profile-secret", state.clone()).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            put("reader", "reader-secret", state.clone()).await,
            StatusCode::FORBIDDEN
        );
        let r = app
            .xapi(Method::GET, &state, &basic("reader", "reader-secret"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(&r.body[..], b"doc");
        let r = app
            .xapi(Method::GET, &state, &basic("writer", "writer-secret"), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // Only `define` (or `all`) changes canonical activity definitions.
        let id = "http://example.com/activities/defined";
        let mut s = mbox_statement("ada", 1);
        s["object"] = json!({"id": id, "definition": {"name": {"en-US": "From a writer"}}});
        let r = app
            .xapi(
                Method::POST,
                "/xapi/statements",
                &basic("writer", "writer-secret"),
                Some(&s),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let path = format!("/xapi/activities?activityId={}", encode(id));
        assert!(app.get(&path).await.json().get("definition").is_none());
        s["object"]["definition"]["name"] = json!({"en-US": "From a definer"});
        let r = app
            .xapi(
                Method::POST,
                "/xapi/statements",
                &basic("definer", "definer-secret"),
                Some(&s),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            app.get(&path).await.json()["definition"]["name"]["en-US"],
            "From a definer"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn clients_written_to_the_database_take_effect_within_the_cache_time() {
    for db in databases().await {
        let app = spawn_app(&db, memory_bus()).await;
        let auth = basic("from-cli", "cli-secret-1");
        // Unknown (and cached as unknown) first.
        let r = app.xapi(Method::GET, "/xapi/statements", &auth, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        app.client_in_database("from-cli", "cli-secret-1", &["all"])
            .await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(8);
        loop {
            let r = app.xapi(Method::GET, "/xapi/statements", &auth, None).await;
            if r.status == StatusCode::OK {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "never accepted");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        app.stop().await;
    }
}
