//! The xAPI 1.0.3 alternate request syntax (Communication 1.3): a browser that cannot send
//! arbitrary methods or headers POSTs a form instead, naming the real method in the query
//! string (`?method=PUT`) and carrying headers, parameters and the body (`content`) as form
//! fields. xAPI 2.0 removed it; requests under 2.0 that use it are refused.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use lyceum_xapi::Invalid;

use crate::error::Result;
use crate::protocol::{Params, decode_form};

/// Form fields that are headers of the real request.
const HEADER_FIELDS: [&str; 6] = [
    "Authorization",
    "X-Experience-API-Version",
    "Content-Type",
    "Content-Length",
    "If-Match",
    "If-None-Match",
];

/// The request the form stands for.
pub(crate) struct Rewritten {
    pub method: Method,
    pub params: Params,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Turns a POST with `?method=` and a form body into the request it stands for.
pub(crate) fn rewrite(
    method: &Method,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Rewritten> {
    if *method != Method::POST {
        return Err(Invalid::new(
            "method",
            "the alternate request syntax must be sent as POST",
        )
        .into());
    }
    if params.pairs().len() != 1 {
        return Err(Invalid::new(
            "method",
            "with the alternate request syntax the query string holds only method; send the other parameters in the form",
        )
        .into());
    }
    let real = match params.get("method").unwrap_or_default() {
        "GET" => Method::GET,
        "HEAD" => Method::GET,
        "PUT" => Method::PUT,
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        other => {
            return Err(Invalid::new(
                "method",
                format!("{other:?} is not GET, PUT, POST or DELETE"),
            )
            .into());
        }
    };
    let media_type = crate::multipart::essence(headers);
    if !body.is_empty() && media_type != "application/x-www-form-urlencoded" {
        return Err(Invalid::new(
            "Content-Type",
            "the alternate request syntax needs a form body (application/x-www-form-urlencoded)",
        )
        .into());
    }
    let text =
        std::str::from_utf8(body).map_err(|_| Invalid::new("body", "the form is not UTF-8"))?;
    let fields = decode_form(text)
        .ok_or_else(|| Invalid::new("body", "the form is not application/x-www-form-urlencoded"))?;
    let mut new_headers = headers.clone();
    new_headers.remove(http::header::CONTENT_TYPE);
    new_headers.remove(http::header::CONTENT_LENGTH);
    let mut new_params = Vec::new();
    let mut content = None;
    for (name, value) in fields {
        if name == "content" {
            content = Some(value);
        } else if let Some(h) = HEADER_FIELDS.iter().find(|h| h.eq_ignore_ascii_case(&name)) {
            let header = HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes())
                .map_err(|_| Invalid::new(name.clone(), "is not a header name"))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| Invalid::new(name.clone(), "is not a valid header value"))?;
            new_headers.insert(header, value);
        } else {
            new_params.push((name, value));
        }
    }
    if matches!(real, Method::PUT | Method::POST) && content.is_none() {
        return Err(Invalid::new(
            "content",
            "is required: the alternate request syntax sends the body as the form field content",
        )
        .into());
    }
    if content.is_some() && !new_headers.contains_key(http::header::CONTENT_TYPE) {
        new_headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(Rewritten {
        method: real,
        params: Params::from_pairs(new_params)?,
        headers: new_headers,
        body: Bytes::from(content.unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        h
    }

    #[test]
    fn a_form_becomes_the_real_request() {
        let params = Params::parse("method=PUT").unwrap();
        let body = Bytes::from_static(
            b"statementId=1&content=%7B%22a%22%3A1%7D&X-Experience-API-Version=1.0.3&If-Match=%22x%22",
        );
        let r = rewrite(&Method::POST, &params, &form_headers(), &body).unwrap();
        assert_eq!(r.method, Method::PUT);
        assert_eq!(r.params.get("statementId"), Some("1"));
        assert_eq!(r.body, Bytes::from_static(b"{\"a\":1}"));
        assert_eq!(r.headers["x-experience-api-version"], "1.0.3");
        assert_eq!(r.headers["if-match"], "\"x\"");
        assert_eq!(r.headers["content-type"], "application/json");
    }

    #[test]
    fn misuse_is_refused() {
        let put = Params::parse("method=PUT").unwrap();
        assert!(rewrite(&Method::PUT, &put, &form_headers(), &Bytes::new()).is_err());
        assert!(rewrite(&Method::POST, &put, &form_headers(), &Bytes::new()).is_err());
        let extra = Params::parse("method=PUT&statementId=1").unwrap();
        assert!(
            rewrite(
                &Method::POST,
                &extra,
                &form_headers(),
                &Bytes::from_static(b"content=x")
            )
            .is_err()
        );
        let get = Params::parse("method=GET").unwrap();
        let r = rewrite(
            &Method::POST,
            &get,
            &form_headers(),
            &Bytes::from_static(b"limit=1"),
        )
        .unwrap();
        assert_eq!(r.method, Method::GET);
        assert_eq!(r.params.get("limit"), Some("1"));
        let patch = Params::parse("method=PATCH").unwrap();
        assert!(rewrite(&Method::POST, &patch, &form_headers(), &Bytes::new()).is_err());
    }
}
