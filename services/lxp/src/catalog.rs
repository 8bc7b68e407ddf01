//! The catalogue: courses mirrored from the LMS and external content, newest first, with the
//! popularity of each item counted from interactions at read time.

use lyceum_auth::{GrpcAuth, Principal, Role};
use lyceum_proto::common::v1::PageResponse;
use lyceum_proto::lxp::v1 as pb;
use lyceum_proto::timestamp::from_time;
use lyceum_server::paging::{self, Page};
use lyceum_server::{ApiError, validate};
use lyceum_store::{Tx, is_unique_violation, on_pool, on_tx};
use sqlx::types::Json;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::App;
use crate::error::{LxpError, Result};
use crate::profile;

/// `source` of courses mirrored from the LMS.
pub(crate) const SOURCE_LMS: &str = "lms";
/// `source` of content added in the LXP.
pub(crate) const SOURCE_EXTERNAL: &str = "external";
/// `kind` of LMS courses.
pub(crate) const KIND_COURSE: &str = "course";
/// Kinds of external content.
const EXTERNAL_KINDS: &[&str] = &["video", "article", "podcast", "external_course"];

/// The columns of an item with its popularity: distinct people who registered for or
/// completed it.
macro_rules! select_items {
    ($rest:literal) => {
        concat!(
            "SELECT c.id, c.source, c.kind, c.title, c.description, c.url, c.skills, \
             c.published_at, c.published_micros, \
             (SELECT COUNT(DISTINCT i.person_id) FROM interactions i \
              WHERE i.item_id = c.id AND i.kind IN ('registered', 'completed')) AS popularity \
             FROM catalog_items c ",
            $rest
        )
    };
}

/// A catalogue item as stored, with its popularity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ItemRow {
    pub id: Uuid,
    pub source: String,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub url: String,
    pub skills: Json<Vec<String>>,
    pub published_at: OffsetDateTime,
    pub published_micros: i64,
    pub popularity: i64,
}

impl ItemRow {
    pub fn to_proto(&self) -> pb::CatalogItem {
        pb::CatalogItem {
            id: self.id.to_string(),
            source: self.source.clone(),
            kind: self.kind.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            url: self.url.clone(),
            skills: self.skills.0.clone(),
            popularity: self.popularity.max(0) as u64,
            published_at: Some(from_time(self.published_at)),
        }
    }
}

