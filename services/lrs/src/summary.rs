//! What one person did over a period: statements per verb and per activity, for dashboards
//! and reports of the other services (gRPC `SummarizeActivity`).

use lyceum_store::Store;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::Result;
use crate::sql::{Param, Query};

/// A summary of one person's statements.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub statements: u64,
    pub verbs: Vec<(String, u64)>,
    pub activities: Vec<(String, u64, i64)>,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Totals {
    n: i64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct VerbRow {
    verb_id: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct ActivityRow {
    object_activity_id: String,
    n: i64,
    last_ms: i64,
}

/// Statements whose actor is `person`, with a timestamp in `[from, to)`, not voided.
pub(crate) async fn summarize(
    store: &Store,
    person: Uuid,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    activity_limit: u32,
) -> Result<Summary> {
    let base = |select: &str| {
        let mut q = Query::new(select);
        let p = q.bind(Param::Uuid(person));
        q.push(&format!(
            " FROM statements WHERE person_id = {p} AND voided = FALSE"
        ));
        if let Some(t) = from {
            let n = q.bind(Param::Int(lyceum_xapi::datatypes::unix_millis(t)));
            q.push(&format!(" AND timestamp_ms >= {n}"));
        }
        if let Some(t) = to {
            let n = q.bind(Param::Int(lyceum_xapi::datatypes::unix_millis(t)));
            q.push(&format!(" AND timestamp_ms < {n}"));
        }
        q
    };
    let totals =
        base("SELECT COUNT(*) AS n, MIN(timestamp_ms) AS first_ms, MAX(timestamp_ms) AS last_ms")
            .fetch_all_pool::<Totals>(store)
            .await?
            .into_iter()
            .next();
    let mut verbs = base("SELECT verb_id, COUNT(*) AS n");
    verbs.push(" GROUP BY verb_id ORDER BY n DESC, verb_id");
    let verbs = verbs.fetch_all_pool::<VerbRow>(store).await?;
    let mut activities =
        base("SELECT object_activity_id, COUNT(*) AS n, MAX(timestamp_ms) AS last_ms");
    activities.push(" AND object_activity_id IS NOT NULL GROUP BY object_activity_id ORDER BY n DESC, object_activity_id");
    let limit = match activity_limit {
        0 => 100,
        n => n.min(1000),
    };
    let l = activities.bind(Param::Int(i64::from(limit)));
    activities.push(&format!(" LIMIT {l}"));
    let activities = activities.fetch_all_pool::<ActivityRow>(store).await?;
    let totals = totals.unwrap_or(Totals {
        n: 0,
        first_ms: None,
        last_ms: None,
    });
    Ok(Summary {
        statements: totals.n.max(0) as u64,
        verbs: verbs
            .into_iter()
            .map(|v| (v.verb_id, v.n.max(0) as u64))
            .collect(),
        activities: activities
            .into_iter()
            .map(|a| (a.object_activity_id, a.n.max(0) as u64, a.last_ms))
            .collect(),
        first_ms: totals.first_ms,
        last_ms: totals.last_ms,
    })
}
