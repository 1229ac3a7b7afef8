//! EVPN NLRI (AFI 25 / SAFI 70): route types 1–5 as checked zero-copy views.
//!
//! Each `new_checked` validates every length before an accessor can run; other route types
//! are skipped by their length byte and reported as unknown by the caller.

use crate::util::bytes::{array_at, be24, be32, slice_at, u8_at, v4_mapped};
use crate::util::error::{DecodeError, Result};

/// Fields shared by every route type, flattened so the control plane stores one shape.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct EvpnRoute {
    pub route_type: u8,
    pub path_id: u32,
    pub rd: [u8; 8],
    pub esi: [u8; 10],
    pub etag: u32,
    pub mac: [u8; 6],
    /// MAC/IP address, IP prefix (type 5); length in bits (0, 32, 128).
    pub ip: [u8; 16],
    pub ip_bits: u8,
    /// Type 5 prefix length.
    pub prefix_len: u8,
    pub gateway: [u8; 16],
    pub gateway_bits: u8,
    /// Originating router's IP (types 3, 4).
    pub originator: [u8; 16],
    pub originator_bits: u8,
    pub label1: u32,
    pub label2: Option<u32>,
}

/// A route's identity (RFC 7432 §7): what a withdrawal names; labels and ESI of type 2 excluded.
#[derive(Clone, Copy, Eq)]
pub struct RouteKey(pub [u8; 40]);

impl PartialEq for RouteKey {
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        crate::util::index_map::bytes_eq(&self.0, &o.0)
    }
}

impl crate::util::index_map::Key for RouteKey {
    #[inline]
    fn hash64(&self) -> u64 {
        crate::util::index_map::hash_bytes(&self.0)
    }
}

impl EvpnRoute {
    /// The route key used to match advertisements with withdrawals.
    pub fn key(&self) -> RouteKey {
        let mut k = [0u8; 40];
        let mut w = KeyWriter { buf: &mut k, off: 0 };
        w.put(&[self.route_type]);
        w.put(&self.path_id.to_be_bytes());
        w.put(&self.rd);
        match self.route_type {
            1 => {
                w.put(&self.esi);
                w.put(&self.etag.to_be_bytes());
            }
            2 => {
                w.put(&self.etag.to_be_bytes());
                w.put(&self.mac);
                w.put(&[self.ip_bits]);
                w.put(&self.ip);
            }
            3 => {
                w.put(&self.etag.to_be_bytes());
                w.put(&[self.originator_bits]);
                w.put(&self.originator);
            }
            4 => {
                w.put(&self.esi);
                w.put(&[self.originator_bits]);
                w.put(&self.originator);
            }
            _ => {
                w.put(&self.etag.to_be_bytes());
                w.put(&[self.prefix_len]);
                w.put(&self.ip);
            }
        }
        RouteKey(k)
    }
}

struct KeyWriter<'a> {
    buf: &'a mut [u8; 40],
    off: usize,
}

impl KeyWriter<'_> {
    fn put(&mut self, b: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.off..self.off + b.len()) {
            dst.copy_from_slice(b);
        }
        self.off += b.len();
    }
}

fn ip_from(buf: &[u8], off: usize, bits: u8) -> [u8; 16] {
    match bits {
        32 => array_at::<4>(buf, off).map(v4_mapped).unwrap_or([0; 16]),
        128 => array_at::<16>(buf, off).unwrap_or([0; 16]),
        _ => [0; 16],
    }
}

/// Type 1, Ethernet Auto-Discovery: RD(8) ESI(10) ETag(4) Label(3) = 25 bytes.
pub struct EthernetAd<'a> {
    buf: &'a [u8],
}
mod ead_field {
    pub const RD: usize = 0;
    pub const ESI: usize = 8;
    pub const ETAG: usize = 18;
    pub const LABEL: usize = 22;
    pub const LEN: usize = 25;
}
impl<'a> EthernetAd<'a> {
    /// Validates the exact length.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self> {
        if buf.len() != ead_field::LEN {
            return Err(DecodeError::new("EVPN Ethernet A-D route", "length is not 25", buf.len() as u64));
        }
        Ok(EthernetAd { buf })
    }
    /// Flattened route.
    pub fn route(&self) -> EvpnRoute {
        EvpnRoute {
            route_type: 1,
            rd: array_at::<8>(self.buf, ead_field::RD).unwrap_or_default(),
            esi: array_at::<10>(self.buf, ead_field::ESI).unwrap_or_default(),
            etag: be32(self.buf, ead_field::ETAG).unwrap_or(0),
            label1: be24(self.buf, ead_field::LABEL).unwrap_or(0),
            ..Default::default()
        }
    }
}

