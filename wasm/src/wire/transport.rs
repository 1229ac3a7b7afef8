//! UDP and TCP headers, and the Internet checksum used to verify outer UDP.

use super::ip::IpRepr;
use crate::util::bytes::{be16, be32, tail, u8_at};
use crate::util::error::{DecodeError, Result};

mod udp_field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const PAYLOAD: usize = 8;
}

mod tcp_field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const MIN_LEN: usize = 20;
}

/// UDP header fields.
#[derive(Clone, Copy)]
pub struct UdpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub length: u16,
    pub checksum: u16,
    pub payload: &'a [u8],
}

/// Decodes a UDP header; the payload is cut to the UDP length when the capture has it all.
#[inline(always)]
pub fn parse_udp(buf: &[u8]) -> Result<UdpRepr<'_>> {
    if buf.len() < udp_field::PAYLOAD {
        return Err(DecodeError::new("UDP header", "captured bytes end inside the 8-byte header", buf.len() as u64));
    }
    let length = be16(buf, udp_field::LENGTH).unwrap_or(0);
    if (length as usize) < udp_field::PAYLOAD {
        return Err(DecodeError::new("UDP header", "length field below 8", length as u64));
    }
    let end = (length as usize).min(buf.len());
    Ok(UdpRepr {
        src_port: be16(buf, udp_field::SRC_PORT).unwrap_or(0),
        dst_port: be16(buf, udp_field::DST_PORT).unwrap_or(0),
        length,
        checksum: be16(buf, udp_field::CHECKSUM).unwrap_or(0),
        payload: buf.get(udp_field::PAYLOAD..end).unwrap_or(&[]),
    })
}

/// Outcome of verifying a UDP checksum.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChecksumStatus {
    /// The sender left it zero (Linux VXLAN default; RFC 6935 allows it for tunnels over IPv6).
    Absent,
    Good,
    Bad,
    /// Not all bytes were captured, or the datagram is fragmented.
    Unverifiable,
}

/// Verifies the UDP checksum of `udp_bytes` (header + payload) carried in `ip`.
pub fn udp_checksum(ip: &IpRepr, udp_bytes: &[u8], udp: &UdpRepr) -> ChecksumStatus {
    if udp.checksum == 0 {
        // Zero means "none": optional over IPv4, and allowed for tunnels over IPv6 (RFC 6935).
        return ChecksumStatus::Absent;
    }
    let len = udp.length as usize;
    let data = match udp_bytes.get(..len) {
        Some(d) if !ip.truncated && ip.fragment == super::ip::Fragment::Whole => d,
        _ => return ChecksumStatus::Unverifiable,
    };
    let mut sum: u64 = 0;
    if ip.v6 {
        sum += sum_words(&ip.src) + sum_words(&ip.dst);
    } else {
        sum += sum_words(ip.src.get(12..16).unwrap_or(&[])) + sum_words(ip.dst.get(12..16).unwrap_or(&[]));
    }
    sum += 17 + len as u64;
    sum += sum_words(data);
    if fold(sum) == 0xffff { ChecksumStatus::Good } else { ChecksumStatus::Bad }
}

/// True when the checksum field holds only the folded pseudo-header sum (checksum offload:
/// the NIC would have completed it after the capture point).
pub fn is_offload_partial(ip: &IpRepr, udp: &UdpRepr) -> bool {
    let mut sum: u64 = if ip.v6 {
        sum_words(&ip.src) + sum_words(&ip.dst)
    } else {
        sum_words(ip.src.get(12..16).unwrap_or(&[])) + sum_words(ip.dst.get(12..16).unwrap_or(&[]))
    };
    sum += 17 + udp.length as u64;
    fold(sum) == udp.checksum
}

/// One's-complement sum of big-endian 16-bit words (odd tail padded with zero), unfolded.
#[inline]
pub fn sum_words(data: &[u8]) -> u64 {
    let mut sum: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = u64::from_be_bytes(w);
        // Add the four 16-bit words of v without overflowing: split into two 32-bit halves.
        sum += (v >> 32) + (v & 0xffff_ffff);
    }
    let rest = chunks.remainder();
    let mut i = 0;
    while i + 1 < rest.len() {
        sum += be16(rest, i).unwrap_or(0) as u64;
        i += 2;
    }
    if rest.len() % 2 == 1 {
        sum += (u8_at(rest, rest.len() - 1).unwrap_or(0) as u64) << 8;
    }
    sum
}

/// Folds a wide one's-complement sum to 16 bits.
#[inline]
pub fn fold(mut sum: u64) -> u16 {
    for _ in 0..4 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// TCP header fields.
#[derive(Clone, Copy)]
pub struct TcpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: &'a [u8],
}

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;

/// Decodes a TCP header.
#[inline]
pub fn parse_tcp(buf: &[u8]) -> Result<TcpRepr<'_>> {
    if buf.len() < tcp_field::MIN_LEN {
        return Err(DecodeError::new("TCP header", "captured bytes end inside the 20-byte header", buf.len() as u64));
    }
    let doff = ((u8_at(buf, tcp_field::DATA_OFF).unwrap_or(0) >> 4) as usize) * 4;
    if doff < tcp_field::MIN_LEN {
        return Err(DecodeError::new("TCP header", "data offset below 20 bytes", doff as u64));
    }
    if buf.len() < doff {
        return Err(DecodeError::new("TCP header", "captured bytes end inside the options", buf.len() as u64));
    }
    Ok(TcpRepr {
        src_port: be16(buf, tcp_field::SRC_PORT).unwrap_or(0),
        dst_port: be16(buf, tcp_field::DST_PORT).unwrap_or(0),
        seq: be32(buf, tcp_field::SEQ).unwrap_or(0),
        ack: be32(buf, tcp_field::ACK).unwrap_or(0),
        flags: u8_at(buf, tcp_field::FLAGS).unwrap_or(0),
        payload: tail(buf, doff),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ip::parse_v4;

    #[test]
    fn verifies_udp_checksum() {
        // 10.0.0.1 -> 10.0.0.2, UDP 1000 -> 4789, payload "hi"
        let mut p = vec![0x45, 0, 0, 30, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend_from_slice(&[0x03, 0xe8, 0x12, 0xb5, 0, 10, 0, 0, b'h', b'i']);
        let mut sum = sum_words(&[10, 0, 0, 1, 10, 0, 0, 2]) + 17 + 10;
        sum += sum_words(&p[20..]);
        let c = !fold(sum);
        p[26] = (c >> 8) as u8;
        p[27] = c as u8;
        let ip = parse_v4(&p).unwrap();
        let udp = parse_udp(ip.payload).unwrap();
        assert_eq!(udp_checksum(&ip, ip.payload, &udp), ChecksumStatus::Good);
        p[29] ^= 1;
        let ip = parse_v4(&p).unwrap();
        let udp = parse_udp(ip.payload).unwrap();
        assert_eq!(udp_checksum(&ip, ip.payload, &udp), ChecksumStatus::Bad);
    }

    #[test]
    fn tcp_negative_vectors() {
        let mut h = [0u8; 20];
        h[12] = 0x40; // data offset 16
        assert!(parse_tcp(&h).is_err());
        h[12] = 0x60; // 24 > captured
        assert!(parse_tcp(&h).is_err());
        h[12] = 0x50;
        h[13] = TCP_SYN;
        assert_eq!(parse_tcp(&h).unwrap().flags, TCP_SYN);
        assert!(parse_udp(&[0, 1, 0, 2, 0, 7, 0, 0]).is_err());
    }
}
