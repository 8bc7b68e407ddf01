//! The LRS over real HTTP and gRPC, on SQLite and PostgreSQL, with the in-process bus and a
//! real NATS server.

mod attachments;
mod auth;
mod bus;
mod documents;
mod grpc;
mod helpers;
mod paging;
mod queries;
mod resources;
mod robustness;
mod statements;
