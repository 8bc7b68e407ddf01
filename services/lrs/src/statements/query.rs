//! Reading statements, the same for the xAPI HTTP API and gRPC: one statement by id, or a
//! filtered page in stored order with an opaque `more` cursor for the next page.
//!
//! Filters other than time and page (agent, verb, activity, registration) also match a
//! statement whose StatementRef target matches them, through any chain of StatementRefs
//! (xAPI Data 2.5 "Filter Conditions for StatementRefs"): a second branch of the query reads
//! `statement_ref_keys`, what the targets of StatementRef statements say. Both branches walk
//! an index in `seq` order and stop after a page, so their plans do not depend on how many
//! statements match. Cursors carry the filters and the last `seq`, so a `more` link stays
//! valid for as long as the statements exist.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lyceum_auth::AuthError;
use lyceum_store::Store;
use lyceum_xapi::Invalid;
use lyceum_xapi::datatypes::{self, from_unix_millis, unix_millis};
use lyceum_xapi::format::Format;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::access::Reach;
use crate::error::{LrsError, Result};
use crate::sql::{Param, Query};

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
    /// Answer format: 0 exact, 1 ids, 2 canonical.
    #[serde(default, rename = "f", skip_serializing_if = "is_zero")]
    pub format: u8,
    /// Whether attachments come with the statements.
    #[serde(default, rename = "at", skip_serializing_if = "is_false")]
    pub attachments: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u8) -> bool {
    *n == 0
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

    /// The answer format.
    pub fn format(&self) -> Format {
        match self.format {
            1 => Format::Ids,
            2 => Format::Canonical,
            _ => Format::Exact,
        }
    }

    /// Sets the answer format.
    pub fn set_format(&mut self, f: Format) {
        self.format = match f {
            Format::Exact => 0,
            Format::Ids => 1,
            Format::Canonical => 2,
        };
    }
}

/// Parses an IRI filter (`verb`, `activity`).
pub(crate) fn iri(field: &str, value: &str) -> Result<String> {
    if datatypes::is_absolute_iri(value) {
        Ok(value.to_string())
    } else {
        Err(Invalid::new(field, "must be an absolute IRI").into())
    }
}

/// Parses a UUID parameter.
pub(crate) fn uuid(field: &str, value: &str) -> Result<Uuid> {
    datatypes::parse_uuid(value.trim()).ok_or_else(|| Invalid::new(field, "must be a UUID").into())
}

/// Parses a `since` / `until` parameter to ms since the epoch.
pub(crate) fn instant(field: &str, value: &str) -> Result<i64> {
    datatypes::parse_timestamp(value)
        .map(|t| unix_millis(t.at))
        .ok_or_else(|| Invalid::new(field, "must be an ISO 8601 timestamp with a time zone").into())
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
    /// When the newest statement of the page was stored.
    pub last_stored: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct PageRow {
    seq: i64,
    body: String,
    stored_ms: i64,
}

/// Kinds of `statement_ref_keys` rows: what the stored targets of a StatementRef statement
/// say, keyed like the filters (see the migration).
pub(crate) mod ref_kind {
    /// An agent as actor or object, or a member of the group that is.
    pub const AGENT_DIRECT: i16 = 1;
    /// Any agent the statement mentions.
    pub const AGENT_ANY: i16 = 2;
    /// The object activity.
    pub const ACTIVITY_OBJECT: i16 = 3;
    /// Any activity the statement mentions.
    pub const ACTIVITY_ANY: i16 = 4;
    /// The verb.
    pub const VERB: i16 = 5;
    /// The registration, as lower-case UUID text.
    pub const REGISTRATION: i16 = 6;
}

/// The joins and conditions on what a statement says (agent, verb, activity, registration)
/// for the statement aliased `t`, leaving out the filter `skip` (the one the query is driven
/// by). Agent and related-activity filters are joins on tables with one row per statement
/// and mention, so they never multiply rows.
fn content_conditions(
    q: &mut Query,
    f: &Filters,
    t: &str,
    skip: Option<Driver>,
) -> (String, String) {
    let mut joins = String::new();
    let mut conds = String::new();
    if let Some(agent) = &f.agent
        && skip != Some(Driver::Agent)
    {
        let n = q.bind(Param::Text(agent.clone()));
        let direct = if f.related_agents {
            ""
        } else {
            " AND ma.direct = TRUE"
        };
        joins.push_str(&format!(
            " JOIN statement_agents ma ON ma.statement_seq = {t}.seq AND ma.agent_key = {n}{direct}"
        ));
    }
    if let Some(activity) = &f.activity
        && skip != Some(Driver::Activity)
    {
        let n = q.bind(Param::Text(activity.clone()));
        if f.related_activities {
            joins.push_str(&format!(
                " JOIN statement_activities mc ON mc.statement_seq = {t}.seq AND mc.activity_id = {n}"
            ));
        } else {
            conds.push_str(&format!(" AND {t}.object_activity_id = {n}"));
        }
    }
    if let Some(verb) = &f.verb {
        let n = q.bind(Param::Text(verb.clone()));
        conds.push_str(&format!(" AND {t}.verb_id = {n}"));
    }
    if let Some(r) = f.registration {
        let n = q.bind(Param::Uuid(r));
        conds.push_str(&format!(" AND {t}.registration = {n}"));
    }
    (joins, conds)
}

/// The filter whose index a branch of the query walks in `seq` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    Agent,
    Activity,
    Registration,
    Verb,
}

