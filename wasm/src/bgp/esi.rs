//! Ethernet Segment Identifier (RFC 7432 §5): a type byte and nine value bytes.

use crate::util::bytes::{array_at, be16, be24, be32};

/// The decoded value part of an ESI by type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EsiValue {
    /// All ten bytes zero: single-homed.
    SingleHomed,
    Arbitrary,
    Lacp { system_mac: [u8; 6], port_key: u16 },
    Mstp { root_bridge_mac: [u8; 6], priority: u16 },
    MacBased { system_mac: [u8; 6], discriminator: u32 },
    RouterId { router_id: [u8; 4], discriminator: u32 },
    As { asn: u32, discriminator: u32 },
    Unknown { esi_type: u8 },
}

/// Decodes a 10-byte ESI.
pub fn decode(esi: &[u8; 10]) -> EsiValue {
    if esi.iter().all(|&b| b == 0) {
        return EsiValue::SingleHomed;
    }
    let mac = array_at::<6>(esi, 1).unwrap_or([0; 6]);
    match esi[0] {
        0 => EsiValue::Arbitrary,
        1 => EsiValue::Lacp { system_mac: mac, port_key: be16(esi, 7).unwrap_or(0) },
        2 => EsiValue::Mstp { root_bridge_mac: mac, priority: be16(esi, 7).unwrap_or(0) },
        3 => EsiValue::MacBased { system_mac: mac, discriminator: be24(esi, 7).unwrap_or(0) },
        4 => EsiValue::RouterId { router_id: array_at::<4>(esi, 1).unwrap_or([0; 4]), discriminator: be32(esi, 5).unwrap_or(0) },
        5 => EsiValue::As { asn: be32(esi, 1).unwrap_or(0), discriminator: be32(esi, 5).unwrap_or(0) },
        t => EsiValue::Unknown { esi_type: t },
    }
}

/// A stable name for each ESI type, used in the JSON report.
pub fn type_name(v: &EsiValue) -> &'static str {
    match v {
        EsiValue::SingleHomed => "single-homed",
        EsiValue::Arbitrary => "arbitrary",
        EsiValue::Lacp { .. } => "lacp",
        EsiValue::Mstp { .. } => "mstp",
        EsiValue::MacBased { .. } => "mac-based",
        EsiValue::RouterId { .. } => "router-id",
        EsiValue::As { .. } => "as",
        EsiValue::Unknown { .. } => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_esi_type() {
        assert_eq!(decode(&[0; 10]), EsiValue::SingleHomed);
        assert_eq!(decode(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), EsiValue::Arbitrary);
        assert_eq!(decode(&[1, 2, 0, 0, 0, 0, 1, 0x12, 0x34, 0]), EsiValue::Lacp { system_mac: [2, 0, 0, 0, 0, 1], port_key: 0x1234 });
        assert_eq!(decode(&[2, 2, 0, 0, 0, 0, 1, 0x80, 0x00, 0]), EsiValue::Mstp { root_bridge_mac: [2, 0, 0, 0, 0, 1], priority: 0x8000 });
        assert_eq!(decode(&[3, 2, 0, 0, 0, 0, 1, 0, 0, 7]), EsiValue::MacBased { system_mac: [2, 0, 0, 0, 0, 1], discriminator: 7 });
        assert_eq!(decode(&[4, 10, 0, 0, 1, 0, 0, 0, 9, 0]), EsiValue::RouterId { router_id: [10, 0, 0, 1], discriminator: 9 });
        assert_eq!(decode(&[5, 0, 0, 0xfc, 0, 0, 0, 0, 3, 0]), EsiValue::As { asn: 64512, discriminator: 3 });
        assert_eq!(decode(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 1]), EsiValue::Unknown { esi_type: 9 });
    }
}
