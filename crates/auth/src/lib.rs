//! Identity and access, the same in every service.
//!
//! - The gateway signs short-lived Ed25519 JWTs ([`TokenSigner`]); every service verifies them
//!   on every call ([`TokenVerifier`], [`GrpcAuth`]) and checks the caller's [`Role`].
//! - Passwords are stored as argon2id hashes ([`password`]).
//! - Keys come from PEM files or are generated once under the data directory ([`keys`]).

pub mod keys;
pub mod password;
mod token;

pub use token::{AuthError, Claims, GrpcAuth, Principal, Role, TokenSigner, TokenVerifier, bearer};
