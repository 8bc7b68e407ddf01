//! The document resources (State, Activity Profile, Agent Profile): documents of any content
//! type stored byte for byte under a key, with entity tags for optimistic concurrency
//! (`If-Match`, `If-None-Match`), JSON merge on POST, and id lists filtered by `since`.

pub(crate) mod profiles;
pub(crate) mod state;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use lyceum_store::Tx;
use lyceum_xapi::Invalid;
use lyceum_xapi::datatypes::{from_unix_millis, unix_millis};
use serde_json::Value;
use time::OffsetDateTime;

use crate::App;
use crate::error::{LrsError, Result};
use crate::protocol::{self, XapiRequest};
use crate::sql::{Param, Query};

/// The three kinds of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    State,
    ActivityProfile,
    AgentProfile,
}

impl Kind {
    fn column(self) -> &'static str {
        match self {
            Kind::State => "state",
            Kind::ActivityProfile => "activity_profile",
            Kind::AgentProfile => "agent_profile",
        }
    }

    /// The name of the id parameter.
    fn id_param(self) -> &'static str {
        match self {
            Kind::State => "stateId",
            Kind::ActivityProfile | Kind::AgentProfile => "profileId",
        }
    }

    /// Whether a PUT without `If-Match` / `If-None-Match` may overwrite: the State resource
    /// permits it (xAPI Communication 3.1: "the requirements below only apply to Agent Profile
    /// Resource and Activity Profile Resource").
    fn blind_overwrite(self) -> bool {
        self == Kind::State
    }
}

/// Where documents live: every part of the key but the document id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub activity_id: String,
    pub agent_key: String,
    /// The registration UUID (lower case), or empty.
    pub registration: Option<String>,
}

/// A stored document.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Document {
    pub content_type: String,
    pub content: Vec<u8>,
    pub etag: String,
    pub updated_ms: i64,
}

#[derive(sqlx::FromRow)]
struct IdRow {
    document_id: String,
}

/// Serves one document resource: the request's parameters are already split into `scope`
/// and the document id.
pub(crate) async fn serve(
    app: &App,
    req: &XapiRequest,
    method: Method,
    kind: Kind,
    scope: Scope,
    id: Option<String>,
) -> Result<Response> {
    match (method, id) {
        (Method::GET, Some(id)) => {
            let doc = fetch(app, kind, &scope, &id)
                .await?
                .ok_or_else(|| LrsError::Missing(format!("{} {id:?}", kind.id_param())))?;
            Ok(document_response(doc))
        }
        (Method::GET, None) => {
            let since = match req.params.get("since") {
                Some(s) => Some(
                    lyceum_xapi::datatypes::parse_timestamp(s)
                        .map(|t| unix_millis(t.at))
                        .ok_or_else(|| {
                            Invalid::new("since", "must be an ISO 8601 timestamp with a time zone")
                        })?,
                ),
                None => None,
            };
            let (ids, latest) = list(app, kind, &scope, since).await?;
            let mut resp =
                protocol::json_response(serde_json::to_string(&ids).expect("strings serialize"));
            if let Some(ms) = latest {
                protocol::set_last_modified(&mut resp, from_unix_millis(ms));
            }
            Ok(resp)
        }
        (Method::PUT, Some(id)) => write(app, req, kind, scope, id, false).await,
        (Method::POST, Some(id)) => write(app, req, kind, scope, id, true).await,
        (Method::PUT | Method::POST, None) => {
            Err(Invalid::new(kind.id_param(), "is required").into())
        }
        (Method::DELETE, Some(id)) => {
            let mut tx = app.store.begin().await?;
            let current = fetch_tx(&mut tx, kind, &scope, &id).await?;
            check_preconditions(req, current.as_ref(), kind, false)?;
            if current.is_some() {
                let exact = Scope {
                    registration: Some(scope.registration.clone().unwrap_or_default()),
                    ..scope.clone()
                };
                let mut q = key_query("DELETE FROM documents WHERE ", kind, &exact);
                let n = q.bind(Param::Text(id));
                q.push(&format!(" AND document_id = {n}"));
                q.execute(&mut tx).await?;
            }
            tx.commit().await?;
            Ok(no_content())
        }
        (Method::DELETE, None) if kind == Kind::State => {
            let q = key_query("DELETE FROM documents WHERE ", kind, &scope);
            q.execute_pool(&app.store).await?;
            Ok(no_content())
        }
        (Method::DELETE, None) => Err(Invalid::new(kind.id_param(), "is required").into()),
        (m, _) => Err(lyceum_server::ApiError::new(
            lyceum_server::ErrorKind::InvalidArgument,
            format!("{m} is not allowed on this resource"),
        )
        .into()),
    }
}

