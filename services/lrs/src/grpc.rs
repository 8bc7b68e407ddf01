//! `lyceum.lrs.v1` over gRPC: statements for internal systems (record, query, per-person
//! summary) with the same code as the xAPI HTTP API, and xAPI client administration.

use lyceum_auth::{GrpcAuth, Role};
use lyceum_proto::lrs::v1 as pb;
use lyceum_proto::timestamp::{from_time, to_time};
use lyceum_server::paging::Page;
use lyceum_xapi::datatypes::{from_unix_millis, unix_millis};
use lyceum_xapi::{Invalid, Statement, XapiVersion};
use tonic::{Request, Response, Status};

use crate::App;
use crate::access::Caller;
use crate::clients::{self, ClientInfo};
use crate::error::{LrsError, Result};
use crate::statements::query::{self, Filters};
use crate::statements::record::Write;
use crate::summary;

/// The gRPC statement service.
pub(crate) struct StatementApi {
    app: App,
}

impl StatementApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }

    async fn record(
        &self,
        caller: &Caller,
        req: pb::RecordStatementsRequest,
    ) -> Result<Vec<String>> {
        let mut batch = Vec::with_capacity(req.statements_json.len());
        for (i, text) in req.statements_json.iter().enumerate() {
            let field = format!("statements_json[{i}]");
            let value = serde_json::from_str(text)
                .map_err(|e| Invalid::new(field.clone(), format!("is not JSON: {e}")))?;
            let s = Statement::parse_as(value, XapiVersion::V2).map_err(|e| e.within(&field))?;
            batch.push((field, s));
        }
        let guard = self.app.consistency.begin_write();
        let write = Write::new(
            caller,
            &self.app.identity,
            batch,
            XapiVersion::V1,
            guard.stored,
        );
        let ids = self.app.writer.write(write).await?;
        Ok(ids.iter().map(ToString::to_string).collect())
    }

    async fn query(
        &self,
        caller: &Caller,
        req: pb::QueryStatementsRequest,
    ) -> Result<pb::QueryStatementsResponse> {
        let reach = caller.reach()?;
        let (filters, after) = if req.more.is_empty() {
            (filters_from(&req)?, None)
        } else {
            let (f, after) = query::decode_more(&req.more)?;
            (f, Some(after))
        };
        let page = query::find(&self.app.store, &filters, after, &reach).await?;
        Ok(pb::QueryStatementsResponse {
            statements_json: page.statements,
            more: page.more.unwrap_or_default(),
        })
    }
}

fn filters_from(req: &pb::QueryStatementsRequest) -> Result<Filters> {
    let mut f = Filters::new();
    if !req.agent_json.trim().is_empty() {
        f.agent = Some(
            lyceum_xapi::agent::filter_key(&req.agent_json)
                .map_err(|e| Invalid::new(e.field.replacen("agent", "agent_json", 1), e.problem))?,
        );
    }
    if !req.verb.is_empty() {
        f.verb = Some(query::iri("verb", &req.verb)?);
    }
    if !req.activity.is_empty() {
        f.activity = Some(query::iri("activity", &req.activity)?);
    }
    if !req.registration.is_empty() {
        f.registration = Some(query::uuid("registration", &req.registration)?);
    }
    f.related_agents = req.related_agents;
    f.related_activities = req.related_activities;
    if let Some(t) = &req.since {
        f.since_ms = Some(unix_millis(
            to_time(t).ok_or_else(|| Invalid::new("since", "is out of range"))?,
        ));
    }
    if let Some(t) = &req.until {
        f.until_ms = Some(unix_millis(
            to_time(t).ok_or_else(|| Invalid::new("until", "is out of range"))?,
        ));
    }
    // Here 0 means the default page, as in every other list RPC.
    f.set_limit((req.limit > 0).then_some(req.limit));
    f.ascending = req.ascending;
    Ok(f)
}

#[tonic::async_trait]
impl pb::statement_service_server::StatementService for StatementApi {
    async fn record_statements(
        &self,
        req: Request<pb::RecordStatementsRequest>,
    ) -> Result<Response<pb::RecordStatementsResponse>, Status> {
        let principal = GrpcAuth::principal(&req)?;
        principal.require(&[Role::Admin, Role::Service])?;
        let caller = Caller::principal(&principal, &self.app.identity);
        let statement_ids = self.record(&caller, req.into_inner()).await?;
        Ok(Response::new(pb::RecordStatementsResponse {
            statement_ids,
        }))
    }

    async fn query_statements(
        &self,
        req: Request<pb::QueryStatementsRequest>,
    ) -> Result<Response<pb::QueryStatementsResponse>, Status> {
        let principal = GrpcAuth::principal(&req)?;
        let caller = Caller::principal(&principal, &self.app.identity);
        Ok(Response::new(self.query(&caller, req.into_inner()).await?))
    }

