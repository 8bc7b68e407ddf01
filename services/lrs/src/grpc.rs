//! `lyceum.lrs.v1.StatementService`: statements for internal systems over gRPC, with the same
//! recording and query code as the xAPI HTTP API.

use lyceum_auth::{GrpcAuth, Role};
use lyceum_proto::lrs::v1 as pb;
use lyceum_proto::timestamp::to_time;
use lyceum_xapi::{Invalid, Statement};
use tonic::{Request, Response, Status};

use crate::App;
use crate::access::Caller;
use crate::error::Result;
use crate::query::{self, Filters};
use crate::statements::{self, millis};

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
            let s = Statement::parse(value).map_err(|e| e.within(&field))?;
            batch.push((field, s));
        }
        let ids = statements::record_batch(&self.app, caller, batch, "1.0.0").await?;
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
        f.since_ms = Some(millis(
            to_time(t).ok_or_else(|| Invalid::new("since", "is out of range"))?,
        ));
    }
    if let Some(t) = &req.until {
        f.until_ms = Some(millis(
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
}
