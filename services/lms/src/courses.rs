//! Courses: modules of items, tagged with skills; drafts until published.

use lyceum_auth::{GrpcAuth, Principal, Role};
use lyceum_bus::{NewEvent, Outbox, subjects};
use lyceum_proto::common::v1::PageResponse;
use lyceum_proto::events::v1 as ev;
use lyceum_proto::lms::v1 as pb;
use lyceum_proto::timestamp::from_time;
use lyceum_server::paging::{self, Page};
use lyceum_server::{ApiError, validate};
use lyceum_store::{Tx, on_pool, on_tx};
use sqlx::types::Json;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::error::{LmsError, Result};
use crate::{App, SOURCE};

/// Item kinds the LMS knows, and whether they need a URL.
const ITEM_KINDS: &[(&str, bool)] = &[
    ("video", true),
    ("document", true),
    ("link", true),
    ("scorm", false),
    ("quiz", false),
];

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CourseRow {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub skills: Json<Vec<String>>,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub published_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ModuleRow {
    id: Uuid,
    title: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ItemRow {
    pub id: Uuid,
    pub module_id: Uuid,
    pub title: String,
    pub kind: String,
    pub url: String,
    pub required: bool,
}

const PUBLISHED: &str = "published";
const DRAFT: &str = "draft";

/// A course with its modules and items, as loaded.
pub(crate) struct CourseTree {
    pub course: CourseRow,
    modules: Vec<(ModuleRow, Vec<ItemRow>)>,
}

impl CourseTree {
    pub fn items(&self) -> impl Iterator<Item = &ItemRow> {
        self.modules.iter().flat_map(|(_, items)| items.iter())
    }

    fn to_proto(&self, app: &App) -> pb::Course {
        let c = &self.course;
        pb::Course {
            id: c.id.to_string(),
            title: c.title.clone(),
            description: c.description.clone(),
            skills: c.skills.0.clone(),
            modules: self
                .modules
                .iter()
                .map(|(m, items)| pb::Module {
                    id: m.id.to_string(),
                    title: m.title.clone(),
                    items: items
                        .iter()
                        .map(|i| pb::Item {
                            id: i.id.to_string(),
                            title: i.title.clone(),
                            kind: i.kind.clone(),
                            url: i.url.clone(),
                            required: i.required,
                        })
                        .collect(),
                })
                .collect(),
            status: if c.status == PUBLISHED {
                pb::CourseStatus::Published
            } else {
                pb::CourseStatus::Draft
            } as i32,
            created_at: Some(from_time(c.created_at)),
            published_at: c.published_at.map(from_time),
            activity_id: app.identity.course_activity(c.id),
        }
    }
}

/// Loads a course with modules and items (inside a transaction when given one).
pub(crate) async fn load(tx: &mut Tx, id: Uuid) -> Result<Option<CourseTree>> {
    const COURSE: &str = "SELECT id, title, description, skills, status, created_at, published_at FROM courses WHERE id = $1";
    const MODULES: &str = "SELECT id, title FROM modules WHERE course_id = $1 ORDER BY position";
    const ITEMS: &str = "SELECT i.id, i.module_id, i.title, i.kind, i.url, i.required FROM items i \
                         JOIN modules m ON m.id = i.module_id WHERE i.course_id = $1 ORDER BY m.position, i.position";
    let Some(course) = on_tx!(tx, |conn| sqlx::query_as::<_, CourseRow>(COURSE)
        .bind(id)
        .fetch_optional(conn)
        .await)?
    else {
        return Ok(None);
    };
    let modules: Vec<ModuleRow> = on_tx!(tx, |conn| sqlx::query_as(MODULES)
        .bind(id)
        .fetch_all(conn)
        .await)?;
    let items: Vec<ItemRow> = on_tx!(tx, |conn| sqlx::query_as(ITEMS)
        .bind(id)
        .fetch_all(conn)
        .await)?;
    let modules = modules
        .into_iter()
        .map(|m| {
            let mine = items
                .iter()
                .filter(|i| i.module_id == m.id)
                .cloned()
                .collect();
            (m, mine)
        })
        .collect();
    Ok(Some(CourseTree { course, modules }))
}

struct NewModule {
    title: String,
    items: Vec<NewItem>,
}

struct NewItem {
    title: String,
    kind: String,
    url: String,
    required: bool,
}

struct NewCourse {
    title: String,
    description: String,
    skills: Vec<String>,
    modules: Vec<NewModule>,
}

fn validate_course(req: &pb::CreateCourseRequest) -> Result<NewCourse> {
    let title = validate::required_text("title", &req.title, 200)?;
    let description = validate::optional_text("description", &req.description, 10_000)?;
    let skills = validate::skills("skills", &req.skills)?;
    if req.modules.is_empty() {
        return Err(ApiError::invalid("modules", "a course needs at least one module").into());
    }
    if req.modules.len() > 100 {
        return Err(ApiError::invalid("modules", "at most 100 modules").into());
    }
    let mut modules = Vec::with_capacity(req.modules.len());
    for (mi, m) in req.modules.iter().enumerate() {
        let at = format!("modules[{mi}]");
        let title = validate::required_text(&format!("{at}.title"), &m.title, 200)?;
        if m.items.is_empty() {
            return Err(ApiError::invalid(
                format!("{at}.items"),
                "a module needs at least one item",
            )
            .into());
        }
        if m.items.len() > 200 {
            return Err(ApiError::invalid(format!("{at}.items"), "at most 200 items").into());
        }
        let mut items = Vec::with_capacity(m.items.len());
        for (ii, item) in m.items.iter().enumerate() {
            let at = format!("{at}.items[{ii}]");
            let title = validate::required_text(&format!("{at}.title"), &item.title, 200)?;
            let kind = item.kind.trim().to_lowercase();
            let Some(&(_, needs_url)) = ITEM_KINDS.iter().find(|(k, _)| *k == kind) else {
                let kinds: Vec<_> = ITEM_KINDS.iter().map(|(k, _)| *k).collect();
                return Err(ApiError::invalid(
                    format!("{at}.kind"),
                    format!("must be one of {}", kinds.join(", ")),
                )
                .into());
            };
            let url = if needs_url || !item.url.trim().is_empty() {
                validate::http_url(&format!("{at}.url"), &item.url)?
            } else {
                String::new()
            };
            items.push(NewItem {
                title,
                kind,
                url,
                required: item.required,
            });
        }
        modules.push(NewModule { title, items });
    }
    Ok(NewCourse {
        title,
        description,
        skills,
        modules,
    })
}

/// Creates a draft course; returns its id.
async fn insert(app: &App, author: Uuid, c: NewCourse) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let now = OffsetDateTime::now_utc();
    let mut tx = app.store.begin().await?;
    on_tx!(&mut tx, |conn| sqlx::query(
        "INSERT INTO courses (id, title, description, skills, status, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(id)
    .bind(&c.title)
    .bind(&c.description)
    .bind(Json(&c.skills))
    .bind(DRAFT)
    .bind(author)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ()))?;
    for (mi, m) in c.modules.iter().enumerate() {
        let module_id = Uuid::now_v7();
        on_tx!(&mut tx, |conn| sqlx::query(
            "INSERT INTO modules (id, course_id, position, title) VALUES ($1, $2, $3, $4)"
        )
        .bind(module_id)
        .bind(id)
        .bind(mi as i32)
        .bind(&m.title)
        .execute(conn)
        .await
        .map(|_| ()))?;
        for (ii, item) in m.items.iter().enumerate() {
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                "INSERT INTO items (id, module_id, course_id, position, title, kind, url, required) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            )
            .bind(Uuid::now_v7())
            .bind(module_id)
            .bind(id)
            .bind(ii as i32)
            .bind(&item.title)
            .bind(&item.kind)
            .bind(&item.url)
            .bind(item.required)
            .execute(conn)
            .await
            .map(|_| ())
            })?;
        }
    }
    tx.commit().await?;
    Ok(id)
}

