//! The two xAPI versions an LRS speaks. A request's `X-Experience-API-Version` header picks
//! the rules: 1.0.x (xAPI 1.0.3) or 2.0.x (xAPI 2.0, IEEE 9274.1.1).

/// The xAPI version whose rules apply to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XapiVersion {
    /// xAPI 1.0.x, answered as 1.0.3.
    V1,
    /// xAPI 2.0.x, answered as 2.0.0.
    V2,
}

impl XapiVersion {
    /// Reads an `X-Experience-API-Version` header: `1.0`, `1.0.x`, `2.0` or `2.0.x`.
    pub fn from_header(value: &str) -> Option<XapiVersion> {
        match parts(value.trim())? {
            (1, 0, _) => Some(XapiVersion::V1),
            (2, 0, _) => Some(XapiVersion::V2),
            _ => None,
        }
    }

    /// The version this LRS answers with.
    pub fn header(self) -> &'static str {
        match self {
            XapiVersion::V1 => "1.0.3",
            XapiVersion::V2 => "2.0.0",
        }
    }

    /// The `version` the LRS writes into a statement that came without one.
    pub fn default_statement_version(self) -> &'static str {
        match self {
            XapiVersion::V1 => "1.0.0",
            XapiVersion::V2 => "2.0.0",
        }
    }

    /// Whether a statement's `version` property is acceptable under these rules: 1.0 or 1.0.x
    /// always, 2.0 or 2.0.x under 2.0.
    pub fn accepts_statement_version(self, value: &str) -> bool {
        match parts(value) {
            Some((1, 0, _)) => true,
            Some((2, 0, _)) => self == XapiVersion::V2,
            _ => false,
        }
    }
}

/// `major.minor[.patch]`, digits only.
fn parts(value: &str) -> Option<(u32, u32, Option<u32>)> {
    let mut it = value.split('.');
    let major = number(it.next()?)?;
    let minor = number(it.next()?)?;
    let patch = match it.next() {
        Some(p) => Some(number(p)?),
        None => None,
    };
    if it.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        for (v, want) in [
            ("1.0", Some(XapiVersion::V1)),
            ("1.0.3", Some(XapiVersion::V1)),
            ("1.0.99", Some(XapiVersion::V1)),
            ("2.0", Some(XapiVersion::V2)),
            ("2.0.0", Some(XapiVersion::V2)),
            ("", None),
            ("1", None),
            ("0.95", None),
            ("1.1.0", None),
            ("3.0.0", None),
            ("1.0.x", None),
            ("1.0.0.0", None),
        ] {
            assert_eq!(XapiVersion::from_header(v), want, "{v}");
        }
    }

    #[test]
    fn statement_versions() {
        assert!(XapiVersion::V1.accepts_statement_version("1.0"));
        assert!(XapiVersion::V1.accepts_statement_version("1.0.9"));
        assert!(!XapiVersion::V1.accepts_statement_version("2.0.0"));
        assert!(XapiVersion::V2.accepts_statement_version("2.0.0"));
        assert!(!XapiVersion::V2.accepts_statement_version("1.1.0"));
        assert!(!XapiVersion::V2.accepts_statement_version("0.9.9"));
    }
}
