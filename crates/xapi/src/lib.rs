//! xAPI for Lyceum: the vocabulary the platform uses and builders for the statements its
//! services emit about people ([`platform`]).

pub mod platform;
pub mod vocab;