impl Filters {
    /// The most selective filter there is, for the branch of statements that target a match.
    fn referring_driver(&self) -> Option<(Driver, i16, String)> {
        if let Some(a) = &self.agent {
            let kind = if self.related_agents {
                ref_kind::AGENT_ANY
            } else {
                ref_kind::AGENT_DIRECT
            };
            Some((Driver::Agent, kind, a.clone()))
        } else if let Some(a) = &self.activity {
            let kind = if self.related_activities {
                ref_kind::ACTIVITY_ANY
            } else {
                ref_kind::ACTIVITY_OBJECT
            };
            Some((Driver::Activity, kind, a.clone()))
        } else if let Some(r) = self.registration {
            Some((Driver::Registration, ref_kind::REGISTRATION, r.to_string()))
        } else {
            self.verb.clone().map(|v| (Driver::Verb, ref_kind::VERB, v))
        }
    }

    /// How many of the content filters are set.
    fn content_filters(&self) -> usize {
        [
            self.agent.is_some(),
            self.activity.is_some(),
            self.registration.is_some(),
            self.verb.is_some(),
        ]
        .into_iter()
        .filter(|b| *b)
        .count()
    }
}

/// Adds the conditions on the returned statement itself (aliased `s`, its `seq` also readable
/// as `seq`, the column the branch is ordered by): not voided, the caller's reach, time window,
/// page position.
fn own_conditions(q: &mut Query, f: &Filters, reach: &Reach, after: Option<i64>, seq: &str) {
    q.push(" AND s.voided = FALSE");
    match reach {
        Reach::All => {}
        Reach::Person { person, .. } => {
            let n = q.bind(Param::Uuid(*person));
            q.push(&format!(" AND s.person_id = {n}"));
        }
        Reach::Authority(k) => {
            let n = q.bind(Param::Text(k.clone()));
            q.push(&format!(" AND s.authority_key = {n}"));
        }
    }
    if let Some(t) = f.since_ms {
        let n = q.bind(Param::Int(t));
        q.push(&format!(" AND s.stored_ms > {n}"));
    }
    if let Some(t) = f.until_ms {
        let n = q.bind(Param::Int(t));
        q.push(&format!(" AND s.stored_ms <= {n}"));
    }
    if let Some(after) = after {
        let n = q.bind(Param::Int(after));
        let op = if f.ascending { ">" } else { "<" };
        q.push(&format!(" AND {seq} {op} {n}"));
    }
}

/// The statements that match the filters themselves, newest (or oldest) first. An agent or
/// related-activity filter drives the query from its mention table, whose index is in `seq`
/// order: the database reads one page of it and stops, whatever the parameters.
fn direct_branch(q: &mut Query, f: &Filters, reach: &Reach, after: Option<i64>, order: &str) {
    let (from, driver, seq) = if let Some(agent) = &f.agent {
        let n = q.bind(Param::Text(agent.clone()));
        let direct = if f.related_agents {
            ""
        } else {
            " AND ma.direct = TRUE"
        };
        (
            format!(
                "statement_agents ma JOIN statements s ON s.seq = ma.statement_seq \
                 AND ma.agent_key = {n}{direct}"
            ),
            Some(Driver::Agent),
            "ma.statement_seq",
        )
    } else if let (Some(activity), true) = (&f.activity, f.related_activities) {
        let n = q.bind(Param::Text(activity.clone()));
        (
            format!(
                "statement_activities mc JOIN statements s ON s.seq = mc.statement_seq \
                 AND mc.activity_id = {n}"
            ),
            Some(Driver::Activity),
            "mc.statement_seq",
        )
    } else {
        ("statements s".to_string(), None, "s.seq")
    };
    let (joins, conds) = content_conditions(q, f, "s", driver);
    q.push(&format!(
        "SELECT s.seq, s.body, s.stored_ms FROM {from}{joins} WHERE 1 = 1{conds}"
    ));
    own_conditions(q, f, reach, after, seq);
    let n = q.bind(Param::Int(i64::from(f.limit) + 1));
    q.push(&format!(" ORDER BY {seq} {order} LIMIT {n}"));
}