/// PUT (replace) or POST (merge JSON objects, else store).
async fn write(
    app: &App,
    req: &XapiRequest,
    kind: Kind,
    scope: Scope,
    id: String,
    merge: bool,
) -> Result<Response> {
    let content_type = req
        .header(header::CONTENT_TYPE.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| "application/octet-stream".to_string());
    let incoming_json = is_json(&content_type);
    if merge && incoming_json {
        json_object(&req.body)?;
    }
    let mut tx = app.store.begin().await?;
    let current = fetch_tx(&mut tx, kind, &scope, &id).await?;
    check_preconditions(req, current.as_ref(), kind, !merge)?;
    let (content_type, content) = match (&current, merge) {
        (Some(doc), true) => {
            if !(incoming_json && is_json(&doc.content_type)) {
                return Err(Invalid::new(
                    "Content-Type",
                    "POST merges JSON documents: the stored document and the request must both be application/json",
                )
                .into());
            }
            let mut stored = json_object(&doc.content)?;
            let incoming = json_object(&req.body)?;
            for (k, v) in incoming {
                stored.insert(k, v);
            }
            (
                doc.content_type.clone(),
                serde_json::to_vec(&stored).expect("JSON values serialize"),
            )
        }
        _ => (content_type, req.body.to_vec()),
    };
    let etag = etag_of(&content);
    let now = unix_millis(OffsetDateTime::now_utc());
    let mut q = Query::new(
        "INSERT INTO documents (kind, activity_id, agent_key, registration, document_id, content_type, content, etag, updated_ms) VALUES ",
    );
    q.push_list([
        Param::Text(kind.column().to_string()),
        Param::Text(scope.activity_id.clone()),
        Param::Text(scope.agent_key.clone()),
        Param::Text(scope.registration.clone().unwrap_or_default()),
        Param::Text(id),
        Param::Text(content_type),
        Param::Bytes(content),
        Param::Text(etag.clone()),
        Param::Int(now),
    ]);
    q.push(
        " ON CONFLICT (kind, activity_id, agent_key, registration, document_id) DO UPDATE SET \
         content_type = excluded.content_type, content = excluded.content, etag = excluded.etag, \
         updated_ms = excluded.updated_ms",
    );
    q.execute(&mut tx).await?;
    tx.commit().await?;
    let mut resp = no_content();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

/// `If-Match` / `If-None-Match` (RFC 9110 13.1), and the profiles' rule that a PUT without
/// either header must not overwrite an existing document (409).
fn check_preconditions(
    req: &XapiRequest,
    current: Option<&Document>,
    kind: Kind,
    is_put: bool,
) -> Result<()> {
    let if_match = req.header(header::IF_MATCH.as_str());
    let if_none_match = req.header(header::IF_NONE_MATCH.as_str());
    if let Some(list) = if_match {
        let ok = match current {
            Some(doc) => etag_listed(list, &doc.etag),
            None => false,
        };
        if !ok {
            return Err(LrsError::PreconditionFailed(
                "If-Match: the document is not in the state the request expects (it changed or does not exist); fetch it again".into(),
            ));
        }
    }
    if let Some(list) = if_none_match
        && let Some(doc) = current
        && etag_listed(list, &doc.etag)
    {
        return Err(LrsError::PreconditionFailed(
            "If-None-Match: the document already exists".into(),
        ));
    }
    if is_put && if_match.is_none() && if_none_match.is_none() && !kind.blind_overwrite() {
        // Clients must send one of the two headers to profiles (Communication 3.1).
        return Err(match current {
            Some(_) => LrsError::DocumentConflict(
                "the document exists: check its current state and send If-Match with its ETag (or If-None-Match: * to create only)".into(),
            ),
            None => Invalid::new(
                "If-None-Match",
                "a PUT to a profile needs If-Match or If-None-Match (If-None-Match: * to create)",
            )
            .into(),
        });
    }
    Ok(())
}

/// Whether an `If-Match`/`If-None-Match` list names `etag` (or is `*`).
fn etag_listed(list: &str, etag: &str) -> bool {
    let bare = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    let want = bare(etag);
    list.split(',').any(|t| t.trim() == "*" || bare(t) == want)
}

/// The entity tag of content: its SHA-1, hex, quoted.
fn etag_of(content: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, content);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case("application/json")
}

