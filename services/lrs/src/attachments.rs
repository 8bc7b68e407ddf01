//! Attachments: content that travels with statements in `multipart/mixed` requests, matched
//! to the statements' attachment descriptions by SHA-2 digest, stored once per digest and
//! returned with `GET /statements?attachments=true`.

use bytes::Bytes;
use lyceum_store::{Store, Tx};
use lyceum_xapi::{Invalid, Statement};
use serde_json::Value;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use crate::error::{LrsError, Result};
use crate::multipart::{self, BodyPart};
use crate::sql::{CHUNK, Param, Query};

/// The header naming a part's SHA-2 digest.
pub(crate) const HASH_HEADER: &str = "x-experience-api-hash";

/// One attachment's content.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// Hex SHA-2 digest, lower case.
    pub sha2: String,
    /// The part's media type.
    pub content_type: String,
    /// The bytes.
    pub content: Bytes,
}

/// Splits a `multipart/mixed` statement request into the statements (the first part, JSON)
/// and the attachment parts, checking each part as xAPI requires.
pub(crate) fn from_multipart(content_type: &str, body: &Bytes) -> Result<(Bytes, Vec<Part>)> {
    let boundary = multipart::boundary(content_type).ok_or_else(|| {
        Invalid::new("Content-Type", "multipart/mixed needs a boundary parameter")
    })?;
    let parts = multipart::parse(body, &boundary).ok_or_else(|| {
        Invalid::new(
            "body",
            "is not a well-formed multipart/mixed body for the boundary in Content-Type",
        )
    })?;
    let mut parts = parts.into_iter();
    let first = parts
        .next()
        .ok_or_else(|| Invalid::new("body", "the multipart body has no parts"))?;
    let first_type = first.header("content-type").map(|t| {
        t.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    if first_type.as_deref() != Some("application/json") {
        return Err(Invalid::new(
            "body",
            "the first part must be the statements, with Content-Type: application/json",
        )
        .into());
    }
    let mut out = Vec::new();
    for (i, p) in parts.enumerate() {
        out.push(attachment_part(i + 1, p)?);
    }
    Ok((first.content, out))
}

fn attachment_part(index: usize, p: BodyPart) -> Result<Part> {
    let field = format!("part[{index}]");
    let content_type = p
        .header("content-type")
        .ok_or_else(|| Invalid::new(field.clone(), "has no Content-Type header"))?
        .to_string();
    let sha2 = p
        .header(HASH_HEADER)
        .ok_or_else(|| {
            Invalid::new(
                field.clone(),
                "has no X-Experience-API-Hash header (every part after the statements is an attachment)",
            )
        })?
        .trim()
        .to_ascii_lowercase();
    match p.header("content-transfer-encoding") {
        Some(e) if e.trim().eq_ignore_ascii_case("binary") => {}
        _ => {
            return Err(
                Invalid::new(field, "needs the header Content-Transfer-Encoding: binary").into(),
            );
        }
    }
    let actual = match sha2.len() {
        56 => hex(&Sha224::digest(&p.content)),
        64 => hex(&Sha256::digest(&p.content)),
        96 => hex(&Sha384::digest(&p.content)),
        128 => hex(&Sha512::digest(&p.content)),
        _ => {
            return Err(
                Invalid::new(field, "X-Experience-API-Hash is not a hex SHA-2 digest").into(),
            );
        }
    };
    if actual != sha2 {
        return Err(Invalid::new(
            field,
            "X-Experience-API-Hash does not match the SHA-2 digest of the content",
        )
        .into());
    }
    Ok(Part {
        sha2,
        content_type,
        content: p.content,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that the parts and the statements' attachment descriptions match: every attachment
/// without `fileUrl` has its content among the parts, and every part belongs to an attachment.
pub(crate) fn check(statements: &[(String, Statement)], parts: &[Part]) -> Result<()> {
    let mut described = Vec::new();
    for (field, s) in statements {
        for (i, a) in s.attachments().iter().enumerate() {
            let Some(sha2) = a.get("sha2").and_then(Value::as_str) else {
                continue;
            };
            let sha2 = sha2.to_ascii_lowercase();
            if a.get("fileUrl").is_none() && !parts.iter().any(|p| p.sha2 == sha2) {
                let at = if field.is_empty() {
                    format!("attachments[{i}]")
                } else {
                    format!("{field}.attachments[{i}]")
                };
                return Err(Invalid::new(
                    at,
                    "has no fileUrl and its content is not in the request (send it as a multipart/mixed part)",
                )
                .into());
            }
            described.push(sha2);
        }
    }
    if let Some(p) = parts.iter().find(|p| !described.contains(&p.sha2)) {
        return Err(Invalid::new(
            "body",
            format!(
                "a part with X-Experience-API-Hash {} matches no attachment of the statements",
                p.sha2
            ),
        )
        .into());
    }
    Ok(())
}

/// Stores attachment content (once per digest).
pub(crate) async fn store(tx: &mut Tx, parts: &[&Part], stored_ms: i64) -> Result<()> {
    let mut unique: Vec<&Part> = Vec::new();
    for &p in parts {
        if !unique.iter().any(|u| u.sha2 == p.sha2) {
            unique.push(p);
        }
    }
    for chunk in unique.chunks(CHUNK) {
        let mut q =
            Query::new("INSERT INTO attachments (sha2, content_type, content, stored_ms) VALUES ");
        for (i, p) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_list([
                Param::Text(p.sha2.clone()),
                Param::Text(p.content_type.clone()),
                Param::Bytes(p.content.to_vec()),
                Param::Int(stored_ms),
            ]);
        }
        q.push(" ON CONFLICT (sha2) DO NOTHING");
        q.execute(tx).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct StoredPart {
    sha2: String,
    content_type: String,
    content: Vec<u8>,
}

/// The stored content of the attachments of `statements` (JSON texts), where the LRS has it.
pub(crate) async fn for_statements(store: &Store, statements: &[String]) -> Result<Vec<Part>> {
    let mut hashes: Vec<String> = Vec::new();
    for text in statements {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| LrsError::Config(format!("a stored statement is not JSON: {e}")))?;
        for a in v
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // Content sent for an attachment with a fileUrl is kept and returned too.
            if let Some(h) = a.get("sha2").and_then(Value::as_str) {
                let h = h.to_ascii_lowercase();
                if !hashes.contains(&h) {
                    hashes.push(h);
                }
            }
        }
    }
    let mut out = Vec::new();
    for chunk in hashes.chunks(CHUNK) {
        let mut q =
            Query::new("SELECT sha2, content_type, content FROM attachments WHERE sha2 IN ");
        q.push_list(chunk.iter().map(|h| Param::Text(h.clone())));
        for p in q.fetch_all_pool::<StoredPart>(store).await? {
            out.push(Part {
                sha2: p.sha2,
                content_type: p.content_type,
                content: Bytes::from(p.content),
            });
        }
    }
    Ok(out)
}

/// A `multipart/mixed` answer: the JSON first, then each attachment.
pub(crate) fn multipart_body(json: String, parts: Vec<Part>) -> (Vec<u8>, String) {
    let mut body_parts = vec![BodyPart {
        headers: vec![("Content-Type".into(), "application/json".into())],
        content: Bytes::from(json),
    }];
    for p in parts {
        body_parts.push(BodyPart {
            headers: vec![
                ("Content-Type".into(), p.content_type),
                ("Content-Transfer-Encoding".into(), "binary".into()),
                ("X-Experience-API-Hash".into(), p.sha2),
            ],
            content: p.content,
        });
    }
    multipart::build(&body_parts)
}
