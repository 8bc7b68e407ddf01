//! The Statement resource (`/xapi/statements`): POST (one or a batch, JSON or
//! `multipart/mixed` with attachments), PUT (one, by `statementId`), GET (one by id, or a
//! filtered page in the `exact`, `ids` or `canonical` format, with attachments on request).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use lyceum_xapi::format::{self, Format, Languages};
use lyceum_xapi::{Invalid, Statement};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::query::{self, Filters};
use super::record::Write;
use crate::access;
use crate::attachments::{self, Part};
use crate::error::{LrsError, Result};
use crate::protocol::{self, Params, XapiRequest};
use crate::{App, activities, signature};

/// Query parameters of a statement query.
const QUERY_PARAMS: [&str; 13] = [
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "more",
];

/// Bodies from this size on are parsed, checked and prepared on a blocking thread, so a large
/// batch does not hold an async worker (and with it the statement writer and other requests)
/// for milliseconds.
const OFFLOAD_BYTES: usize = 32 * 1024;

/// `POST /xapi/statements`: one statement or an array, all or nothing; answers the ids.
pub(crate) async fn post(app: &App, req: XapiRequest) -> Result<Response> {
    let caller = access::authenticate(app, &req.headers).await?;
    req.params.only(&[])?;
    let ids = write(app, caller, req, |req| {
        let (value, parts) = body_statements(req)?;
        let statements = match value {
            Value::Array(list) => list
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let field = format!("statements[{i}]");
                    Statement::parse_as(v, req.version)
                        .map(|s| (field.clone(), s))
                        .map_err(|e| e.within(&field))
                })
                .collect::<std::result::Result<Vec<_>, Invalid>>()?,
            v @ Value::Object(_) => vec![(String::new(), Statement::parse_as(v, req.version)?)],
            _ => {
                return Err(
                    Invalid::new("body", "must be a statement or an array of statements").into(),
                );
            }
        };
        Ok((statements, parts))
    })
    .await?;
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    Ok(protocol::json_response(
        serde_json::to_string(&ids).expect("strings serialize"),
    ))
}

