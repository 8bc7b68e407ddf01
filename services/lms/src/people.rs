//! People and their password accounts; authentication for the gateway.

use lyceum_auth::{GrpcAuth, Principal, Role};
use lyceum_proto::common::v1::PageResponse;
use lyceum_proto::lms::v1 as pb;
use lyceum_proto::timestamp::from_time;
use lyceum_server::paging::{self, Page};
use lyceum_server::{ApiError, validate};
use lyceum_store::{is_unique_violation, on_pool, on_tx};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::App;
use crate::error::{LmsError, Result};

/// A person as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct PersonRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub department: String,
    pub role: String,
    pub created_at: OffsetDateTime,
}

impl PersonRow {
    fn to_proto(&self) -> pb::Person {
        pb::Person {
            id: self.id.to_string(),
            email: self.email.clone(),
            name: self.name.clone(),
            department: self.department.clone(),
            role: role_to_proto(Role::parse_person(&self.role).unwrap_or(Role::Learner)) as i32,
            created_at: Some(from_time(self.created_at)),
        }
    }
}

/// A validated new person.
#[derive(Debug, Clone)]
pub(crate) struct NewPerson {
    pub email: String,
    pub name: String,
    pub department: String,
    pub role: Role,
    pub password: String,
}

impl NewPerson {
    /// Checks every field, naming the first that is wrong.
    pub fn validate(
        email: &str,
        name: &str,
        department: &str,
        role: Role,
        password: &str,
    ) -> Result<Self> {
        let email = validate::email("email", email)?;
        let name = validate::required_text("name", name, 200)?;
        let department = validate::optional_text("department", department, 200)?;
        if password.chars().count() < 8 {
            return Err(ApiError::invalid("password", "must have at least 8 characters").into());
        }
        if password.len() > 1024 {
            return Err(ApiError::invalid("password", "must have at most 1024 bytes").into());
        }
        Ok(Self {
            email,
            name,
            department,
            role,
            password: password.to_string(),
        })
    }
}

const COLUMNS: &str = "id, email, name, department, role, created_at";

/// Inserts a person with a password account.
pub(crate) async fn insert(app: &App, p: NewPerson) -> Result<PersonRow> {
    // Hashing takes tens of milliseconds: keep it off the async workers.
    let password = p.password.clone();
    let hash = tokio::task::spawn_blocking(move || lyceum_auth::password::hash(&password))
        .await
        .map_err(ApiError::internal)?;
    let row = PersonRow {
        id: Uuid::now_v7(),
        email: p.email,
        name: p.name,
        department: p.department,
        role: p.role.as_str().to_string(),
        created_at: OffsetDateTime::now_utc(),
    };
    let mut tx = app.store.begin().await?;
    let inserted = on_tx!(&mut tx, |conn| {
        sqlx::query(
        "INSERT INTO people (id, email, name, department, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(row.id)
    .bind(&row.email)
    .bind(&row.name)
    .bind(&row.department)
    .bind(&row.role)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map(|_| ())
    });
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(LmsError::EmailTaken(row.email)),
        other => other?,
    }
    on_tx!(&mut tx, |conn| sqlx::query(
        "INSERT INTO accounts (person_id, password_hash, updated_at) VALUES ($1, $2, $3)"
    )
    .bind(row.id)
    .bind(&hash)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map(|_| ()))?;
    tx.commit().await?;
    Ok(row)
}

/// Finds a person by id.
pub(crate) async fn find(app: &App, id: Uuid) -> Result<Option<PersonRow>> {
    const SQL: &str =
        "SELECT id, email, name, department, role, created_at FROM people WHERE id = $1";
    Ok(on_pool!(&app.store, |pool| {
        sqlx::query_as::<_, PersonRow>(SQL)
            .bind(id)
            .fetch_optional(pool)
            .await
    })?)
}

/// Finds a person by e-mail (lower-cased).
pub(crate) async fn find_by_email(app: &App, email: &str) -> Result<Option<PersonRow>> {
    const SQL: &str =
        "SELECT id, email, name, department, role, created_at FROM people WHERE email = $1";
    Ok(on_pool!(&app.store, |pool| {
        sqlx::query_as::<_, PersonRow>(SQL)
            .bind(email.trim().to_lowercase())
            .fetch_optional(pool)
            .await
    })?)
}

/// Finds a person by id inside a transaction.
pub(crate) async fn find_in(tx: &mut lyceum_store::Tx, id: Uuid) -> Result<Option<PersonRow>> {
    const SQL: &str =
        "SELECT id, email, name, department, role, created_at FROM people WHERE id = $1";
    Ok(on_tx!(tx, |conn| sqlx::query_as::<_, PersonRow>(SQL)
        .bind(id)
        .fetch_optional(conn)
        .await)?)
}

