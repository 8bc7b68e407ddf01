//! Recording statements: all or nothing, idempotent by id (the same statement again stores
//! nothing; other content under a known id is a conflict), voiding, StatementRef chains,
//! attachments, canonical activity definitions, and one `lyceum.lrs.statement.stored` event
//! per stored statement, all in one transaction. A batch costs a fixed number of round trips
//! (multi-row inserts, `IN` lookups), not a number per statement.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use lyceum_bus::{NewEvent, Outbox, subjects};
use lyceum_proto::events::v1::StatementStored;
use lyceum_store::{Backend, Tx, on_tx};
use lyceum_xapi::datatypes::unix_millis;
use lyceum_xapi::platform::Identity;
use lyceum_xapi::{Invalid, Statement, XapiVersion};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::SOURCE;
use crate::access::Caller;
use crate::activities;
use crate::attachments::{self, Part};
use crate::error::{LrsError, Result};
use crate::sql::{CHUNK, Param, Query};

/// Key of the PostgreSQL advisory lock writers hold, so `seq` order is commit order.
const WRITE_LOCK: i64 = 0x4c52_5301;

/// A statement to record, with what the request that brought it says about it.
#[derive(Clone)]
pub(crate) struct Incoming {
    /// The name of its place in the request (`statements[1]`, or empty for a single one),
    /// used in error messages.
    pub field: String,
    /// The statement.
    pub statement: Statement,
    /// The authority it is stored under.
    pub authority: Arc<Value>,
    /// The version written into it when it has none.
    pub version: XapiVersion,
    /// Whether it may change canonical activity definitions.
    pub define: bool,
}

/// Statements to record together, all or nothing.
pub(crate) struct Write {
    /// The statements, in request order.
    pub statements: Vec<Incoming>,
    /// Attachment content sent with the statements (multipart parts).
    pub attachments: Vec<Part>,
}

impl Write {
    /// Statements of `caller`, each with the name of its place in the request.
    pub fn new(
        caller: &Caller,
        statements: Vec<(String, Statement)>,
        version: XapiVersion,
    ) -> Write {
        let authority = Arc::new(caller.authority.clone());
        Write {
            statements: statements
                .into_iter()
                .map(|(field, statement)| Incoming {
                    field,
                    statement,
                    authority: authority.clone(),
                    version,
                    define: caller.define,
                })
                .collect(),
            attachments: Vec::new(),
        }
    }

    /// How many statements.
    pub fn len(&self) -> usize {
        self.statements.len()
    }
}

/// The result of [`record`].
pub(crate) struct Recorded {
    /// Ids in request order.
    pub ids: Vec<Uuid>,
    /// How many were new.
    pub stored: usize,
}

/// One statement on its way into the table.
struct Row {
    id: Uuid,
    statement: Statement,
    authority: Arc<Value>,
    version: XapiVersion,
    define: bool,
    digest: Vec<u8>,
    voided: bool,
    seq: i64,
}

#[derive(sqlx::FromRow)]
struct Existing {
    id: Uuid,
    content_sha256: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct Inserted {
    seq: i64,
    id: Uuid,
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    statement_seq: i64,
    target_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct TargetOf {
    id: Uuid,
    target_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct Voider {
    object_statement_id: Option<Uuid>,
}

/// Records statements inside `tx`, stored at `stored_at`.
pub(crate) async fn record(
    tx: &mut Tx,
    identity: &Identity,
    write: Write,
    stored_at: OffsetDateTime,
) -> Result<Recorded> {
    let Write {
        statements,
        attachments: parts,
    } = write;
    let mut seen: HashMap<Uuid, String> = HashMap::new();
    let mut rows = Vec::with_capacity(statements.len());
    let mut ids = Vec::with_capacity(statements.len());
    for Incoming {
        field,
        statement: mut s,
        authority,
        version,
        define,
    } in statements
    {
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
            return Err(Invalid::new(
                at,
                format!("the batch already has a statement with this id ({first})"),
            )
            .into());
        }
        ids.push(id);
        let digest = Sha256::digest(s.comparable().as_bytes()).to_vec();
        rows.push(Row {
            id,
            statement: s,
            authority,
            version,
            define,
            digest,
            voided: false,
            seq: 0,
        });
    }
    if rows.is_empty() {
        return Ok(Recorded { ids, stored: 0 });
    }

    if tx.backend() == Backend::Postgres {
        on_tx!(tx, |conn| sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(conn)
            .await
            .map(|_| ()))?;
    }

    // Known ids: the same statement again is a no-op, other content a conflict.
    let mut existing: HashMap<Uuid, Vec<u8>> = HashMap::new();
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::new("SELECT id, content_sha256 FROM statements WHERE id IN ");
        q.push_list(chunk.iter().map(|r| Param::Uuid(r.id)));
        for e in q.fetch_all::<Existing>(tx).await? {
            existing.insert(e.id, e.content_sha256);
        }
    }
    let mut new_rows = Vec::with_capacity(rows.len());
    for row in rows {
        match existing.get(&row.id) {
            Some(d) if *d == row.digest => {}
            Some(_) => return Err(LrsError::Conflict(row.id)),
            None => new_rows.push(row),
        }
    }
    let mut rows = new_rows;
    if rows.is_empty() {
        return Ok(Recorded { ids, stored: 0 });
    }

    attachments::store(tx, &parts, stored_at).await?;

    // Voiding. A statement is voided when a voiding statement targets it, whichever arrives
    // first; voiding statements themselves cannot be voided.
    let voiding_targets: HashSet<Uuid> = rows
        .iter()
        .filter_map(|r| r.statement.voided_target())
        .collect();
    let mut voided_before: HashSet<Uuid> = HashSet::new();
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::new(
            "SELECT object_statement_id FROM statements WHERE voiding = TRUE AND object_statement_id IN ",
        );
        q.push_list(chunk.iter().map(|r| Param::Uuid(r.id)));
        for v in q.fetch_all::<Voider>(tx).await? {
            voided_before.extend(v.object_statement_id);
        }
    }
    for row in &mut rows {
        let is_voiding = row.statement.voided_target().is_some();
        row.voided =
            !is_voiding && (voided_before.contains(&row.id) || voiding_targets.contains(&row.id));
    }

