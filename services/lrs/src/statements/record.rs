//! Recording statements: all or nothing, idempotent by id (the same statement again stores
//! nothing; other content under a known id is a conflict), voiding, StatementRef chains,
//! attachments, canonical activity definitions, and one `lyceum.lrs.statement.stored` event
//! per stored statement, all in one transaction. A batch costs a fixed number of round trips
//! (multi-row inserts, `IN` lookups), not a number per statement.

use std::collections::{HashMap, HashSet};

use lyceum_bus::{NewEvent, Outbox, subjects};
use lyceum_proto::events::v1::StatementStored;
use lyceum_store::{Backend, Tx, on_tx};
use lyceum_xapi::datatypes::unix_millis;
use lyceum_xapi::platform::Identity;
use lyceum_xapi::{Invalid, Statement, XapiVersion};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::SOURCE;
use crate::access::Caller;
use crate::activities;
use crate::attachments::{self, Part};
use crate::error::{LrsError, Result};
use crate::sql::{CHUNK, Insert, Param, Query, fetch_in, fetch_in_all};
use crate::statements::query::ref_kind;

/// Key of the PostgreSQL advisory lock writers hold, so `seq` order is commit order.
const WRITE_LOCK: i64 = 0x4c52_5301;

/// A statement ready to be written: everything the transaction needs, worked out by the
/// request that brought it (in parallel with other requests) so that the single writer only
/// talks to the database. The parsed statement itself is dropped by the request, too.
pub(crate) struct Prepared {
    /// The name of its place in the request (`statements[1]`, or empty for a single one),
    /// used in error messages.
    field: String,
    id: Uuid,
    /// SHA-256 of its comparable form.
    digest: [u8; 32],
    /// The stored JSON (with `id`, `stored`, `authority`, `version`, `timestamp`).
    body: String,
    person: Option<Uuid>,
    verb_id: String,
    object_activity_id: Option<String>,
    /// The target of a StatementRef object.
    statement_ref: Option<Uuid>,
    /// The target when this is a voiding statement.
    voided_target: Option<Uuid>,
    registration: Option<Uuid>,
    timestamp_ms: i64,
    stored_ms: i64,
    version: String,
    authority_key: Option<String>,
    /// The agents it mentions, once each, and whether any mention is direct.
    agents: Vec<(String, bool)>,
    /// The activities it mentions, once each.
    activities: Vec<String>,
    /// Activity definitions it brings, when its client may define activities.
    definitions: Vec<(String, Map<String, Value>)>,
}

impl Prepared {
    /// What this statement says, as `statement_ref_keys` rows (kind, key): the keys a
    /// statement that targets it takes.
    fn target_keys(&self) -> Vec<(i16, String)> {
        keys_of(
            &self.verb_id,
            self.object_activity_id.as_deref(),
            self.registration,
            &self.agents,
            &self.activities,
        )
    }
}

/// Statements to record together, all or nothing.
pub(crate) struct Write {
    /// The statements, in request order.
    pub statements: Vec<Prepared>,
    /// Attachment content sent with the statements (multipart parts).
    pub attachments: Vec<Part>,
}

