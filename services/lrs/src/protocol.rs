//! The xAPI HTTP protocol under `/xapi`: one entry point reads the request once (method,
//! resource, parameters, headers, body), turns the 1.0.3 alternate request syntax into an
//! ordinary request, checks `X-Experience-API-Version`, dispatches to the resource, and
//! gives every answer the xAPI headers (`X-Experience-API-Version`,
//! `X-Experience-API-Consistent-Through`, CORS, the Basic challenge on 401). HEAD is GET
//! without the body.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use lyceum_server::{ApiError, ErrorKind};
use lyceum_xapi::datatypes::format_millis;
use lyceum_xapi::{Invalid, XapiVersion};
use time::OffsetDateTime;

use crate::error::{LrsError, Result};
use crate::{App, about, activities, agents, alternate, cors, documents, statements};

/// The version header (lower case, as HTTP/2 carries it), and as messages name it.
pub(crate) const VERSION_HEADER: &str = "x-experience-api-version";
const VERSION_HEADER_NAME: &str = "X-Experience-API-Version";
/// The consistency header.
pub(crate) const CONSISTENT_THROUGH: &str = "x-experience-api-consistent-through";
/// The version of requests that carry no version header.
const PRE_1_0: &str = "0.9";

/// An xAPI request, read whole.
#[derive(Debug)]
pub(crate) struct XapiRequest {
    /// GET (also for HEAD), PUT, POST or DELETE.
    pub method: Method,
    /// The resource path after `/xapi`, e.g. `/statements`.
    pub resource: String,
    /// Query parameters.
    pub params: Params,
    /// Headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The version whose rules apply.
    pub version: XapiVersion,
}

impl XapiRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request's media type, lower case, without parameters.
    pub fn media_type(&self) -> String {
        crate::multipart::essence(&self.headers)
    }
}

/// Query parameters: case-sensitive names, each at most once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string (`application/x-www-form-urlencoded`).
    pub fn parse(query: &str) -> Result<Params> {
        let pairs = decode_form(query).ok_or_else(|| {
            ApiError::new(
                ErrorKind::InvalidArgument,
                "malformed query string (bad percent-encoding or UTF-8)",
            )
        })?;
        Params::from_pairs(pairs)
    }

    /// Parameters from decoded pairs.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params> {
        for (i, (key, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k, _)| k == key) {
                return Err(Invalid::new(key.clone(), "is given more than once").into());
            }
        }
        Ok(Params(pairs))
    }

    /// A parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter that must be there.
    pub fn required(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| Invalid::new(key, "is required").into())
    }

    /// Whether the parameter is there.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Refuses parameters outside `allowed` (names are case-sensitive).
    pub fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(Invalid::new(
                k.clone(),
                format!(
                    "is not a parameter of this resource (allowed: {})",
                    allowed.join(", ")
                ),
            )
            .into()),
            None => Ok(()),
        }
    }

    /// The pairs.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Decodes `a=1&b=x%20y+z`.
pub(crate) fn decode_form(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in text.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((percent_decode(k)?, percent_decode(v)?));
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The `/xapi` entry point.
pub(crate) async fn handle(State(app): State<App>, req: Request) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    if req.method() == Method::OPTIONS {
        return cors::preflight(origin.as_ref(), req.headers());
    }
    let head = req.method() == Method::HEAD;
    let about = req.uri().path().trim_end_matches('/') == "/xapi/about";
    let mut answer = match req.headers().get(VERSION_HEADER) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(XapiVersion::from_header)
            .unwrap_or(XapiVersion::V2)
            .header(),
        // xAPI 0.9 had no version header, so a request without one is a 0.9 request, which
        // this LRS does not serve (it answers 400). Saying so keeps the answer true for
        // clients of every version; the 1.0.3 and 2.0 rules would each claim it for
        // themselves.
        None if !about => PRE_1_0,
        None => XapiVersion::V2.header(),
    };
    let result = match read(&app, req).await {
        Ok(r) => {
            answer = r.version.header();
            dispatch(&app, r).await
        }
        Err(e) => Err(e),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    finish(&app, &mut resp, answer, origin.as_ref());
    if head { strip_body(resp) } else { resp }
}

/// Reads the request: alternate syntax, version header, body within the size limit.
async fn read(app: &App, req: Request) -> Result<XapiRequest> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let resource = path
        .strip_prefix("/xapi")
        .unwrap_or(path)
        .trim_end_matches('/')
        .to_string();
    let params = Params::parse(parts.uri.query().unwrap_or_default())?;
    let mut method = match parts.method {
        Method::HEAD => Method::GET,
        m => m,
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > app.max_body_bytes) {
        return Err(too_large());
    }
    let body = Limited::new(body, app.max_body_bytes)
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
                .into()
            }
        })?
        .to_bytes();
    let mut headers = parts.headers;
    let mut params = params;
    let mut body = body;
    let header_version = headers.get(VERSION_HEADER).cloned();
    let alternate_used = params.has("method");
    if alternate_used {
        let header_says_2 = header_version
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(XapiVersion::from_header)
            == Some(XapiVersion::V2);
        if header_says_2 {
            return Err(Invalid::new(
                "method",
                "the alternate request syntax does not exist in xAPI 2.0",
            )
            .into());
        }
        let alt = alternate::rewrite(&method, &params, &headers, &body)?;
        method = alt.method;
        params = alt.params;
        headers = alt.headers;
        body = alt.body;
    }
    let is_about = resource == "/about";
    let version = match headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok()) {
        Some(v) => match XapiVersion::from_header(v) {
            Some(version) => version,
            None if is_about => XapiVersion::V1,
            None => {
                return Err(ApiError::invalid(
                    VERSION_HEADER_NAME,
                    format!("{v:?} is not supported; use 1.0.x or 2.0.x"),
                )
                .into());
            }
        },
        None if is_about => XapiVersion::V1,
        None => {
            return Err(ApiError::invalid(VERSION_HEADER_NAME, "header is required").into());
        }
    };
    if version == XapiVersion::V2 && alternate_used {
        return Err(Invalid::new(
            "method",
            "the alternate request syntax does not exist in xAPI 2.0",
        )
        .into());
    }
    Ok(XapiRequest {
        method,
        resource,
        params,
        headers,
        body,
        version,
    })
}

