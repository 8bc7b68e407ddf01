//! The xAPI HTTP API under `/xapi`: the Statement resource (POST, PUT, GET) and About. Every
//! response carries `X-Experience-API-Version`; every request except About must send it.

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use lyceum_server::{ApiError, ErrorKind};
use lyceum_xapi::statement::format_millis;
use lyceum_xapi::{Invalid, Statement, validate};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::App;
use crate::access::{self, Caller};
use crate::error::{LrsError, Result};
use crate::query::{self, Filters};
use crate::statements::{self, default_version};

/// The version header (lower case, as HTTP/2 carries it), and as messages name it.
const VERSION_HEADER: &str = "x-experience-api-version";
const VERSION_HEADER_NAME: &str = "X-Experience-API-Version";
const CONSISTENT_THROUGH: &str = "x-experience-api-consistent-through";
/// Versions this LRS speaks, for About.
const VERSIONS: [&str; 5] = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"];

/// The `/xapi` routes.
pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route(
            "/xapi/statements",
            get(get_statements)
                .post(post_statements)
                .put(put_statements),
        )
        .route("/xapi/about", get(about))
        .layer(middleware::from_fn(xapi_headers))
        .with_state(app)
}

/// Requires a supported `X-Experience-API-Version` (except on About), answers in the same
/// major version, and turns 401s into xAPI's Basic challenge.
async fn xapi_headers(req: Request, next: Next) -> Response {
    let requested = req
        .headers()
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string());
    let about = req.uri().path() == "/xapi/about";
    let mut resp = match requested.as_deref() {
        _ if about => next.run(req).await,
        None => ApiError::invalid(VERSION_HEADER_NAME, "header is required").into_response(),
        Some(v) if !validate::version_header(v) => ApiError::invalid(
            VERSION_HEADER_NAME,
            format!("{v:?} is not supported; use 1.0.x or 2.0.x"),
        )
        .into_response(),
        Some(_) => next.run(req).await,
    };
    let answer = if requested.as_deref().is_some_and(|v| v.starts_with("2.")) {
        "2.0.0"
    } else {
        "1.0.3"
    };
    let headers = resp.headers_mut();
    headers.insert(VERSION_HEADER, HeaderValue::from_static(answer));
    if resp.status() == StatusCode::UNAUTHORIZED {
        let headers = resp.headers_mut();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"xapi\""),
        );
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"xapi\""),
        );
    }
    resp
}

async fn about() -> Response {
    axum::Json(json!({"version": VERSIONS, "extensions": {}})).into_response()
}

fn requested_version(headers: &HeaderMap) -> Option<&str> {
    headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok())
}

/// `POST /xapi/statements`: one statement or an array, all or nothing; answers the ids.
async fn post_statements(State(app): State<App>, req: Request) -> Result<Response> {
    let caller = access::authenticate(&app, req.headers()).await?;
    let version = default_version(requested_version(req.headers()));
    let value = read_json(&app, req).await?;
    let batch = match value {
        Value::Array(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let field = format!("statements[{i}]");
                Statement::parse(v)
                    .map(|s| (field.clone(), s))
                    .map_err(|e| e.within(&field))
            })
            .collect::<std::result::Result<Vec<_>, Invalid>>()?,
        v @ Value::Object(_) => vec![(String::new(), Statement::parse(v)?)],
        _ => {
            return Err(ApiError::new(
                ErrorKind::InvalidArgument,
                "the body must be a statement or an array of statements",
            )
            .into());
        }
    };
    caller.check_write(batch.iter().map(|(f, s)| (f.clone(), s)), &app.identity)?;
    let ids = statements::record_batch(&app, &caller, batch, version).await?;
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    Ok(axum::Json(ids).into_response())
}

