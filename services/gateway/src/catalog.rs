//! The LXP through the gateway: `/api/v1/catalog` and `/api/v1/me/feed`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use lyceum_proto::lxp::v1 as lxp;
use lyceum_server::{Json, Path, Query, authorized};
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::auth::Caller;
use crate::dto::{CatalogItem, PageQuery, Recommendation, next_token};
use crate::error::Result;
use crate::people::created;

/// `?skill=&page_size=&page_token=`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CatalogQuery {
    #[serde(default)]
    skill: String,
    #[serde(default)]
    page_size: u32,
    #[serde(default)]
    page_token: String,
}

/// A page of the catalogue.
#[derive(Serialize)]
pub(crate) struct CatalogPage {
    items: Vec<CatalogItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// Body of `POST /api/v1/catalog`: external content.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExternalItem {
    kind: String,
    title: String,
    #[serde(default)]
    description: String,
    url: String,
    #[serde(default)]
    skills: Vec<String>,
}

/// The caller's feed.
#[derive(Serialize)]
pub(crate) struct Feed {
    recommendations: Vec<Recommendation>,
    profile: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub(crate) async fn list(
    State(gw): State<Gateway>,
    caller: Caller,
    Query(q): Query<CatalogQuery>,
) -> Result<Json<CatalogPage>> {
    let resp = gw
        .upstream
        .catalog
        .clone()
        .list_items(authorized(
            lxp::ListItemsRequest {
                page: Some(
                    PageQuery {
                        page_size: q.page_size,
                        page_token: q.page_token,
                    }
                    .to_proto(),
                ),
                skill: q.skill,
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    Ok(Json(CatalogPage {
        next_page_token: next_token(&resp.page),
        items: resp.items.into_iter().map(Into::into).collect(),
    }))
}

pub(crate) async fn get(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CatalogItem>> {
    let item = gw
        .upstream
        .catalog
        .clone()
        .get_item(authorized(lxp::GetItemRequest { id }, &caller.0))
        .await?
        .into_inner();
    Ok(Json(item.into()))
}

pub(crate) async fn add_external(
    State(gw): State<Gateway>,
    caller: Caller,
    Json(body): Json<ExternalItem>,
) -> Result<Response> {
    let item = gw
        .upstream
        .catalog
        .clone()
        .add_external_item(authorized(
            lxp::AddExternalItemRequest {
                kind: body.kind,
                title: body.title,
                description: body.description,
                url: body.url,
                skills: body.skills,
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    Ok(created(
        format!("/api/v1/catalog/{}", item.id),
        CatalogItem::from(item),
    ))
}

pub(crate) async fn feed(
    State(gw): State<Gateway>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Feed>> {
    let resp = gw
        .upstream
        .feed
        .clone()
        .get_feed(authorized(
            lxp::GetFeedRequest {
                page: Some(page.to_proto()),
            },
            &caller.0,
        ))
        .await?
        .into_inner();
    Ok(Json(Feed {
        next_page_token: next_token(&resp.page),
        profile: resp.profile.into_iter().collect(),
        recommendations: resp.recommendations.into_iter().map(Into::into).collect(),
    }))
}