/// Type 2, MAC/IP Advertisement:
/// RD(8) ESI(10) ETag(4) MAC-len(1)=48 MAC(6) IP-len(1) IP(0/4/16) Label1(3) [Label2(3)].
pub struct MacIp<'a> {
    buf: &'a [u8],
    ip_bits: u8,
}
mod macip_field {
    pub const RD: usize = 0;
    pub const ESI: usize = 8;
    pub const ETAG: usize = 18;
    pub const MAC_LEN: usize = 22;
    pub const MAC: usize = 23;
    pub const IP_LEN: usize = 29;
    pub const IP: usize = 30;
}
impl<'a> MacIp<'a> {
    /// Validates MAC length 48, IP length 0/32/128 and the total (with one or two labels).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self> {
        let what = "EVPN MAC/IP route";
        if buf.len() < macip_field::IP + 3 {
            return Err(DecodeError::new(what, "shorter than 33 bytes", buf.len() as u64));
        }
        let mac_len = u8_at(buf, macip_field::MAC_LEN).unwrap_or(0);
        if mac_len != 48 {
            return Err(DecodeError::new(what, "MAC address length is not 48 bits", mac_len as u64));
        }
        let ip_bits = u8_at(buf, macip_field::IP_LEN).unwrap_or(0);
        if ip_bits != 0 && ip_bits != 32 && ip_bits != 128 {
            return Err(DecodeError::new(what, "IP address length is not 0, 32 or 128 bits", ip_bits as u64));
        }
        let base = macip_field::IP + (ip_bits / 8) as usize;
        if buf.len() != base + 3 && buf.len() != base + 6 {
            return Err(DecodeError::new(what, "length does not match the IP length and one or two labels", buf.len() as u64));
        }
        Ok(MacIp { buf, ip_bits })
    }
    /// Flattened route.
    pub fn route(&self) -> EvpnRoute {
        let l1 = macip_field::IP + (self.ip_bits / 8) as usize;
        EvpnRoute {
            route_type: 2,
            rd: array_at::<8>(self.buf, macip_field::RD).unwrap_or_default(),
            esi: array_at::<10>(self.buf, macip_field::ESI).unwrap_or_default(),
            etag: be32(self.buf, macip_field::ETAG).unwrap_or(0),
            mac: array_at::<6>(self.buf, macip_field::MAC).unwrap_or_default(),
            ip: ip_from(self.buf, macip_field::IP, self.ip_bits),
            ip_bits: self.ip_bits,
            label1: be24(self.buf, l1).unwrap_or(0),
            label2: be24(self.buf, l1 + 3),
            ..Default::default()
        }
    }
}

/// Type 3, Inclusive Multicast Ethernet Tag: RD(8) ETag(4) IP-len(1) Originator(4/16).
pub struct InclusiveMulticast<'a> {
    buf: &'a [u8],
    bits: u8,
}
mod imet_field {
    pub const RD: usize = 0;
    pub const ETAG: usize = 8;
    pub const IP_LEN: usize = 12;
    pub const IP: usize = 13;
}
impl<'a> InclusiveMulticast<'a> {
    /// Validates IP length 32/128 and the total of 17 or 29 bytes.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self> {
        let what = "EVPN Inclusive Multicast route";
        let bits = match u8_at(buf, imet_field::IP_LEN) {
            Some(b) => b,
            None => return Err(DecodeError::new(what, "shorter than 13 bytes", buf.len() as u64)),
        };
        if bits != 32 && bits != 128 {
            return Err(DecodeError::new(what, "originator IP length is not 32 or 128 bits", bits as u64));
        }
        if buf.len() != imet_field::IP + (bits / 8) as usize {
            return Err(DecodeError::new(what, "length does not match the originator IP length", buf.len() as u64));
        }
        Ok(InclusiveMulticast { buf, bits })
    }
    /// Flattened route.
    pub fn route(&self) -> EvpnRoute {
        EvpnRoute {
            route_type: 3,
            rd: array_at::<8>(self.buf, imet_field::RD).unwrap_or_default(),
            etag: be32(self.buf, imet_field::ETAG).unwrap_or(0),
            originator: ip_from(self.buf, imet_field::IP, self.bits),
            originator_bits: self.bits,
            ..Default::default()
        }
    }
}

