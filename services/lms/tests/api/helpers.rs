use std::time::Duration;

use lyceum_auth::Role;
use lyceum_bus::{ConsumerSpec, EventBus, MemoryBus};
use lyceum_config::Config;
use lyceum_proto::events::v1::Envelope;
use lyceum_proto::lms::v1 as pb;
use lyceum_proto::lms::v1::course_service_client::CourseServiceClient;
use lyceum_proto::lms::v1::enrollment_service_client::EnrollmentServiceClient;
use lyceum_proto::lms::v1::people_service_client::PeopleServiceClient;
use lyceum_server::{Platform, authorized};
use lyceum_testkit::TestDatabase;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@lyceum.test";
pub const ADMIN_PASSWORD: &str = "admin-password";

/// A running LMS and what tests need to talk to it.
pub struct TestApp {
    pub platform: Platform,
    pub channel: Channel,
    pub admin_token: String,
    pub backend: &'static str,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// Starts the LMS on a free port with a fresh database.
pub async fn spawn_app(db: &TestDatabase) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        public_url: "http://lyceum.test".into(),
        shutdown_grace_secs: 2,
        lms: lyceum_config::ServiceConfig {
            database_url: Some(db.url().to_string()),
            ..Default::default()
        },
        admin: lyceum_config::AdminConfig {
            email: Some(ADMIN_EMAIL.into()),
            password: Some(ADMIN_PASSWORD.into()),
        },
        ..Default::default()
    };
    let platform = Platform::with_bus(config, EventBus::Memory(MemoryBus::new())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (platform, stop) = (platform.clone(), stop.clone());
        async move {
            lyceum_lms::run(platform, listener, stop.cancelled_owned())
                .await
                .expect("lms runs");
        }
    });
    let channel = lyceum_server::channel(&format!("http://{addr}")).unwrap();
    let signer = platform.signer.clone().unwrap();
    let service = signer.service_token("gateway", &[]);
    let mut admin = None;
    for _ in 0..100 {
        let req = authorized(
            pb::AuthenticateRequest {
                email: ADMIN_EMAIL.into(),
                password: ADMIN_PASSWORD.into(),
            },
            &service,
        );
        match PeopleServiceClient::new(channel.clone())
            .authenticate(req)
            .await
        {
            Ok(r) => {
                admin = Some(r.into_inner());
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let admin = admin.expect("the LMS starts and creates the administrator");
    let admin_token = signer.person_token(
        admin.id.parse().unwrap(),
        Role::Admin,
        &admin.email,
        &admin.name,
    );
    TestApp {
        platform,
        channel,
        admin_token,
        backend: db.backend(),
        stop,
        task: Some(task),
        _dir: dir,
    }
}

impl TestApp {
    pub fn people(&self) -> PeopleServiceClient<Channel> {
        PeopleServiceClient::new(self.channel.clone())
    }

    pub fn courses(&self) -> CourseServiceClient<Channel> {
        CourseServiceClient::new(self.channel.clone())
    }

    pub fn enrollments(&self) -> EnrollmentServiceClient<Channel> {
        EnrollmentServiceClient::new(self.channel.clone())
    }

    pub fn token_for(&self, p: &pb::Person, role: Role) -> String {
        self.platform.signer.as_ref().unwrap().person_token(
            p.id.parse().unwrap(),
            role,
            &p.email,
            &p.name,
        )
    }

    /// Creates a person with `role` and returns it with a token.
    pub async fn person(&self, role: pb::Role) -> (pb::Person, String) {
        let email = format!("{}@lyceum.test", Uuid::new_v4().simple());
        let p = self
            .people()
            .create_person(authorized(
                pb::CreatePersonRequest {
                    email,
                    name: "Test Person".into(),
                    department: "Sales".into(),
                    role: role as i32,
                    password: "password-1".into(),
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner();
        let r = match role {
            pb::Role::Admin => Role::Admin,
            pb::Role::Author => Role::Author,
            pb::Role::Manager => Role::Manager,
            pb::Role::Instructor => Role::Instructor,
            _ => Role::Learner,
        };
        let token = self.token_for(&p, r);
        (p, token)
    }

    /// Creates and publishes a two-item course.
    pub async fn published_course(&self, title: &str) -> pb::Course {
        let c = self
            .courses()
            .create_course(authorized(course_request(title), &self.admin_token))
            .await
            .unwrap()
            .into_inner();
        self.courses()
            .publish_course(authorized(
                pb::PublishCourseRequest { id: c.id },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// Every event the LMS published so far on `subject` (waits up to 5 s for `at_least`).
    pub async fn events(&self, subject: &str, at_least: usize) -> Vec<Envelope> {
        let spec = ConsumerSpec::new(format!("test-{}", Uuid::new_v4().simple()), subject);
        let mut sub = self.platform.bus.subscribe(&spec).await.unwrap();
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while out.len() < at_least || at_least == 0 {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left.max(Duration::from_millis(200)), sub.next_batch(100))
                .await
            {
                Ok(Ok(batch)) => {
                    for d in batch {
                        out.push(d.envelope.clone());
                        d.ack().await.unwrap();
                    }
                }
                _ => break,
            }
            if tokio::time::Instant::now() > deadline {
                break;
            }
        }
        // Anything that should not be there has a moment to show up.
        if let Ok(Ok(batch)) =
            tokio::time::timeout(Duration::from_millis(300), sub.next_batch(100)).await
        {
            for d in batch {
                out.push(d.envelope.clone());
                d.ack().await.unwrap();
            }
        }
        out
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

pub fn course_request(title: &str) -> pb::CreateCourseRequest {
    pb::CreateCourseRequest {
        title: title.into(),
        description: "A course".into(),
        skills: vec!["SQL".into(), "data-analysis".into()],
        modules: vec![pb::Module {
            id: String::new(),
            title: "Basics".into(),
            items: vec![
                pb::Item {
                    id: String::new(),
                    title: "Intro video".into(),
                    kind: "video".into(),
                    url: "https://media.example.com/intro.mp4".into(),
                    required: true,
                },
                pb::Item {
                    id: String::new(),
                    title: "Reading".into(),
                    kind: "document".into(),
                    url: "https://docs.example.com/reading.pdf".into(),
                    required: true,
                },
            ],
        }],
    }
}

/// Asserts a gRPC error's code and that its message mentions `needle`.
pub fn assert_status<T: std::fmt::Debug>(
    r: Result<T, tonic::Status>,
    code: tonic::Code,
    needle: &str,
) {
    let e = r.expect_err("expected an error");
    assert_eq!(e.code(), code, "{e:?}");
    assert!(
        e.message().contains(needle),
        "message {:?} lacks {needle:?}",
        e.message()
    );
}

/// The `x-lyceum-field` of an error.
pub fn field_of(e: &tonic::Status) -> Option<String> {
    e.metadata()
        .get("x-lyceum-field")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
