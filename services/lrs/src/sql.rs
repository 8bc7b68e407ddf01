//! SQL built at run time (multi-row inserts, `IN` lists, optional filters) with `$N`
//! placeholders, bound the same way on both backends.

use lyceum_store::{Store, Tx, on_pool, on_tx};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::error::Result;

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Small(i16),
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Bytes(Vec<u8>),
    Bool(bool),
}

/// Binds `$params` to the query `$q`, in order.
macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                Param::Text(v) => q.bind(v.as_str()),
                Param::OptText(v) => q.bind(v.as_deref()),
                Param::Int(v) => q.bind(*v),
                Param::Small(v) => q.bind(*v),
                Param::Uuid(v) => q.bind(*v),
                Param::OptUuid(v) => q.bind(*v),
                Param::Bytes(v) => q.bind(v.as_slice()),
                Param::Bool(v) => q.bind(*v),
            };
        }
        q
    }};
}

/// A statement text and its parameters, built together so placeholders stay numbered.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Query {
    /// Starts with `sql`.
    pub fn new(sql: &str) -> Query {
        Query {
            sql: sql.to_string(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter; returns its placeholder (`$3`).
    pub fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    /// Appends text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    /// Appends `(p1, p2, ...)` for a list of values.
    pub fn push_list(&mut self, values: impl IntoIterator<Item = Param>) -> &mut Self {
        let placeholders: Vec<String> = values.into_iter().map(|v| self.bind(v)).collect();
        self.sql.push('(');
        self.sql.push_str(&placeholders.join(", "));
        self.sql.push(')');
        self
    }

    /// Runs it in `tx`; returns the number of rows changed.
    pub async fn execute(&self, tx: &mut Tx) -> Result<u64> {
        let sql = sqlx::AssertSqlSafe(self.sql.clone());
        Ok(on_tx!(tx, |conn| bind_all!(
            sqlx::query(sql),
            &self.params
        )
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Fetches every row in `tx`.
    pub async fn fetch_all<T>(&self, tx: &mut Tx) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = sqlx::AssertSqlSafe(self.sql.clone());
        Ok(on_tx!(tx, |conn| bind_all!(
            sqlx::query_as::<_, T>(sql),
            &self.params
        )
        .fetch_all(conn)
        .await)?)
    }

    /// Fetches every row from the pool.
    pub async fn fetch_all_pool<T>(&self, store: &Store) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = sqlx::AssertSqlSafe(self.sql.clone());
        Ok(on_pool!(store, |pool| bind_all!(
            sqlx::query_as::<_, T>(sql),
            &self.params
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Runs it on the pool; returns the number of rows changed.
    pub async fn execute_pool(&self, store: &Store) -> Result<u64> {
        let sql = sqlx::AssertSqlSafe(self.sql.clone());
        Ok(on_pool!(store, |pool| bind_all!(
            sqlx::query(sql),
            &self.params
        )
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }
}

/// Rows per multi-row statement: far below both backends' parameter limits (SQLite 32766,
/// PostgreSQL 65535) for the widest row.
pub(crate) const CHUNK: usize = 500;

/// A multi-row `INSERT`: on PostgreSQL one statement whatever the number of rows (`SELECT *
/// FROM UNNEST($1::type[], ...)`, one array per column, so the statement is parsed and planned
/// once per connection), on SQLite `VALUES` lists of [`CHUNK`] rows.
pub(crate) struct Insert {
    /// `INSERT INTO table (a, b, c)`.
    head: &'static str,
    /// PostgreSQL type of each column (`uuid`, `text`, `int8`, ...).
    pg_types: &'static [&'static str],
    /// What follows the rows (`ON CONFLICT DO NOTHING`, `RETURNING ...`), or "".
    tail: &'static str,
    /// Values, row after row.
    values: Vec<Param>,
}

impl Insert {
    /// An insert of rows of `pg_types.len()` columns.
    pub fn new(head: &'static str, pg_types: &'static [&'static str], tail: &'static str) -> Self {
        Insert {
            head,
            pg_types,
            tail,
            values: Vec::new(),
        }
    }

    /// Adds a row; its values must have the column types, in order.
    pub fn row(&mut self, values: impl IntoIterator<Item = Param>) {
        let before = self.values.len();
        self.values.extend(values);
        debug_assert_eq!(self.values.len() - before, self.pg_types.len());
    }

    /// Runs it; returns the rows the tail's `RETURNING` gives (none without one).
    pub async fn fetch_all<T>(self, tx: &mut Tx) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        if self.values.is_empty() {
            return Ok(Vec::new());
        }
        let width = self.pg_types.len();
        match tx {
            Tx::Postgres(t) => {
                let arrays = PgArray::columns(self.values, width);
                let casts: Vec<String> = self
                    .pg_types
                    .iter()
                    .enumerate()
                    .map(|(i, ty)| format!("${}::{ty}[]", i + 1))
                    .collect();
                let sql = format!(
                    "{} SELECT * FROM UNNEST({}) {}",
                    self.head,
                    casts.join(", "),
                    self.tail
                );
                let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql));
                for a in arrays {
                    q = a.bind_to(q);
                }
                Ok(q.fetch_all(&mut **t).await?)
            }
            Tx::Sqlite(_) => {
                let mut out = Vec::new();
                let rows: Vec<&[Param]> = self.values.chunks(width).collect();
                for chunk in rows.chunks(CHUNK) {
                    let mut q = Query::new(self.head);
                    q.push(" VALUES ");
                    for (i, row) in chunk.iter().enumerate() {
                        if i > 0 {
                            q.push(", ");
                        }
                        q.push_list(row.iter().cloned());
                    }
                    q.push(" ").push(self.tail);
                    out.extend(q.fetch_all::<T>(tx).await?);
                }
                Ok(out)
            }
        }
    }

    /// Runs it.
    pub async fn execute(self, tx: &mut Tx) -> Result<()> {
        self.fetch_all::<Nothing>(tx).await.map(|_| ())
    }
}

/// A row with no columns, for statements run for their effect.
struct Nothing;

impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for Nothing {
    fn from_row(_: &'r R) -> std::result::Result<Self, sqlx::Error> {
        Ok(Nothing)
    }
}

/// One column of an [`Insert`] as a PostgreSQL array.
enum PgArray {
    Text(Vec<String>),
    OptText(Vec<Option<String>>),
    Int(Vec<i64>),
    Small(Vec<i16>),
    Uuid(Vec<Uuid>),
    OptUuid(Vec<Option<Uuid>>),
    Bytes(Vec<Vec<u8>>),
    Bool(Vec<bool>),
}

impl PgArray {
    /// Splits row-major values into columns, typed by the first row.
    fn columns(values: Vec<Param>, width: usize) -> Vec<PgArray> {
        let rows = values.len() / width;
        let mut columns: Vec<PgArray> = values[..width]
            .iter()
            .map(|p| match p {
                Param::Text(_) => PgArray::Text(Vec::with_capacity(rows)),
                Param::OptText(_) => PgArray::OptText(Vec::with_capacity(rows)),
                Param::Int(_) => PgArray::Int(Vec::with_capacity(rows)),
                Param::Small(_) => PgArray::Small(Vec::with_capacity(rows)),
                Param::Uuid(_) => PgArray::Uuid(Vec::with_capacity(rows)),
                Param::OptUuid(_) => PgArray::OptUuid(Vec::with_capacity(rows)),
                Param::Bytes(_) => PgArray::Bytes(Vec::with_capacity(rows)),
                Param::Bool(_) => PgArray::Bool(Vec::with_capacity(rows)),
            })
            .collect();
        for (i, p) in values.into_iter().enumerate() {
            match (&mut columns[i % width], p) {
                (PgArray::Text(c), Param::Text(v)) => c.push(v),
                (PgArray::OptText(c), Param::OptText(v)) => c.push(v),
                (PgArray::OptText(c), Param::Text(v)) => c.push(Some(v)),
                (PgArray::Int(c), Param::Int(v)) => c.push(v),
                (PgArray::Small(c), Param::Small(v)) => c.push(v),
                (PgArray::Uuid(c), Param::Uuid(v)) => c.push(v),
                (PgArray::OptUuid(c), Param::OptUuid(v)) => c.push(v),
                (PgArray::OptUuid(c), Param::Uuid(v)) => c.push(Some(v)),
                (PgArray::Bytes(c), Param::Bytes(v)) => c.push(v),
                (PgArray::Bool(c), Param::Bool(v)) => c.push(v),
                (_, p) => panic!("column {} of an insert changed type: {p:?}", i % width),
            }
        }
        columns
    }

    fn bind_to<'q, T>(
        self,
        q: sqlx::query::QueryAs<'q, sqlx::Postgres, T, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, T, sqlx::postgres::PgArguments> {
        match self {
            PgArray::Text(v) => q.bind(v),
            PgArray::OptText(v) => q.bind(v),
            PgArray::Int(v) => q.bind(v),
            PgArray::Small(v) => q.bind(v),
            PgArray::Uuid(v) => q.bind(v),
            PgArray::OptUuid(v) => q.bind(v),
            PgArray::Bytes(v) => q.bind(v),
            PgArray::Bool(v) => q.bind(v),
        }
    }
}

/// Rows of `select` (text ending with the column to match, e.g. `SELECT id FROM statements
/// WHERE id`) whose column is one of `ids`: `= ANY($1)` with one array on PostgreSQL, `IN`
/// lists of [`CHUNK`] on SQLite.
pub(crate) async fn fetch_in<T>(tx: &mut Tx, select: &str, ids: &[Uuid]) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    fetch_in_all(tx, &[select], ids).await
}

/// Several look-ups by the same ids in one round trip: a `UNION ALL` of `selects`, each
/// ending where the id condition goes (as in [`fetch_in`]); their columns must line up.
pub(crate) async fn fetch_in_all<T>(tx: &mut Tx, selects: &[&str], ids: &[Uuid]) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    match tx {
        Tx::Postgres(t) => {
            let sql = selects
                .iter()
                .map(|s| format!("{s} = ANY($1)"))
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            Ok(sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql))
                .bind(ids)
                .fetch_all(&mut **t)
                .await?)
        }
        Tx::Sqlite(_) => {
            let mut out = Vec::new();
            for chunk in ids.chunks(CHUNK) {
                let mut q = Query::new("");
                for (i, select) in selects.iter().enumerate() {
                    if i > 0 {
                        q.push(" UNION ALL ");
                    }
                    q.push(select).push(" IN ");
                    q.push_list(chunk.iter().map(|id| Param::Uuid(*id)));
                }
                out.extend(q.fetch_all::<T>(tx).await?);
            }
            Ok(out)
        }
    }
}
