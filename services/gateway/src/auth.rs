//! Tokens: `POST /api/v1/auth/token` (e-mail + password -> JWT) and the bearer token every
//! other `/api` call carries, forwarded to the services, which verify it.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use lyceum_auth::Role;
use lyceum_proto::lms::v1 as lms;
use lyceum_server::{ApiError, ErrorKind, Json};
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::dto::Person;
use crate::error::Result;

/// The caller: the bearer token as sent (forwarded to the services, which check it again and
/// authorise), verified here first so bad credentials are refused before anything else.
pub(crate) struct Caller(pub String, pub lyceum_auth::Principal);

impl FromRequestParts<Gateway> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gw: &Gateway) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default());
        let Some(value) = value else {
            return Err(ApiError::new(
                ErrorKind::Unauthenticated,
                "missing bearer token: get one from POST /api/v1/auth/token",
            ));
        };
        let token = lyceum_auth::bearer(value)?;
        let principal = gw.verifier.verify(token)?;
        Ok(Caller(token.to_string(), principal))
    }
}

/// Body of `POST /api/v1/auth/token`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    email: String,
    password: String,
}

/// A new access token.
#[derive(Serialize)]
pub(crate) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    person: Person,
}

pub(crate) async fn token(
    State(gw): State<Gateway>,
    Json(body): Json<TokenRequest>,
) -> Result<Json<TokenResponse>> {
    if body.email.trim().is_empty() {
        return Err(ApiError::invalid("email", "must not be empty").into());
    }
    if body.password.is_empty() {
        return Err(ApiError::invalid("password", "must not be empty").into());
    }
    let service = gw.signer.service_token("gateway", &["people.authenticate"]);
    let person = gw
        .upstream
        .people
        .clone()
        .authenticate(lyceum_server::authorized(
            lms::AuthenticateRequest {
                email: body.email,
                password: body.password,
            },
            &service,
        ))
        .await?
        .into_inner();
    let role = Role::parse_person(crate::dto::role_name(person.role))
        .ok_or_else(|| ApiError::internal("person without a role"))?;
    let id = person
        .id
        .parse()
        .map_err(|_| ApiError::internal("person id is not a UUID"))?;
    let access_token = gw
        .signer
        .person_token(id, role, &person.email, &person.name);
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: gw.signer.ttl().as_secs(),
        person: person.into(),
    }))
}
