//! Integration tests of the bus crate against real parts: nats-server, PostgreSQL, SQLite.

mod contract;
mod delivery;
mod helpers;
