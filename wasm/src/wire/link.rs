//! Link layers of capture records: Ethernet, Linux SLL/SLL2, raw IP, BSD null/loopback.

use super::ethernet;
use crate::util::bytes::{be16, be32, tail, u8_at};
use crate::util::error::{DecodeError, Result};

pub const LINKTYPE_NULL: u16 = 0;
pub const LINKTYPE_ETHERNET: u16 = 1;
pub const LINKTYPE_RAW: u16 = 101;
pub const LINKTYPE_LOOP: u16 = 108;
pub const LINKTYPE_LINUX_SLL: u16 = 113;
pub const LINKTYPE_IPV4: u16 = 228;
pub const LINKTYPE_IPV6: u16 = 229;
pub const LINKTYPE_LINUX_SLL2: u16 = 276;

/// The network layer of a frame: its ethertype and bytes.
pub struct Network<'a> {
    pub ethertype: u16,
    pub payload: &'a [u8],
}

/// Strips the link layer named by `link_type`; `Ok(None)` for link types not decoded.
#[inline(always)]
pub fn network_layer(link_type: u16, frame: &[u8]) -> Result<Option<Network<'_>>> {
    match link_type {
        LINKTYPE_ETHERNET => {
            let e = ethernet::parse(frame)?;
            Ok(Some(Network { ethertype: e.ethertype, payload: e.payload }))
        }
        LINKTYPE_LINUX_SLL2 => {
            // protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) addrlen(1) addr(8)
            if frame.len() < 20 {
                return Err(DecodeError::new("linux cooked v2 header", "frame shorter than 20 bytes", frame.len() as u64));
            }
            let proto = be16(frame, 0).unwrap_or(0);
            cooked(proto, frame, 20)
        }
        LINKTYPE_LINUX_SLL => {
            // pkttype(2) hatype(2) addrlen(2) addr(8) protocol(2)
            if frame.len() < 16 {
                return Err(DecodeError::new("linux cooked header", "frame shorter than 16 bytes", frame.len() as u64));
            }
            let proto = be16(frame, 14).unwrap_or(0);
            cooked(proto, frame, 16)
        }
        LINKTYPE_RAW | 12 | 14 | LINKTYPE_IPV4 | LINKTYPE_IPV6 => raw_ip(frame),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            let fam = match be32(frame, 0) {
                Some(f) => f,
                None => return Err(DecodeError::new("loopback header", "frame shorter than 4 bytes", frame.len() as u64)),
            };
            // NULL stores the family in host order, LOOP in network order: accept either.
            let fam = if fam > 0xffff { fam.swap_bytes() } else { fam };
            let ethertype = match fam {
                2 => 0x0800,
                24 | 28 | 30 => 0x86dd,
                _ => return Ok(None),
            };
            Ok(Some(Network { ethertype, payload: tail(frame, 4) }))
        }
        _ => Ok(None),
    }
}

fn cooked(proto: u16, frame: &[u8], hdr: usize) -> Result<Option<Network<'_>>> {
    if ethernet::is_vlan_tpid(proto) {
        // Untagged-in-kernel VLAN frames keep their tag right after the cooked header.
        let (t, off, _, _) = ethernet::skip_vlan_tags(frame, hdr - 2)?;
        return Ok(Some(Network { ethertype: t, payload: tail(frame, off) }));
    }
    Ok(Some(Network { ethertype: proto, payload: tail(frame, hdr) }))
}

fn raw_ip(frame: &[u8]) -> Result<Option<Network<'_>>> {
    match u8_at(frame, 0).map(|b| b >> 4) {
        Some(4) => Ok(Some(Network { ethertype: 0x0800, payload: frame })),
        Some(6) => Ok(Some(Network { ethertype: 0x86dd, payload: frame })),
        Some(v) => Err(DecodeError::new("raw IP frame", "IP version is neither 4 nor 6", v as u64)),
        None => Err(DecodeError::new("raw IP frame", "empty frame", 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_sll2_and_sll() {
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        sll2.push(0x45);
        let n = network_layer(LINKTYPE_LINUX_SLL2, &sll2).unwrap().unwrap();
        assert_eq!((n.ethertype, n.payload), (0x0800, &[0x45u8][..]));
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd];
        sll.push(0x60);
        let n = network_layer(LINKTYPE_LINUX_SLL, &sll).unwrap().unwrap();
        assert_eq!(n.ethertype, 0x86dd);
        assert!(network_layer(LINKTYPE_LINUX_SLL2, &sll2[..19]).is_err());
    }

    #[test]
    fn raw_ip_by_version_nibble() {
        assert_eq!(network_layer(LINKTYPE_RAW, &[0x60]).unwrap().unwrap().ethertype, 0x86dd);
        assert!(network_layer(LINKTYPE_RAW, &[0x50]).is_err());
        assert!(network_layer(9999, &[0x45]).unwrap().is_none());
    }
}