/// `PUT /xapi/statements?statementId=`: stores one statement under that id; 204 whether it is
/// new or the same as before, 409 when the id holds other content.
pub(crate) async fn put(app: &App, req: XapiRequest) -> Result<Response> {
    let caller = access::authenticate(app, &req.headers).await?;
    req.params.only(&["statementId"])?;
    let id = query::uuid("statementId", req.params.required("statementId")?)?;
    write(app, caller, req, move |req| {
        let (value, parts) = body_statements(req)?;
        if !value.is_object() {
            return Err(Invalid::new("body", "must be one statement (a JSON object)").into());
        }
        let mut statement = Statement::parse_as(value, req.version)?;
        match statement.id() {
            Some(body_id) if body_id != id => {
                return Err(Invalid::new("id", "does not match the statementId parameter").into());
            }
            Some(_) => {}
            None => statement.set_id(id),
        }
        Ok((vec![(String::new(), statement)], parts))
    })
    .await?;
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// Statements of a request, each with the name of its place in it, and attachment parts.
type Parsed = (Vec<(String, Statement)>, Vec<Part>);

/// Parses the request with `parse`, checks and prepares its statements (on a blocking thread
/// for large bodies) and records them; answers their ids.
async fn write<F>(
    app: &App,
    caller: access::Caller,
    req: XapiRequest,
    parse: F,
) -> Result<Vec<Uuid>>
where
    F: FnOnce(&XapiRequest) -> Result<Parsed> + Send + 'static,
{
    // Held until the write commits: `X-Experience-API-Consistent-Through` stays before it.
    let guard = app.consistency.begin_write();
    let stored = guard.stored;
    let write = if req.body.len() >= OFFLOAD_BYTES {
        let app = app.clone();
        tokio::task::spawn_blocking(move || prepare(&app, &caller, &req, parse, stored))
            .await
            .map_err(|e| LrsError::Config(format!("statement preparation stopped: {e}")))??
    } else {
        prepare(app, &caller, &req, parse, stored)?
    };
    app.writer.write(write).await
}

/// Parses, checks (attachments, signatures, the caller's rights) and prepares a write.
fn prepare<F>(
    app: &App,
    caller: &access::Caller,
    req: &XapiRequest,
    parse: F,
    stored: OffsetDateTime,
) -> Result<Write>
where
    F: FnOnce(&XapiRequest) -> Result<Parsed>,
{
    let (statements, parts) = parse(req)?;
    attachments::check(&statements, &parts)?;
    signature::verify_all(&statements, &parts)?;
    caller.check_write(
        statements.iter().map(|(f, s)| (f.as_str(), s)),
        &app.identity,
    )?;
    let mut write = Write::new(caller, &app.identity, statements, req.version, stored);
    write.attachments = parts;
    Ok(write)
}

/// The statements of a PUT or POST body (JSON, or the first part of `multipart/mixed`) and
/// the attachment parts.
fn body_statements(req: &XapiRequest) -> Result<(Value, Vec<Part>)> {
    let media_type = req.media_type();
    let (json, parts) = match media_type.as_str() {
        "application/json" => (req.body.clone(), Vec::new()),
        "multipart/mixed" => {
            let content_type = req
                .header(header::CONTENT_TYPE.as_str())
                .unwrap_or_default();
            attachments::from_multipart(content_type, &req.body)?
        }
        "" => {
            return Err(Invalid::new(
                "Content-Type",
                "is required: application/json, or multipart/mixed with attachments",
            )
            .into());
        }
        other => {
            return Err(Invalid::new(
                "Content-Type",
                format!("{other} is not accepted: use application/json, or multipart/mixed with attachments"),
            )
            .into());
        }
    };
    let value = serde_json::from_slice(&json)
        .map_err(|e| Invalid::new("body", format!("is not valid JSON: {e}")))?;
    Ok((value, parts))
}

/// `GET /xapi/statements`: one statement (`statementId`, `voidedStatementId`) or a page.
pub(crate) async fn get(app: &App, req: XapiRequest) -> Result<Response> {
    let caller = access::authenticate(app, &req.headers).await?;
    let params = &req.params;
    let mut allowed = QUERY_PARAMS.to_vec();
    allowed.extend(["statementId", "voidedStatementId"]);
    params.only(&allowed)?;
    let format = match params.get("format") {
        Some(f) => Format::parse(f)
            .ok_or_else(|| Invalid::new("format", "must be exact, ids or canonical"))?,
        None => Format::Exact,
    };
    let with_attachments = match params.get("attachments") {
        Some(a) => boolean("attachments", a)?,
        None => false,
    };
    let languages = Languages::from_header(req.header(header::ACCEPT_LANGUAGE.as_str()));
    let reach = caller.reach()?;

    let single = match (params.get("statementId"), params.get("voidedStatementId")) {
        (Some(_), Some(_)) => {
            return Err(
                Invalid::new("voidedStatementId", "cannot be combined with statementId").into(),
            );
        }
        (Some(id), None) => Some(("statementId", id, false)),
        (None, Some(id)) => Some(("voidedStatementId", id, true)),
        (None, None) => None,
    };
    if let Some((key, raw, voided)) = single {
        params.only(&[key, "format", "attachments"])?;
        let id = query::uuid(key, raw)?;
        let (body, stored) = query::one(&app.store, id, voided, &reach).await?;
        let bodies = render(app, vec![body], format, &languages).await?;
        let json = bodies.into_iter().next().unwrap_or_default();
        let raw_for_attachments = with_attachments.then(|| vec![json.clone()]);
        return respond(app, json, raw_for_attachments, Some(stored)).await;
    }

    let (filters, after) = match params.get("more") {
        Some(token) => {
            params.only(&["more"])?;
            let (f, after) = query::decode_more(token)?;
            (f, Some(after))
        }
        None => {
            let mut f = filters_from(params)?;
            f.set_format(format);
            f.attachments = with_attachments;
            (f, None)
        }
    };
    let page = query::find(&app.store, &filters, after, &reach).await?;
    let bodies = render(app, page.statements, filters.format(), &languages).await?;
    let more = page
        .more
        .map(|token| format!("/xapi/statements?more={token}"))
        .unwrap_or_default();
    let json = format!(
        "{{\"statements\":[{}],\"more\":{}}}",
        bodies.join(","),
        Value::String(more)
    );
    let raw_for_attachments = filters.attachments.then_some(bodies);
    respond(app, json, raw_for_attachments, page.last_stored).await
}

/// Statements in the requested format.
async fn render(
    app: &App,
    bodies: Vec<String>,
    format: Format,
    languages: &Languages,
) -> Result<Vec<String>> {
    if format == Format::Exact {
        return Ok(bodies);
    }
    let mut values: Vec<Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| {
            crate::error::LrsError::Config(format!("a stored statement is not JSON: {e}"))
        })?;
    match format {
        Format::Ids => values.iter_mut().for_each(format::to_ids),
        _ => {
            let mut ids: Vec<String> = Vec::new();
            for v in &values {
                collect_activity_ids(v, &mut ids);
            }
            ids.sort();
            ids.dedup();
            let definitions = activities::definitions(&app.store, &ids).await?;
            for v in &mut values {
                format::to_canonical(v, &definitions, languages);
            }
        }
    }
    Ok(values.iter().map(Value::to_string).collect())
}

