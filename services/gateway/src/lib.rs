//! lyceum-gateway
