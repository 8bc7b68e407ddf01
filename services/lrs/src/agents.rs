//! The Agents resource (`GET /xapi/agents?agent=`): the Person object the LRS knows for an
//! agent, combining its identifiers and names.

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::App;
use crate::access;
use crate::error::Result;
use crate::protocol::{self, XapiRequest};

/// `GET /xapi/agents?agent=`.
pub(crate) async fn get(app: &App, req: XapiRequest) -> Result<Response> {
    let caller = access::authenticate(app, &req.headers).await?;
    req.params.only(&["agent"])?;
    let (agent, _) = lyceum_xapi::agent::parse_agent_param("agent", req.params.required("agent")?)?;
    caller.check_describe()?;
    Ok(protocol::json_response(person(&agent).to_string()))
}

/// A Person object: every property an array.
fn person(agent: &Value) -> Value {
    let mut out = Map::new();
    out.insert("objectType".into(), json!("Person"));
    for key in ["name", "mbox", "mbox_sha1sum", "openid", "account"] {
        if let Some(v) = agent.get(key) {
            out.insert(key.into(), Value::Array(vec![v.clone()]));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persons_hold_arrays() {
        let p = person(&json!({"objectType": "Agent", "name": "Ada", "mbox": "mailto:a@b.c"}));
        assert_eq!(
            p,
            json!({"objectType": "Person", "name": ["Ada"], "mbox": ["mailto:a@b.c"]})
        );
    }
}
