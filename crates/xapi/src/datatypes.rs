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
        && !has_non_iri_char(value)
}

/// Whether `value` holds a character an IRI cannot: whitespace, a control character or one of
/// `<>"{}|\^` and the backtick. ASCII text (nearly every IRI) is checked byte by byte.
fn has_non_iri_char(value: &str) -> bool {
    let forbidden = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
    };
    if value.is_ascii() {
        // ASCII whitespace and controls are 0x00-0x20 and 0x7f.
        value.bytes().any(|b| {
            b <= b' '
                || b == 0x7f
                || matches!(
                    b,
                    b'<' | b'>' | b'"' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'`'
                )
        })
    } else {
        value.chars().any(forbidden)
    }
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
    let (negative, hh, mm) = match zone {
        "Z" | "z" => (false, "00", "00"),
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
            (sign == "-", hh, mm)
        }
    };
    let number = |digits: &[u8]| {
        digits
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let year = number(&bytes[0..4]);
    let second = number(&bytes[17..19]);
    let at = if second < 60 && (1..=9998).contains(&year) {
        // The fields, checked as RFC 3339 parsing checks them.
        let mut nanos = 0u32;
        for k in 0..9 {
            nanos = nanos * 10
                + fraction
                    .as_bytes()
                    .get(k)
                    .map_or(0, |d| u32::from(d - b'0'));
        }
        let date = time::Date::from_calendar_date(
            year as i32,
            time::Month::try_from(number(&bytes[5..7]) as u8).ok()?,
            number(&bytes[8..10]) as u8,
        )
        .ok()?;
        let clock = time::Time::from_hms_nano(
            number(&bytes[11..13]) as u8,
            number(&bytes[14..16]) as u8,
            second as u8,
            nanos,
        )
        .ok()?;
        let (oh, om) = (number(hh.as_bytes()) as i8, number(mm.as_bytes()) as i8);
        if oh > 23 {
            return None;
        }
        let offset = if negative {
            UtcOffset::from_hms(-oh, -om, 0)
        } else {
            UtcOffset::from_hms(oh, om, 0)
        }
        .ok()?;
        time::PrimitiveDateTime::new(date, clock).assume_offset(offset)
    } else {
        // Leap seconds and the edges of the calendar: the parser of the `time` crate decides.
        let sign = if negative { '-' } else { '+' };
        let nanos: String = fraction.chars().take(9).collect();
        let normalized = format!(
            "{}{}{}{sign}{hh}:{mm}",
            &value[..19].replace('t', "T"),
            if nanos.is_empty() { "" } else { "." },
            nanos
        );
        OffsetDateTime::parse(&normalized, &Rfc3339).ok()?
    };
    // An instant that has no UTC form within the calendar (9999-12-31T23:30:00-01:00) could
    // not be stored or compared.
    at.checked_to_offset(UtcOffset::UTC)?;
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
    if !(0..=9999).contains(&t.year()) {
        let nanos = format!("{:09}", t.nanosecond());
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            &nanos[..digits]
        );
    }
    let mut out = String::with_capacity(30);
    let mut push = |value: u32, width: usize, after: char| {
        let mut buf = [b'0'; 9];
        let mut v = value;
        for k in (0..width).rev() {
            buf[k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend(buf[..width].iter().map(|&b| b as char));
        out.push(after);
    };
    push(t.year() as u32, 4, '-');
    push(u32::from(u8::from(t.month())), 2, '-');
    push(u32::from(t.day()), 2, 'T');
    push(u32::from(t.hour()), 2, ':');
    push(u32::from(t.minute()), 2, ':');
    push(u32::from(t.second()), 2, '.');
    push(t.nanosecond() / 10u32.pow(9 - digits as u32), digits, 'Z');
    out
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

    /// Timestamps parsed as they first were: the text normalised to RFC 3339 and handed to
    /// the `time` crate.
    fn reference_timestamp(value: &str) -> Option<OffsetDateTime> {
        // The date and time as they are (the `time` crate checks them), then the fraction.
        let (date_time, rest) = value.split_at_checked(19)?;
        let (fraction, zone) = match rest.strip_prefix('.') {
            Some(r) => {
                let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
                if end == 0 {
                    return None;
                }
                r.split_at(end)
            }
            None => ("", rest),
        };
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
            date_time.replace('t', "T"),
            if nanos.is_empty() { "" } else { "." },
            nanos
        );
        OffsetDateTime::parse(&normalized, &Rfc3339)
            .ok()
            .filter(|t| t.checked_to_offset(UtcOffset::UTC).is_some())
    }

    #[test]
    fn the_fast_timestamp_parser_agrees_with_rfc_3339() {
        let mut n = 0u64;
        let mut next = || {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (n >> 33) as usize
        };
        let years = [
            "0000", "0001", "1970", "2000", "2023", "2024", "2100", "9998", "9999",
        ];
        let months = ["00", "01", "02", "04", "12", "13"];
        let days = ["00", "01", "28", "29", "30", "31", "32"];
        let hours = ["00", "09", "23", "24"];
        let minutes = ["00", "59", "60"];
        let seconds = ["00", "30", "59", "60", "61"];
        let fractions = ["", ".", ".1", ".123", ".123456789", ".1234567891234"];
        let zones = [
            "Z", "z", "+00:00", "-00:00", "+01:00", "-05:30", "+2359", "+23:59", "+24:00",
            "+25:00", "+26:00", "-12", "+14", "+01:60", "x", "", "+1:00",
        ];
        for _ in 0..20_000 {
            let pick = |list: &[&str], r: usize| list[r % list.len()].to_string();
            let sep = if next() % 5 == 0 { "t" } else { "T" };
            let text = format!(
                "{}-{}-{}{sep}{}:{}:{}{}{}",
                pick(&years, next()),
                pick(&months, next()),
                pick(&days, next()),
                pick(&hours, next()),
                pick(&minutes, next()),
                pick(&seconds, next()),
                pick(&fractions, next()),
                pick(&zones, next()),
            );
            assert_eq!(
                parse_timestamp(&text).map(|t| t.at),
                reference_timestamp(&text),
                "{text}"
            );
            if let Some(t) = parse_timestamp(&text) {
                for digits in [0, 3, 4, 9, 12] {
                    let d = digits.clamp(3, 9);
                    let nanos = format!("{:09}", t.at.to_offset(UtcOffset::UTC).nanosecond());
                    let u = t.at.to_offset(UtcOffset::UTC);
                    let want = format!(
                        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z",
                        u.year(),
                        u8::from(u.month()),
                        u.day(),
                        u.hour(),
                        u.minute(),
                        u.second(),
                        &nanos[..d]
                    );
                    assert_eq!(format_utc(t.at, digits), want, "{text}");
                }
            }
        }
    }

    #[test]
    fn iri_characters_are_checked_the_same_for_ascii_and_beyond() {
        let forbidden = |c: char| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
        };
        for c in (0u32..0x3100).filter_map(char::from_u32) {
            for text in [format!("http://e.com/{c}"), format!("{c}é")] {
                assert_eq!(
                    has_non_iri_char(&text),
                    text.chars().any(forbidden),
                    "{:?}",
                    c
                );
            }
        }
    }

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
