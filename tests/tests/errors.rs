//! Bad input through the gateway, endpoint by endpoint: the right status, a problem+json body
//! that says what is wrong (naming the field), and never a 500.

use http::Method;
use lyceum_e2e::http::{Http, Reply};
use lyceum_e2e::platforms::Embedded;
use serde_json::{Value, json};

fn assert_problem(r: &Reply, status: u16, field: Option<&str>, context: &str) {
    assert_eq!(
        r.status.as_u16(),
        status,
        "{context}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{context}"
    );
    let body = r.json();
    assert_eq!(body["status"], status, "{context}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{context}: {body}"
    );
    if let Some(field) = field {
        assert_eq!(body["field"], field, "{context}: {body}");
    }
}

async fn raw(
    http: &Http,
    method: Method,
    path: &str,
    token: &str,
    ct: &str,
    body: Vec<u8>,
) -> Reply {
    let mut headers = vec![("content-type", ct.to_string())];
    if !token.is_empty() {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    http.send(method, path, &headers, Some(body)).await.unwrap()
}

fn course(url: &str) -> Value {
    json!({"title": "T", "skills": ["s"], "modules": [{"title": "M", "items": [
        {"title": "I", "kind": "video", "url": url}]}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_endpoint_answers_bad_input_with_the_right_problem() {
    let p = Embedded::start_with(|c| c.max_body_bytes = 64 * 1024)
        .await
        .unwrap();
    let http = &p.http;
    let admin = http
        .token(&p.creds.admin_email, &p.creds.admin_password)
        .await
        .unwrap();

    // Tokens.
    let r = http
        .post(
            "/api/v1/auth/token",
            "",
            &json!({"email": p.creds.admin_email, "password": "nope"}),
        )
        .await
        .unwrap();
    assert_problem(&r, 401, None, "wrong password");
    let r = http
        .post(
            "/api/v1/auth/token",
            "",
            &json!({"email": "", "password": "x"}),
        )
        .await
        .unwrap();
    assert_problem(&r, 400, Some("email"), "empty email");
    let r = http
        .post("/api/v1/auth/token", "", &json!({"email": "a@b.c"}))
        .await
        .unwrap();
    assert_problem(&r, 400, None, "missing password");
    let r = http
        .post(
            "/api/v1/auth/token",
            "",
            &json!({"email": "a@b.c", "password": "x", "admin": true}),
        )
        .await
        .unwrap();
    assert_problem(&r, 400, None, "unknown field");
    let r = raw(
        http,
        Method::POST,
        "/api/v1/auth/token",
        "",
        "application/json",
        b"{not json".to_vec(),
    )
    .await;
    assert_problem(&r, 400, None, "malformed JSON");
    let r = raw(
        http,
        Method::POST,
        "/api/v1/auth/token",
        "",
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    assert_problem(&r, 415, None, "wrong media type");

    // Credentials on every protected endpoint.
    for (method, path) in [
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/people"),
        (Method::GET, "/api/v1/courses"),
        (Method::GET, "/api/v1/me/feed"),
        (Method::GET, "/api/v1/catalog"),
        (Method::GET, "/api/v1/me/enrollments"),
        (Method::POST, "/api/v1/courses"),
    ] {
        let r = http.send(method.clone(), path, &[], None).await.unwrap();
        assert_problem(&r, 401, None, &format!("{method} {path} without a token"));
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        let r = http
            .send(
                method.clone(),
                path,
                &[("authorization", "Bearer not.a.jwt".into())],
                None,
            )
            .await
            .unwrap();
        assert_problem(&r, 401, None, &format!("{method} {path} with a bad token"));
    }
    let none_token = format!(
        "{}.{}.",
        base64url(br#"{"alg":"none","typ":"JWT"}"#),
        base64url(br#"{"iss":"lyceum","sub":"00000000-0000-0000-0000-000000000000","role":"admin","iat":0,"exp":99999999999,"jti":"x"}"#)
    );
    assert_problem(
        &http.get("/api/v1/people", &none_token).await.unwrap(),
        401,
        None,
        "alg none",
    );
    let mut tampered = admin.clone();
    tampered.pop();
    tampered.push(if admin.ends_with('A') { 'B' } else { 'A' });
    assert_problem(
        &http.get("/api/v1/people", &tampered).await.unwrap(),
        401,
        None,
        "tampered signature",
    );

    // People.
    let learner_body = json!({"email": "l@example.com", "name": "L", "department": "D", "role": "learner", "password": "password-1"});
    http.post("/api/v1/people", &admin, &learner_body)
        .await
        .unwrap()
        .expect(201)
        .unwrap();
    let learner = http.token("l@example.com", "password-1").await.unwrap();
    assert_problem(
        &http
            .post("/api/v1/people", &admin, &learner_body)
            .await
            .unwrap(),
        409,
        None,
        "duplicate e-mail",
    );
    assert_problem(&http.post("/api/v1/people", &learner, &json!({"email": "x@example.com", "name": "X", "role": "learner", "password": "password-1"})).await.unwrap(), 403, None, "learner creates");
    for (patch, field) in [
        (json!({"email": "nope"}), "email"),
        (json!({"role": "wizard"}), "role"),
        (json!({"name": ""}), "name"),
        (json!({"password": "123"}), "password"),
    ] {
        let mut body = json!({"email": "new@example.com", "name": "N", "role": "learner", "password": "password-1"});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        assert_problem(
            &http.post("/api/v1/people", &admin, &body).await.unwrap(),
            400,
            Some(field),
            &format!("bad {field}"),
        );
    }
    let r = http.post("/api/v1/people", &admin, &json!({"email": "new@example.com", "name": 5, "role": "learner", "password": "password-1"})).await.unwrap();
    assert_problem(&r, 400, Some("name"), "wrong JSON type");
    let big = json!({"email": "big@example.com", "name": "x".repeat(100 * 1024), "role": "learner", "password": "password-1"});
    assert_problem(
        &http.post("/api/v1/people", &admin, &big).await.unwrap(),
        413,
        None,
        "body over the limit",
    );
    assert_problem(
        &http.get("/api/v1/people/not-a-uuid", &admin).await.unwrap(),
        400,
        Some("id"),
        "malformed id",
    );
    assert_problem(
        &http
            .get(&format!("/api/v1/people/{}", uuid::Uuid::now_v7()), &admin)
            .await
            .unwrap(),
        404,
        None,
        "unknown person",
    );
    assert_problem(
        &http
            .get("/api/v1/people?page_token=%21%21", &admin)
            .await
            .unwrap(),
        400,
        Some("page_token"),
        "bad cursor",
    );
    assert_problem(
        &http
            .get("/api/v1/people?page_size=many", &admin)
            .await
            .unwrap(),
        400,
        None,
        "bad page size",
    );
    assert_problem(
        &http.get("/api/v1/people", &learner).await.unwrap(),
        403,
        None,
        "learner lists people",
    );

    // Courses.
    assert_problem(
        &http
            .post("/api/v1/courses", &admin, &course("ftp://x"))
            .await
            .unwrap(),
        400,
        Some("modules[0].items[0].url"),
        "bad item url",
    );
    assert_problem(
        &http
            .post("/api/v1/courses", &learner, &course("https://x.example/v"))
            .await
            .unwrap(),
        403,
        None,
        "learner authors",
    );
    let draft = http
        .post("/api/v1/courses", &admin, &course("https://x.example/v"))
        .await
        .unwrap()
        .expect(201)
        .unwrap()
        .json();
    let draft_id = draft["id"].as_str().unwrap();
    assert_problem(
        &http
            .get(&format!("/api/v1/courses/{draft_id}"), &learner)
            .await
            .unwrap(),
        404,
        None,
        "learner reads a draft",
    );
    assert_problem(
        &http
            .post(
                &format!("/api/v1/courses/{}/publish", uuid::Uuid::now_v7()),
                &admin,
                &json!({}),
            )
            .await
            .unwrap(),
        404,
        None,
        "publish unknown",
    );

    // Enrolments.
    assert_problem(
        &http
            .post(
                &format!("/api/v1/courses/{draft_id}/enrollments"),
                &admin,
                &json!({}),
            )
            .await
            .unwrap(),
        409,
        None,
        "enrol in a draft",
    );
    assert_problem(
        &http
            .post(
                &format!("/api/v1/courses/{draft_id}/enrollments"),
                &learner,
                &json!({}),
            )
            .await
            .unwrap(),
        404,
        None,
        "learner enrols in a draft",
    );
    let published = http
        .post("/api/v1/courses", &admin, &course("https://x.example/w"))
        .await
        .unwrap()
        .expect(201)
        .unwrap()
        .json();
    let pid = published["id"].as_str().unwrap();
    http.post(
        &format!("/api/v1/courses/{pid}/publish"),
        &admin,
        &json!({}),
    )
    .await
    .unwrap()
    .expect(200)
    .unwrap();
    let e = http
        .post(
            &format!("/api/v1/courses/{pid}/enrollments"),
            &learner,
            &json!({}),
        )
        .await
        .unwrap()
        .expect(201)
        .unwrap()
        .json();
    assert_problem(
        &http
            .post(
                &format!("/api/v1/courses/{pid}/enrollments"),
                &learner,
                &json!({}),
            )
            .await
            .unwrap(),
        409,
        None,
        "enrol twice",
    );
    let r = raw(
        http,
        Method::POST,
        &format!("/api/v1/courses/{pid}/enrollments"),
        &learner,
        "application/json",
        b"[1,2".to_vec(),
    )
    .await;
    assert_problem(&r, 400, Some("body"), "bad enrol body");
    let eid = e["id"].as_str().unwrap();
    let foreign_item = draft["modules"][0]["items"][0]["id"].as_str().unwrap();
    assert_problem(
        &http
            .post(
                &format!("/api/v1/enrollments/{eid}/items/{foreign_item}/complete"),
                &learner,
                &json!({}),
            )
            .await
            .unwrap(),
        400,
        Some("item_id"),
        "item of another course",
    );
    assert_problem(
        &http
            .post(
                &format!(
                    "/api/v1/enrollments/{}/items/{foreign_item}/complete",
                    uuid::Uuid::now_v7()
                ),
                &learner,
                &json!({}),
            )
            .await
            .unwrap(),
        404,
        None,
        "unknown enrolment",
    );
    assert_problem(
        &http.get("/api/v1/enrollments/zzz", &learner).await.unwrap(),
        400,
        Some("id"),
        "malformed enrolment id",
    );

    // Catalogue.
    let ext = json!({"kind": "article", "title": "A", "url": "https://blog.example.com/a", "skills": ["x"]});
    assert_problem(
        &http.post("/api/v1/catalog", &learner, &ext).await.unwrap(),
        403,
        None,
        "learner adds content",
    );
    http.post("/api/v1/catalog", &admin, &ext)
        .await
        .unwrap()
        .expect(201)
        .unwrap();
    assert_problem(
        &http.post("/api/v1/catalog", &admin, &ext).await.unwrap(),
        409,
        None,
        "duplicate url",
    );
    let mut bad = ext.clone();
    bad["url"] = json!("not a url");
    assert_problem(
        &http.post("/api/v1/catalog", &admin, &bad).await.unwrap(),
        400,
        Some("url"),
        "bad content url",
    );
    assert_problem(
        &http
            .get(
                &format!("/api/v1/catalog/{}", uuid::Uuid::now_v7()),
                &learner,
            )
            .await
            .unwrap(),
        404,
        None,
        "unknown item",
    );

    // No such route.
    assert_problem(
        &http.get("/api/v1/nothing-here", &admin).await.unwrap(),
        404,
        None,
        "unknown route",
    );
    p.stop().await.unwrap();
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A small deterministic generator of hostile JSON (xorshift; no dependency needed).
struct Chaos(u64);

impl Chaos {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    fn string(&mut self) -> String {
        let pieces = [
            "",
            " ",
            "a",
            "admin",
            "learner",
            "video",
            "https://x.example/v",
            "not a url",
            "a@b.c",
            "\u{0}",
            "\u{202e}",
            "ünïcödé",
            "🙂",
            "-1",
            "00000000-0000-0000-0000-000000000000",
            "'; DROP TABLE people; --",
            "%00",
            "../../etc/passwd",
            "\\",
            "\"",
        ];
        let mut s = String::new();
        for _ in 0..(self.next() % 4) {
            let piece: &str = self.pick::<&str>(&pieces);
            s.push_str(piece);
        }
        if self.next().is_multiple_of(20) {
            s.push_str(&"x".repeat(5000));
        }
        s
    }

    fn value(&mut self, depth: u32) -> Value {
        let keys = [
            "email",
            "name",
            "department",
            "role",
            "password",
            "title",
            "description",
            "skills",
            "modules",
            "items",
            "kind",
            "url",
            "required",
            "person_id",
            "x",
        ];
        match self.next() % if depth > 3 { 5 } else { 7 } {
            0 => Value::Null,
            1 => Value::Bool(self.next().is_multiple_of(2)),
            2 => json!((self.next() as i64).wrapping_sub(i64::MAX / 2)),
            3 => json!(f64::from_bits(self.next() >> 2)),
            4 => Value::String(self.string()),
            5 => Value::Array(
                (0..self.next() % 4)
                    .map(|_| self.value(depth + 1))
                    .collect(),
            ),
            _ => {
                let mut m = serde_json::Map::new();
                for _ in 0..self.next() % 6 {
                    m.insert(self.pick(&keys).to_string(), self.value(depth + 1));
                }
                Value::Object(m)
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_input_never_gets_a_500() {
    let p = Embedded::start().await.unwrap();
    let http = &p.http;
    let admin = http
        .token(&p.creds.admin_email, &p.creds.admin_password)
        .await
        .unwrap();
    let c = http
        .post("/api/v1/courses", &admin, &course("https://x.example/v"))
        .await
        .unwrap()
        .expect(201)
        .unwrap()
        .json();
    let cid = c["id"].as_str().unwrap().to_string();
    let paths = [
        "/api/v1/auth/token".to_string(),
        "/api/v1/people".into(),
        "/api/v1/courses".into(),
        format!("/api/v1/courses/{cid}/enrollments"),
        format!("/api/v1/courses/{cid}/publish"),
        "/api/v1/catalog".into(),
    ];
    let mut chaos = Chaos(0x9e37_79b9_7f4a_7c15);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..600 {
        let path = chaos.pick(&paths).clone();
        let body = if i % 10 == 0 {
            (0..chaos.next() % 64).map(|_| chaos.next() as u8).collect()
        } else {
            serde_json::to_vec(&chaos.value(0)).unwrap()
        };
        let r = raw(
            http,
            Method::POST,
            &path,
            &admin,
            "application/json",
            body.clone(),
        )
        .await;
        *statuses.entry(r.status.as_u16()).or_insert(0) += 1;
        assert!(
            r.status.as_u16() < 500,
            "POST {path} with {} answered {}: {}",
            String::from_utf8_lossy(&body),
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    for _ in 0..100 {
        let segment = super_encode(&chaos.string());
        for path in [
            format!("/api/v1/people/{segment}"),
            format!("/api/v1/courses/{segment}"),
            format!("/api/v1/enrollments/{segment}"),
            format!("/api/v1/catalog/{segment}"),
            format!("/api/v1/people?page_token={segment}&page_size={segment}"),
        ] {
            let r = http.get(&path, &admin).await.unwrap();
            assert!(r.status.as_u16() < 500, "GET {path}: {}", r.status);
        }
    }
    eprintln!("statuses: {statuses:?}");
    // The platform is still healthy after all that.
    http.send(Method::GET, "/readyz", &[], None)
        .await
        .unwrap()
        .expect(200)
        .unwrap();
    p.stop().await.unwrap();
}

fn super_encode(s: &str) -> String {
    lyceum_e2e::journey::urlencode(s)
}
