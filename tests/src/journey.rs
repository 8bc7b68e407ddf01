//! The learning journey through the public API, with what must be true at each step.
//!
//! 1. The admin signs in, creates a learner and three courses (one with a video and a document
//!    tagged `sql` and `data-analysis`, one sharing `sql`, one unrelated) and publishes them.
//! 2. The LXP's catalogue shows them (LMS `course.published` -> LXP).
//! 3. The learner signs in, enrols, completes both items; the enrolment completes.
//! 4. The LRS has the learner's statements (registered, two completed items, completed course),
//!    as valid xAPI through the gateway's `/xapi`, with the version header.
//! 5. The learner's feed leaves the completed course out and ranks first the course that shares
//!    its skills.

use std::time::Duration;

use anyhow::{Context, ensure};
use base64::Engine;
use http::Method;
use serde_json::{Value, json};

use crate::eventually;
use crate::http::Http;

/// Credentials the journey needs.
pub struct Credentials {
    /// Administrator e-mail.
    pub admin_email: String,
    /// Administrator password.
    pub admin_password: String,
    /// LRS xAPI client `key:secret`.
    pub xapi_client: String,
}

/// What the journey observed, for reports.
#[derive(Debug)]
pub struct Observed {
    /// Statements the LRS returned for the learner.
    pub statements: usize,
    /// Titles of the feed, in order.
    pub feed: Vec<String>,
}

fn course(title: &str, skills: &[&str]) -> Value {
    json!({
        "title": title,
        "description": format!("{title}, for the journey"),
        "skills": skills,
        "modules": [{
            "title": "Module 1",
            "items": [
                {"title": "Watch", "kind": "video", "url": "https://media.example.com/v.mp4"},
                {"title": "Read", "kind": "document", "url": "https://docs.example.com/d.pdf"}
            ]
        }]
    })
}

