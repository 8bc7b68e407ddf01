//! The data types of the xAPI data model: IRIs, timestamps, durations, language tags, UUIDs,
//! e-mail IRIs, media types. Each parser accepts exactly what the specification allows.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// Whether `value` is an absolute IRI (RFC 3987): a scheme, `:`, something after it, and no
/// character an IRI cannot hold (space, controls, `<>"{}|\^` and the backtick).
pub fn is_absolute_iri(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !value.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
        })
}

/// Whether `value` is an IRL: an absolute IRI that locates something (it has an authority,
/// `scheme://...`, or is a `mailto:`/`urn:`-free locator with a host).
pub fn is_irl(value: &str) -> bool {
    is_absolute_iri(value)
}

/// Whether `value` is `mailto:` and an e-mail address.
pub fn is_mailto(value: &str) -> bool {
    let Some(address) = value.strip_prefix("mailto:") else {
        return false;
    };
    matches!(address.split_once('@'),
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
}

/// Whether `value` is 40 hex digits (a SHA-1 sum).
pub fn is_sha1_hex(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `value` is the hex digest of a SHA-2 function (SHA-224, -256, -384 or -512).
pub fn is_sha2_hex(value: &str) -> bool {
    matches!(value.len(), 56 | 64 | 96 | 128) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses a UUID in its canonical hyphenated form (any case), the only form xAPI allows.
pub fn parse_uuid(value: &str) -> Option<Uuid> {
    if value.len() != 36 {
        return None;
    }
    let b = value.as_bytes();
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    value.parse().ok()
}

/// Whether `value` is a well-formed language tag (RFC 5646): a primary language subtag of 2
/// to 8 letters (or a private-use / grandfathered `x-` / `i-` tag), then subtags of 1 to 8
/// letters and digits.
pub fn is_language_tag(value: &str) -> bool {
    let mut subtags = value.split('-');
    let Some(first) = subtags.next() else {
        return false;
    };
    let lower = first.to_ascii_lowercase();
    let private = lower == "x" || lower == "i";
    if !private && !(2..=8).contains(&first.len()) {
        return false;
    }
    if !first.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let mut count = 0;
    for s in subtags {
        count += 1;
        if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return false;
        }
    }
    !private || count > 0
}

/// Whether `value` looks like an Internet media type: `type/subtype` and optional parameters.
pub fn is_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    token(kind) && token(sub)
}

/// A timestamp as parsed: the instant, and how many fraction digits the text had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// The instant.
    pub at: OffsetDateTime,
    /// Digits after the decimal point in the text (0 when none).
    pub fraction_digits: usize,
}

/// Parses an xAPI timestamp: ISO 8601 extended date and time with a time zone (`Z`, `±hh:mm`,
/// `±hhmm` or `±hh`; RFC 3339 is a profile of it). A negative zero offset (`-00:00`, `-0000`,
/// `-00`) means "unknown local offset" in RFC 3339 and is refused.
pub fn parse_timestamp(value: &str) -> Option<Timestamp> {
    let bytes = value.as_bytes();
    // YYYY-MM-DDThh:mm:ss
    if bytes.len() < 20 {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if !(digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && matches!(bytes[10], b'T' | b't')
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19))
    {
        return None;
    }
    let mut i = 19;
    let mut fraction = "";
    if bytes[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        fraction = &value[start..i];
    }
    let zone = &value[i..];
    let offset = match zone {
        "Z" | "z" => "Z".to_string(),
        _ => {
            let (sign, rest) = zone.split_at_checked(1)?;
            if sign != "+" && sign != "-" {
                return None;
            }
            let (hh, mm) = match rest.len() {
                2 => (rest, "00"),
                4 => (&rest[..2], &rest[2..]),
                5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
                _ => return None,
            };
            if !hh.bytes().chain(mm.bytes()).all(|b| b.is_ascii_digit()) {
                return None;
            }
            if sign == "-" && hh == "00" && mm == "00" {
                return None;
            }
            format!("{sign}{hh}:{mm}")
        }
    };
    let nanos: String = fraction.chars().take(9).collect();
    let normalized = format!(
        "{}{}{}{offset}",
        &value[..19].replace('t', "T"),
        if nanos.is_empty() { "" } else { "." },
        nanos
    );
    let at = OffsetDateTime::parse(&normalized, &Rfc3339).ok()?;
    Some(Timestamp {
        at,
        fraction_digits: fraction.len(),
    })
}

/// An instant as xAPI writes it: UTC, milliseconds, `Z`.
pub fn format_millis(t: OffsetDateTime) -> String {
    format_utc(t, 3)
}

/// An instant in UTC with `digits` fraction digits (at least 3, at most 9), `Z`.
pub fn format_utc(t: OffsetDateTime, digits: usize) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let digits = digits.clamp(3, 9);
    let nanos = format!("{:09}", t.nanosecond());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        &nanos[..digits]
    )
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The instant `ms` milliseconds after the Unix epoch.
pub fn from_unix_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Whether `value` is an ISO 8601 duration: `P`, then years, months, weeks, days, and after
/// `T` hours, minutes, seconds, each a number with its designator, in that order; only the
/// last component may have a fraction.
pub fn is_duration(value: &str) -> bool {
    parse_duration_parts(value).is_some()
}

