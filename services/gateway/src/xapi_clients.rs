//! `/api/v1/admin/xapi-clients`: administrators manage the LRS's xAPI clients (HTTP Basic
//! key and secret, xAPI scopes, authority) through the LRS's `XapiClientService`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lyceum_auth::Role;
use lyceum_proto::lrs::v1 as lrs;
use lyceum_server::{Json, authorized};
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::auth::Caller;
use crate::dto::{PageQuery, next_token, rfc3339};
use crate::error::Result;
use crate::people::created;

/// Body of `POST /api/v1/admin/xapi-clients`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateClient {
    key: String,
    /// Empty or absent: the LRS generates one.
    #[serde(default)]
    secret: String,
    scopes: Vec<String>,
    /// The authority Agent; absent: an account named after the key.
    #[serde(default)]
    authority: Option<serde_json::Value>,
}

/// An xAPI client (never its secret, except once in the creation answer).
#[derive(Serialize)]
pub(crate) struct XapiClient {
    key: String,
    scopes: Vec<String>,
    authority: serde_json::Value,
    created_at: Option<String>,
    updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<lrs::XapiClient> for XapiClient {
    fn from(c: lrs::XapiClient) -> Self {
        XapiClient {
            authority: serde_json::from_str(&c.authority_json).unwrap_or_default(),
            created_at: rfc3339(&c.created_at),
            updated_at: rfc3339(&c.updated_at),
            key: c.key,
            scopes: c.scopes,
            secret: None,
        }
    }
}

/// A page of clients.
#[derive(Serialize)]
pub(crate) struct ClientPage {
    clients: Vec<XapiClient>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub(crate) async fn create(
    State(gw): State<Gateway>,
    caller: Caller,
    Json(body): Json<CreateClient>,
) -> Result<Response> {
    caller.1.require(&[Role::Admin])?;
    let resp = gw
        .upstream
        .xapi_clients
        .clone()
        .create_xapi_client(authorized(
            lrs::CreateXapiClientRequest {
                key: body.key,
                secret: body.secret,
                scopes: body.scopes,
                authority_json: body.authority.map(|a| a.to_string()).unwrap_or_default(),
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    let mut client = XapiClient::from(resp.client.unwrap_or_default());
    client.secret = Some(resp.secret);
    let location = format!("/api/v1/admin/xapi-clients/{}", client.key);
    Ok(created(location, client))
}

pub(crate) async fn list(
    State(gw): State<Gateway>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<ClientPage>> {
    caller.1.require(&[Role::Admin])?;
    let resp = gw
        .upstream
        .xapi_clients
        .clone()
        .list_xapi_clients(authorized(
            lrs::ListXapiClientsRequest {
                page: Some(q.to_proto()),
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    Ok(Json(ClientPage {
        next_page_token: next_token(&resp.page),
        clients: resp.clients.into_iter().map(Into::into).collect(),
    }))
}

pub(crate) async fn delete(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response> {
    caller.1.require(&[Role::Admin])?;
    gw.upstream
        .xapi_clients
        .clone()
        .delete_xapi_client(authorized(lrs::DeleteXapiClientRequest { key }, &caller.0))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