/// Walks the journey against the gateway at `http`.
pub async fn run(http: &Http, creds: &Credentials) -> anyhow::Result<Observed> {
    let wait = Duration::from_secs(30);
    let suffix = uuid::Uuid::new_v4().simple().to_string();

    // 1. Admin: learner, courses, publish.
    let admin = http
        .token(&creds.admin_email, &creds.admin_password)
        .await
        .context("admin token")?;
    let learner_email = format!("learner-{suffix}@example.com");
    let learner = http
        .post(
            "/api/v1/people",
            &admin,
            &json!({"email": learner_email, "name": "Journey Learner", "department": "Finance",
                    "role": "learner", "password": "journey-password"}),
        )
        .await?
        .expect(201)?
        .json();
    let learner_id = learner["id"].as_str().context("learner id")?.to_string();
    ensure!(learner["department"] == "Finance");

    let mut ids = Vec::new();
    for (title, skills) in [
        (
            format!("SQL Fundamentals {suffix}"),
            vec!["sql", "data-analysis"],
        ),
        (format!("Advanced SQL {suffix}"), vec!["sql"]),
        (format!("Negotiation {suffix}"), vec!["negotiation"]),
    ] {
        let c = http
            .post("/api/v1/courses", &admin, &course(&title, &skills))
            .await?
            .expect(201)?
            .json();
        let id = c["id"].as_str().context("course id")?.to_string();
        let p = http
            .post(&format!("/api/v1/courses/{id}/publish"), &admin, &json!({}))
            .await?
            .expect(200)?
            .json();
        ensure!(p["status"] == "published", "published: {p}");
        ids.push((id, title, p));
    }
    let (course_id, _, published) = &ids[0];
    let items: Vec<String> = published["modules"][0]["items"]
        .as_array()
        .context("items")?
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_default().to_string())
        .collect();
    ensure!(items.len() == 2);

    // 2. The catalogue has the courses.
    let learner_token = http
        .token(&learner_email, "journey-password")
        .await
        .context("learner token")?;
    eventually("courses in the LXP catalogue", wait, || async {
        let r = http
            .get("/api/v1/catalog?page_size=500", &learner_token)
            .await?
            .expect(200)?;
        let have = r.json()["items"]
            .as_array()
            .map(|a| {
                ids.iter()
                    .all(|(id, _, _)| a.iter().any(|i| i["id"] == id.as_str()))
            })
            .unwrap_or(false);
        Ok(have.then_some(()))
    })
    .await?;

    // 3. Enrol and complete.
    let e = http
        .post(
            &format!("/api/v1/courses/{course_id}/enrollments"),
            &learner_token,
            &json!({}),
        )
        .await?
        .expect(201)?
        .json();
    let enrollment = e["id"].as_str().context("enrollment id")?.to_string();
    ensure!(e["status"] == "active");
    let mut last = Value::Null;
    for item in &items {
        last = http
            .post(
                &format!("/api/v1/enrollments/{enrollment}/items/{item}/complete"),
                &learner_token,
                &json!({}),
            )
            .await?
            .expect(200)?
            .json();
    }
    ensure!(last["status"] == "completed", "enrolment completed: {last}");
    ensure!(last["progress"] == 1.0);

    // 4. The LRS has the statements, through the gateway's /xapi.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(&creds.xapi_client)
    );
    let home = learner_home_page(http, &learner_token).await?;
    let agent = json!({"objectType": "Agent", "account": {"homePage": home, "name": learner_id}});
    let query = format!("/xapi/statements?agent={}", urlencode(&agent.to_string()));
    let statements = eventually("the learner's statements in the LRS", wait, || async {
        let r = http
            .send(
                Method::GET,
                &query,
                &[
                    ("authorization", basic.clone()),
                    ("x-experience-api-version", "1.0.3".into()),
                ],
                None,
            )
            .await?
            .expect(200)?;
        ensure!(
            r.header("x-experience-api-version")
                .is_some_and(|v| v.starts_with("1.0")),
            "version header: {:?}",
            r.headers
        );
        let list = r.json()["statements"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok((list.len() >= 4).then_some(list))
    })
    .await?;
    ensure!(
        statements.len() == 4,
        "exactly 4 statements, got {}",
        statements.len()
    );
    for s in &statements {
        ensure!(
            s["actor"]["account"]["name"] == learner_id.as_str(),
            "actor: {s}"
        );
        ensure!(
            s["context"]["registration"] == enrollment.as_str(),
            "registration: {s}"
        );
        for field in ["id", "stored", "timestamp", "authority", "verb", "object"] {
            ensure!(!s[field].is_null(), "{field} missing in {s}");
        }
    }
    let verbs: Vec<&str> = statements
        .iter()
        .filter_map(|s| s["verb"]["id"].as_str())
        .collect();
    ensure!(
        verbs.iter().filter(|v| v.ends_with("/completed")).count() == 3,
        "{verbs:?}"
    );
    ensure!(
        verbs.iter().any(|v| v.ends_with("/registered")),
        "{verbs:?}"
    );

    // 5. The feed: completed course gone, the one sharing its skills first.
    let feed = eventually("a feed that reflects the completion", wait, || async {
        let r = http
            .get("/api/v1/me/feed", &learner_token)
            .await?
            .expect(200)?;
        let body = r.json();
        let titles: Vec<String> = body["recommendations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|rec| rec["item"]["title"].as_str().map(str::to_string))
            .collect();
        let profiled = body["profile"].get("sql").is_some();
        let completed_gone = !titles.iter().any(|t| t == &ids[0].1);
        Ok((profiled && completed_gone).then_some(titles))
    })
    .await?;
    let pos = |title: &str| feed.iter().position(|t| t == title);
    let advanced = pos(&ids[1].1).context("Advanced SQL in the feed")?;
    let negotiation = pos(&ids[2].1).context("Negotiation in the feed")?;
    ensure!(
        advanced == 0,
        "the course sharing the skill ranks first: {feed:?}"
    );
    ensure!(advanced < negotiation, "{feed:?}");

    Ok(Observed {
        statements: statements.len(),
        feed,
    })
}

/// The platform's public URL as seen in the learner's statements' account home page: ask the
/// gateway for a course's activity id, whose prefix it is.
async fn learner_home_page(http: &Http, token: &str) -> anyhow::Result<String> {
    let r = http
        .get("/api/v1/courses?page_size=1", token)
        .await?
        .expect(200)?;
    let activity = r.json()["courses"][0]["activity_id"]
        .as_str()
        .context("activity id")?
        .to_string();
    let home = activity
        .split("/courses/")
        .next()
        .context("activity id under the public URL")?;
    Ok(home.to_string())
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