/// Type 4, Ethernet Segment: RD(8) ESI(10) IP-len(1) Originator(4/16).
pub struct EthernetSegment<'a> {
    buf: &'a [u8],
    bits: u8,
}
mod es_field {
    pub const RD: usize = 0;
    pub const ESI: usize = 8;
    pub const IP_LEN: usize = 18;
    pub const IP: usize = 19;
}
impl<'a> EthernetSegment<'a> {
    /// Validates IP length 32/128 and the total of 23 or 35 bytes.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self> {
        let what = "EVPN Ethernet Segment route";
        let bits = match u8_at(buf, es_field::IP_LEN) {
            Some(b) => b,
            None => return Err(DecodeError::new(what, "shorter than 19 bytes", buf.len() as u64)),
        };
        if bits != 32 && bits != 128 {
            return Err(DecodeError::new(what, "originator IP length is not 32 or 128 bits", bits as u64));
        }
        if buf.len() != es_field::IP + (bits / 8) as usize {
            return Err(DecodeError::new(what, "length does not match the originator IP length", buf.len() as u64));
        }
        Ok(EthernetSegment { buf, bits })
    }
    /// Flattened route.
    pub fn route(&self) -> EvpnRoute {
        EvpnRoute {
            route_type: 4,
            rd: array_at::<8>(self.buf, es_field::RD).unwrap_or_default(),
            esi: array_at::<10>(self.buf, es_field::ESI).unwrap_or_default(),
            originator: ip_from(self.buf, es_field::IP, self.bits),
            originator_bits: self.bits,
            ..Default::default()
        }
    }
}

/// Type 5, IP Prefix (RFC 9136): RD(8) ESI(10) ETag(4) Prefix-len(1) Prefix(4/16) GW(4/16)
/// Label(3); exactly 34 (IPv4) or 58 (IPv6) bytes.
pub struct IpPrefix<'a> {
    buf: &'a [u8],
    v6: bool,
}
mod prefix_field {
    pub const RD: usize = 0;
    pub const ESI: usize = 8;
    pub const ETAG: usize = 18;
    pub const PREFIX_LEN: usize = 22;
    pub const PREFIX: usize = 23;
    pub const LEN_V4: usize = 34;
    pub const LEN_V6: usize = 58;
}
impl<'a> IpPrefix<'a> {
    /// Validates the total length (34/58) and the prefix length against the family.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self> {
        let what = "EVPN IP Prefix route";
        let v6 = match buf.len() {
            prefix_field::LEN_V4 => false,
            prefix_field::LEN_V6 => true,
            n => return Err(DecodeError::new(what, "length is neither 34 (IPv4) nor 58 (IPv6)", n as u64)),
        };
        let plen = u8_at(buf, prefix_field::PREFIX_LEN).unwrap_or(0);
        if plen > if v6 { 128 } else { 32 } {
            return Err(DecodeError::new(what, "prefix length exceeds the address size", plen as u64));
        }
        Ok(IpPrefix { buf, v6 })
    }
    /// Flattened route.
    pub fn route(&self) -> EvpnRoute {
        let (bits, alen) = if self.v6 { (128u8, 16usize) } else { (32u8, 4usize) };
        let gw_off = prefix_field::PREFIX + alen;
        EvpnRoute {
            route_type: 5,
            rd: array_at::<8>(self.buf, prefix_field::RD).unwrap_or_default(),
            esi: array_at::<10>(self.buf, prefix_field::ESI).unwrap_or_default(),
            etag: be32(self.buf, prefix_field::ETAG).unwrap_or(0),
            prefix_len: u8_at(self.buf, prefix_field::PREFIX_LEN).unwrap_or(0),
            ip: ip_from(self.buf, prefix_field::PREFIX, bits),
            ip_bits: bits,
            gateway: ip_from(self.buf, gw_off, bits),
            gateway_bits: bits,
            label1: be24(self.buf, gw_off + alen).unwrap_or(0),
            ..Default::default()
        }
    }
}

