//! Input checks shared by services; each failure names the field.

use crate::ApiError;

/// Trims `value` and checks it has 1 to `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    optional_text(field, v, max)
}

/// Trims `value` and checks it has at most `max` characters (empty allowed).
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("must have at most {max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_string())
}

/// Lower-cases and checks an e-mail address (one `@`, a dotted domain, no spaces).
pub fn email(field: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim().to_lowercase();
    let ok = v.len() <= 254
        && !v.chars().any(char::is_whitespace)
        && matches!(v.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.contains('@') && domain.contains('.')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    if ok {
        Ok(v)
    } else {
        Err(ApiError::invalid(
            field,
            format!("{value:?} is not an e-mail address"),
        ))
    }
}

/// Checks an absolute http(s) URL with a host.
pub fn http_url(field: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && !v.chars().any(char::is_whitespace) && v.len() <= 2048 => {
            Ok(v.to_string())
        }
        _ => Err(ApiError::invalid(
            field,
            format!("{value:?} is not an absolute http(s) URL"),
        )),
    }
}

/// Parses a UUID.
pub fn uuid(field: &str, value: &str) -> Result<uuid_crate::Uuid, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid(field, format!("{value:?} is not a UUID")))
}

/// Normalises skill tags: trimmed, lower-case, 1–64 characters, de-duplicated, at most 50.
pub fn skills(field: &str, values: &[String]) -> Result<Vec<String>, ApiError> {
    if values.len() > 50 {
        return Err(ApiError::invalid(field, "at most 50 skills"));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, s) in values.iter().enumerate() {
        let tag = s.trim().to_lowercase();
        if tag.is_empty() || tag.chars().count() > 64 || tag.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                format!("{field}[{i}]"),
                "must be 1 to 64 printable characters",
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

use uuid as uuid_crate;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_field() {
        assert_eq!(required_text("title", "  x ", 10).unwrap(), "x");
        assert_eq!(
            required_text("title", " ", 10)
                .unwrap_err()
                .field
                .as_deref(),
            Some("title")
        );
        assert!(required_text("title", "abcdef", 5).is_err());
        assert_eq!(email("email", " A@B.example ").unwrap(), "a@b.example");
        for bad in ["a", "a@b", "@b.c", "a b@c.d", "a@.c", "a@b.c."] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
        assert!(http_url("url", "https://x.example/v.mp4").is_ok());
        for bad in ["ftp://x", "https://", "x.example", "http:// x"] {
            assert!(http_url("url", bad).is_err(), "{bad}");
        }
        assert_eq!(
            skills("skills", &[" SQL".into(), "sql".into()]).unwrap(),
            vec!["sql"]
        );
        assert_eq!(
            skills("skills", &["".into()]).unwrap_err().field.as_deref(),
            Some("skills[0]")
        );
    }
}
