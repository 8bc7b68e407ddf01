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
