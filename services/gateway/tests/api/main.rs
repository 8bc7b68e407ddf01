//! The gateway over real HTTP with a real LRS behind it.

mod xapi;
