//! BGP-4 message framing (RFC 4271): header, OPEN with capabilities, UPDATE attributes,
//! MP_REACH/MP_UNREACH (RFC 4760), PMSI tunnel (RFC 6514), NOTIFICATION, ROUTE-REFRESH.

use crate::util::bytes::{array_at, be16, be24, be32, le64, slice_at, tail, u8_at, v4_mapped};
use crate::util::error::{DecodeError, Result};

mod header_field {
    use core::ops::Range;
    pub const MARKER: Range<usize> = 0..16;
    pub const LENGTH: usize = 16;
    pub const TYPE: usize = 18;
    pub const LEN: usize = 19;
}

pub const HEADER_LEN: usize = header_field::LEN;
pub const MAX_MESSAGE_LEN: usize = 65535;

pub const OPEN: u8 = 1;
pub const UPDATE: u8 = 2;
pub const NOTIFICATION: u8 = 3;
pub const KEEPALIVE: u8 = 4;
pub const ROUTE_REFRESH: u8 = 5;

/// Checks the marker, length bounds and type; returns (length, type).
pub fn parse_header(buf: &[u8]) -> Result<(usize, u8)> {
    // The marker as two words: two loads instead of sixteen (this runs twice per message).
    let (m0, m1) = match (le64(buf, header_field::MARKER.start), le64(buf, header_field::MARKER.start + 8)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(DecodeError::new("BGP header", "fewer than 19 bytes", buf.len() as u64)),
    };
    if m0 & m1 != u64::MAX {
        return Err(DecodeError::new("BGP header", "marker is not 16 bytes of 0xff (stream out of sync)", 0));
    }
    let len = be16(buf, header_field::LENGTH).unwrap_or(0) as usize;
    if len < HEADER_LEN {
        return Err(DecodeError::new("BGP header", "length below 19", len as u64));
    }
    let t = match u8_at(buf, header_field::TYPE) {
        Some(t) => t,
        None => return Err(DecodeError::new("BGP header", "fewer than 19 bytes", buf.len() as u64)),
    };
    if !(OPEN..=ROUTE_REFRESH).contains(&t) {
        return Err(DecodeError::new("BGP header", "message type is not 1-5", t as u64));
    }
    let min = match t {
        OPEN => 29,
        UPDATE => 23,
        NOTIFICATION => 21,
        ROUTE_REFRESH => 23,
        _ => 19,
    };
    if len < min || (t == KEEPALIVE && len != 19) {
        return Err(DecodeError::new("BGP message", "length is invalid for its type", len as u64));
    }
    Ok((len, t))
}

/// Capabilities kept per OPEN.
pub const MAX_CAPS: usize = 24;

/// One capability (RFC 5492) with the fields the report shows.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Capability {
    pub code: u8,
    /// AFI/SAFI for multiprotocol (1), add-path (69, per family), graceful restart families.
    pub afi: u16,
    pub safi: u8,
    /// Add-path send/receive bits, or the 4-octet AS for code 65.
    pub value: u32,
}

/// Decoded OPEN message.
#[derive(Clone, Copy, Default)]
pub struct OpenRepr {
    pub version: u8,
    pub my_as: u32,
    pub hold_time: u16,
    pub bgp_id: [u8; 4],
    pub caps: [Capability; MAX_CAPS],
    pub n_caps: u8,
}

impl OpenRepr {
    /// The decoded capabilities.
    pub fn capabilities(&self) -> &[Capability] {
        self.caps.get(..self.n_caps as usize).unwrap_or(&[])
    }

    /// Add-path bits (1 receive, 2 send) this speaker announced for L2VPN EVPN.
    pub fn add_path_evpn(&self) -> u32 {
        self.capabilities().iter().filter(|c| c.code == 69 && c.afi == 25 && c.safi == 70).map(|c| c.value).fold(0, |a, b| a | b)
    }

    fn push(&mut self, c: Capability) {
        if let Some(slot) = self.caps.get_mut(self.n_caps as usize) {
            *slot = c;
            self.n_caps += 1;
        }
    }
}