/// An item about to be stored.
#[derive(Debug, Clone)]
pub(crate) struct NewItem {
    pub id: Uuid,
    pub source: &'static str,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub url: String,
    pub skills: Vec<String>,
    pub published_at: OffsetDateTime,
    pub added_by: Option<Uuid>,
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// Inserts or updates an item by id. An update older than the stored version (an LMS event
/// delivered out of order) is ignored. Returns whether the item was written.
pub(crate) async fn upsert(tx: &mut Tx, item: &NewItem) -> Result<bool, sqlx::Error> {
    const SQL: &str = "INSERT INTO catalog_items \
         (id, source, kind, title, description, url, skills, published_at, published_micros, added_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (id) DO UPDATE SET source = excluded.source, kind = excluded.kind, \
         title = excluded.title, description = excluded.description, url = excluded.url, \
         skills = excluded.skills, published_at = excluded.published_at, \
         published_micros = excluded.published_micros \
         WHERE catalog_items.published_micros <= excluded.published_micros";
    let written = on_tx!(tx, |conn| sqlx::query(SQL)
        .bind(item.id)
        .bind(item.source)
        .bind(&item.kind)
        .bind(&item.title)
        .bind(&item.description)
        .bind(&item.url)
        .bind(Json(&item.skills))
        .bind(item.published_at)
        .bind(micros(item.published_at))
        .bind(item.added_by)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?
        == 1;
    if written {
        replace_skills(tx, item.id, &item.skills).await?;
        profile::attach_to_item(tx, item.id, &item.url).await?;
    }
    Ok(written)
}

async fn replace_skills(tx: &mut Tx, id: Uuid, skills: &[String]) -> Result<(), sqlx::Error> {
    on_tx!(tx, |conn| sqlx::query(
        "DELETE FROM catalog_skills WHERE item_id = $1"
    )
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ()))?;
    for skill in skills {
        on_tx!(tx, |conn| sqlx::query(
            "INSERT INTO catalog_skills (item_id, skill) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        )
        .bind(id)
        .bind(skill)
        .execute(conn)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// The item whose URL is `url`, if any.
pub(crate) async fn id_by_url(tx: &mut Tx, url: &str) -> Result<Option<Uuid>, sqlx::Error> {
    on_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT id FROM catalog_items WHERE url = $1"
    )
    .bind(url)
    .fetch_optional(conn)
    .await)
}

/// Finds an item.
pub(crate) async fn find(app: &App, id: Uuid) -> Result<Option<ItemRow>> {
    const SQL: &str = select_items!("WHERE c.id = $1");
    Ok(on_pool!(&app.store, |pool| sqlx::query_as::<_, ItemRow>(
        SQL
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?)
}

/// The whole catalogue, newest first (the feed ranks all of it).
pub(crate) async fn all(tx: &mut Tx) -> Result<Vec<ItemRow>> {
    const SQL: &str = select_items!("ORDER BY c.published_micros DESC, c.id DESC");
    Ok(on_tx!(tx, |conn| sqlx::query_as::<_, ItemRow>(SQL)
        .fetch_all(conn)
        .await)?)
}

/// Validated external content.
fn validate_external(caller: &Principal, req: &pb::AddExternalItemRequest) -> Result<NewItem> {
    let kind = req.kind.trim().to_lowercase();
    if !EXTERNAL_KINDS.contains(&kind.as_str()) {
        return Err(ApiError::invalid(
            "kind",
            format!("must be one of {}", EXTERNAL_KINDS.join(", ")),
        )
        .into());
    }
    let title = validate::required_text("title", &req.title, 200)?;
    let description = validate::optional_text("description", &req.description, 10_000)?;
    let url = validate::http_url("url", &req.url)?;
    let skills = validate::skills("skills", &req.skills)?;
    Ok(NewItem {
        id: Uuid::now_v7(),
        source: SOURCE_EXTERNAL,
        kind,
        title,
        description,
        url,
        skills,
        published_at: OffsetDateTime::now_utc(),
        added_by: caller.person_id,
    })
}

/// `lyceum.lxp.v1.CatalogService`.
pub(crate) struct CatalogApi {
    app: App,
}

impl CatalogApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }

    async fn add_external(
        &self,
        caller: &Principal,
        req: pb::AddExternalItemRequest,
    ) -> Result<pb::CatalogItem> {
        caller.require(&[Role::Admin, Role::Author])?;
        let item = validate_external(caller, &req)?;
        let mut tx = self.app.store.begin().await?;
        // The id is new, so the upsert can only insert; a taken URL fails on its unique index.
        match upsert(&mut tx, &item).await {
            Err(e) if is_unique_violation(&e) => return Err(LxpError::UrlTaken(item.url)),
            other => other?,
        };
        tx.commit().await?;
        tracing::info!(item = %item.id, kind = %item.kind, "external item added");
        let row = find(&self.app, item.id)
            .await?
            .ok_or(LxpError::ItemNotFound(item.id))?;
        Ok(row.to_proto())
    }

    async fn list(&self, req: pb::ListItemsRequest) -> Result<pb::ListItemsResponse> {
        const SQL: &str = select_items!(
            "WHERE ($1 OR c.published_micros < $2 OR (c.published_micros = $2 AND c.id < $3)) \
             AND ($4 = '' OR EXISTS (SELECT 1 FROM catalog_skills s \
                                     WHERE s.item_id = c.id AND s.skill = $4)) \
             ORDER BY c.published_micros DESC, c.id DESC LIMIT $5"
        );
        let page_req = req.page.unwrap_or_default();
        let page: Page<(i64, Uuid)> = Page::parse(page_req.page_size, &page_req.page_token)?;
        let skill = validate::optional_text("skill", &req.skill, 64)?.to_lowercase();
        let (after_micros, after_id) = page.after.unwrap_or_default();
        let rows: Vec<ItemRow> = on_pool!(&self.app.store, |pool| sqlx::query_as(SQL)
            .bind(page.after.is_none())
            .bind(after_micros)
            .bind(after_id)
            .bind(&skill)
            .bind(page.fetch_limit())
            .fetch_all(pool)
            .await)?;
        let (rows, next) = paging::finish(rows, page.size, |r| (r.published_micros, r.id));
        Ok(pb::ListItemsResponse {
            items: rows.iter().map(ItemRow::to_proto).collect(),
            page: Some(PageResponse {
                next_page_token: next,
            }),
        })
    }
}

#[tonic::async_trait]
impl pb::catalog_service_server::CatalogService for CatalogApi {
    async fn list_items(
        &self,
        req: Request<pb::ListItemsRequest>,
    ) -> Result<Response<pb::ListItemsResponse>, Status> {
        GrpcAuth::principal(&req)?;
        Ok(Response::new(self.list(req.into_inner()).await?))
    }

    async fn get_item(
        &self,
        req: Request<pb::GetItemRequest>,
    ) -> Result<Response<pb::CatalogItem>, Status> {
        GrpcAuth::principal(&req)?;
        let id = validate::uuid("id", &req.get_ref().id).map_err(LxpError::from)?;
        let row = find(&self.app, id)
            .await?
            .ok_or(LxpError::ItemNotFound(id))?;
        Ok(Response::new(row.to_proto()))
    }

    async fn add_external_item(
        &self,
        req: Request<pb::AddExternalItemRequest>,
    ) -> Result<Response<pb::CatalogItem>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(
            self.add_external(&caller, req.into_inner()).await?,
        ))
    }
}
