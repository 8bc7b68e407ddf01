//! Canonical activity definitions (merged from every statement that defines an activity) and
//! the Activities resource (`GET /xapi/activities?activityId=`).

use std::collections::HashMap;

use axum::response::Response;
use lyceum_store::{Store, Tx};
use serde_json::{Map, Value, json};

use crate::App;
use crate::access;
use crate::documents::state::activity_param;
use crate::error::{LrsError, Result};
use crate::protocol::{self, XapiRequest};
use crate::sql::{CHUNK, Param, Query};

#[derive(sqlx::FromRow)]
struct DefinitionRow {
    activity_id: String,
    definition: String,
}

fn parse(row: &DefinitionRow) -> Result<Map<String, Value>> {
    serde_json::from_str(&row.definition).map_err(|e| {
        LrsError::Config(format!(
            "the stored definition of {} is not JSON: {e}",
            row.activity_id
        ))
    })
}

/// Merges definitions from newly stored statements (in order) into the canonical ones.
pub(crate) async fn merge_definitions(
    tx: &mut Tx,
    incoming: &[(&str, &Map<String, Value>)],
    now_ms: i64,
) -> Result<()> {
    if incoming.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = incoming.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut canonical: HashMap<String, Map<String, Value>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let mut q =
            Query::new("SELECT activity_id, definition FROM activities WHERE activity_id IN ");
        q.push_list(chunk.iter().map(|id| Param::Text(id.to_string())));
        for row in q.fetch_all::<DefinitionRow>(tx).await? {
            let def = parse(&row)?;
            canonical.insert(row.activity_id, def);
        }
    }
    let mut changed: Vec<String> = Vec::new();
    for (id, definition) in incoming {
        let entry = canonical.entry(id.to_string()).or_default();
        if lyceum_xapi::definition::merge(entry, definition) && !changed.iter().any(|c| c == id) {
            changed.push(id.to_string());
        }
    }
    for chunk in changed.chunks(CHUNK) {
        let mut q =
            Query::new("INSERT INTO activities (activity_id, definition, updated_ms) VALUES ");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_list([
                Param::Text(id.clone()),
                Param::Text(Value::Object(canonical[id].clone()).to_string()),
                Param::Int(now_ms),
            ]);
        }
        q.push(
            " ON CONFLICT (activity_id) DO UPDATE SET definition = excluded.definition, updated_ms = excluded.updated_ms",
        );
        q.execute(tx).await?;
    }
    Ok(())
}

/// The canonical definitions of `ids` that the LRS has.
pub(crate) async fn definitions(store: &Store, ids: &[String]) -> Result<HashMap<String, Value>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let mut q =
            Query::new("SELECT activity_id, definition FROM activities WHERE activity_id IN ");
        q.push_list(chunk.iter().map(|id| Param::Text(id.clone())));
        for row in q.fetch_all_pool::<DefinitionRow>(store).await? {
            let def = parse(&row)?;
            out.insert(row.activity_id, Value::Object(def));
        }
    }
    Ok(out)
}

/// `GET /xapi/activities?activityId=`: the activity with its canonical definition (an
/// activity the LRS has no definition of is just its id).
pub(crate) async fn get(app: &App, req: XapiRequest) -> Result<Response> {
    let caller = access::authenticate(app, &req.headers).await?;
    req.params.only(&["activityId"])?;
    let id = activity_param(req.params.get("activityId"))?;
    caller.check_describe()?;
    let defs = definitions(&app.store, std::slice::from_ref(&id)).await?;
    let mut activity = json!({"objectType": "Activity", "id": id});
    if let Some(d) = defs.get(&id) {
        activity["definition"] = d.clone();
    }
    Ok(protocol::json_response(activity.to_string()))
}