mod open_field {
    pub const VERSION: usize = 0;
    pub const MY_AS: usize = 1;
    pub const HOLD: usize = 3;
    pub const BGP_ID: usize = 5;
    pub const OPT_LEN: usize = 9;
    pub const OPT: usize = 10;
}

/// Decodes an OPEN body (after the 19-byte header), including RFC 9072 extended params.
pub fn parse_open(body: &[u8]) -> Result<OpenRepr> {
    let what = "BGP OPEN";
    if body.len() < open_field::OPT {
        return Err(DecodeError::new(what, "shorter than 10 bytes", body.len() as u64));
    }
    let mut o = OpenRepr {
        version: u8_at(body, open_field::VERSION).unwrap_or(0),
        my_as: be16(body, open_field::MY_AS).unwrap_or(0) as u32,
        hold_time: be16(body, open_field::HOLD).unwrap_or(0),
        bgp_id: array_at::<4>(body, open_field::BGP_ID).unwrap_or([0; 4]),
        ..Default::default()
    };
    let mut opt_len = u8_at(body, open_field::OPT_LEN).unwrap_or(0) as usize;
    let mut off = open_field::OPT;
    let mut extended = false;
    if opt_len == 255 && u8_at(body, off) == Some(255) {
        // RFC 9072: non-ext type 255 then a 2-byte length; params use 2-byte lengths.
        opt_len = be16(body, off + 1).unwrap_or(0) as usize;
        off += 3;
        extended = true;
    }
    let params = match slice_at(body, off, opt_len) {
        Some(p) => p,
        None => return Err(DecodeError::new(what, "optional parameters length runs past the message", opt_len as u64)),
    };
    let mut p = 0usize;
    while p < params.len() {
        let ptype = u8_at(params, p).unwrap_or(0);
        let (plen, hdr) = if extended { (be16(params, p + 1).map(|v| v as usize), 3) } else { (u8_at(params, p + 1).map(|v| v as usize), 2) };
        let plen = match plen {
            Some(l) => l,
            None => return Err(DecodeError::new("BGP OPEN optional parameter", "ends inside its header", (params.len() - p) as u64)),
        };
        let value = match slice_at(params, p + hdr, plen) {
            Some(v) => v,
            None => return Err(DecodeError::new("BGP OPEN optional parameter", "length runs past the parameters", plen as u64)),
        };
        if ptype == 2 {
            parse_capabilities(value, &mut o)?;
        }
        p += hdr + plen;
    }
    Ok(o)
}

fn parse_capabilities(mut v: &[u8], o: &mut OpenRepr) -> Result<()> {
    while !v.is_empty() {
        let code = u8_at(v, 0).unwrap_or(0);
        let len = match u8_at(v, 1) {
            Some(l) => l as usize,
            None => return Err(DecodeError::new("BGP capability", "ends inside its header", v.len() as u64)),
        };
        let value = match slice_at(v, 2, len) {
            Some(x) => x,
            None => return Err(DecodeError::new("BGP capability", "length runs past the parameter", len as u64)),
        };
        match code {
            1 => o.push(Capability { code, afi: be16(value, 0).unwrap_or(0), safi: u8_at(value, 3).unwrap_or(0), value: 0 }),
            65 => {
                let asn = be32(value, 0).unwrap_or(0);
                o.push(Capability { code, value: asn, ..Default::default() });
                if asn != 0 {
                    o.my_as = asn;
                }
            }
            69 => {
                for e in value.chunks_exact(4) {
                    o.push(Capability { code, afi: be16(e, 0).unwrap_or(0), safi: u8_at(e, 2).unwrap_or(0), value: u8_at(e, 3).unwrap_or(0) as u32 });
                }
            }
            _ => o.push(Capability { code, ..Default::default() }),
        }
        v = tail(v, 2 + len);
    }
    Ok(())
}

