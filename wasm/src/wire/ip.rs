//! IPv4 and IPv6 headers (IPv6 extension headers skipped, fragments recognised).

use crate::util::bytes::{array_at, be16, tail, u8_at, v4_mapped};
use crate::util::error::{DecodeError, Result};

mod field4 {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const FLAGS_FRAG: usize = 6;
    pub const PROTOCOL: usize = 9;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const MIN_LEN: usize = 20;
}

mod field6 {
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
    pub const LEN: usize = 40;
}

/// Most IPv6 extension headers followed before giving up.
const MAX_EXT_HEADERS: usize = 8;

/// Where a packet sits in a fragmented datagram.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fragment {
    Whole,
    First,
    Later,
}

/// Decoded IP header; addresses are 16 bytes (IPv4 is mapped).
#[derive(Clone, Copy)]
pub struct IpRepr<'a> {
    pub v6: bool,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub protocol: u8,
    /// Transport bytes present in the capture (may be shorter than declared).
    pub payload: &'a [u8],
    /// Transport length declared by the header.
    pub payload_len_declared: usize,
    /// Length of the whole IP packet as declared by the header.
    pub total_len: usize,
    pub fragment: Fragment,
    pub truncated: bool,
}

/// Decodes an IPv4 or IPv6 header from `buf` according to `ethertype`.
#[inline(always)]
pub fn parse(ethertype: u16, buf: &[u8]) -> Result<IpRepr<'_>> {
    if ethertype == 0x86dd {
        parse_v6(buf)
    } else {
        parse_v4(buf)
    }
}

/// Decodes an IPv4 header.
#[inline(always)]
pub fn parse_v4(buf: &[u8]) -> Result<IpRepr<'_>> {
    let vihl = match u8_at(buf, field4::VER_IHL) {
        Some(v) => v,
        None => return Err(DecodeError::new("IPv4 header", "empty packet", 0)),
    };
    if vihl >> 4 != 4 {
        return Err(DecodeError::new("IPv4 header", "version is not 4", (vihl >> 4) as u64));
    }
    let ihl = ((vihl & 15) as usize) * 4;
    if ihl < field4::MIN_LEN {
        return Err(DecodeError::new("IPv4 header", "header length below 20 bytes", ihl as u64));
    }
    if buf.len() < ihl {
        return Err(DecodeError::new("IPv4 header", "captured bytes end inside the header", buf.len() as u64));
    }
    let total = be16(buf, field4::TOTAL_LEN).unwrap_or(0) as usize;
    if total < ihl {
        return Err(DecodeError::new("IPv4 header", "total length below header length", total as u64));
    }
    let ff = be16(buf, field4::FLAGS_FRAG).unwrap_or(0);
    let offset = ff & 0x1fff;
    let more = ff & 0x2000 != 0;
    let fragment = if offset != 0 { Fragment::Later } else if more { Fragment::First } else { Fragment::Whole };
    let (src, dst) = match (array_at::<4>(buf, field4::SRC), array_at::<4>(buf, field4::DST)) {
        (Some(s), Some(d)) => (v4_mapped(s), v4_mapped(d)),
        _ => return Err(DecodeError::new("IPv4 header", "captured bytes end inside the addresses", buf.len() as u64)),
    };
    let end = total.min(buf.len());
    Ok(IpRepr {
        v6: false,
        src,
        dst,
        protocol: u8_at(buf, field4::PROTOCOL).unwrap_or(0),
        payload: buf.get(ihl..end).unwrap_or(&[]),
        payload_len_declared: total - ihl,
        total_len: total,
        fragment,
        truncated: buf.len() < total,
    })
}

