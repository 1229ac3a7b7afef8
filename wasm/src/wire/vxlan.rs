//! VXLAN header (RFC 7348) and the inner Ethernet frame summary used per flow.

use super::{ethernet, ip};
use crate::util::bytes::{array_at, be16, be24, u8_at};
use crate::util::error::{DecodeError, Result};

mod field {
    pub const FLAGS: usize = 0;
    pub const RESERVED1: core::ops::Range<usize> = 1..4;
    pub const VNI: usize = 4;
    pub const RESERVED2: usize = 7;
    pub const PAYLOAD: usize = 8;
}

/// The I flag: the VNI field is valid.
pub const FLAG_I: u8 = 0x08;
/// IANA VXLAN port.
pub const PORT: u16 = 4789;

/// VXLAN header fields.
#[derive(Clone, Copy)]
pub struct VxlanRepr<'a> {
    pub flags: u8,
    pub vni: u32,
    /// True when any reserved bit or byte is non-zero.
    pub reserved_nonzero: bool,
    pub payload: &'a [u8],
}

/// Decodes the 8-byte VXLAN header.
#[inline(always)]
pub fn parse(buf: &[u8]) -> Result<VxlanRepr<'_>> {
    if buf.len() < field::PAYLOAD {
        return Err(DecodeError::new("VXLAN header", "captured bytes end inside the 8-byte header", buf.len() as u64));
    }
    let flags = u8_at(buf, field::FLAGS).unwrap_or(0);
    let r1 = buf.get(field::RESERVED1).map_or(false, |r| r.iter().any(|&b| b != 0));
    let r2 = u8_at(buf, field::RESERVED2).unwrap_or(0) != 0;
    Ok(VxlanRepr {
        flags,
        vni: be24(buf, field::VNI).unwrap_or(0),
        reserved_nonzero: r1 || r2 || flags & !FLAG_I != 0,
        payload: buf.get(field::PAYLOAD..).unwrap_or(&[]),
    })
}

/// What every inner frame contributes (the per-frame fast path).
#[derive(Clone, Copy, Default)]
pub struct InnerLight {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ethertype: u16,
    /// IP protocol, 0 when not IP.
    pub protocol: u8,
    /// Inner UDP destination port (nested tunnels), 0 otherwise.
    pub udp_dst_port: u16,
}

/// Reads MACs, ethertype (after VLAN tags) and, for IP, the protocol and UDP port.
#[inline(always)]
pub fn inner_light(frame: &[u8]) -> Result<InnerLight> {
    let (dst, src) = match (crate::util::bytes::array_at::<6>(frame, 0), crate::util::bytes::array_at::<6>(frame, 6)) {
        (Some(d), Some(s)) => (d, s),
        _ => return Err(DecodeError::new("inner ethernet header", "frame shorter than 14 bytes", frame.len() as u64)),
    };
    let (ethertype, off, _, _) = ethernet::skip_vlan_tags(frame, 12)?;
    let mut l = InnerLight { dst, src, ethertype, protocol: 0, udp_dst_port: 0 };
    match ethertype {
        0x0800 => {
            let vihl = u8_at(frame, off).unwrap_or(0);
            l.protocol = u8_at(frame, off + 9).unwrap_or(0);
            let frag = be16(frame, off + 6).unwrap_or(0) & 0x1fff;
            if l.protocol == 17 && frag == 0 {
                l.udp_dst_port = be16(frame, off + ((vihl & 15) as usize) * 4 + 2).unwrap_or(0);
            }
        }
        0x86dd => {
            l.protocol = u8_at(frame, off + 6).unwrap_or(0);
            if l.protocol == 17 {
                l.udp_dst_port = be16(frame, off + 42).unwrap_or(0);
            }
        }
        _ => {}
    }
    Ok(l)
}