/// Publishes a course and announces it; publishing a published course changes nothing.
pub(crate) async fn publish(app: &App, id: Uuid) -> Result<CourseTree> {
    let mut tx = app.store.begin().await?;
    let mut tree = load(&mut tx, id)
        .await?
        .ok_or(LmsError::CourseNotFound(id))?;
    if tree.course.status == PUBLISHED {
        return Ok(tree);
    }
    let now = OffsetDateTime::now_utc();
    on_tx!(&mut tx, |conn| sqlx::query(
        "UPDATE courses SET status = $1, published_at = $2 WHERE id = $3"
    )
    .bind(PUBLISHED)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ()))?;
    tree.course.status = PUBLISHED.into();
    tree.course.published_at = Some(now);
    let c = &tree.course;
    let event = ev::CoursePublished {
        course_id: c.id.to_string(),
        title: c.title.clone(),
        description: c.description.clone(),
        skills: c.skills.0.clone(),
        items: tree
            .items()
            .map(|i| ev::CourseItem {
                id: i.id.to_string(),
                title: i.title.clone(),
                kind: i.kind.clone(),
                url: i.url.clone(),
                required: i.required,
            })
            .collect(),
        published_at: Some(from_time(now)),
        activity_id: app.identity.course_activity(c.id),
    };
    Outbox::enqueue(
        &mut tx,
        &[NewEvent::proto(
            subjects::COURSE_PUBLISHED,
            SOURCE,
            c.id,
            &event,
        )],
    )
    .await?;
    app.outbox.commit(tx).await?;
    tracing::info!(course = %id, "course published");
    Ok(tree)
}