fn json_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Invalid::new("body", "must be a JSON object to be merged").into()),
    }
}

fn no_content() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

fn document_response(doc: Document) -> Response {
    let mut resp = Response::new(Body::from(doc.content));
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&doc.etag) {
        headers.insert(header::ETAG, v);
    }
    protocol::set_last_modified(&mut resp, from_unix_millis(doc.updated_ms));
    resp
}

/// `SELECT/DELETE ... WHERE` the key parts of `scope` (registration only when given).
fn key_query(prefix: &str, kind: Kind, scope: &Scope) -> Query {
    let mut q = Query::new(prefix);
    let k = q.bind(Param::Text(kind.column().to_string()));
    let a = q.bind(Param::Text(scope.activity_id.clone()));
    let g = q.bind(Param::Text(scope.agent_key.clone()));
    q.push(&format!(
        "kind = {k} AND activity_id = {a} AND agent_key = {g}"
    ));
    if let Some(r) = &scope.registration {
        let r = q.bind(Param::Text(r.clone()));
        q.push(&format!(" AND registration = {r}"));
    }
    q
}

fn one_query(kind: Kind, scope: &Scope, id: &str) -> Query {
    let mut q = key_query(
        "SELECT content_type, content, etag, updated_ms FROM documents WHERE ",
        kind,
        scope,
    );
    if scope.registration.is_none() {
        q.push(" AND registration = ''");
    }
    let d = q.bind(Param::Text(id.to_string()));
    q.push(&format!(" AND document_id = {d}"));
    q
}

async fn fetch(app: &App, kind: Kind, scope: &Scope, id: &str) -> Result<Option<Document>> {
    Ok(one_query(kind, scope, id)
        .fetch_all_pool::<Document>(&app.store)
        .await?
        .into_iter()
        .next())
}

async fn fetch_tx(tx: &mut Tx, kind: Kind, scope: &Scope, id: &str) -> Result<Option<Document>> {
    Ok(one_query(kind, scope, id)
        .fetch_all::<Document>(tx)
        .await?
        .into_iter()
        .next())
}

#[derive(sqlx::FromRow)]
struct Latest {
    updated_ms: Option<i64>,
}

/// The ids under `scope` (changed after `since_ms`), and when the newest changed.
async fn list(
    app: &App,
    kind: Kind,
    scope: &Scope,
    since_ms: Option<i64>,
) -> Result<(Vec<String>, Option<i64>)> {
    let mut q = key_query(
        "SELECT DISTINCT document_id FROM documents WHERE ",
        kind,
        scope,
    );
    if let Some(ms) = since_ms {
        let s = q.bind(Param::Int(ms));
        q.push(&format!(" AND updated_ms > {s}"));
    }
    q.push(" ORDER BY document_id");
    let ids = q
        .fetch_all_pool::<IdRow>(&app.store)
        .await?
        .into_iter()
        .map(|r| r.document_id)
        .collect();
    let latest = key_query(
        "SELECT MAX(updated_ms) AS updated_ms FROM documents WHERE ",
        kind,
        scope,
    )
    .fetch_all_pool::<Latest>(&app.store)
    .await?
    .into_iter()
    .next()
    .and_then(|r| r.updated_ms);
    Ok((ids, latest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        let e = etag_of(b"hello");
        assert_eq!(e, "\"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"");
        assert!(etag_listed(
            "\"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"",
            &e
        ));
        assert!(etag_listed(
            "W/\"x\", \"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"",
            &e
        ));
        assert!(etag_listed("*", &e));
        assert!(!etag_listed("\"other\"", &e));
    }
}