/// What a flow needs to know about an inner frame.
#[derive(Clone, Copy, Default)]
pub struct InnerSummary {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ethertype: u16,
    pub vlan: u16,
    /// 4 or 6 when IP addresses were found, 0 otherwise.
    pub ip_version: u8,
    pub src_ip: [u8; 16],
    pub dst_ip: [u8; 16],
    /// IP protocol (1 ICMP, 6 TCP, 17 UDP, 58 ICMPv6...), 0 when not IP.
    pub protocol: u8,
    /// ARP opcode, 0 when not ARP.
    pub arp_op: u16,
    /// ICMP/ICMPv6 type + 1 (0 when not ICMP).
    pub icmp_type: u16,
    /// UDP destination port of the inner packet (for nested tunnels), 0 otherwise.
    pub udp_dst_port: u16,
    /// Offset of the inner UDP payload within the inner frame, for nested VXLAN.
    pub udp_payload_off: usize,
    pub udp_payload_len: usize,
}

/// Summarises an inner Ethernet frame (ARP, IPv4/IPv6, ICMP, inner UDP port).
#[inline]
pub fn inner_summary(frame: &[u8]) -> Result<InnerSummary> {
    let e = ethernet::parse(frame)?;
    let mut s = InnerSummary { dst: e.dst, src: e.src, ethertype: e.ethertype, vlan: e.vlan, ..Default::default() };
    match e.ethertype {
        0x0806 => {
            // htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4)
            s.arp_op = match be16(e.payload, 6) {
                Some(op) => op,
                None => return Err(DecodeError::new("inner ARP", "frame ends before the opcode", e.payload.len() as u64)),
            };
            if let (Some(spa), Some(tpa)) = (array_at::<4>(e.payload, 14), array_at::<4>(e.payload, 24)) {
                s.ip_version = 4;
                s.src_ip = crate::util::bytes::v4_mapped(spa);
                s.dst_ip = crate::util::bytes::v4_mapped(tpa);
            }
        }
        0x0800 | 0x86dd => {
            let ipr = ip::parse(e.ethertype, e.payload)?;
            s.ip_version = if ipr.v6 { 6 } else { 4 };
            s.src_ip = ipr.src;
            s.dst_ip = ipr.dst;
            s.protocol = ipr.protocol;
            if ipr.fragment != ip::Fragment::Later {
                match ipr.protocol {
                    1 | 58 => s.icmp_type = u8_at(ipr.payload, 0).map_or(0, |t| t as u16 + 1),
                    17 => {
                        if let Some(p) = be16(ipr.payload, 2) {
                            s.udp_dst_port = p;
                            let base = frame.len() - ipr.payload.len();
                            s.udp_payload_off = base + 8;
                            s.udp_payload_len = ipr.payload.len().saturating_sub(8);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_and_flags_reserved_bits() {
        let v = parse(&[0x08, 0, 0, 0, 0, 0, 16, 0, 0xaa]).unwrap();
        assert_eq!((v.flags, v.vni, v.reserved_nonzero), (8, 16, false));
        assert_eq!(v.payload, &[0xaa]);
        assert!(parse(&[0x08, 0, 0, 1, 0, 0, 16, 0]).unwrap().reserved_nonzero);
        assert!(parse(&[0x0c, 0, 0, 0, 0, 0, 16, 0]).unwrap().reserved_nonzero);
        assert!(parse(&[0x08, 0, 0, 0, 0, 0, 16]).is_err());
    }

    #[test]
    fn summarises_inner_arp_and_icmp() {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[2, 0x27, 0, 0, 0, 5, 0x08, 0x06]);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0x27, 0, 0, 0, 5, 10, 27, 0, 5, 0, 0, 0, 0, 0, 0, 10, 27, 0, 6]);
        let s = inner_summary(&arp).unwrap();
        assert_eq!(s.arp_op, 1);
        assert_eq!(&s.dst_ip[12..], &[10, 27, 0, 6]);
        let mut icmp = vec![2, 0x27, 0, 0, 0, 6, 2, 0x27, 0, 0, 0, 5, 0x08, 0x00];
        icmp.extend_from_slice(&[0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 27, 0, 5, 10, 27, 0, 6, 8, 0, 0, 0, 0, 0, 0, 0]);
        let s = inner_summary(&icmp).unwrap();
        assert_eq!((s.protocol, s.icmp_type), (1, 9));
        assert!(inner_summary(&icmp[..13]).is_err());
    }
}
