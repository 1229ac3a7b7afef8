//! Route Distinguisher (RFC 4364 §4.2): type 0 ASN2:NN4, 1 IPv4:NN2, 2 ASN4:NN2.

use crate::util::bytes::{array_at, be16, be32};

/// The administrator/assigned-number split of an RD.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RdValue {
    As2 { asn: u16, nn: u32 },
    Ipv4 { ip: [u8; 4], nn: u16 },
    As4 { asn: u32, nn: u16 },
    Unknown { rd_type: u16 },
}

/// Decodes an 8-byte RD (every 8-byte value is valid; unknown types are values).
pub fn decode(rd: &[u8; 8]) -> RdValue {
    let t = be16(rd, 0).unwrap_or(0);
    match t {
        0 => RdValue::As2 { asn: be16(rd, 2).unwrap_or(0), nn: be32(rd, 4).unwrap_or(0) },
        1 => RdValue::Ipv4 { ip: array_at::<4>(rd, 2).unwrap_or([0; 4]), nn: be16(rd, 6).unwrap_or(0) },
        2 => RdValue::As4 { asn: be32(rd, 2).unwrap_or(0), nn: be16(rd, 6).unwrap_or(0) },
        _ => RdValue::Unknown { rd_type: t },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_all_rd_types() {
        assert_eq!(decode(&[0, 0, 0xfc, 0, 0, 0, 0, 90]), RdValue::As2 { asn: 64512, nn: 90 });
        assert_eq!(decode(&[0, 1, 192, 168, 33, 21, 0, 2]), RdValue::Ipv4 { ip: [192, 168, 33, 21], nn: 2 });
        assert_eq!(decode(&[0, 2, 0xfa, 0x56, 0xea, 0, 0, 5]), RdValue::As4 { asn: 4_200_000_000, nn: 5 });
        assert_eq!(decode(&[0, 7, 0, 0, 0, 0, 0, 0]), RdValue::Unknown { rd_type: 7 });
    }
}
