//! SIGTERM under load: the LMS stops accepting, finishes what it accepted, flushes its outbox,
//! and exits 0. Every call either succeeded or was refused as unavailable (never cut off half
//! way), and every event of every successful call is on NATS afterwards.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use lyceum_auth::{Role, TokenSigner};
use lyceum_proto::lms::v1 as pb;
use lyceum_proto::lms::v1::course_service_client::CourseServiceClient;
use lyceum_proto::lms::v1::people_service_client::PeopleServiceClient;
use lyceum_server::authorized;
use lyceum_testkit::{NatsServer, TestDatabase, http_get};

use crate::{Proc, free_port};

/// A call the server never took: refused as unavailable (connection refused), never sent
/// because the connection closed first (hyper's `Canceled`: "a pending item was dropped before
/// ever being processed"), or on a stream above the last one a graceful GOAWAY promised to
/// process (HTTP/2: such streams were not processed and are safe to retry).
fn not_accepted(s: &tonic::Status) -> bool {
    let detail = format!("{s:?}");
    s.code() == tonic::Code::Unavailable
        || (s.code() == tonic::Code::Cancelled && detail.contains("hyper::Error(Canceled"))
        || detail.contains("GoAway(b\"\", NO_ERROR, Remote)")
}

fn course(n: usize) -> pb::CreateCourseRequest {
    pb::CreateCourseRequest {
        title: format!("Load {n}"),
        description: String::new(),
        skills: vec!["load".into()],
        modules: vec![pb::Module {
            id: String::new(),
            title: "M".into(),
            items: vec![pb::Item {
                id: String::new(),
                title: "I".into(),
                kind: "quiz".into(),
                url: String::new(),
                required: true,
            }],
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_loses_no_accepted_request_and_no_event() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pair = lyceum_auth::keys::generate();
    let public = dir.path().join("jwt-public.pem");
    std::fs::write(&public, lyceum_auth::keys::public_pem(&pair.public)).unwrap();
    let signer = TokenSigner::new(&pair, "lyceum", Duration::from_secs(600));

    let port = free_port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let lms = Proc::spawn(
        "lms",
        &["serve", "--target", "lms"],
        &[
            ("LYCEUM_LMS_ADDR", addr.to_string()),
            ("LYCEUM_LMS_DATABASE_URL", db.url().to_string()),
            ("LYCEUM_NATS_URL", nats.url()),
            ("LYCEUM_JWT_PUBLIC_KEY_FILE", public.display().to_string()),
            ("LYCEUM_ADMIN_EMAIL", "root@example.com".into()),
            ("LYCEUM_ADMIN_PASSWORD", "root-password".into()),
            ("LYCEUM_SHUTDOWN_GRACE_SECS", "10".into()),
        ],
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !matches!(http_get(addr, "/readyz").await, Ok((200, _))) {
        assert!(tokio::time::Instant::now() < deadline, "LMS not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let channel = lyceum_server::channel(&format!("http://{addr}")).unwrap();
    let service = signer.service_token("gateway", &[]);
    let admin = PeopleServiceClient::new(channel.clone())
        .authenticate(authorized(
            pb::AuthenticateRequest {
                email: "root@example.com".into(),
                password: "root-password".into(),
            },
            &service,
        ))
        .await
        .unwrap()
        .into_inner();
    let token = Arc::new(signer.person_token(
        admin.id.parse().unwrap(),
        Role::Admin,
        &admin.email,
        &admin.name,
    ));

    // Eight clients create and publish courses as fast as they can.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (channel, token, stop) = (channel.clone(), token.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut client = CourseServiceClient::new(channel);
            let (mut published, mut refused, mut broken) = (Vec::new(), 0usize, Vec::new());
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let created = client
                    .create_course(authorized(course(w * 100_000 + n), &token))
                    .await;
                let id = match created {
                    Ok(c) => c.into_inner().id,
                    Err(s) if not_accepted(&s) => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    Err(s) => {
                        broken.push(format!("create: {s:?}"));
                        continue;
                    }
                };
                match client
                    .publish_course(authorized(
                        pb::PublishCourseRequest { id: id.clone() },
                        &token,
                    ))
                    .await
                {
                    Ok(_) => published.push(id),
                    Err(s) if not_accepted(&s) => refused += 1,
                    Err(s) => broken.push(format!("publish: {s:?}")),
                }
            }
            (published, refused, broken)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = lms.terminate(Duration::from_secs(20));
    assert!(
        status.success(),
        "the LMS exits cleanly after SIGTERM: {status}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);

    let mut published = HashSet::new();
    let mut refused = 0;
    for w in workers {
        let (ids, r, broken) = w.await.unwrap();
        assert!(
            broken.is_empty(),
            "calls failed other than by refusal: {broken:?}"
        );
        refused += r;
        published.extend(ids);
    }
    eprintln!(
        "published {} courses under load; {refused} calls refused after SIGTERM",
        published.len()
    );
    assert!(
        published.len() >= 10,
        "the load did something: {}",
        published.len()
    );
    assert!(refused >= 1, "calls after the stop were refused");

    // Every successful publication's event reached NATS before the process exited.
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let stream = js.get_stream("LYCEUM").await.unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: "lyceum.lms.course.published".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seen = HashSet::new();
    let mut messages = consumer
        .fetch()
        .max_messages(100_000)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    while let Some(Ok(m)) = messages.next().await {
        let envelope =
            <lyceum_proto::events::v1::Envelope as prost::Message>::decode(m.payload.clone())
                .unwrap();
        seen.insert(envelope.subject_id);
    }
    let missing: Vec<_> = published.iter().filter(|id| !seen.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} published courses have no event on NATS",
        missing.len(),
        published.len()
    );

    // And nothing is left in the outbox.
    let pool = lyceum_store::Store::connect(db.url()).await.unwrap();
    let pending: i64 =
        lyceum_store::on_pool!(&pool, |p| sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!(pending, 0, "the outbox was flushed at shutdown");
    pool.close().await;
}
