//! Packet layers below BGP: capture containers, link, IP, transport, VXLAN.
pub mod capture;
pub mod ethernet;
pub mod ip;
pub mod link;
pub mod transport;
pub mod vxlan;