/// `PUT /xapi/statements?statementId=`: stores one statement under that id; 204 whether it is
/// new or the same as before, 409 when the id holds other content.
async fn put_statements(
    State(app): State<App>,
    params: std::result::Result<
        Query<Vec<(String, String)>>,
        axum::extract::rejection::QueryRejection,
    >,
    req: Request,
) -> Result<Response> {
    let caller = access::authenticate(&app, req.headers()).await?;
    let params = Params::new(params)?;
    params.only(&["statementId"])?;
    let id = query::uuid(
        "statementId",
        params
            .get("statementId")
            .ok_or_else(|| Invalid::new("statementId", "is required"))?,
    )?;
    let version = default_version(requested_version(req.headers()));
    let value = read_json(&app, req).await?;
    if !value.is_object() {
        return Err(
            ApiError::new(ErrorKind::InvalidArgument, "the body must be one statement").into(),
        );
    }
    let mut statement = Statement::parse(value)?;
    match statement.id() {
        Some(body_id) if body_id != id => {
            return Err(Invalid::new("id", "does not match the statementId parameter").into());
        }
        Some(_) => {}
        None => statement.set_id(id),
    }
    caller.check_write([(String::new(), &statement)], &app.identity)?;
    statements::record_batch(&app, &caller, vec![(String::new(), statement)], version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /xapi/statements`: one statement (`statementId`, `voidedStatementId`) or a page.
async fn get_statements(
    State(app): State<App>,
    params: std::result::Result<
        Query<Vec<(String, String)>>,
        axum::extract::rejection::QueryRejection,
    >,
    headers: HeaderMap,
) -> Result<Response> {
    let caller: Caller = access::authenticate(&app, &headers).await?;
    let reach = caller.reach()?;
    let params = Params::new(params)?;
    if let Some(format) = params.get("format")
        && !matches!(format, "exact" | "ids" | "canonical")
    {
        return Err(Invalid::new("format", "must be exact, ids or canonical").into());
    }
    if let Some(a) = params.get("attachments") {
        boolean("attachments", a)?;
    }
    for (key, voided) in [("statementId", false), ("voidedStatementId", true)] {
        let Some(raw) = params.get(key) else { continue };
        params.only(&[key, "format", "attachments"])?;
        let id = query::uuid(key, raw)?;
        let (body, through) = query::one(&app.store, id, voided, &reach).await?;
        return Ok(statement_response(body, through));
    }
    let (filters, after) = match params.get("more") {
        Some(token) => {
            params.only(&["more", "format", "attachments"])?;
            let (f, after) = query::decode_more(token)?;
            (f, Some(after))
        }
        None => (filters_from(&params)?, None),
    };
    let page = query::find(&app.store, &filters, after, &reach).await?;
    let more = page
        .more
        .map(|token| format!("/xapi/statements?more={token}"))
        .unwrap_or_default();
    let body = format!(
        "{{\"statements\":[{}],\"more\":{}}}",
        page.statements.join(","),
        Value::String(more)
    );
    Ok(statement_response(body, page.consistent_through))
}

fn statement_response(body: String, consistent_through: OffsetDateTime) -> Response {
    let mut resp = Response::new(Body::from(body));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format_millis(consistent_through)) {
        headers.insert(CONSISTENT_THROUGH, v);
    }
    resp
}

fn filters_from(params: &Params) -> Result<Filters> {
    params.only(&[
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
    ])?;
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

/// Query parameters, each at most once.
struct Params(Vec<(String, String)>);

impl Params {
    fn new(
        query: std::result::Result<
            Query<Vec<(String, String)>>,
            axum::extract::rejection::QueryRejection,
        >,
    ) -> Result<Params> {
        let Query(pairs) = query.map_err(|e| {
            ApiError::new(
                ErrorKind::InvalidArgument,
                format!("malformed query string: {}", e.body_text()),
            )
        })?;
        for (i, (key, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k, _)| k == key) {
                return Err(Invalid::new(key.clone(), "is given more than once").into());
            }
        }
        Ok(Params(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses parameters outside `allowed`.
    fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(Invalid::new(
                k.clone(),
                format!("is not allowed here (allowed: {})", allowed.join(", ")),
            )
            .into()),
            None => Ok(()),
        }
    }
}

/// Reads a JSON body of at most the configured size.
async fn read_json(app: &App, req: Request) -> Result<Value> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "expected a JSON body with Content-Type: application/json",
        )
        .into());
    }
    let too_large = || ApiError::new(ErrorKind::PayloadTooLarge, "request body is too large");
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > app.max_body_bytes) {
        return Err(too_large().into());
    }
    let bytes = Limited::new(req.into_body(), app.max_body_bytes)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                too_large()
            } else {
                ApiError::new(
                    ErrorKind::InvalidArgument,
                    "could not read the request body",
                )
            }
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        LrsError::from(ApiError::new(
            ErrorKind::InvalidArgument,
            format!("malformed JSON: {e}"),
        ))
    })
}
