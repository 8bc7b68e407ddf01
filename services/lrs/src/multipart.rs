//! `multipart/mixed` bodies (RFC 2046) as xAPI uses them: statements with their attachments,
//! in requests and in `GET /statements?attachments=true` answers.

use bytes::Bytes;
use http::HeaderMap;

/// One part: its headers (names lower case) and its content.
#[derive(Debug, Clone)]
pub(crate) struct BodyPart {
    pub headers: Vec<(String, String)>,
    pub content: Bytes,
}

impl BodyPart {
    /// The value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The boundary parameter of a `multipart/...` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (name, value) = p.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty() && value.len() <= 200).then(|| value.to_string())
    })
}

/// Splits a body into its parts; `None` when it is not well-formed.
pub(crate) fn parse(body: &Bytes, boundary: &str) -> Option<Vec<BodyPart>> {
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let data = body.as_ref();
    // The first delimiter may be preceded by a preamble (and starts a line).
    let mut pos = find(data, d, 0)?;
    if pos > 0 && !data[..pos].ends_with(b"\n") {
        return None;
    }
    let mut parts = Vec::new();
    loop {
        let after = pos + d.len();
        if data[after..].starts_with(b"--") {
            return Some(parts);
        }
        // Transport padding, then CRLF.
        let mut start = after;
        while start < data.len() && (data[start] == b' ' || data[start] == b'\t') {
            start += 1;
        }
        start = skip_newline(data, start)?;
        let next = find_delimiter(data, d, start)?;
        // The CRLF before the next delimiter belongs to the delimiter.
        let mut end = next;
        if end >= 2 && &data[end - 2..end] == b"\r\n" {
            end -= 2;
        } else if end >= 1 && data[end - 1] == b'\n' {
            end -= 1;
        }
        parts.push(part(&body.slice(start..end.max(start)))?);
        pos = next;
    }
}

fn part(raw: &Bytes) -> Option<BodyPart> {
    let data = raw.as_ref();
    let (head_end, body_start) = if data.starts_with(b"\r\n") {
        (0, 2)
    } else if data.starts_with(b"\n") {
        (0, 1)
    } else if let Some(i) = find(data, b"\r\n\r\n", 0) {
        (i, i + 4)
    } else {
        let i = find(data, b"\n\n", 0)?;
        (i, i + 2)
    };
    let head = std::str::from_utf8(&data[..head_end]).ok()?;
    let mut headers = Vec::new();
    for line in head.lines() {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Some(BodyPart {
        headers,
        content: raw.slice(body_start..),
    })
}

fn skip_newline(data: &[u8], at: usize) -> Option<usize> {
    if data[at..].starts_with(b"\r\n") {
        Some(at + 2)
    } else if data[at..].starts_with(b"\n") {
        Some(at + 1)
    } else {
        None
    }
}

/// The next delimiter that starts a line at or after `from`.
fn find_delimiter(data: &[u8], d: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let i = find(data, d, at)?;
        if i == from || (i > 0 && data[i - 1] == b'\n') {
            return Some(i);
        }
        at = i + 1;
    }
}

fn find(data: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > data.len() {
        return None;
    }
    data[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Builds a `multipart/mixed` body from parts; returns the body and its boundary.
pub(crate) fn build(parts: &[BodyPart]) -> (Vec<u8>, String) {
    let boundary = format!("xapi-{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        for (name, value) in &p.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&p.content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (out, boundary)
}

/// The media type of a request (`type/subtype`, lower case), without parameters.
pub(crate) fn essence(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let parts = vec![
            BodyPart {
                headers: vec![("content-type".into(), "application/json".into())],
                content: Bytes::from_static(b"{\"a\":1}"),
            },
            BodyPart {
                headers: vec![
                    ("content-type".into(), "text/plain".into()),
                    ("x-experience-api-hash".into(), "abc".into()),
                ],
                content: Bytes::from_static(b"line one\r\n--not a boundary\r\n"),
            },
        ];
        let (body, b) = build(&parts);
        let parsed = parse(&Bytes::from(body), &b).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].content, Bytes::from_static(b"{\"a\":1}"));
        assert_eq!(parsed[1].header("x-experience-api-hash"), Some("abc"));
        assert_eq!(parsed[1].content, parts[1].content);
    }

    #[test]
    fn the_suites_layout_and_garbage() {
        let body = Bytes::from_static(
            b"\r\n--b1\r\nContent-Type:application/json\r\n\r\n{}\r\n--b1\r\nContent-Type:text/plain\r\nX-Experience-API-Hash:h\r\n\r\nhi\r\n--b1--",
        );
        let parts = parse(&body, "b1").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].content, Bytes::from_static(b"hi"));
        assert_eq!(parts[0].header("content-type"), Some("application/json"));
        assert!(parse(&Bytes::from_static(b"no boundary here"), "b1").is_none());
        assert!(
            parse(
                &Bytes::from_static(b"--b1\r\nContent-Type: x\r\n\r\nunterminated"),
                "b1"
            )
            .is_none()
        );
        assert_eq!(
            boundary("multipart/mixed; boundary=\"abc def\"").as_deref(),
            Some("abc def")
        );
        assert_eq!(boundary("multipart/mixed"), None);
    }
}
