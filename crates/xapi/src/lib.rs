//! xAPI for Lyceum: the vocabulary the platform uses ([`vocab`]), builders for the statements
//! its services emit about people ([`platform`]), and what the LRS needs to accept statements:
//! their checks ([`validate`]), their indexed parts ([`statement`]) and agent keys ([`agent`]).

pub mod agent;
pub mod platform;
pub mod statement;
pub mod validate;
pub mod vocab;

pub use statement::Statement;
pub use validate::Invalid;
