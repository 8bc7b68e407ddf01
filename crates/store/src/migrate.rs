//! Migrations from several sources (the platform's own tables and a service's) applied as one
//! set, so they share sqlx's one `_sqlx_migrations` table.

use sqlx::migrate::Migrator;

use crate::{Store, StoreError};

/// The same schema written for both backends (`migrations/postgres` and `migrations/sqlite`).
///
/// Versions must not collide across the sets a service combines: platform tables use 1–999,
/// services 1000 and up.
#[derive(Debug)]
pub struct MigrationSet {
    /// PostgreSQL DDL.
    pub postgres: Migrator,
    /// SQLite DDL.
    pub sqlite: Migrator,
}

impl Store {
    /// Applies every pending migration of `sets`, for this store's backend, in version order.
    /// PostgreSQL takes an advisory lock, so replicas starting together migrate once.
    pub async fn migrate(&self, sets: &[&MigrationSet]) -> Result<(), StoreError> {
        let mut all: Vec<_> = sets
            .iter()
            .flat_map(|set| match self {
                Store::Sqlite(_) => set.sqlite.iter(),
                Store::Postgres(_) => set.postgres.iter(),
            })
            .cloned()
            .collect();
        all.sort_by_key(|m| m.version);
        let migrator = Migrator::with_migrations(all);
        match self {
            Store::Sqlite(pool) => migrator.run(pool).await?,
            Store::Postgres(pool) => migrator.run(pool).await?,
        }
        Ok(())
    }
}
