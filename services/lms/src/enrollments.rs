//! Enrolments and progress. Every step is also an xAPI statement (registered, completed item,
//! completed course) written to the outbox with the state change, for the LRS.

use lyceum_auth::{GrpcAuth, Principal, Role};
use lyceum_bus::{NewEvent, Outbox, subjects};
use lyceum_proto::common::v1::PageResponse;
use lyceum_proto::events::v1 as ev;
use lyceum_proto::lms::v1 as pb;
use lyceum_proto::timestamp::from_time;
use lyceum_server::paging::{self, Page};
use lyceum_server::validate;
use lyceum_store::{Tx, is_unique_violation, on_pool, on_tx};
use lyceum_xapi::vocab::verbs;
use serde_json::Value;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::courses::{self, CourseTree};
use crate::error::{LmsError, Result};
use crate::people;
use crate::{App, SOURCE};

const ACTIVE: &str = "active";
const COMPLETED: &str = "completed";

#[derive(Debug, Clone, sqlx::FromRow)]
struct EnrollmentRow {
    id: Uuid,
    course_id: Uuid,
    person_id: Uuid,
    status: String,
    enrolled_at: OffsetDateTime,
    completed_at: Option<OffsetDateTime>,
}

/// An enrolment with the ids of its completed items.
struct Progress {
    row: EnrollmentRow,
    completed: Vec<Uuid>,
    required: usize,
    required_done: usize,
}

impl Progress {
    fn to_proto(&self) -> pb::Enrollment {
        let r = &self.row;
        pb::Enrollment {
            id: r.id.to_string(),
            course_id: r.course_id.to_string(),
            person_id: r.person_id.to_string(),
            status: if r.status == COMPLETED {
                pb::EnrollmentStatus::Completed
            } else {
                pb::EnrollmentStatus::Active
            } as i32,
            completed_item_ids: self.completed.iter().map(Uuid::to_string).collect(),
            progress: if self.required == 0 {
                1.0
            } else {
                self.required_done as f64 / self.required as f64
            },
            enrolled_at: Some(from_time(r.enrolled_at)),
            completed_at: r.completed_at.map(from_time),
        }
    }
}

async fn find(tx: &mut Tx, id: Uuid, lock: bool) -> Result<Option<EnrollmentRow>> {
    // Completing items of one enrolment concurrently must see each other: lock the row.
    let sql = match (tx.backend(), lock) {
        (lyceum_store::Backend::Postgres, true) => {
            "SELECT id, course_id, person_id, status, enrolled_at, completed_at FROM enrollments WHERE id = $1 FOR UPDATE"
        }
        _ => {
            "SELECT id, course_id, person_id, status, enrolled_at, completed_at FROM enrollments WHERE id = $1"
        }
    };
    Ok(on_tx!(tx, |conn| sqlx::query_as::<_, EnrollmentRow>(sql)
        .bind(id)
        .fetch_optional(conn)
        .await)?)
}

async fn progress(tx: &mut Tx, row: EnrollmentRow, tree: Option<&CourseTree>) -> Result<Progress> {
    let completed: Vec<Uuid> = on_tx!(tx, |conn| {
        sqlx::query_scalar(
        "SELECT item_id FROM item_completions WHERE enrollment_id = $1 ORDER BY completed_at, item_id"
    )
    .bind(row.id)
    .fetch_all(conn)
    .await
    })?;
    let loaded;
    let tree = match tree {
        Some(t) => t,
        None => {
            loaded = courses::load(tx, row.course_id)
                .await?
                .ok_or(LmsError::CourseNotFound(row.course_id))?;
            &loaded
        }
    };
    let required: Vec<Uuid> = tree.items().filter(|i| i.required).map(|i| i.id).collect();
    let required_done = required.iter().filter(|id| completed.contains(id)).count();
    Ok(Progress {
        row,
        completed,
        required: required.len(),
        required_done,
    })
}

fn statement_event(statement: &Value) -> NewEvent {
    let id = statement["id"].as_str().unwrap_or_default().to_string();
    NewEvent::json(
        subjects::XAPI_SUBMIT,
        SOURCE,
        id,
        serde_json::to_vec(statement).expect("statements serialize"),
    )
}

/// `lyceum.lms.v1.EnrollmentService`.
pub struct EnrollmentApi {
    app: App,
}