/// Creates a draft course for `caller` (admin or author).
pub(crate) async fn create_for(
    app: &App,
    caller: &Principal,
    req: pb::CreateCourseRequest,
) -> Result<pb::Course> {
    caller.require(&[Role::Admin, Role::Author])?;
    let new = validate_course(&req)?;
    let id = insert(app, caller.person()?, new).await?;
    tracing::info!(course = %id, "course created");
    let mut tx = app.store.begin_read().await?;
    let tree = load(&mut tx, id)
        .await?
        .ok_or(LmsError::CourseNotFound(id))?;
    tx.commit().await?;
    Ok(tree.to_proto(app))
}

fn can_see_drafts(caller: &Principal) -> bool {
    matches!(caller.role, Role::Admin | Role::Author)
}

/// `lyceum.lms.v1.CourseService`.
pub(crate) struct CourseApi {
    app: App,
}

impl CourseApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }

    async fn fetch(&self, caller: &Principal, id: Uuid) -> Result<pb::Course> {
        let mut tx = self.app.store.begin_read().await?;
        let tree = load(&mut tx, id).await?;
        tx.commit().await?;
        match tree {
            Some(t) if t.course.status == PUBLISHED || can_see_drafts(caller) => {
                Ok(t.to_proto(&self.app))
            }
            _ => Err(LmsError::CourseNotFound(id)),
        }
    }

    async fn list(
        &self,
        caller: &Principal,
        req: pb::ListCoursesRequest,
    ) -> Result<pb::ListCoursesResponse> {
        let page_req = req.page.unwrap_or_default();
        let page: Page<(String, Uuid)> = Page::parse(page_req.page_size, &page_req.page_token)?;
        let (after_title, after_id) = page.after.clone().unwrap_or_default();
        let ids: Vec<(Uuid, String)> = on_pool!(&self.app.store, |pool| sqlx::query_as(
            "SELECT id, title FROM courses \
             WHERE ($1 OR title > $2 OR (title = $2 AND id > $3)) AND ($4 OR status = 'published') \
             ORDER BY title, id LIMIT $5"
        )
        .bind(page.after.is_none())
        .bind(&after_title)
        .bind(after_id)
        .bind(can_see_drafts(caller))
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await)?;
        let (ids, next) = paging::finish(ids, page.size, |(id, title)| (title.clone(), *id));
        let mut tx = self.app.store.begin_read().await?;
        let mut courses = Vec::with_capacity(ids.len());
        for (id, _) in ids {
            if let Some(t) = load(&mut tx, id).await? {
                courses.push(t.to_proto(&self.app));
            }
        }
        tx.commit().await?;
        Ok(pb::ListCoursesResponse {
            courses,
            page: Some(PageResponse {
                next_page_token: next,
            }),
        })
    }
}

#[tonic::async_trait]
impl pb::course_service_server::CourseService for CourseApi {
    async fn create_course(
        &self,
        req: Request<pb::CreateCourseRequest>,
    ) -> Result<Response<pb::Course>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(
            create_for(&self.app, &caller, req.into_inner()).await?,
        ))
    }

    async fn get_course(
        &self,
        req: Request<pb::GetCourseRequest>,
    ) -> Result<Response<pb::Course>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        let id = validate::uuid("id", &req.get_ref().id).map_err(LmsError::from)?;
        Ok(Response::new(self.fetch(&caller, id).await?))
    }

    async fn list_courses(
        &self,
        req: Request<pb::ListCoursesRequest>,
    ) -> Result<Response<pb::ListCoursesResponse>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(self.list(&caller, req.into_inner()).await?))
    }

    async fn publish_course(
        &self,
        req: Request<pb::PublishCourseRequest>,
    ) -> Result<Response<pb::Course>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        caller
            .require(&[Role::Admin, Role::Author])
            .map_err(LmsError::from)?;
        let id = validate::uuid("id", &req.get_ref().id).map_err(LmsError::from)?;
        let tree = publish(&self.app, id).await?;
        Ok(Response::new(tree.to_proto(&self.app)))
    }
}