fn collect_activity_ids(statement: &Value, out: &mut Vec<String>) {
    out.extend(format::activity_ids(statement));
}

/// The answer: JSON, or `multipart/mixed` with the attachments of `with_attachments`.
async fn respond(
    app: &App,
    json: String,
    with_attachments: Option<Vec<String>>,
    last_modified: Option<OffsetDateTime>,
) -> Result<Response> {
    let mut resp = match with_attachments {
        Some(statements) => {
            let parts = attachments::for_statements(&app.store, &statements).await?;
            let (body, boundary) = attachments::multipart_body(json, parts);
            let mut resp = Response::new(Body::from(body));
            if let Ok(v) = HeaderValue::from_str(&format!("multipart/mixed; boundary={boundary}")) {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp
        }
        None => protocol::json_response(json),
    };
    if let Some(at) = last_modified {
        protocol::set_last_modified(&mut resp, at);
    }
    Ok(resp)
}

fn filters_from(params: &Params) -> Result<Filters> {
    let mut f = Filters::new();
    if let Some(a) = params.get("agent") {
        f.agent = Some(lyceum_xapi::agent::filter_key(a)?);
    }
    if let Some(v) = params.get("verb") {
        f.verb = Some(query::iri("verb", v)?);
    }
    if let Some(a) = params.get("activity") {
        f.activity = Some(query::iri("activity", a)?);
    }
    if let Some(r) = params.get("registration") {
        f.registration = Some(query::uuid("registration", r)?);
    }
    if let Some(s) = params.get("since") {
        f.since_ms = Some(query::instant("since", s)?);
    }
    if let Some(u) = params.get("until") {
        f.until_ms = Some(query::instant("until", u)?);
    }
    if let Some(l) = params.get("limit") {
        let n = l
            .trim()
            .parse::<u32>()
            .map_err(|_| Invalid::new("limit", "must be a non-negative integer"))?;
        f.set_limit(Some(n));
    }
    for (key, slot) in [
        ("related_agents", &mut f.related_agents),
        ("related_activities", &mut f.related_activities),
        ("ascending", &mut f.ascending),
    ] {
        if let Some(v) = params.get(key) {
            *slot = boolean(key, v)?;
        }
    }
    Ok(f)
}

fn boolean(field: &str, value: &str) -> Result<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Invalid::new(field, "must be true or false").into()),
    }
}