impl EnrollmentApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }

    pub(crate) async fn enroll(
        &self,
        caller: &Principal,
        req: pb::EnrollRequest,
    ) -> Result<pb::Enrollment> {
        let course_id = validate::uuid("course_id", &req.course_id)?;
        let person_id = if req.person_id.trim().is_empty() {
            caller.person()?
        } else {
            let id = validate::uuid("person_id", &req.person_id)?;
            if caller.person_id != Some(id) {
                caller.require(&[Role::Admin])?;
            }
            id
        };
        let mut tx = self.app.store.begin().await?;
        let tree = courses::load(&mut tx, course_id)
            .await?
            .ok_or(LmsError::CourseNotFound(course_id))?;
        if tree.course.status != "published" {
            return Err(if matches!(caller.role, Role::Admin | Role::Author) {
                LmsError::NotPublished(course_id)
            } else {
                LmsError::CourseNotFound(course_id)
            });
        }
        let person = people::find_in(&mut tx, person_id)
            .await?
            .ok_or(LmsError::PersonNotFound(person_id))?;
        let now = OffsetDateTime::now_utc();
        let row = EnrollmentRow {
            id: Uuid::now_v7(),
            course_id,
            person_id,
            status: ACTIVE.into(),
            enrolled_at: now,
            completed_at: None,
        };
        let inserted = on_tx!(&mut tx, |conn| {
            sqlx::query(
            "INSERT INTO enrollments (id, course_id, person_id, status, enrolled_at) VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(row.id)
        .bind(course_id)
        .bind(person_id)
        .bind(ACTIVE)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
        });
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(LmsError::AlreadyEnrolled(course_id)),
            other => other?,
        }
        let identity = &self.app.identity;
        let statement = identity.statement(
            identity.agent(person_id, &person.name),
            verbs::REGISTERED,
            &identity.course(course_id, &tree.course.title),
            Some(row.id),
            None,
            now,
        );
        let created = ev::EnrollmentCreated {
            enrollment_id: row.id.to_string(),
            course_id: course_id.to_string(),
            person_id: person_id.to_string(),
        };
        Outbox::enqueue(
            &mut tx,
            &[
                NewEvent::proto(subjects::ENROLLMENT_CREATED, SOURCE, row.id, &created),
                statement_event(&statement),
            ],
        )
        .await?;
        let p = progress(&mut tx, row, Some(&tree)).await?;
        self.app.outbox.commit(tx).await?;
        tracing::info!(enrollment = %p.row.id, course = %course_id, person = %person_id, "enrolled");
        Ok(p.to_proto())
    }

    async fn get(
        &self,
        caller: &Principal,
        req: pb::GetEnrollmentRequest,
    ) -> Result<pb::Enrollment> {
        let id = validate::uuid("id", &req.id)?;
        let mut tx = self.app.store.begin_read().await?;
        let row = find(&mut tx, id, false)
            .await?
            .ok_or(LmsError::EnrollmentNotFound(id))?;
        if caller.person_id != Some(row.person_id)
            && !matches!(caller.role, Role::Admin | Role::Manager | Role::Instructor)
        {
            return Err(LmsError::EnrollmentNotFound(id));
        }
        let p = progress(&mut tx, row, None).await?;
        tx.commit().await?;
        Ok(p.to_proto())
    }

    async fn list_mine(
        &self,
        caller: &Principal,
        req: pb::ListMyEnrollmentsRequest,
    ) -> Result<pb::ListMyEnrollmentsResponse> {
        let person_id = caller.person()?;
        let page_req = req.page.unwrap_or_default();
        let page: Page<Uuid> = Page::parse(page_req.page_size, &page_req.page_token)?;
        let rows: Vec<EnrollmentRow> = on_pool!(&self.app.store, |pool| {
            sqlx::query_as(
            "SELECT id, course_id, person_id, status, enrolled_at, completed_at FROM enrollments \
             WHERE person_id = $1 AND ($2 OR id > $3) ORDER BY id LIMIT $4"
        )
        .bind(person_id)
        .bind(page.after.is_none())
        .bind(page.after.unwrap_or_default())
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await
        })?;
        let (rows, next) = paging::finish(rows, page.size, |r| r.id);
        let mut tx = self.app.store.begin_read().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(progress(&mut tx, row, None).await?.to_proto());
        }
        tx.commit().await?;
        Ok(pb::ListMyEnrollmentsResponse {
            enrollments: out,
            page: Some(PageResponse {
                next_page_token: next,
            }),
        })
    }

    pub(crate) async fn complete_item(
        &self,
        caller: &Principal,
        req: pb::CompleteItemRequest,
    ) -> Result<pb::Enrollment> {
        let id = validate::uuid("enrollment_id", &req.enrollment_id)?;
        let item_id = validate::uuid("item_id", &req.item_id)?;
        let mut tx = self.app.store.begin().await?;
        let mut row = find(&mut tx, id, true)
            .await?
            .ok_or(LmsError::EnrollmentNotFound(id))?;
        if caller.person_id != Some(row.person_id) && !caller.is(Role::Admin) {
            return Err(LmsError::EnrollmentNotFound(id));
        }
        let tree = courses::load(&mut tx, row.course_id)
            .await?
            .ok_or(LmsError::CourseNotFound(row.course_id))?;
        let item =
            tree.items()
                .find(|i| i.id == item_id)
                .cloned()
                .ok_or(LmsError::ItemNotInCourse {
                    item: item_id,
                    course: row.course_id,
                })?;
        let now = OffsetDateTime::now_utc();
        let newly_done = on_tx!(&mut tx, |conn| {
            sqlx::query(
            "INSERT INTO item_completions (enrollment_id, item_id, completed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (enrollment_id, item_id) DO NOTHING"
        )
        .bind(id)
        .bind(item_id)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected())
        })? == 1;
        if !newly_done {
            // Completing twice is not an error and emits nothing.
            let p = progress(&mut tx, row, Some(&tree)).await?;
            tx.commit().await?;
            return Ok(p.to_proto());
        }
        let person = people::find_in(&mut tx, row.person_id)
            .await?
            .ok_or(LmsError::PersonNotFound(row.person_id))?;
        let identity = &self.app.identity;
        let actor = identity.agent(row.person_id, &person.name);
        let course = identity.course(row.course_id, &tree.course.title);
        let mut events = vec![statement_event(&identity.statement(
            actor.clone(),
            verbs::COMPLETED,
            &identity.item(row.course_id, item.id, &item.kind, &item.title),
            Some(row.id),
            Some(&course),
            now,
        ))];
        let p = progress(&mut tx, row.clone(), Some(&tree)).await?;
        if row.status == ACTIVE && p.required_done == p.required {
            on_tx!(&mut tx, |conn| sqlx::query(
                "UPDATE enrollments SET status = $1, completed_at = $2 WHERE id = $3"
            )
            .bind(COMPLETED)
            .bind(now)
            .bind(id)
            .execute(conn)
            .await
            .map(|_| ()))?;
            row.status = COMPLETED.into();
            row.completed_at = Some(now);
            let mut statement =
                identity.statement(actor, verbs::COMPLETED, &course, Some(row.id), None, now);
            statement["result"] = serde_json::json!({"completion": true});
            events.push(statement_event(&statement));
            let completed = ev::EnrollmentCompleted {
                enrollment_id: row.id.to_string(),
                course_id: row.course_id.to_string(),
                person_id: row.person_id.to_string(),
                completed_at: Some(from_time(now)),
            };
            events.push(NewEvent::proto(
                subjects::ENROLLMENT_COMPLETED,
                SOURCE,
                row.id,
                &completed,
            ));
            tracing::info!(enrollment = %row.id, "course completed");
        }
        Outbox::enqueue(&mut tx, &events).await?;
        let p = Progress { row, ..p };
        self.app.outbox.commit(tx).await?;
        Ok(p.to_proto())
    }
}

#[tonic::async_trait]
impl pb::enrollment_service_server::EnrollmentService for EnrollmentApi {
    async fn enroll(
        &self,
        req: Request<pb::EnrollRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(self.enroll(&caller, req.into_inner()).await?))
    }

    async fn get_enrollment(
        &self,
        req: Request<pb::GetEnrollmentRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(self.get(&caller, req.into_inner()).await?))
    }

    async fn list_my_enrollments(
        &self,
        req: Request<pb::ListMyEnrollmentsRequest>,
    ) -> Result<Response<pb::ListMyEnrollmentsResponse>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(
            self.list_mine(&caller, req.into_inner()).await?,
        ))
    }

    async fn complete_item(
        &self,
        req: Request<pb::CompleteItemRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(
            self.complete_item(&caller, req.into_inner()).await?,
        ))
    }
}
