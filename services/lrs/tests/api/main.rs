//! The LRS over real HTTP and gRPC, on SQLite and PostgreSQL, with the in-process bus and a
//! real NATS server.

mod auth;
mod bus;
mod grpc;
mod helpers;
mod paging;
mod statements;
