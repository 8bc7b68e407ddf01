//! Enrolments and progress: `/api/v1/courses/{id}/enrollments`, `/api/v1/enrollments/...`.

use axum::extract::State;
use axum::response::Response;
use lyceum_proto::lms::v1 as lms;
use lyceum_server::{Json, Path, Query, authorized};
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::auth::Caller;
use crate::dto::{Enrollment, PageQuery, next_token};
use crate::error::Result;
use crate::people::created;

/// Optional body of `POST /api/v1/courses/{id}/enrollments` (admins enrol others).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnrollBody {
    #[serde(default)]
    person_id: String,
}

/// A page of enrolments.
#[derive(Serialize)]
pub(crate) struct EnrollmentPage {
    enrollments: Vec<Enrollment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub(crate) async fn enroll(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(course_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response> {
    // The body is optional: only admins enrolling someone else send one.
    let body: EnrollBody = if body.iter().all(u8::is_ascii_whitespace) {
        EnrollBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            lyceum_server::ApiError::invalid("body", format!("not a valid enrolment request: {e}"))
        })?
    };
    let e = gw
        .upstream
        .enrollments
        .clone()
        .enroll(authorized(
            lms::EnrollRequest {
                course_id,
                person_id: body.person_id,
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    Ok(created(
        format!("/api/v1/enrollments/{}", e.id),
        Enrollment::from(e),
    ))
}

pub(crate) async fn get(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Enrollment>> {
    let e = gw
        .upstream
        .enrollments
        .clone()
        .get_enrollment(authorized(lms::GetEnrollmentRequest { id }, &caller.0))
        .await?
        .into_inner();
    Ok(Json(e.into()))
}

pub(crate) async fn mine(
    State(gw): State<Gateway>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<EnrollmentPage>> {
    let resp = gw
        .upstream
        .enrollments
        .clone()
        .list_my_enrollments(authorized(
            lms::ListMyEnrollmentsRequest {
                page: Some(page.to_proto()),
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    Ok(Json(EnrollmentPage {
        next_page_token: next_token(&resp.page),
        enrollments: resp.enrollments.into_iter().map(Into::into).collect(),
    }))
}

pub(crate) async fn complete_item(
    State(gw): State<Gateway>,
    caller: Caller,
    Path((enrollment_id, item_id)): Path<(String, String)>,
) -> Result<Json<Enrollment>> {
    let e = gw
        .upstream
        .enrollments
        .clone()
        .complete_item(authorized(
            lms::CompleteItemRequest {
                enrollment_id,
                item_id,
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    Ok(Json(e.into()))
}
