//! LMS integration tests: the real service on a loopback port, real gRPC, SQLite and PostgreSQL.

mod courses;
mod enrollments;
mod health;
mod helpers;
mod people;
