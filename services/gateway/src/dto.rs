//! The REST representations (JSON) of the services' messages.

use lyceum_proto::lms::v1 as lms;
use lyceum_proto::lxp::v1 as lxp;
use prost_types::Timestamp;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// RFC 3339 text of a protobuf timestamp.
pub fn rfc3339(t: &Option<Timestamp>) -> Option<String> {
    t.as_ref()
        .and_then(lyceum_proto::timestamp::to_time)
        .and_then(|t: OffsetDateTime| t.format(&Rfc3339).ok())
}

/// `?page_size=&page_token=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page (default 50, at most 500).
    #[serde(default)]
    pub page_size: u32,
    /// Cursor from the previous page.
    #[serde(default)]
    pub page_token: String,
}

impl PageQuery {
    pub fn to_proto(&self) -> lyceum_proto::common::v1::PageRequest {
        lyceum_proto::common::v1::PageRequest {
            page_size: self.page_size,
            page_token: self.page_token.clone(),
        }
    }
}

pub fn next_token(page: &Option<lyceum_proto::common::v1::PageResponse>) -> Option<String> {
    page.as_ref()
        .map(|p| p.next_page_token.clone())
        .filter(|t| !t.is_empty())
}

pub fn role_name(role: i32) -> &'static str {
    match lms::Role::try_from(role) {
        Ok(lms::Role::Learner) => "learner",
        Ok(lms::Role::Instructor) => "instructor",
        Ok(lms::Role::Manager) => "manager",
        Ok(lms::Role::Author) => "author",
        Ok(lms::Role::Admin) => "admin",
        _ => "unspecified",
    }
}

pub fn role_value(name: &str) -> Option<lms::Role> {
    Some(match name {
        "learner" => lms::Role::Learner,
        "instructor" => lms::Role::Instructor,
        "manager" => lms::Role::Manager,
        "author" => lms::Role::Author,
        "admin" => lms::Role::Admin,
        _ => return None,
    })
}

/// A person.
#[derive(Debug, Serialize)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub role: &'static str,
    pub created_at: Option<String>,
}

impl From<lms::Person> for Person {
    fn from(p: lms::Person) -> Self {
        Person {
            role: role_name(p.role),
            created_at: rfc3339(&p.created_at),
            id: p.id,
            email: p.email,
            name: p.name,
            department: p.department,
        }
    }
}

/// An item of a module.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    #[serde(default, skip_deserializing)]
    pub id: String,
    pub title: String,
    pub kind: String,
    #[serde(default)]
    pub url: String,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// A module of a course.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    #[serde(default, skip_deserializing)]
    pub id: String,
    pub title: String,
    pub items: Vec<Item>,
}

/// A course.
#[derive(Debug, Serialize)]
pub struct Course {
    pub id: String,
    pub title: String,
    pub description: String,
    pub skills: Vec<String>,
    pub status: &'static str,
    pub modules: Vec<Module>,
    pub created_at: Option<String>,
    pub published_at: Option<String>,
    pub activity_id: String,
}

impl From<lms::Course> for Course {
    fn from(c: lms::Course) -> Self {
        Course {
            status: match lms::CourseStatus::try_from(c.status) {
                Ok(lms::CourseStatus::Published) => "published",
                _ => "draft",
            },
            created_at: rfc3339(&c.created_at),
            published_at: rfc3339(&c.published_at),
            modules: c
                .modules
                .into_iter()
                .map(|m| Module {
                    id: m.id,
                    title: m.title,
                    items: m
                        .items
                        .into_iter()
                        .map(|i| Item {
                            id: i.id,
                            title: i.title,
                            kind: i.kind,
                            url: i.url,
                            required: i.required,
                        })
                        .collect(),
                })
                .collect(),
            id: c.id,
            title: c.title,
            description: c.description,
            skills: c.skills,
            activity_id: c.activity_id,
        }
    }
}

/// An enrolment with progress.
#[derive(Debug, Serialize)]
pub struct Enrollment {
    pub id: String,
    pub course_id: String,
    pub person_id: String,
    pub status: &'static str,
    pub completed_item_ids: Vec<String>,
    pub progress: f64,
    pub enrolled_at: Option<String>,
    pub completed_at: Option<String>,
}

impl From<lms::Enrollment> for Enrollment {
    fn from(e: lms::Enrollment) -> Self {
        Enrollment {
            status: match lms::EnrollmentStatus::try_from(e.status) {
                Ok(lms::EnrollmentStatus::Completed) => "completed",
                _ => "active",
            },
            enrolled_at: rfc3339(&e.enrolled_at),
            completed_at: rfc3339(&e.completed_at),
            id: e.id,
            course_id: e.course_id,
            person_id: e.person_id,
            completed_item_ids: e.completed_item_ids,
            progress: e.progress,
        }
    }
}

/// A catalogue item.
#[derive(Debug, Serialize)]
pub struct CatalogItem {
    pub id: String,
    pub source: String,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub url: String,
    pub skills: Vec<String>,
    pub popularity: u64,
    pub published_at: Option<String>,
}

impl From<lxp::CatalogItem> for CatalogItem {
    fn from(i: lxp::CatalogItem) -> Self {
        CatalogItem {
            published_at: rfc3339(&i.published_at),
            id: i.id,
            source: i.source,
            kind: i.kind,
            title: i.title,
            description: i.description,
            url: i.url,
            skills: i.skills,
            popularity: i.popularity,
        }
    }
}

/// A recommendation.
#[derive(Debug, Serialize)]
pub struct Recommendation {
    pub item: Option<CatalogItem>,
    pub score: f64,
    pub matched_skills: Vec<String>,
    pub reason: String,
}

impl From<lxp::Recommendation> for Recommendation {
    fn from(r: lxp::Recommendation) -> Self {
        Recommendation {
            item: r.item.map(Into::into),
            score: r.score,
            matched_skills: r.matched_skills,
            reason: r.reason,
        }
    }
}
