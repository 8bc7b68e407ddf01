//! `/api/v1/people` and `/api/v1/me`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lyceum_proto::lms::v1 as lms;
use lyceum_server::{ApiError, Json, Path, Query, authorized};
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::auth::Caller;
use crate::dto::{PageQuery, Person, next_token, role_value};
use crate::error::Result;

/// Body of `POST /api/v1/people`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePerson {
    email: String,
    name: String,
    #[serde(default)]
    department: String,
    role: String,
    password: String,
}

/// A page of people.
#[derive(Serialize)]
pub(crate) struct PeoplePage {
    people: Vec<Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// `?department=&page_size=&page_token=`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(default)]
    department: String,
    #[serde(default)]
    page_size: u32,
    #[serde(default)]
    page_token: String,
}

pub(crate) async fn create(
    State(gw): State<Gateway>,
    caller: Caller,
    Json(body): Json<CreatePerson>,
) -> Result<Response> {
    let role = role_value(body.role.trim()).ok_or_else(|| {
        ApiError::invalid(
            "role",
            "must be one of learner, instructor, manager, author, admin",
        )
    })?;
    let person = gw
        .upstream
        .people
        .clone()
        .create_person(authorized(
            lms::CreatePersonRequest {
                email: body.email,
                name: body.name,
                department: body.department,
                role: role as i32,
                password: body.password,
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    let location = format!("/api/v1/people/{}", person.id);
    Ok(created(location, Person::from(person)))
}

/// 201 with a `Location` header.
pub(crate) fn created<T: Serialize>(location: String, body: T) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    (StatusCode::CREATED, headers, Json(body)).into_response()
}

pub(crate) async fn get(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Person>> {
    let p = gw
        .upstream
        .people
        .clone()
        .get_person(authorized(lms::GetPersonRequest { id }, &caller.0))
        .await?
        .into_inner();
    Ok(Json(p.into()))
}

pub(crate) async fn me(State(gw): State<Gateway>, caller: Caller) -> Result<Json<Person>> {
    let id = caller.1.person()?.to_string();
    get(State(gw), caller, Path(id)).await
}

pub(crate) async fn list(
    State(gw): State<Gateway>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<PeoplePage>> {
    let resp = gw
        .upstream
        .people
        .clone()
        .list_people(authorized(
            lms::ListPeopleRequest {
                page: Some(
                    PageQuery {
                        page_size: q.page_size,
                        page_token: q.page_token,
                    }
                    .to_proto(),
                ),
                department: q.department,
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    Ok(Json(PeoplePage {
        next_page_token: next_token(&resp.page),
        people: resp.people.into_iter().map(Into::into).collect(),
    }))
}

/// Every person as CSV (for HR and L&D reports), fetched page by page.
pub(crate) async fn export_csv(
    State(gw): State<Gateway>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let mut out = String::from("id,email,name,department,role,created_at\n");
    let mut token = String::new();
    loop {
        let resp = gw
            .upstream
            .people
            .clone()
            .list_people(authorized(
                lms::ListPeopleRequest {
                    page: Some(
                        PageQuery {
                            page_size: 500,
                            page_token: token,
                        }
                        .to_proto(),
                    ),
                    department: q.department.clone(),
                },
                &caller.0,
            ))
            .await?
            .into_inner();
        for p in resp.people {
            let p = Person::from(p);
            let row = [
                p.id.as_str(),
                &p.email,
                &p.name,
                &p.department,
                p.role,
                p.created_at.as_deref().unwrap_or(""),
            ]
            .map(csv_field)
            .join(",");
            out.push_str(&row);
            out.push('\n');
        }
        match next_token(&resp.page) {
            Some(t) => token = t,
            None => break,
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"people.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// Quotes a CSV field when needed; neutralises spreadsheet formulas.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(super::csv_field("plain"), "plain");
        assert_eq!(super::csv_field("a,b"), "\"a,b\"");
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_field("=SUM(A1)"), "'=SUM(A1)");
    }
}