/// Name of a capability code (IANA registry, the ones seen in practice).
pub fn capability_name(code: u8) -> &'static str {
    match code {
        1 => "multiprotocol",
        2 => "route-refresh",
        3 => "outbound-route-filtering",
        5 => "extended-next-hop",
        6 => "extended-message",
        9 => "bgp-role",
        64 => "graceful-restart",
        65 => "4-octet-as",
        69 => "add-path",
        70 => "enhanced-route-refresh",
        71 => "long-lived-graceful-restart",
        73 => "fqdn",
        128 => "route-refresh-cisco",
        _ => "unknown",
    }
}

/// The three parts of an UPDATE body.
pub struct UpdateRepr<'a> {
    pub withdrawn: &'a [u8],
    pub attributes: &'a [u8],
    pub nlri: &'a [u8],
}

/// Splits an UPDATE body (after the header) into withdrawn routes, attributes and NLRI.
pub fn parse_update(body: &[u8]) -> Result<UpdateRepr<'_>> {
    let wlen = match be16(body, 0) {
        Some(l) => l as usize,
        None => return Err(DecodeError::new("BGP UPDATE", "shorter than 4 bytes", body.len() as u64)),
    };
    let withdrawn = match slice_at(body, 2, wlen) {
        Some(w) => w,
        None => return Err(DecodeError::new("BGP UPDATE", "withdrawn routes length runs past the message", wlen as u64)),
    };
    let alen = match be16(body, 2 + wlen) {
        Some(l) => l as usize,
        None => return Err(DecodeError::new("BGP UPDATE", "ends before the path attribute length", body.len() as u64)),
    };
    let attributes = match slice_at(body, 4 + wlen, alen) {
        Some(a) => a,
        None => return Err(DecodeError::new("BGP UPDATE", "path attribute length runs past the message", alen as u64)),
    };
    Ok(UpdateRepr { withdrawn, attributes, nlri: tail(body, 4 + wlen + alen) })
}

/// One path attribute.
pub struct Attribute<'a> {
    pub flags: u8,
    pub type_code: u8,
    pub value: &'a [u8],
}

/// Iterates path attributes; a length running past the list yields one error and ends.
pub struct AttributeIter<'a> {
    buf: &'a [u8],
    off: usize,
    done: bool,
}

impl<'a> AttributeIter<'a> {
    /// Iterator over an UPDATE's attribute bytes.
    pub fn new(buf: &'a [u8]) -> Self {
        AttributeIter { buf, off: 0, done: false }
    }
}

impl<'a> Iterator for AttributeIter<'a> {
    type Item = Result<Attribute<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.off >= self.buf.len() {
            return None;
        }
        let flags = u8_at(self.buf, self.off).unwrap_or(0);
        let type_code = u8_at(self.buf, self.off + 1);
        let ext = flags & 0x10 != 0;
        let len = if ext { be16(self.buf, self.off + 2).map(|l| l as usize) } else { u8_at(self.buf, self.off + 2).map(|l| l as usize) };
        let hdr = if ext { 4 } else { 3 };
        let (type_code, len) = match (type_code, len) {
            (Some(t), Some(l)) => (t, l),
            _ => {
                self.done = true;
                return Some(Err(DecodeError::new("BGP path attribute", "ends inside its header", (self.buf.len() - self.off) as u64)));
            }
        };
        match slice_at(self.buf, self.off + hdr, len) {
            Some(value) => {
                self.off += hdr + len;
                Some(Ok(Attribute { flags, type_code, value }))
            }
            None => {
                self.done = true;
                Some(Err(DecodeError::new("BGP path attribute", "length runs past the attribute list", len as u64)))
            }
        }
    }
}

pub const ATTR_AS_PATH: u8 = 2;
pub const ATTR_NEXT_HOP: u8 = 3;
pub const ATTR_AS4_PATH: u8 = 17;

/// True when AS_PATH `v` splits exactly into segments (type 1-4, count, ASNs of `width` bytes).
fn as_path_fits(v: &[u8], width: usize) -> bool {
    let mut off = 0usize;
    while off < v.len() {
        let (t, n) = match (u8_at(v, off), u8_at(v, off + 1)) {
            (Some(t), Some(n)) => (t, n as usize),
            _ => return false,
        };
        if !(1..=4).contains(&t) || n == 0 {
            return false;
        }
        off += 2 + n * width;
    }
    off == v.len()
}

