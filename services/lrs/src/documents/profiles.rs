//! The Activity Profile (`/xapi/activities/profile`) and Agent Profile
//! (`/xapi/agents/profile`) resources: documents about an activity or an agent.

use axum::response::Response;
use http::Method;

use super::state::activity_param;
use super::{Kind, Scope, serve};
use crate::App;
use crate::access;
use crate::error::Result;
use crate::protocol::XapiRequest;

/// Serves the Activity Profile resource.
pub(crate) async fn handle_activity(
    app: &App,
    req: XapiRequest,
    method: Method,
) -> Result<Response> {
    let caller = access::authenticate(app, &req.headers).await?;
    let p = &req.params;
    p.only(allowed(&method, "activityId"))?;
    let activity_id = activity_param(p.get("activityId"))?;
    let id = p.get("profileId").map(str::to_string);
    since_only_for_lists(&req, id.is_some())?;
    caller.check_documents(caller.profile, "profile", method != Method::GET, None)?;
    let scope = Scope {
        activity_id,
        ..Scope::default()
    };
    serve(app, &req, method, Kind::ActivityProfile, scope, id).await
}

/// Serves the Agent Profile resource.
pub(crate) async fn handle_agent(app: &App, req: XapiRequest, method: Method) -> Result<Response> {
    let caller = access::authenticate(app, &req.headers).await?;
    let p = &req.params;
    p.only(allowed(&method, "agent"))?;
    let (_, agent_key) = lyceum_xapi::agent::parse_agent_param("agent", p.required("agent")?)?;
    let id = p.get("profileId").map(str::to_string);
    since_only_for_lists(&req, id.is_some())?;
    caller.check_documents(
        caller.profile,
        "profile",
        method != Method::GET,
        Some(&agent_key),
    )?;
    let scope = Scope {
        agent_key,
        ..Scope::default()
    };
    serve(app, &req, method, Kind::AgentProfile, scope, id).await
}

fn allowed(method: &Method, subject: &'static str) -> &'static [&'static str] {
    match (method, subject) {
        (&Method::GET, "agent") => &["agent", "profileId", "since"],
        (_, "agent") => &["agent", "profileId"],
        (&Method::GET, _) => &["activityId", "profileId", "since"],
        _ => &["activityId", "profileId"],
    }
}

fn since_only_for_lists(req: &XapiRequest, single: bool) -> Result<()> {
    if single && req.params.has("since") {
        return Err(
            lyceum_xapi::Invalid::new("since", "is only allowed when listing profile ids").into(),
        );
    }
    Ok(())
}
