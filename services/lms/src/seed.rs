//! Data created at start: the configured administrator, and demo people and courses.

use lyceum_auth::{Principal, Role};
use lyceum_config::AdminConfig;
use lyceum_proto::lms::v1 as pb;
use uuid::Uuid;

use crate::App;
use crate::courses::{self};
use crate::enrollments::EnrollmentApi;
use crate::error::{LmsError, Result};
use crate::people::{self, NewPerson};

/// Creates the administrator from `LYCEUM_ADMIN_EMAIL` / `LYCEUM_ADMIN_PASSWORD` unless a
/// person with that e-mail exists.
pub(crate) async fn admin(app: &App, admin: &AdminConfig) -> Result<()> {
    let (Some(email), Some(password)) = (&admin.email, &admin.password) else {
        return Ok(());
    };
    if people::find_by_email(app, email).await?.is_some() {
        return Ok(());
    }
    let new = NewPerson::validate(email, "Administrator", "", Role::Admin, password)?;
    match people::insert(app, new).await {
        Ok(p) => {
            tracing::info!(person = %p.id, email = %p.email, "created the administrator");
            Ok(())
        }
        // Another replica created it at the same moment.
        Err(LmsError::EmailTaken(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A demo account.
#[derive(Debug, Clone, Copy)]
pub struct DemoPerson {
    /// E-mail (login).
    pub email: &'static str,
    /// Password.
    pub password: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Department.
    pub department: &'static str,
    /// Role.
    pub role: Role,
}

/// The demo accounts `make run` prints.
pub const DEMO_PEOPLE: &[DemoPerson] = &[
    DemoPerson {
        email: "ada@demo.lyceum.dev",
        password: "lyceum-demo",
        name: "Ada Lovelace",
        department: "Engineering",
        role: Role::Learner,
    },
    DemoPerson {
        email: "grace@demo.lyceum.dev",
        password: "lyceum-demo",
        name: "Grace Hopper",
        department: "Engineering",
        role: Role::Learner,
    },
    DemoPerson {
        email: "alan@demo.lyceum.dev",
        password: "lyceum-demo",
        name: "Alan Turing",
        department: "Data",
        role: Role::Learner,
    },
    DemoPerson {
        email: "mary@demo.lyceum.dev",
        password: "lyceum-demo",
        name: "Mary Parker Follett",
        department: "Sales",
        role: Role::Manager,
    },
    DemoPerson {
        email: "paulo@demo.lyceum.dev",
        password: "lyceum-demo",
        name: "Paulo Freire",
        department: "Learning & Development",
        role: Role::Author,
    },
];

struct DemoCourse {
    title: &'static str,
    description: &'static str,
    skills: &'static [&'static str],
    items: &'static [(&'static str, &'static str, &'static str)],
}

const DEMO_COURSES: &[DemoCourse] = &[
    DemoCourse {
        title: "SQL Fundamentals",
        description: "Query, join and aggregate data with SQL.",
        skills: &["sql", "data-analysis"],
        items: &[
            (
                "Why SQL",
                "video",
                "https://media.demo.lyceum.dev/sql/why.mp4",
            ),
            (
                "SELECT and WHERE",
                "document",
                "https://docs.demo.lyceum.dev/sql/select.pdf",
            ),
            (
                "Joins explained",
                "video",
                "https://media.demo.lyceum.dev/sql/joins.mp4",
            ),
        ],
    },
    DemoCourse {
        title: "Advanced SQL: Window Functions",
        description: "Rankings, running totals and moving averages.",
        skills: &["sql", "analytics"],
        items: &[
            (
                "OVER and PARTITION BY",
                "video",
                "https://media.demo.lyceum.dev/sql/windows.mp4",
            ),
            (
                "Exercises",
                "document",
                "https://docs.demo.lyceum.dev/sql/windows.pdf",
            ),
        ],
    },
    DemoCourse {
        title: "Data Visualisation Basics",
        description: "Charts that tell the truth.",
        skills: &["data-analysis", "visualisation"],
        items: &[
            (
                "Choosing a chart",
                "video",
                "https://media.demo.lyceum.dev/viz/charts.mp4",
            ),
            (
                "Colour and clarity",
                "document",
                "https://docs.demo.lyceum.dev/viz/colour.pdf",
            ),
        ],
    },
    DemoCourse {
        title: "Negotiation Essentials",
        description: "Prepare, anchor, trade concessions, close.",
        skills: &["negotiation", "communication"],
        items: &[
            (
                "Preparing a negotiation",
                "video",
                "https://media.demo.lyceum.dev/neg/prepare.mp4",
            ),
            (
                "Role-play guide",
                "document",
                "https://docs.demo.lyceum.dev/neg/roleplay.pdf",
            ),
        ],
    },
    DemoCourse {
        title: "Information Security Awareness",
        description: "Phishing, passwords and data handling. Mandatory for everyone.",
        skills: &["security", "compliance"],
        items: &[
            (
                "Spotting phishing",
                "video",
                "https://media.demo.lyceum.dev/sec/phishing.mp4",
            ),
            (
                "Data handling policy",
                "document",
                "https://docs.demo.lyceum.dev/sec/policy.pdf",
            ),
        ],
    },
    DemoCourse {
        title: "Giving Feedback",
        description: "Specific, timely and kind feedback for managers and peers.",
        skills: &["communication", "leadership"],
        items: &[
            (
                "The SBI model",
                "video",
                "https://media.demo.lyceum.dev/lead/sbi.mp4",
            ),
            (
                "Practice cards",
                "document",
                "https://docs.demo.lyceum.dev/lead/cards.pdf",
            ),
        ],
    },
];

/// Creates demo people and published courses (once), and some progress so feeds and
/// popularity have something to show.
pub(crate) async fn demo(app: &App) -> Result<()> {
    if people::find_by_email(app, DEMO_PEOPLE[0].email)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let mut ids = Vec::new();
    for p in DEMO_PEOPLE {
        let new = NewPerson::validate(p.email, p.name, p.department, p.role, p.password)?;
        ids.push(people::insert(app, new).await?.id);
    }
    let author = principal(ids[4], Role::Author);
    let mut course_ids = Vec::new();
    for c in DEMO_COURSES {
        let req = pb::CreateCourseRequest {
            title: c.title.into(),
            description: c.description.into(),
            skills: c.skills.iter().map(|s| s.to_string()).collect(),
            modules: vec![pb::Module {
                id: String::new(),
                title: "Module 1".into(),
                items: c
                    .items
                    .iter()
                    .map(|(title, kind, url)| pb::Item {
                        id: String::new(),
                        title: (*title).into(),
                        kind: (*kind).into(),
                        url: (*url).into(),
                        required: true,
                    })
                    .collect(),
            }],
        };
        let course = courses::create_for(app, &author, req).await?;
        let id: Uuid = course.id.parse().expect("course ids are UUIDs");
        courses::publish(app, id).await?;
        course_ids.push((id, course));
    }
    // Grace and Alan completed SQL Fundamentals; Alan also the security course.
    let enrollments = EnrollmentApi::new(app.clone());
    for (person, course_index) in [(ids[1], 0), (ids[2], 0), (ids[2], 4)] {
        let learner = principal(person, Role::Learner);
        let (course_id, course) = &course_ids[course_index];
        let e = enrollments
            .enroll(
                &learner,
                pb::EnrollRequest {
                    course_id: course_id.to_string(),
                    person_id: String::new(),
                },
            )
            .await?;
        for item in course.modules.iter().flat_map(|m| &m.items) {
            enrollments
                .complete_item(
                    &learner,
                    pb::CompleteItemRequest {
                        enrollment_id: e.id.clone(),
                        item_id: item.id.clone(),
                    },
                )
                .await?;
        }
    }
    tracing::info!(
        people = DEMO_PEOPLE.len(),
        courses = DEMO_COURSES.len(),
        "demo data created"
    );
    Ok(())
}

fn principal(person: Uuid, role: Role) -> Principal {
    Principal {
        subject: person.to_string(),
        person_id: Some(person),
        role,
        email: None,
        name: None,
        scopes: vec![],
    }
}