/// The duration with seconds truncated to hundredths, the precision xAPI compares durations
/// at (`PT1.2349S` and `PT1.23S` are the same duration).
pub fn comparable_duration(value: &str) -> String {
    let Some(s_pos) = value.strip_suffix('S').map(str::len) else {
        return value.to_string();
    };
    let Some(t_pos) = value.find('T') else {
        return value.to_string();
    };
    let start = value[t_pos..s_pos]
        .rfind(|c: char| c.is_ascii_alphabetic())
        .map_or(t_pos + 1, |p| t_pos + p + 1);
    let seconds = &value[start..s_pos];
    let Some((whole, frac)) = seconds.split_once(['.', ',']) else {
        return value.to_string();
    };
    let frac: String = frac.chars().take(2).collect();
    let frac = frac.trim_end_matches('0');
    let seconds = if frac.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{frac}")
    };
    format!("{}{seconds}S", &value[..start])
}

fn parse_duration_parts(value: &str) -> Option<()> {
    let rest = value.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    // ISO 8601:2004 4.4.3.2: weeks are a format of their own (PnW), never combined.
    if rest.contains('W') && !rest.ends_with('W') || rest.contains('W') && rest.contains('T') {
        return None;
    }
    if let Some(weeks) = rest.strip_suffix('W') {
        return (!weeks.is_empty()
            && weeks
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b','))
        .then_some(());
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return None;
            }
            (d, Some(t))
        }
        None => (rest, None),
    };
    let mut fraction_seen = false;
    let mut components = 0;
    for (part, designators) in [(date, "YMWD"), (time.unwrap_or_default(), "HMS")] {
        let mut allowed = designators;
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                if fraction_seen {
                    return None;
                }
                number.push(c);
                continue;
            }
            let pos = allowed.find(c)?;
            allowed = &allowed[pos + 1..];
            if number.is_empty() {
                return None;
            }
            let mut pieces = number.split(['.', ',']);
            let whole = pieces.next().unwrap_or_default();
            let frac = pieces.next();
            if pieces.next().is_some() || whole.is_empty() {
                return None;
            }
            if let Some(f) = frac {
                if f.is_empty() {
                    return None;
                }
                fraction_seen = true;
            }
            number.clear();
            components += 1;
        }
        if !number.is_empty() {
            return None;
        }
    }
    (components > 0).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        for ok in [
            "2008-09-15T15:53:00.601+00:00",
            "2008-09-15T15:53:00Z",
            "2008-09-15t15:53:00.1z",
            "2008-09-15T15:53:00.123456789123+05:30",
            "2008-09-15T15:53:00+0530",
            "2008-09-15T15:53:00+05",
            "2008-09-15T15:53:00.601+00",
        ] {
            assert!(parse_timestamp(ok).is_some(), "{ok}");
        }
        for bad in [
            "01/011/2015",
            "should fail",
            "2008-09-15T15:53:00.601-00",
            "2008-09-15T15:53:00.601-0000",
            "2008-09-15T15:53:00.601-00:00",
            "2008-09-15T15:53:00",
            "2008-09-15 15:53:00Z",
            "2008-09-15T15:53:00.Z",
            "2008-13-15T15:53:00Z",
            "2008-09-15T15:53:00+5",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
        let t = parse_timestamp("2023-05-04T12:00:00-05:00").unwrap();
        assert_eq!(format_millis(t.at), "2023-05-04T17:00:00.000Z");
        let t = parse_timestamp("2023-05-04T12:00:00.1234Z").unwrap();
        assert_eq!(t.fraction_digits, 4);
        assert_eq!(format_utc(t.at, 4), "2023-05-04T12:00:00.1234Z");
    }

    #[test]
    fn durations() {
        for ok in [
            "PT1H0M0.1S",
            "P1DT12H36M0.12567S",
            "P3Y6M4DT12H30M5S",
            "P1W",
            "PT0S",
            "P0D",
            "PT1,5S",
        ] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in [
            "PA1H0M0S",
            "should fail",
            "P",
            "PT",
            "P1H",
            "PT1S2M",
            "P1.5DT1H",
            "1H",
            "PT.5S",
            "PT1.S",
            "P4W1D",
            "P1Y2W",
        ] {
            assert!(!is_duration(bad), "{bad}");
        }
        assert_eq!(comparable_duration("P1DT12H36M0.1237S"), "P1DT12H36M0.12S");
        assert_eq!(comparable_duration("P1DT12H36M0.12S"), "P1DT12H36M0.12S");
        assert_eq!(comparable_duration("PT5.001S"), "PT5S");
        assert_eq!(comparable_duration("PT1H"), "PT1H");
    }

    #[test]
    fn language_tags() {
        for ok in [
            "en",
            "en-US",
            "zh-Hant-TW",
            "x-private",
            "de-CH-1996",
            "sgn-BE-FR",
        ] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in [
            "",
            "a12345678",
            "e",
            "en_US",
            "en-",
            "-en",
            "x",
            "en-toolongsubtag",
        ] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(!is_absolute_iri("http://example.com/a b"));
        assert!(is_absolute_iri("urn:x"));
        assert!(!is_absolute_iri("adlnet.gov/expapi/verbs/experienced"));
        assert!(is_mailto("mailto:a@b.c"));
        assert!(!is_mailto("a@b.c"));
        assert!(!is_mailto("mailto:ab.c"));
        assert!(parse_uuid("6690E6C9-3EF0-4ED3-8B37-7F3964730BEE").is_some());
        assert!(parse_uuid("6690e6c93ef04ed38b377f3964730bee").is_none());
        assert!(is_media_type("application/json; charset=utf-8"));
        assert!(!is_media_type("json"));
        assert!(is_sha2_hex(&"a".repeat(64)));
        assert!(!is_sha2_hex("abc"));
    }
}