/// Decodes an IPv6 header and skips extension headers.
pub fn parse_v6(buf: &[u8]) -> Result<IpRepr<'_>> {
    if buf.len() < field6::LEN {
        return Err(DecodeError::new("IPv6 header", "captured bytes end inside the 40-byte header", buf.len() as u64));
    }
    let ver = u8_at(buf, 0).unwrap_or(0) >> 4;
    if ver != 6 {
        return Err(DecodeError::new("IPv6 header", "version is not 6", ver as u64));
    }
    let plen = be16(buf, field6::PAYLOAD_LEN).unwrap_or(0) as usize;
    let mut next = u8_at(buf, field6::NEXT_HEADER).unwrap_or(0);
    let src = array_at::<16>(buf, field6::SRC).unwrap_or([0; 16]);
    let dst = array_at::<16>(buf, field6::DST).unwrap_or([0; 16]);
    let end = (field6::LEN + plen).min(buf.len());
    let body = buf.get(field6::LEN..end).unwrap_or(&[]);
    let mut off = 0usize;
    let mut fragment = Fragment::Whole;
    for _ in 0..MAX_EXT_HEADERS {
        let hlen = match next {
            0 | 43 | 60 => match u8_at(body, off + 1) {
                Some(l) => (l as usize + 1) * 8,
                None => return Err(DecodeError::new("IPv6 extension header", "packet ends inside it", next as u64)),
            },
            44 => {
                let fo = be16(body, off + 2).unwrap_or(0);
                fragment = if fo & 0xfff8 != 0 { Fragment::Later } else if fo & 1 != 0 { Fragment::First } else { Fragment::Whole };
                8
            }
            51 => match u8_at(body, off + 1) {
                Some(l) => (l as usize + 2) * 4,
                None => return Err(DecodeError::new("IPv6 authentication header", "packet ends inside it", 0)),
            },
            _ => break,
        };
        next = match u8_at(body, off) {
            Some(n) => n,
            None => return Err(DecodeError::new("IPv6 extension header", "packet ends inside it", next as u64)),
        };
        off += hlen;
    }
    let payload = tail(body, off);
    Ok(IpRepr {
        v6: true,
        src,
        dst,
        protocol: next,
        payload,
        payload_len_declared: plen.saturating_sub(off),
        total_len: field6::LEN + plen,
        fragment,
        truncated: buf.len() < field6::LEN + plen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const V4_UDP: [u8; 28] = [
        0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 168, 33, 21, 192, 168, 33, 22, //
        0x12, 0x34, 0x12, 0xb5, 0, 8, 0, 0,
    ];

    #[test]
    fn parses_ipv4() {
        let ip = parse_v4(&V4_UDP).unwrap();
        assert_eq!(ip.protocol, 17);
        assert_eq!(ip.src, v4_mapped([192, 168, 33, 21]));
        assert_eq!(ip.payload.len(), 8);
        assert_eq!(ip.fragment, Fragment::Whole);
        assert!(!ip.truncated);
    }

    #[test]
    fn ipv4_negative_vectors() {
        let mut bad = V4_UDP;
        bad[0] = 0x44; // IHL 16 bytes
        assert_eq!(parse_v4(&bad).err().unwrap().why, "header length below 20 bytes");
        let mut bad = V4_UDP;
        bad[3] = 10; // total length < IHL
        assert!(parse_v4(&bad).is_err());
        let mut bad = V4_UDP;
        bad[0] = 0x65;
        assert!(parse_v4(&bad).is_err());
        let mut frag = V4_UDP;
        frag[6] = 0x20; // MF
        assert_eq!(parse_v4(&frag).unwrap().fragment, Fragment::First);
        let mut trunc = V4_UDP;
        trunc[3] = 100;
        assert!(parse_v4(&trunc).unwrap().truncated);
    }

    #[test]
    fn parses_ipv6_with_hop_by_hop() {
        let mut p = vec![0x60, 0, 0, 0, 0, 16, 0, 64];
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16]);
        p.extend_from_slice(&[58, 0, 5, 2, 0, 0, 1, 0]); // hop-by-hop, next = ICMPv6
        p.extend_from_slice(&[143, 0, 0, 0, 0, 0, 0, 0]);
        let ip = parse_v6(&p).unwrap();
        assert_eq!(ip.protocol, 58);
        assert_eq!(ip.payload, &[143, 0, 0, 0, 0, 0, 0, 0]);
        assert!(parse_v6(&p[..39]).is_err());
    }
}