/// Whether the sender encodes 4-octet ASNs, from one AS_PATH: 2 (yes) or 1 (no) when only one
/// width splits it into whole segments; 0 when it cannot tell (empty, as iBGP paths are, or
/// both fit).
pub fn infer_as_path_width(v: &[u8]) -> u8 {
    match (as_path_fits(v, 2), as_path_fits(v, 4)) {
        (true, false) => 1,
        (false, true) => 2,
        _ => 0,
    }
}
pub const ATTR_ORIGINATOR_ID: u8 = 9;
pub const ATTR_MP_REACH: u8 = 14;
pub const ATTR_MP_UNREACH: u8 = 15;
pub const ATTR_EXT_COMMUNITIES: u8 = 16;
pub const ATTR_PMSI_TUNNEL: u8 = 22;

/// MP_REACH_NLRI: AFI(2) SAFI(1) NH-len(1) NH reserved(1) NLRI.
pub struct MpReach<'a> {
    pub afi: u16,
    pub safi: u8,
    pub next_hop: &'a [u8],
    pub nlri: &'a [u8],
}

/// Decodes MP_REACH_NLRI.
pub fn parse_mp_reach(v: &[u8]) -> Result<MpReach<'_>> {
    let what = "MP_REACH_NLRI attribute";
    let (afi, safi, nhl) = match (be16(v, 0), u8_at(v, 2), u8_at(v, 3)) {
        (Some(a), Some(s), Some(n)) => (a, s, n as usize),
        _ => return Err(DecodeError::new(what, "shorter than 5 bytes", v.len() as u64)),
    };
    let next_hop = match slice_at(v, 4, nhl) {
        Some(n) => n,
        None => return Err(DecodeError::new(what, "next hop length runs past the attribute", nhl as u64)),
    };
    if u8_at(v, 4 + nhl).is_none() {
        return Err(DecodeError::new(what, "ends before the reserved byte", v.len() as u64));
    }
    Ok(MpReach { afi, safi, next_hop, nlri: tail(v, 5 + nhl) })
}

/// MP_UNREACH_NLRI: AFI(2) SAFI(1) withdrawn NLRI.
pub fn parse_mp_unreach(v: &[u8]) -> Result<(u16, u8, &[u8])> {
    match (be16(v, 0), u8_at(v, 2)) {
        (Some(a), Some(s)) => Ok((a, s, tail(v, 3))),
        _ => Err(DecodeError::new("MP_UNREACH_NLRI attribute", "shorter than 3 bytes", v.len() as u64)),
    }
}

/// The VTEP address carried as next hop: IPv4 (4), IPv6 (16), IPv6 + link-local (32),
/// or the RD-prefixed VPN forms (12, 24).
pub fn next_hop_address(nh: &[u8]) -> Result<[u8; 16]> {
    match nh.len() {
        4 => Ok(v4_mapped(array_at::<4>(nh, 0).unwrap_or([0; 4]))),
        12 => Ok(v4_mapped(array_at::<4>(nh, 8).unwrap_or([0; 4]))),
        16 | 32 => Ok(array_at::<16>(nh, 0).unwrap_or([0; 16])),
        24 => Ok(array_at::<16>(nh, 8).unwrap_or([0; 16])),
        n => Err(DecodeError::new("MP_REACH_NLRI next hop", "length is not 4, 12, 16, 24 or 32", n as u64)),
    }
}

/// PMSI Tunnel attribute (RFC 6514 §5): flags(1) type(1) label(3) tunnel id.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Pmsi {
    pub flags: u8,
    pub tunnel_type: u8,
    pub label: u32,
    /// Ingress-replication endpoint (IPv4 mapped or IPv6); zero when absent.
    pub endpoint: [u8; 16],
    pub has_endpoint: bool,
}

