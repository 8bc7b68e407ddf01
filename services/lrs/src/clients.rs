//! xAPI clients: HTTP Basic credentials with xAPI scopes and the authority their statements
//! are stored under.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use lyceum_store::{Store, on_pool};

use crate::error::{LrsError, Result};

/// Scope that allows everything.
pub(crate) const ALL: &str = "all";

/// A client that presented valid credentials.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub scopes: Vec<String>,
    pub authority: Value,
}

impl Client {
    /// Whether the client holds any of `scopes`.
    pub fn has_any(&self, scopes: &[&str]) -> bool {
        self.scopes.iter().any(|s| scopes.contains(&s.as_str()))
    }
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    secret_sha256: Vec<u8>,
    scopes: String,
    authority: String,
}

/// The authority of a client's statements: an Agent with an account on the LRS's clients page.
pub(crate) fn authority_for(key: &str, home_page: &str) -> Value {
    json!({
        "objectType": "Agent",
        "name": key,
        "account": {"homePage": format!("{home_page}/xapi/clients"), "name": key},
    })
}

/// Creates the client or replaces its secret, scopes and authority.
pub(crate) async fn upsert(
    store: &Store,
    key: &str,
    secret: &str,
    scopes: &[&str],
    authority: &Value,
) -> Result<()> {
    const SQL: &str = "INSERT INTO xapi_clients (client_key, secret_sha256, scopes, authority, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (client_key) DO UPDATE SET secret_sha256 = $2, scopes = $3, authority = $4, updated_at = $5";
    let now = OffsetDateTime::now_utc();
    on_pool!(store, |pool| sqlx::query(SQL)
        .bind(key)
        .bind(digest(secret))
        .bind(scopes.join(" "))
        .bind(authority.to_string())
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Creates (or updates) the configured `key:secret` client with scope `all`.
pub(crate) async fn bootstrap(store: &Store, spec: &str, home_page: &str) -> Result<()> {
    let (key, secret) = spec
        .split_once(':')
        .filter(|(k, s)| !k.is_empty() && !s.is_empty())
        .ok_or_else(|| LrsError::Config("lrs.bootstrap_client must be key:secret".into()))?;
    upsert(store, key, secret, &[ALL], &authority_for(key, home_page)).await?;
    tracing::info!(client = key, "xAPI bootstrap client ready");
    Ok(())
}

/// The client whose key and secret these are, if any.
pub(crate) async fn verify(store: &Store, key: &str, secret: &str) -> Result<Option<Client>> {
    const SQL: &str =
        "SELECT secret_sha256, scopes, authority FROM xapi_clients WHERE client_key = $1";
    let row: Option<ClientRow> = on_pool!(store, |pool| sqlx::query_as(SQL)
        .bind(key)
        .fetch_optional(pool)
        .await)?;
    let presented = digest(secret);
    // Unknown keys cost the same comparison as known ones.
    let expected = row
        .as_ref()
        .map_or(&[0u8; 32][..], |r| r.secret_sha256.as_slice());
    if !constant_time_eq(&presented, expected) {
        return Ok(None);
    }
    let Some(row) = row else { return Ok(None) };
    let authority = serde_json::from_str(&row.authority)
        .map_err(|e| LrsError::Config(format!("authority of client {key} is not JSON: {e}")))?;
    Ok(Some(Client {
        scopes: row.scopes.split_whitespace().map(str::to_string).collect(),
        authority,
    }))
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compares without an early exit, so timing says nothing about where digests differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_compare_whole() {
        let a = digest("secret");
        assert!(constant_time_eq(&a, &digest("secret")));
        assert!(!constant_time_eq(&a, &digest("Secret")));
        assert!(!constant_time_eq(&a, &a[..31]));
    }
}
