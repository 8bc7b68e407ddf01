//! lyceum-lrs
