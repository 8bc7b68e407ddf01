//! Reading statements, the same for the xAPI HTTP API and gRPC: one statement by id, or a
//! filtered page in stored order with an opaque `more` cursor for the next page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lyceum_auth::AuthError;
use lyceum_store::{Store, Tx, on_tx};
use lyceum_xapi::Invalid;
use lyceum_xapi::validate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::access::Reach;
use crate::error::{LrsError, Result};
use crate::statements::millis;

/// Page size when the client asks for none.
pub(crate) const DEFAULT_LIMIT: u32 = 100;
/// Largest page.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// The filters of a statement query (xAPI GET /statements), in the form a cursor keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Filters {
    /// Agent key.
    #[serde(default, rename = "ag", skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, rename = "vb", skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    #[serde(default, rename = "ac", skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    #[serde(default, rename = "rg", skip_serializing_if = "Option::is_none")]
    pub registration: Option<Uuid>,
    #[serde(default, rename = "rag", skip_serializing_if = "is_false")]
    pub related_agents: bool,
    #[serde(default, rename = "rac", skip_serializing_if = "is_false")]
    pub related_activities: bool,
    /// Stored strictly after (ms since the epoch).
    #[serde(default, rename = "si", skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Stored at or before (ms since the epoch).
    #[serde(default, rename = "un", skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    #[serde(default, rename = "asc", skip_serializing_if = "is_false")]
    pub ascending: bool,
    /// Page size, 1 to [`MAX_LIMIT`].
    #[serde(rename = "l")]
    pub limit: u32,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A cursor: the filters and the `seq` of the last statement returned.
#[derive(Serialize, Deserialize)]
struct Cursor {
    #[serde(flatten)]
    filters: Filters,
    #[serde(rename = "after")]
    after: i64,
}

impl Filters {
    /// No filter, the default page size.
    pub fn new() -> Self {
        Filters {
            limit: DEFAULT_LIMIT,
            ..Default::default()
        }
    }

    /// Sets the page size: `None` is the default, 0 the largest page.
    pub fn set_limit(&mut self, limit: Option<u32>) {
        self.limit = match limit {
            None => DEFAULT_LIMIT,
            Some(0) => MAX_LIMIT,
            Some(n) => n.min(MAX_LIMIT),
        };
    }
}

/// Parses an IRI filter (`verb`, `activity`).
pub(crate) fn iri(field: &str, value: &str) -> Result<String> {
    if validate::is_absolute_iri(value) {
        Ok(value.to_string())
    } else {
        Err(Invalid::new(field, "must be an absolute IRI").into())
    }
}

/// Parses a UUID parameter.
pub(crate) fn uuid(field: &str, value: &str) -> Result<Uuid> {
    value
        .trim()
        .parse()
        .map_err(|_| Invalid::new(field, "must be a UUID").into())
}

/// Parses a `since` / `until` parameter to ms since the epoch.
pub(crate) fn instant(field: &str, value: &str) -> Result<i64> {
    validate::parse_timestamp(value)
        .map(millis)
        .ok_or_else(|| Invalid::new(field, "must be an RFC 3339 timestamp with a time zone").into())
}

/// Decodes a cursor from a previous page's `more`.
pub(crate) fn decode_more(token: &str) -> Result<(Filters, i64)> {
    let bad = || LrsError::from(Invalid::new("more", "is not a cursor this LRS issued"));
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| bad())?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if c.filters.limit == 0 || c.filters.limit > MAX_LIMIT {
        return Err(bad());
    }
    Ok((c.filters, c.after))
}

fn encode_more(filters: &Filters, after: i64) -> String {
    let cursor = Cursor {
        filters: filters.clone(),
        after,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).expect("cursors serialize"))
}

/// One page of statements.
#[derive(Debug)]
pub(crate) struct Page {
    /// Statement JSON texts, as stored.
    pub statements: Vec<String>,
    /// Cursor of the next page, if there is one.
    pub more: Option<String>,
    /// Every statement stored up to this instant is visible to this query.
    pub consistent_through: OffsetDateTime,
}

enum Bind {
    Text(String),
    Int(i64),
    Uuid(Uuid),
}

