//! Statements: recording ([`record`], in group commits by [`writer`]), reading ([`query`]) and
//! the xAPI Statement resource ([`resource`]).

pub(crate) mod query;
pub(crate) mod record;
pub(crate) mod resource;
pub(crate) mod writer;