/// Decodes one NLRI body of a known route type (1–5); `Ok(None)` for other types.
pub fn decode_route(route_type: u8, body: &[u8]) -> Result<Option<EvpnRoute>> {
    let mut r = EvpnRoute::default();
    Ok(if decode_route_into(route_type, body, 0, &mut r)? { Some(r) } else { None })
}

/// `decode_route` into `out` with `path_id` set; false for a route type other than 1-5
/// (`out` untouched). The per-route loops use it: returning the 100-byte route inside a
/// `Result<Option<_>>` cost a memcpy call per route in wasm.
#[inline(never)]
pub fn decode_route_into(route_type: u8, body: &[u8], path_id: u32, out: &mut EvpnRoute) -> Result<bool> {
    *out = match route_type {
        1 => EthernetAd::new_checked(body)?.route(),
        2 => MacIp::new_checked(body)?.route(),
        3 => InclusiveMulticast::new_checked(body)?.route(),
        4 => EthernetSegment::new_checked(body)?.route(),
        5 => IpPrefix::new_checked(body)?.route(),
        _ => return Ok(false),
    };
    out.path_id = path_id;
    Ok(true)
}

/// One NLRI as framed in MP_REACH/MP_UNREACH: optional path id, type, body.
pub struct RawNlri<'a> {
    pub path_id: u32,
    pub route_type: u8,
    pub body: &'a [u8],
}

/// Iterates NLRIs; a length running past the attribute yields one error and ends.
pub struct NlriIter<'a> {
    buf: &'a [u8],
    off: usize,
    add_path: bool,
    done: bool,
}

impl<'a> NlriIter<'a> {
    /// Iterator over `buf`; `add_path` when a 4-byte path id precedes each NLRI (RFC 7911).
    pub fn new(buf: &'a [u8], add_path: bool) -> Self {
        NlriIter { buf, off: 0, add_path, done: false }
    }
}

impl<'a> Iterator for NlriIter<'a> {
    type Item = Result<RawNlri<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.off >= self.buf.len() {
            return None;
        }
        let mut off = self.off;
        let mut path_id = 0;
        if self.add_path {
            path_id = match be32(self.buf, off) {
                Some(p) => p,
                None => {
                    self.done = true;
                    return Some(Err(DecodeError::new("EVPN NLRI", "ends inside the add-path identifier", (self.buf.len() - off) as u64)));
                }
            };
            off += 4;
        }
        let (t, len) = match (u8_at(self.buf, off), u8_at(self.buf, off + 1)) {
            (Some(t), Some(l)) => (t, l as usize),
            _ => {
                self.done = true;
                return Some(Err(DecodeError::new("EVPN NLRI", "ends inside the type/length header", (self.buf.len() - off) as u64)));
            }
        };
        match slice_at(self.buf, off + 2, len) {
            Some(body) => {
                self.off = off + 2 + len;
                Some(Ok(RawNlri { path_id, route_type: t, body }))
            }
            None => {
                self.done = true;
                Some(Err(DecodeError::new("EVPN NLRI", "route length runs past the attribute", len as u64)))
            }
        }
    }
}

/// True when a route of `route_type` may be `len` bytes long (RFC 7432, 9136; types beyond
/// 5 are not checked beyond existing).
fn plausible_length(route_type: u8, len: usize) -> bool {
    match route_type {
        1 => len == 25,
        2 => matches!(len, 33 | 37 | 49 | 36 | 40 | 52),
        3 => matches!(len, 13 | 17 | 29),
        4 => matches!(len, 19 | 23 | 35),
        5 => matches!(len, 34 | 58),
        6..=11 => true,
        _ => false,
    }
}

/// True when `nlri` splits exactly into EVPN routes of plausible type and length, with
/// (`add_path`) or without a 4-byte path identifier before each.
fn layout_fits(nlri: &[u8], add_path: bool) -> bool {
    let mut off = 0usize;
    let id = if add_path { 4 } else { 0 };
    while off < nlri.len() {
        let (t, len) = match (u8_at(nlri, off + id), u8_at(nlri, off + id + 1)) {
            (Some(t), Some(l)) => (t, l as usize),
            _ => return false,
        };
        if !plausible_length(t, len) {
            return false;
        }
        off += id + 2 + len;
    }
    off == nlri.len() && !nlri.is_empty()
}