/// The statements whose StatementRef target (through any chain) matches the filters, from
/// `statement_ref_keys` in `seq` order. With one content filter the key rows are exact; with
/// more, each candidate is checked against its targets (one target must match them all).
fn referring_branch(
    q: &mut Query,
    f: &Filters,
    reach: &Reach,
    after: Option<i64>,
    order: &str,
    (kind, key): (i16, String),
) {
    let n = q.bind(Param::Text(key));
    q.push(&format!(
        "SELECT s.seq, s.body, s.stored_ms FROM statement_ref_keys k \
         JOIN statements s ON s.seq = k.statement_seq WHERE k.kind = {kind} AND k.key = {n}"
    ));
    if f.content_filters() > 1 {
        let (joins, conds) = content_conditions(q, f, "u", None);
        q.push(&format!(
            " AND EXISTS (SELECT 1 FROM statement_targets t \
             JOIN statements u ON u.id = t.target_id{joins} WHERE t.statement_seq = s.seq{conds})"
        ));
    }
    own_conditions(q, f, reach, after, "k.statement_seq");
    let n = q.bind(Param::Int(i64::from(f.limit) + 1));
    q.push(&format!(" ORDER BY k.statement_seq {order} LIMIT {n}"));
}

/// One page of statements matching `filters` that `reach` lets the caller see, after the
/// statement with `seq = after` in the page order. Voided statements are left out.
pub(crate) async fn find(
    store: &Store,
    filters: &Filters,
    after: Option<i64>,
    reach: &Reach,
) -> Result<Page> {
    if let Reach::Person { key, .. } = reach
        && filters.agent.as_ref().is_some_and(|a| a != key)
    {
        return Err(
            AuthError::Forbidden("agent: you may only read your own statements".into()).into(),
        );
    }
    let order = if filters.ascending { "ASC" } else { "DESC" };
    let mut q = Query::new("SELECT seq, body, stored_ms FROM (");
    direct_branch(&mut q, filters, reach, after, order);
    q.push(") direct");
    if let Some((_, kind, key)) = filters.referring_driver() {
        q.push(" UNION ALL SELECT seq, body, stored_ms FROM (");
        referring_branch(&mut q, filters, reach, after, order, (kind, key));
        q.push(") referring");
    }
    q.push(&format!(" ORDER BY seq {order}"));

    let mut rows: Vec<PageRow> = q.fetch_all_pool(store).await?;
    // A statement can match itself and through a target: once is enough.
    rows.dedup_by_key(|r| r.seq);
    let more = if rows.len() > filters.limit as usize {
        rows.truncate(filters.limit as usize);
        rows.last().map(|r| encode_more(filters, r.seq))
    } else {
        None
    };
    let last_stored = rows.iter().map(|r| r.stored_ms).max().map(from_unix_millis);
    Ok(Page {
        statements: rows.into_iter().map(|r| r.body).collect(),
        more,
        last_stored,
    })
}

#[derive(sqlx::FromRow)]
struct OneRow {
    body: String,
    voided: bool,
    person_id: Option<Uuid>,
    authority_key: Option<String>,
    stored_ms: i64,
}

/// One statement by id: with `voided` false a statement that is not voided
/// (`statementId`), with `voided` true one that is (`voidedStatementId`). Returns the body and
/// when it was stored.
pub(crate) async fn one(
    store: &Store,
    id: Uuid,
    voided: bool,
    reach: &Reach,
) -> Result<(String, OffsetDateTime)> {
    let mut q = Query::new(
        "SELECT body, voided, person_id, authority_key, stored_ms FROM statements WHERE id = ",
    );
    let n = q.bind(Param::Uuid(id));
    q.push(&n);
    let row = q
        .fetch_all_pool::<OneRow>(store)
        .await?
        .into_iter()
        .next()
        .filter(|r| r.voided == voided)
        .filter(|r| match reach {
            Reach::All => true,
            Reach::Person { person, .. } => r.person_id == Some(*person),
            Reach::Authority(k) => r.authority_key.as_deref() == Some(k.as_str()),
        })
        .ok_or(LrsError::NotFound(id))?;
    Ok((row.body, from_unix_millis(row.stored_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let mut f = Filters::new();
        f.verb = Some("http://example.com/v".into());
        f.ascending = true;
        f.set_format(Format::Canonical);
        let token = encode_more(&f, 42);
        assert_eq!(decode_more(&token).unwrap(), (f.clone(), 42));
        assert_eq!(f.format(), Format::Canonical);
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
