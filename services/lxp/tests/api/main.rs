//! LXP integration tests: the real service on a loopback port, real gRPC, SQLite and
//! PostgreSQL, events on the in-process bus and on a real NATS server.

mod catalog;
mod consumers;
mod feed;
mod helpers;