/// One page of statements matching `filters` that `reach` lets the caller see, after the
/// statement with `seq = after` in the page order. Voided statements are left out.
pub(crate) async fn find(
    store: &Store,
    filters: &Filters,
    after: Option<i64>,
    reach: &Reach,
) -> Result<Page> {
    let mut sql = String::from("SELECT s.seq, s.body FROM statements s WHERE s.voided = FALSE");
    let mut binds: Vec<Bind> = Vec::new();
    let param = |binds: &mut Vec<Bind>, b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    match reach {
        Reach::All => {}
        Reach::Person { person, key } => {
            if filters.agent.as_ref().is_some_and(|a| a != key) {
                return Err(AuthError::Forbidden(
                    "agent: you may only read your own statements".into(),
                )
                .into());
            }
            let n = param(&mut binds, Bind::Uuid(*person));
            sql.push_str(&format!(" AND s.person_id = {n}"));
        }
        Reach::Authority(k) => {
            let n = param(&mut binds, Bind::Text(k.clone()));
            sql.push_str(&format!(" AND s.authority_key = {n}"));
        }
    }
    if let Some(agent) = &filters.agent {
        let n = param(&mut binds, Bind::Text(agent.clone()));
        let direct = if filters.related_agents {
            ""
        } else {
            " AND m.relation IN ('actor', 'object')"
        };
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM statement_agents m WHERE m.agent_key = {n} AND m.statement_seq = s.seq{direct})"
        ));
    }
    if let Some(activity) = &filters.activity {
        let n = param(&mut binds, Bind::Text(activity.clone()));
        if filters.related_activities {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM statement_activities m WHERE m.activity_id = {n} AND m.statement_seq = s.seq)"
            ));
        } else {
            sql.push_str(&format!(" AND s.object_activity_id = {n}"));
        }
    }
    if let Some(verb) = &filters.verb {
        let n = param(&mut binds, Bind::Text(verb.clone()));
        sql.push_str(&format!(" AND s.verb_id = {n}"));
    }
    if let Some(r) = filters.registration {
        let n = param(&mut binds, Bind::Uuid(r));
        sql.push_str(&format!(" AND s.registration = {n}"));
    }
    if let Some(t) = filters.since_ms {
        let n = param(&mut binds, Bind::Int(t));
        sql.push_str(&format!(" AND s.stored_ms > {n}"));
    }
    if let Some(t) = filters.until_ms {
        let n = param(&mut binds, Bind::Int(t));
        sql.push_str(&format!(" AND s.stored_ms <= {n}"));
    }
    let order = if filters.ascending { "ASC" } else { "DESC" };
    if let Some(after) = after {
        let n = param(&mut binds, Bind::Int(after));
        let op = if filters.ascending { ">" } else { "<" };
        sql.push_str(&format!(" AND s.seq {op} {n}"));
    }
    let n = param(&mut binds, Bind::Int(i64::from(filters.limit) + 1));
    sql.push_str(&format!(" ORDER BY s.seq {order} LIMIT {n}"));

    let mut tx = store.begin_read().await?;
    // Read first: whatever the page sees includes everything stored up to it.
    let consistent_through = consistent_through(&mut tx).await?;
    let mut rows: Vec<(i64, String)> = on_tx!(&mut tx, |conn| {
        let mut q = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql.clone()));
        for b in &binds {
            q = match b {
                Bind::Text(s) => q.bind(s.as_str()),
                Bind::Int(i) => q.bind(*i),
                Bind::Uuid(u) => q.bind(*u),
            };
        }
        q.fetch_all(conn).await
    })?;
    tx.commit().await?;

    let more = if rows.len() > filters.limit as usize {
        rows.truncate(filters.limit as usize);
        rows.last().map(|(seq, _)| encode_more(filters, *seq))
    } else {
        None
    };
    Ok(Page {
        statements: rows.into_iter().map(|(_, body)| body).collect(),
        more,
        consistent_through,
    })
}

#[derive(sqlx::FromRow)]
struct OneRow {
    body: String,
    voided: bool,
    person_id: Option<Uuid>,
    authority_key: Option<String>,
}

/// One statement by id: with `voided` false a statement that is not voided
/// (`statementId`), with `voided` true one that is (`voidedStatementId`).
pub(crate) async fn one(
    store: &Store,
    id: Uuid,
    voided: bool,
    reach: &Reach,
) -> Result<(String, OffsetDateTime)> {
    let mut tx = store.begin_read().await?;
    let consistent_through = consistent_through(&mut tx).await?;
    let row: Option<OneRow> = on_tx!(&mut tx, |conn| sqlx::query_as(
        "SELECT body, voided, person_id, authority_key FROM statements WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(conn)
    .await)?;
    tx.commit().await?;
    let row = row
        .filter(|r| r.voided == voided)
        .filter(|r| match reach {
            Reach::All => true,
            Reach::Person { person, .. } => r.person_id == Some(*person),
            Reach::Authority(k) => r.authority_key.as_deref() == Some(k.as_str()),
        })
        .ok_or(LrsError::NotFound(id))?;
    Ok((row.body, consistent_through))
}

/// The latest `stored` visible now. Writers are serialised and assign `stored` under their
/// lock, so every statement stored before it is visible too; an empty LRS is consistent
/// through now.
async fn consistent_through(tx: &mut Tx) -> Result<OffsetDateTime> {
    let latest: Option<i64> = on_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT MAX(stored_ms) FROM statements"
    )
    .fetch_one(conn)
    .await)?;
    Ok(latest
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .unwrap_or_else(OffsetDateTime::now_utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let mut f = Filters::new();
        f.verb = Some("http://example.com/v".into());
        f.ascending = true;
        let token = encode_more(&f, 42);
        assert_eq!(decode_more(&token).unwrap(), (f, 42));
        assert!(decode_more("!!").is_err());
        assert!(decode_more(&URL_SAFE_NO_PAD.encode(b"{\"l\":0,\"after\":1}")).is_err());
    }

    #[test]
    fn limits() {
        let mut f = Filters::new();
        assert_eq!(f.limit, DEFAULT_LIMIT);
        f.set_limit(Some(0));
        assert_eq!(f.limit, MAX_LIMIT);
        f.set_limit(Some(5000));
        assert_eq!(f.limit, MAX_LIMIT);
        f.set_limit(Some(7));
        assert_eq!(f.limit, 7);
    }
}