/// Whether the sender puts ADD-PATH identifiers (RFC 7911) before each EVPN route, from the
/// layout of one NLRI field: 2 (yes) or 1 (no) when only one layout fits, 0 when it cannot tell.
pub fn infer_add_path(nlri: &[u8]) -> u8 {
    match (layout_fits(nlri, false), layout_fits(nlri, true)) {
        (true, false) => 1,
        (false, true) => 2,
        _ => 0,
    }
}

#[cfg(test)]
pub mod vectors {
    //! Byte vectors shared by the unit tests of this and the control-plane modules.
    pub const RD_IPV4: [u8; 8] = [0, 1, 192, 168, 33, 21, 0, 0];
    /// Type 2 from the shared capture: 02:27:00:00:00:05, 10.27.0.5, label 16.
    pub const MAC_IP_V4: [u8; 37] = [
        0, 1, 192, 168, 33, 21, 0, 0, // RD
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ESI
        0, 0, 0, 0, // ETag
        48, 2, 0x27, 0, 0, 0, 5, // MAC
        32, 10, 27, 0, 5, // IP
        0, 0, 16, // label 1
    ];
    /// Type 3 from the shared capture: originator 192.168.33.21.
    pub const IMET_V4: [u8; 17] = [0, 1, 192, 168, 33, 21, 0, 0, 0, 0, 0, 0, 32, 192, 168, 33, 21];
}

#[cfg(test)]
mod tests {
    use super::vectors::*;
    use super::*;

