//! xAPI for Lyceum: the vocabulary the platform uses ([`vocab`]), builders for the statements
//! its services emit about people ([`platform`]), and what an LRS needs: the data types
//! ([`datatypes`]), statement checks under 1.0.3 or 2.0 rules ([`validate`], [`version`]),
//! indexed statement parts ([`statement`]), agent keys ([`agent`]), canonical activity
//! definitions ([`definition`]) and the `ids` / `canonical` formats ([`format`]).

pub mod agent;
pub mod datatypes;
pub mod definition;
pub mod format;
pub mod platform;
pub mod statement;
pub mod validate;
pub mod version;
pub mod vocab;

pub use statement::Statement;
pub use validate::Invalid;
pub use version::XapiVersion;