impl Write {
    /// Statements of `caller`, each with the name of its place in the request, to be stored
    /// at `stored` (the instant of the request's consistency guard) with `version` written
    /// into those that have none.
    pub fn new(
        caller: &Caller,
        identity: &Identity,
        statements: Vec<(String, Statement)>,
        version: XapiVersion,
        stored: OffsetDateTime,
    ) -> Write {
        let authority = &caller.authority;
        let authority_key = lyceum_xapi::agent::key(authority);
        let default_version = version.default_statement_version();
        let stored_ms = unix_millis(stored);
        Write {
            statements: statements
                .into_iter()
                .map(|(field, s)| {
                    let (id, digest) = match s.id() {
                        Some(id) => (id, Sha256::digest(s.comparable().as_bytes())),
                        None => {
                            let id = Uuid::now_v7();
                            (id, Sha256::digest(s.comparable_with_id(id).as_bytes()))
                        }
                    };
                    let definitions = if caller.define {
                        s.activity_definitions()
                            .into_iter()
                            .map(|(id, d)| (id.to_string(), d.clone()))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    Prepared {
                        id,
                        digest: digest.into(),
                        body: s.stored_json(id, stored, authority, default_version),
                        person: identity.person_of(s.actor()),
                        verb_id: s.verb_id().to_string(),
                        object_activity_id: s.object_activity_id().map(str::to_string),
                        statement_ref: s.statement_ref(),
                        voided_target: s.voided_target(),
                        registration: s.registration(),
                        timestamp_ms: s.timestamp().map_or(stored_ms, unix_millis),
                        stored_ms,
                        version: s.version().unwrap_or(default_version).to_string(),
                        authority_key: authority_key.clone(),
                        agents: agent_keys(&s, Some(authority)),
                        activities: activity_ids(&s),
                        definitions,
                        field,
                    }
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
struct Row<'a> {
    prepared: &'a Prepared,
    voided: bool,
    seq: i64,
}

impl Row<'_> {
    fn id(&self) -> Uuid {
        self.prepared.id
    }
}

#[derive(sqlx::FromRow)]
struct Inserted {
    seq: i64,
    id: Uuid,
}

#[derive(sqlx::FromRow)]
struct TargetOf {
    id: Uuid,
    target_id: Uuid,
}

/// A row of the [`KNOWN`] look-up.
#[derive(sqlx::FromRow)]
struct Known {
    kind: i32,
    id: Uuid,
    digest: Option<Vec<u8>>,
    seq: Option<i64>,
}

const KNOWN_STORED: i32 = 1;
const KNOWN_VOIDED: i32 = 2;
const KNOWN_TARGETED: i32 = 3;
/// Statements stored under the ids (with their digest), voiding statements that target them,
/// stored statements whose StatementRef targets them (with their `seq`).
const KNOWN: [&str; 3] = [
    "SELECT 1 AS kind, id, content_sha256 AS digest, CAST(NULL AS BIGINT) AS seq \
     FROM statements WHERE id",
    "SELECT 2, object_statement_id, NULL, NULL FROM statements \
     WHERE voiding = TRUE AND object_statement_id",
    "SELECT 3, target_id, NULL, statement_seq FROM statement_targets WHERE target_id",
];

const INSERT_STATEMENTS: &str = "INSERT INTO statements (id, body, content_sha256, person_id, \
    verb_id, object_activity_id, object_statement_id, registration, authority_key, timestamp_ms, \
    stored_ms, version, voided, voiding)";
const STATEMENT_TYPES: &[&str] = &[
    "uuid", "text", "bytea", "uuid", "text", "text", "uuid", "uuid", "text", "int8", "int8",
    "text", "bool", "bool",
];

/// Records the statements of `writes` (all or nothing, in order) inside `tx`. The statements
/// are read, not taken: a failed joint write can be retried request by request.
pub(crate) async fn record(tx: &mut Tx, writes: &[&Write]) -> Result<Recorded> {
    let count: usize = writes.iter().map(|w| w.len()).sum();
    let mut seen: HashMap<Uuid, &str> = HashMap::with_capacity(count);
    let mut rows = Vec::with_capacity(count);
    let mut ids = Vec::with_capacity(count);
    for prepared in writes.iter().flat_map(|w| &w.statements) {
        let id = prepared.id;
        let field = prepared.field.as_str();
        if let Some(first) = seen.insert(id, field) {
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
        rows.push(Row {
            prepared,
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

    // What the store knows of these ids, in one round trip: statements stored under them (the
    // same statement again is a no-op, other content a conflict), voiding statements that
    // target them, and stored StatementRef statements waiting for them.
    let mut existing: HashMap<Uuid, Vec<u8>> = HashMap::new();
    let mut voided_before: HashSet<Uuid> = HashSet::new();
    let mut waiting: Vec<(i64, Uuid)> = Vec::new();
    for k in fetch_in_all::<Known>(tx, &KNOWN, &ids).await? {
        match (k.kind, k.digest, k.seq) {
            (KNOWN_STORED, Some(digest), _) => {
                existing.insert(k.id, digest);
            }
            (KNOWN_VOIDED, _, _) => {
                voided_before.insert(k.id);
            }
            (KNOWN_TARGETED, _, Some(seq)) => waiting.push((seq, k.id)),
            _ => {}
        }
    }
    let mut new_rows = Vec::with_capacity(rows.len());
    for row in rows {
        match existing.get(&row.id()) {
            Some(d) if *d == row.prepared.digest => {}
            Some(_) => return Err(LrsError::Conflict(row.id())),
            None => new_rows.push(row),
        }
    }
    let mut rows = new_rows;
    if rows.is_empty() {
        return Ok(Recorded { ids, stored: 0 });
    }
    // The latest request's instant (requests arrive in order).
    let stored_ms = rows.iter().map(|r| r.prepared.stored_ms).max().unwrap_or(0);

    let parts: Vec<&Part> = writes.iter().flat_map(|w| &w.attachments).collect();
    attachments::store(tx, &parts, stored_ms).await?;

    // Voiding. A statement is voided when a voiding statement targets it, whichever arrives
    // first; voiding statements themselves cannot be voided.
    let voiding_targets: HashSet<Uuid> = rows
        .iter()
        .filter_map(|r| r.prepared.voided_target)
        .collect();
    for row in &mut rows {
        let is_voiding = row.prepared.voided_target.is_some();
        row.voided = !is_voiding
            && (voided_before.contains(&row.id()) || voiding_targets.contains(&row.id()));
    }

    let mut insert = Insert::new(INSERT_STATEMENTS, STATEMENT_TYPES, "RETURNING seq, id");
    for row in &rows {
        let p = row.prepared;
        insert.row([
            Param::Uuid(p.id),
            Param::Text(p.body.clone()),
            Param::Bytes(p.digest.to_vec()),
            Param::OptUuid(p.person),
            Param::Text(p.verb_id.clone()),
            Param::OptText(p.object_activity_id.clone()),
            Param::OptUuid(p.statement_ref),
            Param::OptUuid(p.registration),
            Param::OptText(p.authority_key.clone()),
            Param::Int(p.timestamp_ms),
            Param::Int(p.stored_ms),
            Param::Text(p.version.clone()),
            Param::Bool(row.voided),
            Param::Bool(p.voided_target.is_some()),
        ]);
    }
    let seqs: HashMap<Uuid, i64> = insert
        .fetch_all::<Inserted>(tx)
        .await?
        .into_iter()
        .map(|r| (r.id, r.seq))
        .collect();
    for row in &mut rows {
        row.seq = seqs[&row.id()];
    }

    insert_mentions(tx, &rows).await?;
    // Only links to statements stored now wait for them.
    waiting.retain(|(_, target)| !existing.contains_key(target));
    let refs = link_targets(tx, &rows, waiting).await?;
    insert_ref_keys(tx, &rows, &refs).await?;

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
        .flat_map(|r| &r.prepared.definitions)
        .map(|(id, d)| (id.as_str(), d))
        .collect::<Vec<_>>();
    activities::merge_definitions(tx, &definitions, stored_ms).await?;

    let events: Vec<NewEvent> = rows
        .iter()
        .map(|row| {
            let p = row.prepared;
            let payload = StatementStored {
                statement_id: p.id.to_string(),
                person_id: p.person.map(|id| id.to_string()).unwrap_or_default(),
                verb_id: p.verb_id.clone(),
                activity_id: p.object_activity_id.clone().unwrap_or_default(),
                statement_json: p.body.clone(),
            };
            NewEvent::proto(subjects::STATEMENT_STORED, SOURCE, p.id, &payload)
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
async fn insert_mentions(tx: &mut Tx, rows: &[Row<'_>]) -> Result<()> {
    if let Tx::Postgres(t) = tx {
        // Both tables in one statement (one round trip), from borrowed column arrays.
        let (mut keys, mut key_seqs, mut direct) = (Vec::new(), Vec::new(), Vec::new());
        let (mut activities, mut activity_seqs) = (Vec::new(), Vec::new());
        for r in rows {
            for (key, d) in &r.prepared.agents {
                keys.push(key.as_str());
                key_seqs.push(r.seq);
                direct.push(*d);
            }
            for id in &r.prepared.activities {
                activities.push(id.as_str());
                activity_seqs.push(r.seq);
            }
        }
        sqlx::query(
            "WITH agents AS (INSERT INTO statement_agents (agent_key, statement_seq, direct) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::bool[])) \
             INSERT INTO statement_activities (activity_id, statement_seq) \
             SELECT * FROM UNNEST($4::text[], $5::int8[])",
        )
        .bind(keys)
        .bind(key_seqs)
        .bind(direct)
        .bind(activities)
        .bind(activity_seqs)
        .execute(&mut **t)
        .await?;
        return Ok(());
    }
    let mut agents = Insert::new(
        "INSERT INTO statement_agents (agent_key, statement_seq, direct)",
        &["text", "int8", "bool"],
        "",
    );
    let mut activities = Insert::new(
        "INSERT INTO statement_activities (activity_id, statement_seq)",
        &["text", "int8"],
        "",
    );
    for r in rows {
        for (key, direct) in &r.prepared.agents {
            agents.row([
                Param::Text(key.clone()),
                Param::Int(r.seq),
                Param::Bool(*direct),
            ]);
        }
        for id in &r.prepared.activities {
            activities.row([Param::Text(id.clone()), Param::Int(r.seq)]);
        }
    }
    agents.execute(tx).await?;
    activities.execute(tx).await?;
    Ok(())
}

/// The agents a statement mentions (with `authority` as its authority), once each, and
/// whether any mention is direct.
fn agent_keys(s: &Statement, authority: Option<&Value>) -> Vec<(String, bool)> {
    // Mentions come sorted by relation; one row per key, direct if any mention is.
    let mut by_key: Vec<(String, bool)> = Vec::new();
    for m in s.agents_under(authority) {
        let direct = m.is_direct();
        match by_key.iter_mut().find(|(k, _)| *k == m.key) {
            Some((_, d)) => *d |= direct,
            None => by_key.push((m.key, direct)),
        }
    }
    by_key
}

/// The activities a statement mentions, once each.
fn activity_ids(s: &Statement) -> Vec<String> {
    let mut ids: Vec<String> = s.activities().into_iter().map(|m| m.key).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Keeps `statement_targets` transitively closed: a new StatementRef statement gets its
/// target and everything its target targets; statements that already target a new statement
/// get everything the new one targets. Returns the pairs (referring statement, target) whose
/// target's keys the referring statement now takes in `statement_ref_keys`: every new link,
/// and the links that waited for a new statement.
async fn link_targets(
    tx: &mut Tx,
    rows: &[Row<'_>],
    waiting: Vec<(i64, Uuid)>,
) -> Result<Vec<(i64, Uuid)>> {
    let direct: HashMap<Uuid, Uuid> = rows
        .iter()
        .filter_map(|r| r.prepared.statement_ref.map(|t| (r.id(), t)))
        .collect();
    // What the targets (already stored) target in turn.
    let mut stored_closure: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let wanted: Vec<Uuid> = direct.values().copied().collect();
    for r in fetch_in::<TargetOf>(
        tx,
        "SELECT s.id, t.target_id FROM statement_targets t JOIN statements s ON s.seq = t.statement_seq WHERE s.id",
        &wanted,
    )
    .await?
    {
        stored_closure.entry(r.id).or_default().push(r.target_id);
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
        if let Some(target) = direct.get(&row.id()) {
            let all: Vec<Uuid> = closure(*target)
                .into_iter()
                .filter(|t| *t != row.id())
                .collect();
            links.extend(all.iter().map(|t| (row.seq, *t)));
            new_closures.insert(row.id(), all);
        }
    }
    // Stored statements that target a new statement (`waiting`) inherit what it targets, and
    // take its keys.
    for (seq, target) in &waiting {
        if let Some(more) = new_closures.get(target) {
            links.extend(more.iter().map(|t| (*seq, *t)));
        }
    }
    let mut insert = Insert::new(
        "INSERT INTO statement_targets (statement_seq, target_id)",
        &["int8", "uuid"],
        "ON CONFLICT DO NOTHING",
    );
    for (seq, target) in &links {
        insert.row([Param::Int(*seq), Param::Uuid(*target)]);
    }
    insert.execute(tx).await?;
    links.extend(waiting);
    links.sort_unstable();
    links.dedup();
    Ok(links)
}

#[derive(sqlx::FromRow)]
struct StoredTarget {
    id: Uuid,
    body: String,
}

/// Gives each referring statement of `refs` the keys its target says (when the target is
/// stored: new in `rows`, or read back), so the StatementRef branch of a query reads one
/// index.
async fn insert_ref_keys(tx: &mut Tx, rows: &[Row<'_>], refs: &[(i64, Uuid)]) -> Result<()> {
    if refs.is_empty() {
        return Ok(());
    }
    let mut keys: HashMap<Uuid, Vec<(i16, String)>> = HashMap::new();
    for row in rows {
        if refs.iter().any(|(_, t)| *t == row.id()) {
            keys.insert(row.id(), row.prepared.target_keys());
        }
    }
    let mut stored: Vec<Uuid> = refs
        .iter()
        .map(|(_, t)| *t)
        .filter(|t| !keys.contains_key(t))
        .collect();
    stored.sort_unstable();
    stored.dedup();
    for t in
        fetch_in::<StoredTarget>(tx, "SELECT id, body FROM statements WHERE id", &stored).await?
    {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&t.body) else {
            return Err(LrsError::Config(format!(
                "stored statement {} is not a JSON object",
                t.id
            )));
        };
        let s = Statement::from_stored(map);
        keys.insert(t.id, target_keys(&s, s.authority()));
    }
    let mut insert = Insert::new(
        "INSERT INTO statement_ref_keys (kind, key, statement_seq)",
        &["int2", "text", "int8"],
        "ON CONFLICT DO NOTHING",
    );
    for (seq, target) in refs {
        for (kind, key) in keys.get(target).into_iter().flatten() {
            insert.row([
                Param::Small(*kind),
                Param::Text(key.clone()),
                Param::Int(*seq),
            ]);
        }
    }
    insert.execute(tx).await
}

/// What a target statement says (with `authority` as its authority), as
/// `statement_ref_keys` rows (kind, key).
fn target_keys(s: &Statement, authority: Option<&Value>) -> Vec<(i16, String)> {
    keys_of(
        s.verb_id(),
        s.object_activity_id(),
        s.registration(),
        &agent_keys(s, authority),
        &activity_ids(s),
    )
}

/// `statement_ref_keys` rows (kind, key) of a statement with these verb, object activity,
/// registration, agents (and whether directly) and activities.
fn keys_of(
    verb: &str,
    object_activity: Option<&str>,
    registration: Option<Uuid>,
    agents: &[(String, bool)],
    activities: &[String],
) -> Vec<(i16, String)> {
    let mut out = vec![(ref_kind::VERB, verb.to_string())];
    if let Some(a) = object_activity {
        out.push((ref_kind::ACTIVITY_OBJECT, a.to_string()));
    }
    if let Some(r) = registration {
        out.push((ref_kind::REGISTRATION, r.to_string()));
    }
    for (key, direct) in agents {
        if *direct {
            out.push((ref_kind::AGENT_DIRECT, key.clone()));
        }
        out.push((ref_kind::AGENT_ANY, key.clone()));
    }
    out.extend(
        activities
            .iter()
            .map(|a| (ref_kind::ACTIVITY_ANY, a.clone())),
    );
    out
}
