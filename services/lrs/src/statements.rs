//! Recording statements: all or nothing, idempotent by id (the same statement again stores
//! nothing; other content under a known id is a conflict), voiding, and one
//! `lyceum.lrs.statement.stored` event per stored statement, in the same transaction.

use std::collections::HashMap;

use lyceum_bus::{NewEvent, Outbox, subjects};
use lyceum_proto::events::v1::StatementStored;
use lyceum_store::{Backend, Tx, on_tx};
use lyceum_xapi::Statement;
use lyceum_xapi::platform::Identity;
use lyceum_xapi::statement::Mention;
use lyceum_xapi::vocab::verbs;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::access::Caller;
use crate::error::{LrsError, Result};
use crate::{App, SOURCE};

/// Key of the PostgreSQL advisory lock writers hold, so `seq` order is commit order.
const WRITE_LOCK: i64 = 0x4c52_5301;

const INSERT: &str = "INSERT INTO statements (id, body, content_sha256, actor_key, person_id, verb_id, \
     object_activity_id, object_statement_id, registration, authority_key, timestamp_ms, stored_ms, version, voided) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING seq";

/// What the `version` property of a stored statement says when the client set none.
pub(crate) fn default_version(requested: Option<&str>) -> &'static str {
    match requested {
        Some(v) if v.starts_with("2.") => "2.0.0",
        _ => "1.0.0",
    }
}

/// Records a batch for `caller` in its own transaction; returns the ids in order.
pub(crate) async fn record_batch(
    app: &App,
    caller: &Caller,
    batch: Vec<(String, Statement)>,
    version: &str,
) -> Result<Vec<Uuid>> {
    let mut tx = app.store.begin().await?;
    let outcome = record(&mut tx, &app.identity, batch, &caller.authority, version).await?;
    app.outbox.commit(tx).await?;
    if outcome.stored > 0 {
        tracing::info!(
            stored = outcome.stored,
            unchanged = outcome.ids.len() - outcome.stored,
            "statements recorded"
        );
    }
    Ok(outcome.ids)
}

/// The result of [`record`].
pub(crate) struct Recorded {
    /// Ids in request order.
    pub ids: Vec<Uuid>,
    /// How many were new.
    pub stored: usize,
}

/// Records statements inside `tx`. Each comes with the name of its place in the request
/// (`statements[1]`, or empty), used in error messages.
pub(crate) async fn record(
    tx: &mut Tx,
    identity: &Identity,
    batch: Vec<(String, Statement)>,
    authority: &Value,
    version: &str,
) -> Result<Recorded> {
    let mut seen: HashMap<Uuid, String> = HashMap::new();
    let mut prepared = Vec::with_capacity(batch.len());
    for (field, mut s) in batch {
        let id = match s.id() {
            Some(id) => id,
            None => {
                let id = Uuid::now_v7();
                s.set_id(id);
                id
            }
        };
        if let Some(first) = seen.insert(id, field.clone()) {
            let at = if field.is_empty() {
                "id".to_string()
            } else {
                format!("{field}.id")
            };
            return Err(lyceum_xapi::Invalid::new(
                at,
                format!("the batch already has a statement with this id ({first})"),
            )
            .into());
        }
        prepared.push((id, s));
    }

    if tx.backend() == Backend::Postgres {
        on_tx!(tx, |conn| sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(conn)
            .await
            .map(|_| ()))?;
    }
    let stored_at = OffsetDateTime::now_utc();
    let authority_key = lyceum_xapi::agent::key(authority);
    let mut ids = Vec::with_capacity(prepared.len());
    let mut events = Vec::new();
    for (id, mut s) in prepared {
        ids.push(id);
        let digest = Sha256::digest(s.comparable().as_bytes()).to_vec();
        let existing: Option<Vec<u8>> = on_tx!(tx, |conn| sqlx::query_scalar(
            "SELECT content_sha256 FROM statements WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(conn)
        .await)?;
        match existing {
            Some(d) if d == digest => continue,
            Some(_) => return Err(LrsError::Conflict(id)),
            None => {}
        }
        s.complete(stored_at, authority.clone(), version);
        let voids = s.voided_target();
        let voided = match voids {
            Some(_) => false,
            None => is_voided_already(tx, id).await?,
        };
        let person_id = identity.person_of(s.actor());
        let body = s.to_json();
        let seq: i64 = on_tx!(tx, |conn| sqlx::query_scalar(INSERT)
            .bind(id)
            .bind(&body)
            .bind(&digest)
            .bind(lyceum_xapi::agent::key(s.actor()))
            .bind(person_id)
            .bind(s.verb_id())
            .bind(s.object_activity_id())
            .bind(s.statement_ref())
            .bind(s.registration())
            .bind(authority_key.as_deref())
            .bind(millis(s.timestamp().unwrap_or(stored_at)))
            .bind(millis(stored_at))
            .bind(s.version().unwrap_or(version))
            .bind(voided)
            .fetch_one(conn)
            .await)?;
        insert_mentions(tx, "statement_agents", "agent_key", seq, &s.agents()).await?;
        insert_mentions(
            tx,
            "statement_activities",
            "activity_id",
            seq,
            &s.activities(),
        )
        .await?;
        if let Some(target) = voids {
            // A voiding statement cannot itself be voided.
            on_tx!(tx, |conn| sqlx::query(
                "UPDATE statements SET voided = TRUE WHERE id = $1 AND verb_id <> $2"
            )
            .bind(target)
            .bind(verbs::VOIDED)
            .execute(conn)
            .await
            .map(|_| ()))?;
        }
        let payload = StatementStored {
            statement_id: id.to_string(),
            person_id: person_id.map(|p| p.to_string()).unwrap_or_default(),
            verb_id: s.verb_id().to_string(),
            activity_id: s.object_activity_id().unwrap_or_default().to_string(),
            statement_json: body,
        };
        events.push(NewEvent::proto(
            subjects::STATEMENT_STORED,
            SOURCE,
            id,
            &payload,
        ));
    }
    Outbox::enqueue(tx, &events).await?;
    Ok(Recorded {
        stored: events.len(),
        ids,
    })
}

/// Whether a voiding statement for `id` arrived before it.
async fn is_voided_already(tx: &mut Tx, id: Uuid) -> Result<bool> {
    let n: i64 = on_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT COUNT(*) FROM statements WHERE object_statement_id = $1 AND verb_id = $2"
    )
    .bind(id)
    .bind(verbs::VOIDED)
    .fetch_one(conn)
    .await)?;
    Ok(n > 0)
}

async fn insert_mentions(
    tx: &mut Tx,
    table: &str,
    column: &str,
    seq: i64,
    mentions: &[Mention],
) -> Result<()> {
    if mentions.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..mentions.len())
        .map(|i| format!("(${}, $1, ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({column}, statement_seq, relation) VALUES {}",
        values.join(", ")
    );
    on_tx!(tx, |conn| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(seq);
        for m in mentions {
            q = q.bind(m.key.as_str()).bind(m.relation);
        }
        q.execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}