    #[test]
    fn type1_ethernet_ad() {
        let mut v = vec![0, 0, 0xfc, 0, 0, 0, 0, 90];
        v.extend_from_slice(&[1, 2, 0, 0, 0, 0, 1, 0x12, 0x34, 0]);
        v.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 100]);
        let r = decode_route(1, &v).unwrap().unwrap();
        assert_eq!((r.etag, r.label1, r.esi[0]), (0xffff_ffff, 100, 1));
        v.push(0);
        assert_eq!(decode_route(1, &v).err().unwrap().got, 26);
    }

    #[test]
    fn type2_mac_ip_variants() {
        let r = decode_route(2, &MAC_IP_V4).unwrap().unwrap();
        assert_eq!(r.mac, [2, 0x27, 0, 0, 0, 5]);
        assert_eq!(&r.ip[12..], &[10, 27, 0, 5]);
        assert_eq!((r.ip_bits, r.label1, r.label2), (32, 16, None));
        // MAC only, two labels
        let mut m = MAC_IP_V4[..29].to_vec();
        m.extend_from_slice(&[0, 0, 0, 16, 0, 0, 99]);
        let r = decode_route(2, &m).unwrap().unwrap();
        assert_eq!((r.ip_bits, r.label1, r.label2), (0, 16, Some(99)));
        // IPv6
        let mut m = MAC_IP_V4[..29].to_vec();
        m.push(128);
        m.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        m.extend_from_slice(&[0, 0, 16]);
        let r = decode_route(2, &m).unwrap().unwrap();
        assert_eq!((r.ip_bits, r.ip[0], r.ip[15]), (128, 0xfd, 5));
    }

    #[test]
    fn type2_negative_vectors() {
        let mut bad = MAC_IP_V4;
        bad[22] = 40;
        assert_eq!(decode_route(2, &bad).err().unwrap().why, "MAC address length is not 48 bits");
        let mut bad = MAC_IP_V4;
        bad[29] = 24;
        assert_eq!(decode_route(2, &bad).err().unwrap().got, 24);
        let mut bad = MAC_IP_V4;
        bad[29] = 128;
        assert!(decode_route(2, &bad).is_err());
        assert!(decode_route(2, &MAC_IP_V4[..36]).is_err());
        assert!(decode_route(2, &MAC_IP_V4[..20]).is_err());
    }

    #[test]
    fn type3_inclusive_multicast() {
        let r = decode_route(3, &IMET_V4).unwrap().unwrap();
        assert_eq!((r.originator_bits, &r.originator[12..]), (32, &[192u8, 168, 33, 21][..]));
        let mut bad = IMET_V4;
        bad[12] = 128;
        assert!(decode_route(3, &bad).is_err());
        assert!(decode_route(3, &IMET_V4[..16]).is_err());
        let mut v6 = IMET_V4[..12].to_vec();
        v6.push(128);
        v6.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(decode_route(3, &v6).unwrap().unwrap().originator_bits, 128);
    }

    #[test]
    fn type4_ethernet_segment() {
        let mut v = RD_IPV4.to_vec();
        v.extend_from_slice(&[3, 2, 0, 0, 0, 0, 1, 0, 0, 7]);
        v.extend_from_slice(&[32, 10, 0, 0, 1]);
        let r = decode_route(4, &v).unwrap().unwrap();
        assert_eq!((r.esi[0], r.originator_bits), (3, 32));
        v[18] = 16;
        assert!(decode_route(4, &v).is_err());
    }

    #[test]
    fn type5_ip_prefix() {
        let mut v = RD_IPV4.to_vec();
        v.extend_from_slice(&[0; 10]);
        v.extend_from_slice(&[0, 0, 0, 0, 24, 10, 27, 0, 0, 10, 27, 0, 1, 0, 0, 20]);
        let r = decode_route(5, &v).unwrap().unwrap();
        assert_eq!((r.prefix_len, r.label1, r.gateway[15]), (24, 20, 1));
        v[22] = 33;
        assert_eq!(decode_route(5, &v).err().unwrap().got, 33);
        assert_eq!(decode_route(5, &v[..33]).err().unwrap().got, 33);
        let mut v6 = RD_IPV4.to_vec();
        v6.extend_from_slice(&[0; 14]);
        v6.push(64);
        v6.extend_from_slice(&[0xfd; 32]);
        v6.extend_from_slice(&[0, 0, 5]);
        let r = decode_route(5, &v6).unwrap().unwrap();
        assert_eq!((r.ip_bits, r.prefix_len, r.label1), (128, 64, 5));
    }

    #[test]
    fn unknown_types_are_not_errors() {
        assert_eq!(decode_route(7, &[1, 2, 3]).unwrap(), None);
    }

    #[test]
    fn nlri_iterator_frames_and_stops_on_overrun() {
        let mut buf = vec![3, 17];
        buf.extend_from_slice(&IMET_V4);
        buf.extend_from_slice(&[9, 2, 0, 0]);
        buf.extend_from_slice(&[2, 37]);
        buf.extend_from_slice(&MAC_IP_V4[..10]);
        let items: Vec<_> = NlriIter::new(&buf, false).collect();
        assert_eq!(items.len(), 3);
        assert!(items[0].as_ref().unwrap().route_type == 3);
        assert!(items[1].as_ref().unwrap().route_type == 9);
        assert!(items[2].is_err());
    }

    #[test]
    fn key_ignores_labels_and_esi_for_type2() {
        let a = decode_route(2, &MAC_IP_V4).unwrap().unwrap();
        let mut other = MAC_IP_V4;
        other[36] = 99;
        other[9] = 1;
        let b = decode_route(2, &other).unwrap().unwrap();
        assert!(a.key() == b.key());
        let mut ip = MAC_IP_V4;
        ip[33] = 6;
        assert!(a.key() != decode_route(2, &ip).unwrap().unwrap().key());
    }
}

#[cfg(test)]
mod inference_tests {
    use super::*;

    #[test]
    fn add_path_is_inferred_from_the_nlri_layout() {
        let mut plain = vec![2, vectors::MAC_IP_V4.len() as u8];
        plain.extend_from_slice(&vectors::MAC_IP_V4);
        plain.extend_from_slice(&plain.clone());
        assert_eq!(infer_add_path(&plain), 1);
        let mut with_ids = vec![0, 0, 0, 1];
        with_ids.extend_from_slice(&plain[..39]);
        with_ids.extend_from_slice(&[0, 0, 0, 2]);
        with_ids.extend_from_slice(&plain[..39]);
        assert_eq!(infer_add_path(&with_ids), 2);
        assert_eq!(infer_add_path(&[]), 0);
        assert_eq!(infer_add_path(&plain[..20]), 0);
    }
}