fn too_large() -> LrsError {
    ApiError::new(ErrorKind::PayloadTooLarge, "request body is too large").into()
}

async fn dispatch(app: &App, req: XapiRequest) -> Result<Response> {
    let method = req.method.clone();
    match (req.resource.as_str(), method) {
        ("/statements", Method::GET) => statements::resource::get(app, req).await,
        ("/statements", Method::PUT) => statements::resource::put(app, req).await,
        ("/statements", Method::POST) => statements::resource::post(app, req).await,
        ("/activities/state", m) => documents::state::handle(app, req, m).await,
        ("/activities/profile", m) => documents::profiles::handle_activity(app, req, m).await,
        ("/agents/profile", m) => documents::profiles::handle_agent(app, req, m).await,
        ("/activities", Method::GET) => activities::get(app, req).await,
        ("/agents", Method::GET) => agents::get(app, req).await,
        ("/about", Method::GET) => about::get(req),
        ("/statements" | "/activities" | "/agents" | "/about", m) => Err(ApiError::new(
            ErrorKind::InvalidArgument,
            format!("{m} is not allowed on {}", req.resource),
        )
        .into()),
        (other, _) => {
            Err(ApiError::new(ErrorKind::NotFound, format!("no xAPI resource {other:?}")).into())
        }
    }
}

/// Adds the headers every xAPI answer carries.
fn finish(app: &App, resp: &mut Response, version: &'static str, origin: Option<&HeaderValue>) {
    let through = app.consistency.through();
    let headers = resp.headers_mut();
    headers.insert(VERSION_HEADER, HeaderValue::from_static(version));
    if !headers.contains_key(CONSISTENT_THROUGH)
        && let Ok(v) = HeaderValue::from_str(&format_millis(through))
    {
        headers.insert(CONSISTENT_THROUGH, v);
    }
    cors::decorate(headers, origin);
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
}

/// The same answer without its body (HEAD), keeping the length the body would have had.
fn strip_body(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    if let Some(n) = axum::body::HttpBody::size_hint(&body).exact()
        && let Ok(v) = HeaderValue::from_str(&n.to_string())
    {
        parts.headers.insert(header::CONTENT_LENGTH, v);
    }
    Response::from_parts(parts, Body::empty())
}

/// A `200 OK` JSON answer.
pub(crate) fn json_response(body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// `Last-Modified` in HTTP date format.
pub(crate) fn set_last_modified(resp: &mut Response, at: OffsetDateTime) {
    if let Ok(v) = HeaderValue::from_str(&http_date(at)) {
        resp.headers_mut().insert(header::LAST_MODIFIED, v);
    }
}

/// An instant as an HTTP date (RFC 9110: `Sun, 06 Nov 1994 08:49:37 GMT`).
pub(crate) fn http_date(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let weekday = match at.weekday() {
        time::Weekday::Monday => "Mon",
        time::Weekday::Tuesday => "Tue",
        time::Weekday::Wednesday => "Wed",
        time::Weekday::Thursday => "Thu",
        time::Weekday::Friday => "Fri",
        time::Weekday::Saturday => "Sat",
        time::Weekday::Sunday => "Sun",
    };
    let month = match at.month() {
        time::Month::January => "Jan",
        time::Month::February => "Feb",
        time::Month::March => "Mar",
        time::Month::April => "Apr",
        time::Month::May => "May",
        time::Month::June => "Jun",
        time::Month::July => "Jul",
        time::Month::August => "Aug",
        time::Month::September => "Sep",
        time::Month::October => "Oct",
        time::Month::November => "Nov",
        time::Month::December => "Dec",
    };
    format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        at.day(),
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        let p = Params::parse("a=1&b=x%20y+z&c").unwrap();
        assert_eq!(p.get("b"), Some("x y z"));
        assert_eq!(p.get("c"), Some(""));
        assert!(Params::parse("a=1&a=2").is_err());
        assert!(Params::parse("a=%zz").is_err());
        assert!(Params::parse("a=%ff").is_err());
        assert!(p.only(&["a", "b"]).is_err());
        assert!(p.only(&["a", "b", "c"]).is_ok());
    }

    #[test]
    fn http_dates() {
        let t = OffsetDateTime::from_unix_timestamp(784_111_777).unwrap();
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