    async fn summarize_activity(
        &self,
        req: Request<pb::SummarizeActivityRequest>,
    ) -> Result<Response<pb::SummarizeActivityResponse>, Status> {
        let principal = GrpcAuth::principal(&req)?;
        let req = req.into_inner();
        let person = query::uuid("person_id", &req.person_id)?;
        let oversees = matches!(
            principal.role,
            Role::Admin | Role::Service | Role::Manager | Role::Instructor
        );
        if !oversees && principal.person_id != Some(person) {
            return Err(LrsError::from(lyceum_auth::AuthError::Forbidden(
                "person_id: you may only summarize your own activity".into(),
            ))
            .into());
        }
        let time = |t: &Option<prost_types::Timestamp>, field: &str| -> Result<_> {
            match t {
                Some(t) => Ok(Some(
                    to_time(t).ok_or_else(|| Invalid::new(field, "is out of range"))?,
                )),
                None => Ok(None),
            }
        };
        let from = time(&req.from, "from")?;
        let to = time(&req.to, "to")?;
        let s = summary::summarize(&self.app.store, person, from, to, req.activity_limit).await?;
        Ok(Response::new(pb::SummarizeActivityResponse {
            statements: s.statements,
            verbs: s
                .verbs
                .into_iter()
                .map(|(verb_id, statements)| pb::VerbCount {
                    verb_id,
                    statements,
                })
                .collect(),
            activities: s
                .activities
                .into_iter()
                .map(|(activity_id, statements, last)| pb::ActivityCount {
                    activity_id,
                    statements,
                    last_at: Some(from_time(from_unix_millis(last))),
                })
                .collect(),
            first_at: s.first_ms.map(|ms| from_time(from_unix_millis(ms))),
            last_at: s.last_ms.map(|ms| from_time(from_unix_millis(ms))),
        }))
    }
}

/// The gRPC xAPI client administration service.
pub(crate) struct ClientApi {
    app: App,
}

impl ClientApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

fn client_pb(c: ClientInfo) -> pb::XapiClient {
    pb::XapiClient {
        key: c.key,
        scopes: c.scopes,
        authority_json: c.authority.to_string(),
        created_at: Some(from_time(c.created_at)),
        updated_at: Some(from_time(c.updated_at)),
    }
}

fn admin<T>(req: &Request<T>) -> Result<(), Status> {
    GrpcAuth::principal(req)?.require(&[Role::Admin])?;
    Ok(())
}

#[tonic::async_trait]
impl pb::xapi_client_service_server::XapiClientService for ClientApi {
    async fn create_xapi_client(
        &self,
        req: Request<pb::CreateXapiClientRequest>,
    ) -> Result<Response<pb::CreateXapiClientResponse>, Status> {
        admin(&req)?;
        let req = req.into_inner();
        let secret = if req.secret.is_empty() {
            clients::generate_secret()
        } else {
            req.secret
        };
        let scopes: Vec<&str> = req.scopes.iter().map(String::as_str).collect();
        let authority = if req.authority_json.trim().is_empty() {
            None
        } else {
            Some(
                serde_json::from_str(&req.authority_json)
                    .map_err(|e| Invalid::new("authority_json", format!("is not JSON: {e}")))
                    .map_err(LrsError::from)?,
            )
        };
        let client = crate::create_client(&self.app, &req.key, &secret, &scopes, authority).await?;
        Ok(Response::new(pb::CreateXapiClientResponse {
            client: Some(client_pb(client)),
            secret,
        }))
    }

    async fn list_xapi_clients(
        &self,
        req: Request<pb::ListXapiClientsRequest>,
    ) -> Result<Response<pb::ListXapiClientsResponse>, Status> {
        admin(&req)?;
        let page = req.into_inner().page.unwrap_or_default();
        let page: Page<String> = Page::parse(page.page_size, &page.page_token)?;
        let rows =
            clients::list(&self.app.store, page.after.as_deref(), page.fetch_limit()).await?;
        let (rows, next) = lyceum_server::paging::finish(rows, page.size, |c| c.key.clone());
        Ok(Response::new(pb::ListXapiClientsResponse {
            clients: rows.into_iter().map(client_pb).collect(),
            page: Some(lyceum_proto::common::v1::PageResponse {
                next_page_token: next,
            }),
        }))
    }

    async fn delete_xapi_client(
        &self,
        req: Request<pb::DeleteXapiClientRequest>,
    ) -> Result<Response<pb::DeleteXapiClientResponse>, Status> {
        admin(&req)?;
        let key = req.into_inner().key;
        clients::delete(&self.app.store, &key).await?;
        self.app.clients.invalidate(&key);
        tracing::info!(client = %key, "xAPI client deleted");
        Ok(Response::new(pb::DeleteXapiClientResponse {}))
    }
}
