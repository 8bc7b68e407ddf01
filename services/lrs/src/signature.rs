//! Signed statements (xAPI Data 2.6): a statement may carry a JSON Web Signature (RFC 7515,
//! compact serialization) as an attachment with usage type
//! `http://adlnet.gov/expapi/attachments/signature`. The LRS refuses a statement whose
//! signature is malformed, uses an algorithm other than RS256/RS384/RS512, has a payload that
//! is not the statement, or (when the JWS header carries an `x5c` certificate) does not verify
//! with that certificate's key.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use lyceum_xapi::validate::SIGNATURE_USAGE_TYPE;
use lyceum_xapi::{Invalid, Statement};
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    UnparsedPublicKey, VerificationAlgorithm,
};
use serde_json::Value;

use crate::attachments::Part;
use crate::error::Result;

/// Checks the signature attachments of every statement against the parts sent with them.
pub(crate) fn verify_all(statements: &[(String, Statement)], parts: &[Part]) -> Result<()> {
    for (field, s) in statements {
        for (i, a) in s.attachments().iter().enumerate() {
            if a.get("usageType").and_then(Value::as_str) != Some(SIGNATURE_USAGE_TYPE) {
                continue;
            }
            let at = if field.is_empty() {
                format!("attachments[{i}]")
            } else {
                format!("{field}.attachments[{i}]")
            };
            let content_type = a
                .get("contentType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/octet-stream")
            {
                return Err(Invalid::new(
                    format!("{at}.contentType"),
                    "a signature must have the content type application/octet-stream",
                )
                .into());
            }
            let sha2 = a
                .get("sha2")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase();
            let Some(part) = parts.iter().find(|p| p.sha2 == sha2) else {
                return Err(
                    Invalid::new(at, "a signature must be sent as a part of the request").into(),
                );
            };
            verify(s, &part.content).map_err(|problem| Invalid::new(at, problem))?;
        }
    }
    Ok(())
}

/// Verifies one JWS against the statement it signs; the error says what is wrong.
fn verify(statement: &Statement, jws: &[u8]) -> std::result::Result<(), String> {
    let text = std::str::from_utf8(jws).map_err(|_| "the signature is not text".to_string())?;
    let text = text.trim();
    let mut segments = text.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err("the signature is not a JWS in compact serialization".into());
    };
    let decode = |s: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|_| format!("the JWS {what} is not base64url"))
    };
    let header: Value = serde_json::from_slice(&decode(header_b64, "header")?)
        .map_err(|_| "the JWS header is not JSON".to_string())?;
    let algorithm: &'static dyn VerificationAlgorithm =
        match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => &RSA_PKCS1_2048_8192_SHA256,
            Some("RS384") => &RSA_PKCS1_2048_8192_SHA384,
            Some("RS512") => &RSA_PKCS1_2048_8192_SHA512,
            _ => return Err("the JWS algorithm must be RS256, RS384 or RS512".into()),
        };
    let payload: Value = serde_json::from_slice(&decode(payload_b64, "payload")?)
        .map_err(|_| "the JWS payload is not a JSON serialization of a statement".to_string())?;
    if !statement.matches_signed(&payload) {
        return Err("the JWS payload is not this statement".into());
    }
    let signature = decode(signature_b64, "signature")?;
    if let Some(chain) = header.get("x5c") {
        let first = chain
            .as_array()
            .and_then(|c| c.first())
            .and_then(Value::as_str)
            .ok_or_else(|| "x5c must be an array of base64 certificates".to_string())?;
        let der = STANDARD
            .decode(first)
            .map_err(|_| "the x5c certificate is not base64".to_string())?;
        let key = rsa_public_key(&der)
            .ok_or_else(|| "the x5c certificate has no RSA public key".to_string())?;
        let signed = format!("{header_b64}.{payload_b64}");
        UnparsedPublicKey::new(algorithm, key)
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| "the signature does not verify with the x5c certificate".to_string())?;
    }
    Ok(())
}

/// The PKCS#1 RSAPublicKey inside an X.509 certificate (DER): the subjectPublicKeyInfo's bit
/// string, the seventh field of the TBSCertificate when the version is present.
fn rsa_public_key(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = der(cert, 0x30)?;
    let (tbs, _) = der(certificate, 0x30)?;
    let mut rest = tbs;
    // [0] EXPLICIT version, optional.
    if rest.first() == Some(&0xa0) {
        rest = der(rest, 0xa0)?.1;
    }
    // serialNumber, signature, issuer, validity, subject.
    for tag in [0x02, 0x30, 0x30, 0x30, 0x30] {
        rest = der(rest, tag)?.1;
    }
    let (spki, _) = der(rest, 0x30)?;
    let (_algorithm, after) = der(spki, 0x30)?;
    let (bits, _) = der(after, 0x03)?;
    // The first byte of a BIT STRING counts the unused bits.
    match bits.split_first() {
        Some((0, key)) => Some(key),
        _ => None,
    }
}

/// Reads one DER element with `tag` at the start of `input`; returns its content and the rest.
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((&rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement() -> Statement {
        Statement::parse(json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://example.com/v"},
            "object": {"id": "http://example.com/a"},
        }))
        .unwrap()
    }

    fn jws(header: Value, payload: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(b"signature")
        )
    }

    #[test]
    fn structure_algorithm_and_payload_are_checked() {
        let s = statement();
        let payload = serde_json::to_vec(s.as_value()).unwrap();
        verify(&s, jws(json!({"alg": "RS256"}), &payload).as_bytes()).unwrap();
        assert!(verify(&s, jws(json!({"alg": "HS256"}), &payload).as_bytes()).is_err());
        assert!(verify(&s, jws(json!({"alg": "RS256"}), b"{'actor'").as_bytes()).is_err());
        let other = json!({"actor": {"mbox": "mailto:bob@example.com"},
            "verb": {"id": "http://example.com/v"}, "object": {"id": "http://example.com/a"}});
        assert!(
            verify(
                &s,
                jws(json!({"alg": "RS256"}), other.to_string().as_bytes()).as_bytes()
            )
            .is_err()
        );
        assert!(verify(&s, b"not a jws").is_err());
        assert!(
            verify(
                &s,
                jws(json!({"alg": "RS256", "x5c": ["AAAA"]}), &payload).as_bytes()
            )
            .is_err()
        );
    }

    #[test]
    fn der_reader_refuses_truncation() {
        assert_eq!(
            der(&[0x30, 0x02, 1, 2, 9], 0x30),
            Some((&[1u8, 2][..], &[9u8][..]))
        );
        assert_eq!(der(&[0x30, 0x05, 1], 0x30), None);
        assert_eq!(der(&[0x30, 0x82, 0x01], 0x30), None);
        assert!(rsa_public_key(&[0x30, 0x00]).is_none());
    }
}