    for row in &mut rows {
        row.statement.complete(
            stored_at,
            (*row.authority).clone(),
            row.version.default_statement_version(),
        );
    }
    let stored_ms = unix_millis(stored_at);
    let mut seqs: HashMap<Uuid, i64> = HashMap::new();
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::new(
            "INSERT INTO statements (id, body, content_sha256, actor_key, person_id, verb_id, \
             object_activity_id, object_statement_id, registration, authority_key, timestamp_ms, \
             stored_ms, version, voided, voiding) VALUES ",
        );
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let s = &row.statement;
            q.push_list([
                Param::Uuid(row.id),
                Param::Text(s.to_json()),
                Param::Bytes(row.digest.clone()),
                Param::OptText(lyceum_xapi::agent::key(s.actor())),
                Param::OptUuid(identity.person_of(s.actor())),
                Param::Text(s.verb_id().to_string()),
                Param::OptText(s.object_activity_id().map(str::to_string)),
                Param::OptUuid(s.statement_ref()),
                Param::OptUuid(s.registration()),
                Param::OptText(lyceum_xapi::agent::key(&row.authority)),
                Param::Int(s.timestamp().map_or(stored_ms, unix_millis)),
                Param::Int(stored_ms),
                Param::Text(s.version().unwrap_or_default().to_string()),
                Param::Bool(row.voided),
                Param::Bool(s.voided_target().is_some()),
            ]);
        }
        q.push(" RETURNING seq, id");
        for r in q.fetch_all::<Inserted>(tx).await? {
            seqs.insert(r.id, r.seq);
        }
    }
    for row in &mut rows {
        row.seq = seqs[&row.id];
    }

    insert_mentions(tx, &rows).await?;
    link_targets(tx, &rows).await?;

    // Void what the new voiding statements target, unless it is a voiding statement.
    let targets: Vec<Uuid> = voiding_targets.into_iter().collect();
    for chunk in targets.chunks(CHUNK) {
        let mut q =
            Query::new("UPDATE statements SET voided = TRUE WHERE voiding = FALSE AND id IN ");
        q.push_list(chunk.iter().map(|id| Param::Uuid(*id)));
        q.execute(tx).await?;
    }

    let definitions = rows
        .iter()
        .filter(|r| r.define)
        .flat_map(|r| r.statement.activity_definitions())
        .collect::<Vec<_>>();
    activities::merge_definitions(tx, &definitions, stored_ms).await?;

    let events: Vec<NewEvent> = rows
        .iter()
        .map(|row| {
            let s = &row.statement;
            let payload = StatementStored {
                statement_id: row.id.to_string(),
                person_id: identity
                    .person_of(s.actor())
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                verb_id: s.verb_id().to_string(),
                activity_id: s.object_activity_id().unwrap_or_default().to_string(),
                statement_json: s.to_json(),
            };
            NewEvent::proto(subjects::STATEMENT_STORED, SOURCE, row.id, &payload)
        })
        .collect();
    Outbox::enqueue(tx, &events).await?;
    Ok(Recorded {
        stored: rows.len(),
        ids,
    })
}

