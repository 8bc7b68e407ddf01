//! `/api/v1/courses`.

use axum::extract::State;
use axum::response::Response;
use lyceum_proto::lms::v1 as lms;
use lyceum_server::{Json, Path, Query, authorized};
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::auth::Caller;
use crate::dto::{Course, Module, PageQuery, next_token};
use crate::error::Result;
use crate::people::created;

/// Body of `POST /api/v1/courses`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateCourse {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    skills: Vec<String>,
    modules: Vec<Module>,
}

/// A page of courses.
#[derive(Serialize)]
pub(crate) struct CoursePage {
    courses: Vec<Course>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub(crate) async fn create(
    State(gw): State<Gateway>,
    caller: Caller,
    Json(body): Json<CreateCourse>,
) -> Result<Response> {
    let req = lms::CreateCourseRequest {
        title: body.title,
        description: body.description,
        skills: body.skills,
        modules: body
            .modules
            .into_iter()
            .map(|m| lms::Module {
                id: String::new(),
                title: m.title,
                items: m
                    .items
                    .into_iter()
                    .map(|i| lms::Item {
                        id: String::new(),
                        title: i.title,
                        kind: i.kind,
                        url: i.url,
                        required: i.required,
                    })
                    .collect(),
            })
            .collect(),
    };
    let course = gw
        .upstream
        .courses
        .clone()
        .create_course(authorized(req, &caller.0))
        .await?
        .into_inner();
    Ok(created(
        format!("/api/v1/courses/{}", course.id),
        Course::from(course),
    ))
}

pub(crate) async fn get(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Course>> {
    let c = gw
        .upstream
        .courses
        .clone()
        .get_course(authorized(lms::GetCourseRequest { id }, &caller.0))
        .await?
        .into_inner();
    Ok(Json(c.into()))
}

pub(crate) async fn list(
    State(gw): State<Gateway>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<CoursePage>> {
    let resp = gw
        .upstream
        .courses
        .clone()
        .list_courses(authorized(
            lms::ListCoursesRequest {
                page: Some(page.to_proto()),
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    Ok(Json(CoursePage {
        next_page_token: next_token(&resp.page),
        courses: resp.courses.into_iter().map(Into::into).collect(),
    }))
}

pub(crate) async fn publish(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Course>> {
    let c = gw
        .upstream
        .courses
        .clone()
        .publish_course(authorized(lms::PublishCourseRequest { id }, &caller.0))
        .await?
        .into_inner();
    Ok(Json(c.into()))
}
