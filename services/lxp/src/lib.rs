//! lyceum-lxp