/// Decodes a PMSI Tunnel attribute.
pub fn parse_pmsi(v: &[u8]) -> Result<Pmsi> {
    if v.len() < 5 {
        return Err(DecodeError::new("PMSI_TUNNEL attribute", "shorter than 5 bytes", v.len() as u64));
    }
    let id = tail(v, 5);
    let (endpoint, has_endpoint) = match id.len() {
        4 => (v4_mapped(array_at::<4>(id, 0).unwrap_or([0; 4])), true),
        16 => (array_at::<16>(id, 0).unwrap_or([0; 16]), true),
        _ => ([0; 16], false),
    };
    Ok(Pmsi { flags: u8_at(v, 0).unwrap_or(0), tunnel_type: u8_at(v, 1).unwrap_or(0), label: be24(v, 2).unwrap_or(0), endpoint, has_endpoint })
}

/// NOTIFICATION code/subcode names (RFC 4271 §4.5, 4486, 8203, 7313, 9234).
pub fn notification_name(code: u8, subcode: u8) -> (&'static str, &'static str) {
    let c = match code {
        1 => "Message Header Error",
        2 => "OPEN Message Error",
        3 => "UPDATE Message Error",
        4 => "Hold Timer Expired",
        5 => "Finite State Machine Error",
        6 => "Cease",
        7 => "ROUTE-REFRESH Message Error",
        _ => "Unknown",
    };
    let s = match (code, subcode) {
        (_, 0) => "Unspecific",
        (1, 1) => "Connection Not Synchronized",
        (1, 2) => "Bad Message Length",
        (1, 3) => "Bad Message Type",
        (2, 1) => "Unsupported Version Number",
        (2, 2) => "Bad Peer AS",
        (2, 3) => "Bad BGP Identifier",
        (2, 4) => "Unsupported Optional Parameter",
        (2, 6) => "Unacceptable Hold Time",
        (2, 7) => "Unsupported Capability",
        (2, 11) => "Role Mismatch",
        (3, 1) => "Malformed Attribute List",
        (3, 2) => "Unrecognized Well-known Attribute",
        (3, 3) => "Missing Well-known Attribute",
        (3, 4) => "Attribute Flags Error",
        (3, 5) => "Attribute Length Error",
        (3, 6) => "Invalid ORIGIN Attribute",
        (3, 8) => "Invalid NEXT_HOP Attribute",
        (3, 9) => "Optional Attribute Error",
        (3, 10) => "Invalid Network Field",
        (3, 11) => "Malformed AS_PATH",
        (5, 1) => "Receive Unexpected Message in OpenSent State",
        (5, 2) => "Receive Unexpected Message in OpenConfirm State",
        (5, 3) => "Receive Unexpected Message in Established State",
        (6, 1) => "Maximum Number of Prefixes Reached",
        (6, 2) => "Administrative Shutdown",
        (6, 3) => "Peer De-configured",
        (6, 4) => "Administrative Reset",
        (6, 5) => "Connection Rejected",
        (6, 6) => "Other Configuration Change",
        (6, 7) => "Connection Collision Resolution",
        (6, 8) => "Out of Resources",
        (6, 9) => "Hard Reset",
        (6, 10) => "BFD Down",
        (7, 1) => "Invalid Message Length",
        _ => "Unknown",
    };
    (c, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn four_octet_as_is_inferred_from_as_path_segment_lengths() {
        // AS_SEQUENCE of two ASNs: 2-byte (6 bytes) and 4-byte (10 bytes) encodings.
        assert_eq!(infer_as_path_width(&[2, 2, 0xfc, 0, 0xfc, 1]), 1);
        assert_eq!(infer_as_path_width(&[2, 2, 0, 1, 0, 1, 0, 0, 0xfc, 1]), 2);
        // iBGP: empty path, nothing to tell.
        assert_eq!(infer_as_path_width(&[]), 0);
    }


    fn hdr(len: u16, t: u8) -> Vec<u8> {
        let mut h = vec![0xff; 16];
        h.extend_from_slice(&len.to_be_bytes());
        h.push(t);
        h
    }

    #[test]
    fn header_checks() {
        assert_eq!(parse_header(&hdr(19, 4)).unwrap(), (19, 4));
        assert!(parse_header(&hdr(20, 4)).is_err(), "keepalive must be 19");
        assert!(parse_header(&hdr(18, 4)).is_err());
        assert!(parse_header(&hdr(19, 6)).is_err());
        let mut bad = hdr(19, 4);
        bad[3] = 0;
        assert!(parse_header(&bad).is_err());
    }

    /// OPEN body sent by bagpipe-bgp 17.0.0 in the shared capture (frame 6).
    pub const OPEN_BAGPIPE: [u8; 42] = [
        0x04, 0xfc, 0x00, 0x00, 0xb4, 0xc0, 0xa8, 0x21, 0x15, 0x20, //
        0x02, 0x06, 0x01, 0x04, 0x00, 0x01, 0x00, 0x80, 0x02, 0x06, 0x01, 0x04, 0x00, 0x01, 0x00, 0x84, //
        0x02, 0x06, 0x01, 0x04, 0x00, 0x01, 0x00, 0x86, 0x02, 0x06, 0x01, 0x04, 0x00, 0x19, 0x00, 0x46,
    ];

    #[test]
    fn open_with_capabilities() {
        let o = parse_open(&OPEN_BAGPIPE).unwrap();
        assert_eq!((o.version, o.my_as, o.hold_time, o.bgp_id), (4, 64512, 180, [192, 168, 33, 21]));
        let fams: Vec<(u8, u16, u8)> = o.capabilities().iter().map(|c| (c.code, c.afi, c.safi)).collect();
        assert_eq!(fams, vec![(1, 1, 128), (1, 1, 132), (1, 1, 134), (1, 25, 70)]);
        let mut bad = OPEN_BAGPIPE;
        bad[9] = 40;
        assert!(parse_open(&bad).is_err(), "optional parameter length past the message");
        let mut bad = OPEN_BAGPIPE;
        bad[13] = 9;
        assert!(parse_open(&bad).is_err(), "capability length past the parameter");
        // 4-octet AS capability replaces my_as; add-path entries are kept per family.
        let mut o4 = OPEN_BAGPIPE[..9].to_vec();
        o4.extend_from_slice(&[14, 2, 12, 65, 4, 0, 1, 0, 0, 69, 4, 0, 25, 70, 3]);
        let o = parse_open(&o4).unwrap();
        assert_eq!(o.my_as, 65536);
        assert_eq!(o.add_path_evpn(), 3);
    }

    #[test]
    fn update_split_and_attributes() {
        let body = [0, 0, 0, 8, 0x40, 1, 1, 0, 0x50, 2, 0, 0, 24, 10, 0, 0];
        let u = parse_update(&body).unwrap();
        assert_eq!(u.attributes.len(), 8);
        assert_eq!(u.nlri, &[24, 10, 0, 0]);
        let attrs: Vec<_> = AttributeIter::new(u.attributes).collect();
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs[1].as_ref().unwrap().type_code, 2);
        let mut bad = body;
        bad[3] = 40;
        assert!(parse_update(&bad).is_err(), "attribute length past the message");
        let attrs: Vec<_> = AttributeIter::new(&[0x40, 1, 5, 0]).collect();
        assert!(attrs[0].is_err());
    }

    #[test]
    fn mp_reach_pmsi_and_next_hops() {
        let v = [0, 25, 70, 4, 192, 168, 33, 21, 0, 3, 17];
        let m = parse_mp_reach(&v).unwrap();
        assert_eq!((m.afi, m.safi, m.nlri), (25, 70, &[3u8, 17][..]));
        assert_eq!(&next_hop_address(m.next_hop).unwrap()[12..], &[192, 168, 33, 21]);
        assert!(parse_mp_reach(&v[..7]).is_err());
        assert!(next_hop_address(&[1, 2, 3]).is_err());
        let p = parse_pmsi(&[0, 6, 0, 0, 16, 192, 168, 33, 21]).unwrap();
        assert_eq!((p.tunnel_type, p.label, p.has_endpoint), (6, 16, true));
        assert!(parse_pmsi(&[0, 6, 0]).is_err());
        assert_eq!(notification_name(6, 2), ("Cease", "Administrative Shutdown"));
        assert_eq!(parse_mp_unreach(&[0, 25, 70, 2, 1]).unwrap().2, &[2, 1]);
    }
}
