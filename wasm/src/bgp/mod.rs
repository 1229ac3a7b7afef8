//! BGP and its EVPN address family.
pub mod esi;
pub mod evpn;
pub mod ext_community;
pub mod message;
pub mod rd;
