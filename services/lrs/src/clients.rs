//! xAPI clients: HTTP Basic credentials with xAPI scopes and the authority their statements
//! are stored under, and the in-memory cache that keeps Basic auth off the database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use lyceum_store::{Store, on_pool};

use crate::error::{LrsError, Result};

/// Scope that allows everything.
pub(crate) const ALL: &str = "all";

/// Every scope a client may hold.
pub const SCOPES: [&str; 8] = [
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "state",
    "define",
    "profile",
    "all/read",
    "all",
];

/// How long a cached credential is trusted before it is read again. Changes made through this
/// process (admin API, gRPC) take effect at once; changes made elsewhere (another replica, the
/// command line writing to the database) within this time.
const CACHE_TTL: Duration = Duration::from_secs(5);

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

/// A client as the admin API lists it (never its secret).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The Basic-auth user name.
    pub key: String,
    /// Its xAPI scopes.
    pub scopes: Vec<String>,
    /// The Agent (JSON) stored as `authority` of its statements.
    pub authority: Value,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When its secret, scopes or authority last changed.
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    client_key: String,
    secret_sha256: Vec<u8>,
    scopes: String,
    authority: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl ClientRow {
    fn info(&self) -> Result<ClientInfo> {
        Ok(ClientInfo {
            key: self.client_key.clone(),
            scopes: split_scopes(&self.scopes),
            authority: parse_authority(&self.client_key, &self.authority)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The authority of a client's statements: an Agent with an account on the LRS's clients page.
pub(crate) fn authority_for(key: &str, home_page: &str) -> Value {
    json!({
        "objectType": "Agent",
        "name": key,
        "account": {"homePage": format!("{home_page}/xapi/clients"), "name": key},
    })
}

/// Checks a client key and scopes before they are stored.
pub(crate) fn check_new(key: &str, secret: &str, scopes: &[&str]) -> Result<()> {
    if key.is_empty() || key.len() > 200 || key.contains(':') || key.chars().any(char::is_control) {
        return Err(lyceum_xapi::Invalid::new(
            "key",
            "must be 1 to 200 characters without ':' or control characters",
        )
        .into());
    }
    if secret.len() < 8 || secret.chars().any(char::is_control) {
        return Err(lyceum_xapi::Invalid::new(
            "secret",
            "must be at least 8 characters without control characters",
        )
        .into());
    }
    if scopes.is_empty() {
        return Err(lyceum_xapi::Invalid::new("scopes", "must name at least one scope").into());
    }
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(s)) {
        return Err(lyceum_xapi::Invalid::new(
            "scopes",
            format!("{bad:?} is not an xAPI scope (use {})", SCOPES.join(", ")),
        )
        .into());
    }
    Ok(())
}

/// A new random secret: 32 bytes from the operating system, URL-safe base64.
pub fn generate_secret() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(bytes)
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

/// Clients by key, after `after`, at most `limit`.
pub(crate) async fn list(
    store: &Store,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ClientInfo>> {
    const SQL: &str = "SELECT client_key, secret_sha256, scopes, authority, created_at, updated_at \
         FROM xapi_clients WHERE client_key > $1 ORDER BY client_key LIMIT $2";
    let rows: Vec<ClientRow> = on_pool!(store, |pool| sqlx::query_as(SQL)
        .bind(after.unwrap_or_default())
        .bind(limit)
        .fetch_all(pool)
        .await)?;
    rows.iter().map(ClientRow::info).collect()
}

/// One client.
pub(crate) async fn get(store: &Store, key: &str) -> Result<ClientInfo> {
    fetch(store, key)
        .await?
        .ok_or_else(|| LrsError::Missing(format!("xAPI client {key:?}")))?
        .info()
}

/// Deletes a client; its statements keep their authority.
pub(crate) async fn delete(store: &Store, key: &str) -> Result<()> {
    let n = on_pool!(store, |pool| sqlx::query(
        "DELETE FROM xapi_clients WHERE client_key = $1"
    )
    .bind(key)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(LrsError::Missing(format!("xAPI client {key:?}")));
    }
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

async fn fetch(store: &Store, key: &str) -> Result<Option<ClientRow>> {
    const SQL: &str = "SELECT client_key, secret_sha256, scopes, authority, created_at, updated_at \
         FROM xapi_clients WHERE client_key = $1";
    Ok(on_pool!(store, |pool| sqlx::query_as(SQL)
        .bind(key)
        .fetch_optional(pool)
        .await)?)
}

/// Credentials by key, kept in memory for [`CACHE_TTL`] (unknown keys too, so guessing keys
/// does not reach the database either).
#[derive(Clone, Default)]
pub(crate) struct ClientCache {
    entries: Arc<RwLock<HashMap<String, Cached>>>,
}

#[derive(Clone)]
struct Cached {
    loaded: Instant,
    client: Option<(Vec<u8>, Client)>,
}

/// Most keys a cache holds; beyond it, it starts again (a flood of made-up keys must not grow
/// memory without bound).
const CACHE_MAX: usize = 10_000;

impl ClientCache {
    /// Forgets a key, after its client changed here.
    pub fn invalidate(&self, key: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// The client whose key and secret these are, if any.
    pub async fn verify(&self, store: &Store, key: &str, secret: &str) -> Result<Option<Client>> {
        let cached = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .filter(|c| c.loaded.elapsed() < CACHE_TTL)
            .cloned();
        let entry = match cached {
            Some(c) => c,
            None => {
                let client = match fetch(store, key).await? {
                    Some(row) => {
                        let info = row.info()?;
                        Some((
                            row.secret_sha256,
                            Client {
                                scopes: info.scopes,
                                authority: info.authority,
                            },
                        ))
                    }
                    None => None,
                };
                let entry = Cached {
                    loaded: Instant::now(),
                    client,
                };
                let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                if entries.len() >= CACHE_MAX {
                    entries.clear();
                }
                entries.insert(key.to_string(), entry.clone());
                entry
            }
        };
        let presented = digest(secret);
        // Unknown keys cost the same comparison as known ones.
        let expected = entry
            .client
            .as_ref()
            .map_or(&[0u8; 32][..], |(d, _)| d.as_slice());
        if !constant_time_eq(&presented, expected) {
            return Ok(None);
        }
        Ok(entry.client.map(|(_, c)| c))
    }
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn parse_authority(key: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| LrsError::Config(format!("authority of client {key} is not JSON: {e}")))
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

    #[test]
    fn new_clients_are_checked() {
        assert!(check_new("k", "12345678", &["all"]).is_ok());
        assert!(check_new("a:b", "12345678", &["all"]).is_err());
        assert!(check_new("k", "short", &["all"]).is_err());
        assert!(check_new("k", "12345678", &[]).is_err());
        assert!(check_new("k", "12345678", &["statements/delete"]).is_err());
        let s = generate_secret();
        assert_eq!(s.len(), 43);
        assert_ne!(s, generate_secret());
    }
}
