//! Interactions: what people did with catalogue content, one row per xAPI statement. Skill
//! profiles are not stored; they are computed from interactions joined with the catalogue when
//! read, so a statement that arrives before the item it is about counts once the item exists.

use std::collections::HashMap;

use lyceum_store::{Tx, on_tx};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ranking::Evidence;

/// One statement's worth of evidence about a person and an item.
#[derive(Debug, Clone)]
pub(crate) struct Interaction {
    pub statement_id: Uuid,
    pub person_id: Uuid,
    /// The catalogue item, when known (always for LMS courses).
    pub item_id: Option<Uuid>,
    /// The activity the statement was about.
    pub activity_id: String,
    pub evidence: Evidence,
    pub occurred_at: OffsetDateTime,
}

/// Records an interaction; a statement already recorded changes nothing.
pub(crate) async fn record(tx: &mut Tx, i: &Interaction) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO interactions \
         (statement_id, person_id, item_id, activity_id, kind, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (statement_id) DO NOTHING";
    on_tx!(tx, |conn| sqlx::query(SQL)
        .bind(i.statement_id)
        .bind(i.person_id)
        .bind(i.item_id)
        .bind(&i.activity_id)
        .bind(i.evidence.as_str())
        .bind(i.occurred_at)
        .execute(conn)
        .await
        .map(|_| ()))
}

/// Forgets the interaction of a voided statement.
pub(crate) async fn void(tx: &mut Tx, statement_id: Uuid) -> Result<(), sqlx::Error> {
    on_tx!(tx, |conn| sqlx::query(
        "DELETE FROM interactions WHERE statement_id = $1"
    )
    .bind(statement_id)
    .execute(conn)
    .await
    .map(|_| ()))
}

/// Attaches interactions with an activity no item matched yet to the item at `url`.
pub(crate) async fn attach_to_item(
    tx: &mut Tx,
    item_id: Uuid,
    url: &str,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |conn| sqlx::query(
        "UPDATE interactions SET item_id = $1 WHERE item_id IS NULL AND activity_id = $2"
    )
    .bind(item_id)
    .bind(url)
    .execute(conn)
    .await
    .map(|_| ()))
}

/// The strongest evidence a person left on each item they interacted with.
pub(crate) async fn evidence_of(
    tx: &mut Tx,
    person_id: Uuid,
) -> Result<HashMap<Uuid, Evidence>, sqlx::Error> {
    let rows: Vec<(Uuid, String)> = on_tx!(tx, |conn| sqlx::query_as(
        "SELECT DISTINCT item_id, kind FROM interactions \
         WHERE person_id = $1 AND item_id IS NOT NULL"
    )
    .bind(person_id)
    .fetch_all(conn)
    .await)?;
    let mut strongest: HashMap<Uuid, Evidence> = HashMap::new();
    for (item, kind) in rows {
        let evidence = Evidence::parse(&kind);
        strongest
            .entry(item)
            .and_modify(|e| *e = (*e).max(evidence))
            .or_insert(evidence);
    }
    Ok(strongest)
}
