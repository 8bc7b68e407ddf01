//! The State resource (`/xapi/activities/state`): documents an activity keeps about an agent,
//! optionally per registration.

use axum::response::Response;
use http::Method;
use lyceum_xapi::Invalid;

use super::{Kind, Scope, serve};
use crate::App;
use crate::access;
use crate::error::Result;
use crate::protocol::XapiRequest;

/// Serves the State resource.
pub(crate) async fn handle(app: &App, req: XapiRequest, method: Method) -> Result<Response> {
    let caller = access::authenticate(app, &req.headers).await?;
    let p = &req.params;
    let allowed: &[&str] = match method {
        Method::GET => &["activityId", "agent", "registration", "stateId", "since"],
        _ => &["activityId", "agent", "registration", "stateId"],
    };
    p.only(allowed)?;
    let activity_id = activity_param(p.get("activityId"))?;
    let (_, agent_key) = lyceum_xapi::agent::parse_agent_param("agent", p.required("agent")?)?;
    let registration = match p.get("registration") {
        Some(r) => Some(
            lyceum_xapi::datatypes::parse_uuid(r)
                .ok_or_else(|| Invalid::new("registration", "must be a UUID"))?
                .to_string(),
        ),
        None => None,
    };
    let id = p.get("stateId").map(str::to_string);
    if method == Method::GET && id.is_some() && p.has("since") {
        return Err(Invalid::new("since", "is only allowed when listing state ids").into());
    }
    caller.check_documents(
        caller.state,
        "state",
        method != Method::GET,
        Some(&agent_key),
    )?;
    let scope = Scope {
        activity_id,
        agent_key,
        registration,
    };
    serve(app, &req, method, Kind::State, scope, id).await
}

/// The `activityId` parameter: required, an IRI.
pub(crate) fn activity_param(value: Option<&str>) -> Result<String> {
    let v = value.ok_or_else(|| Invalid::new("activityId", "is required"))?;
    if lyceum_xapi::datatypes::is_absolute_iri(v) {
        Ok(v.to_string())
    } else {
        Err(Invalid::new("activityId", "must be an absolute IRI").into())
    }
}