/// The agents and activities each statement mentions, once per statement, for the `agent`
/// and `activity` filters.
async fn insert_mentions(tx: &mut Tx, rows: &[Row]) -> Result<()> {
    let mut agents: Vec<(String, i64, bool)> = Vec::new();
    let mut activities: Vec<(String, i64)> = Vec::new();
    for r in rows {
        // Mentions come sorted by relation; one row per key, direct if any mention is.
        let mut by_key: Vec<(String, bool)> = Vec::new();
        for m in r.statement.agents() {
            match by_key.iter_mut().find(|(k, _)| *k == m.key) {
                Some((_, direct)) => *direct |= m.is_direct(),
                None => by_key.push((m.key.clone(), m.is_direct())),
            }
        }
        agents.extend(by_key.into_iter().map(|(k, d)| (k, r.seq, d)));
        let mut ids: Vec<String> = r
            .statement
            .activities()
            .into_iter()
            .map(|m| m.key)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        activities.extend(ids.into_iter().map(|id| (id, r.seq)));
    }
    for chunk in agents.chunks(CHUNK) {
        let mut q =
            Query::new("INSERT INTO statement_agents (agent_key, statement_seq, direct) VALUES ");
        for (i, (key, seq, direct)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_list([
                Param::Text(key.clone()),
                Param::Int(*seq),
                Param::Bool(*direct),
            ]);
        }
        q.execute(tx).await?;
    }
    for chunk in activities.chunks(CHUNK) {
        let mut q =
            Query::new("INSERT INTO statement_activities (activity_id, statement_seq) VALUES ");
        for (i, (id, seq)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_list([Param::Text(id.clone()), Param::Int(*seq)]);
        }
        q.execute(tx).await?;
    }
    Ok(())
}

/// Keeps `statement_targets` transitively closed: a new StatementRef statement gets its
/// target and everything its target targets; statements that already target a new statement
/// get everything the new one targets.
async fn link_targets(tx: &mut Tx, rows: &[Row]) -> Result<()> {
    let direct: HashMap<Uuid, Uuid> = rows
        .iter()
        .filter_map(|r| r.statement.statement_ref().map(|t| (r.id, t)))
        .collect();
    if direct.is_empty() && rows.is_empty() {
        return Ok(());
    }
    // What the targets (already stored) target in turn.
    let mut stored_closure: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let wanted: Vec<Uuid> = direct.values().copied().collect();
    for chunk in wanted.chunks(CHUNK) {
        let mut q = Query::new(
            "SELECT s.id, t.target_id FROM statement_targets t JOIN statements s ON s.seq = t.statement_seq WHERE s.id IN ",
        );
        q.push_list(chunk.iter().map(|id| Param::Uuid(*id)));
        for r in q.fetch_all::<TargetOf>(tx).await? {
            stored_closure.entry(r.id).or_default().push(r.target_id);
        }
    }
    let closure = |start: Uuid| -> Vec<Uuid> {
        let mut out: Vec<Uuid> = Vec::new();
        let mut queue = vec![start];
        while let Some(t) = queue.pop() {
            if out.contains(&t) {
                continue;
            }
            out.push(t);
            if let Some(next) = direct.get(&t) {
                queue.push(*next);
            }
            if let Some(more) = stored_closure.get(&t) {
                queue.extend(more.iter().copied());
            }
        }
        out
    };
    let mut links: Vec<(i64, Uuid)> = Vec::new();
    let mut new_closures: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in rows {
        if let Some(target) = direct.get(&row.id) {
            let all: Vec<Uuid> = closure(*target)
                .into_iter()
                .filter(|t| *t != row.id)
                .collect();
            links.extend(all.iter().map(|t| (row.seq, *t)));
            new_closures.insert(row.id, all);
        }
    }
    // Stored statements that target a new statement inherit what it targets.
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::new(
            "SELECT statement_seq, target_id FROM statement_targets WHERE target_id IN ",
        );
        q.push_list(chunk.iter().map(|r| Param::Uuid(r.id)));
        for r in q.fetch_all::<TargetRow>(tx).await? {
            if let Some(more) = new_closures.get(&r.target_id) {
                links.extend(more.iter().map(|t| (r.statement_seq, *t)));
            }
        }
    }
    for chunk in links.chunks(CHUNK) {
        let mut q = Query::new("INSERT INTO statement_targets (statement_seq, target_id) VALUES ");
        for (i, (seq, target)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_list([Param::Int(*seq), Param::Uuid(*target)]);
        }
        q.push(" ON CONFLICT DO NOTHING");
        q.execute(tx).await?;
    }
    Ok(())
}