pub(crate) fn role_from_proto(value: i32) -> Result<Role> {
    match pb::Role::try_from(value) {
        Ok(pb::Role::Learner) => Ok(Role::Learner),
        Ok(pb::Role::Instructor) => Ok(Role::Instructor),
        Ok(pb::Role::Manager) => Ok(Role::Manager),
        Ok(pb::Role::Author) => Ok(Role::Author),
        Ok(pb::Role::Admin) => Ok(Role::Admin),
        _ => Err(ApiError::invalid(
            "role",
            "must be one of learner, instructor, manager, author, admin",
        )
        .into()),
    }
}

pub(crate) fn role_to_proto(role: Role) -> pb::Role {
    match role {
        Role::Learner => pb::Role::Learner,
        Role::Instructor => pb::Role::Instructor,
        Role::Manager => pb::Role::Manager,
        Role::Author => pb::Role::Author,
        Role::Admin => pb::Role::Admin,
        Role::Service => pb::Role::Unspecified,
    }
}

/// `lyceum.lms.v1.PeopleService`.
pub(crate) struct PeopleApi {
    app: App,
}

impl PeopleApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }

    async fn create(&self, caller: &Principal, req: pb::CreatePersonRequest) -> Result<pb::Person> {
        caller.require(&[Role::Admin])?;
        let role = role_from_proto(req.role)?;
        let new = NewPerson::validate(&req.email, &req.name, &req.department, role, &req.password)?;
        let row = insert(&self.app, new).await?;
        tracing::info!(person = %row.id, role = %row.role, "person created");
        Ok(row.to_proto())
    }

    async fn get(&self, caller: &Principal, req: pb::GetPersonRequest) -> Result<pb::Person> {
        let id = validate::uuid("id", &req.id)?;
        if caller.person_id != Some(id) {
            caller.require(&[Role::Admin, Role::Manager])?;
        }
        let row = find(&self.app, id)
            .await?
            .ok_or(LmsError::PersonNotFound(id))?;
        Ok(row.to_proto())
    }

    async fn list(
        &self,
        caller: &Principal,
        req: pb::ListPeopleRequest,
    ) -> Result<pb::ListPeopleResponse> {
        caller.require(&[Role::Admin, Role::Manager])?;
        let page_req = req.page.unwrap_or_default();
        let page: Page<(String, Uuid)> = Page::parse(page_req.page_size, &page_req.page_token)?;
        let department = validate::optional_text("department", &req.department, 200)?;
        let (after_name, after_id) = page.after.clone().unwrap_or_default();
        let first = page.after.is_none();
        let sql = format!(
            "SELECT {COLUMNS} FROM people \
             WHERE ($1 OR name > $2 OR (name = $2 AND id > $3)) AND ($4 = '' OR department = $4) \
             ORDER BY name, id LIMIT $5"
        );
        let rows: Vec<PersonRow> = on_pool!(&self.app.store, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql.clone())
        )
        .bind(first)
        .bind(&after_name)
        .bind(after_id)
        .bind(&department)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await)?;
        let (rows, next) = paging::finish(rows, page.size, |r| (r.name.clone(), r.id));
        Ok(pb::ListPeopleResponse {
            people: rows.iter().map(PersonRow::to_proto).collect(),
            page: Some(PageResponse {
                next_page_token: next,
            }),
        })
    }

    async fn authenticate(
        &self,
        caller: &Principal,
        req: pb::AuthenticateRequest,
    ) -> Result<pb::Person> {
        caller.require(&[Role::Service])?;
        let email = req.email.trim().to_lowercase();
        const SQL: &str = "SELECT a.password_hash FROM accounts a JOIN people p ON p.id = a.person_id WHERE p.email = $1";
        let hash: Option<String> = on_pool!(&self.app.store, |pool| sqlx::query_scalar(SQL)
            .bind(&email)
            .fetch_optional(pool)
            .await)?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| lyceum_auth::password::dummy_hash().to_string());
        let password = req.password;
        let ok =
            tokio::task::spawn_blocking(move || lyceum_auth::password::verify(&password, &hash))
                .await
                .map_err(ApiError::internal)?;
        if !(ok && known) {
            return Err(lyceum_auth::AuthError::Invalid("wrong e-mail or password".into()).into());
        }
        let row = find_by_email(&self.app, &email)
            .await?
            .ok_or_else(|| lyceum_auth::AuthError::Invalid("wrong e-mail or password".into()))?;
        Ok(row.to_proto())
    }
}

#[tonic::async_trait]
impl pb::people_service_server::PeopleService for PeopleApi {
    async fn create_person(
        &self,
        req: Request<pb::CreatePersonRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(self.create(&caller, req.into_inner()).await?))
    }

    async fn get_person(
        &self,
        req: Request<pb::GetPersonRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(self.get(&caller, req.into_inner()).await?))
    }

    async fn list_people(
        &self,
        req: Request<pb::ListPeopleRequest>,
    ) -> Result<Response<pb::ListPeopleResponse>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(self.list(&caller, req.into_inner()).await?))
    }

    async fn authenticate(
        &self,
        req: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(
            self.authenticate(&caller, req.into_inner()).await?,
        ))
    }
}
