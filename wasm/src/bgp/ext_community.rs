//! Extended communities (RFC 4360/7153) relevant to EVPN: route targets, encapsulation,
//! default gateway, MAC mobility, ESI label, ES-import, router's MAC.

use crate::util::bytes::{array_at, be16, be24, be32, u8_at};
use crate::util::error::DecodeError;

/// One decoded 8-byte extended community.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExtCommunity {
    RouteTargetAs2 { asn: u16, nn: u32 },
    RouteTargetIpv4 { ip: [u8; 4], nn: u16 },
    RouteTargetAs4 { asn: u32, nn: u16 },
    Encapsulation { tunnel_type: u16 },
    DefaultGateway,
    MacMobility { sticky: bool, seq: u32 },
    EsiLabel { single_active: bool, label: u32 },
    EsImport { mac: [u8; 6] },
    RoutersMac { mac: [u8; 6] },
    Other { type_high: u8, subtype: u8 },
}

/// Decodes one community from exactly 8 bytes.
pub fn decode(c: &[u8; 8]) -> ExtCommunity {
    let (t, s) = (c[0], c[1]);
    let mac = || array_at::<6>(c, 2).unwrap_or([0; 6]);
    match (t, s) {
        (0x00, 0x02) => ExtCommunity::RouteTargetAs2 { asn: be16(c, 2).unwrap_or(0), nn: be32(c, 4).unwrap_or(0) },
        (0x01, 0x02) => ExtCommunity::RouteTargetIpv4 { ip: array_at::<4>(c, 2).unwrap_or([0; 4]), nn: be16(c, 6).unwrap_or(0) },
        (0x02, 0x02) => ExtCommunity::RouteTargetAs4 { asn: be32(c, 2).unwrap_or(0), nn: be16(c, 6).unwrap_or(0) },
        (0x03, 0x0c) => ExtCommunity::Encapsulation { tunnel_type: be16(c, 6).unwrap_or(0) },
        (0x03, 0x0d) => ExtCommunity::DefaultGateway,
        (0x06, 0x00) => ExtCommunity::MacMobility { sticky: u8_at(c, 2).unwrap_or(0) & 1 != 0, seq: be32(c, 4).unwrap_or(0) },
        (0x06, 0x01) => ExtCommunity::EsiLabel { single_active: u8_at(c, 2).unwrap_or(0) & 1 != 0, label: be24(c, 5).unwrap_or(0) },
        (0x06, 0x02) => ExtCommunity::EsImport { mac: mac() },
        (0x06, 0x03) => ExtCommunity::RoutersMac { mac: mac() },
        _ => ExtCommunity::Other { type_high: t, subtype: s },
    }
}

/// Route targets kept per route; more are counted in `rt_overflow`.
pub const MAX_RTS: usize = 6;

/// Everything an UPDATE's EXTENDED_COMMUNITIES attribute says, reduced to what EVPN uses.
#[derive(Clone, Copy, Default)]
pub struct Communities {
    /// Route targets as their raw 8 bytes (big-endian u64), for cheap comparison.
    pub rts: [u64; MAX_RTS],
    pub n_rts: u8,
    pub rt_overflow: u8,
    pub encapsulation: Option<u16>,
    pub default_gateway: bool,
    pub mobility: Option<(bool, u32)>,
    pub esi_label: Option<(bool, u32)>,
    pub es_import: Option<[u8; 6]>,
    pub routers_mac: Option<[u8; 6]>,
    pub other: u16,
}

impl Communities {
    /// The stored route targets.
    pub fn route_targets(&self) -> &[u64] {
        self.rts.get(..self.n_rts as usize).unwrap_or(&[])
    }

    /// True when both sets share at least one route target.
    pub fn shares_rt(&self, other: &[u64]) -> bool {
        self.route_targets().iter().any(|r| other.contains(r))
    }
}

/// Summarises an EXTENDED_COMMUNITIES attribute value; a length that is not a multiple
/// of 8 is reported and the whole communities before it are still used.
pub fn summarise(value: &[u8]) -> (Communities, Option<DecodeError>) {
    let mut out = Communities::default();
    let err = summarise_into(value, &mut out);
    (out, err)
}

/// `summarise` into `out` (reset first), returning the length error if any: the UPDATE path
/// fills its route attributes in place instead of copying a returned summary twice.
pub fn summarise_into(value: &[u8], out: &mut Communities) -> Option<DecodeError> {
    *out = Communities::default();
    let err = if value.len() % 8 != 0 {
        Some(DecodeError::new("EXTENDED_COMMUNITIES attribute", "length is not a multiple of 8", value.len() as u64))
    } else {
        None
    };
    for chunk in value.chunks_exact(8) {
        let c = match array_at::<8>(chunk, 0) {
            Some(c) => c,
            None => continue,
        };
        match decode(&c) {
            ExtCommunity::RouteTargetAs2 { .. } | ExtCommunity::RouteTargetIpv4 { .. } | ExtCommunity::RouteTargetAs4 { .. } => {
                let raw = u64::from_be_bytes(c);
                let n = out.n_rts as usize;
                if out.route_targets().contains(&raw) {
                } else if let Some(slot) = out.rts.get_mut(n) {
                    *slot = raw;
                    out.n_rts += 1;
                } else {
                    out.rt_overflow = out.rt_overflow.saturating_add(1);
                }
            }
            ExtCommunity::Encapsulation { tunnel_type } => {
                if out.encapsulation.is_none() {
                    out.encapsulation = Some(tunnel_type);
                }
            }
            ExtCommunity::DefaultGateway => out.default_gateway = true,
            ExtCommunity::MacMobility { sticky, seq } => out.mobility = Some((sticky, seq)),
            ExtCommunity::EsiLabel { single_active, label } => out.esi_label = Some((single_active, label)),
            ExtCommunity::EsImport { mac } => out.es_import = Some(mac),
            ExtCommunity::RoutersMac { mac } => out.routers_mac = Some(mac),
            ExtCommunity::Other { .. } => out.other = out.other.saturating_add(1),
        }
    }
    err
}

/// Tunnel types whose 24-bit EVPN label field is a VNI/VSID (RFC 8365 §5.1.3).
pub fn label_is_vni(tunnel_type: Option<u16>) -> bool {
    matches!(tunnel_type, Some(8) | Some(9) | Some(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_community_kind() {
        assert_eq!(decode(&[0, 2, 0xfc, 0, 0, 0, 0, 90]), ExtCommunity::RouteTargetAs2 { asn: 64512, nn: 90 });
        assert_eq!(decode(&[1, 2, 10, 0, 0, 1, 0, 7]), ExtCommunity::RouteTargetIpv4 { ip: [10, 0, 0, 1], nn: 7 });
        assert_eq!(decode(&[2, 2, 0, 1, 0, 0, 0, 7]), ExtCommunity::RouteTargetAs4 { asn: 65536, nn: 7 });
        assert_eq!(decode(&[3, 0x0c, 0, 0, 0, 0, 0, 8]), ExtCommunity::Encapsulation { tunnel_type: 8 });
        assert_eq!(decode(&[3, 0x0d, 0, 0, 0, 0, 0, 0]), ExtCommunity::DefaultGateway);
        assert_eq!(decode(&[6, 0, 1, 0, 0, 0, 0, 5]), ExtCommunity::MacMobility { sticky: true, seq: 5 });
        assert_eq!(decode(&[6, 1, 1, 0, 0, 0, 0x01, 0x00]), ExtCommunity::EsiLabel { single_active: true, label: 256 });
        assert_eq!(decode(&[6, 2, 2, 0, 0, 0, 0, 1]), ExtCommunity::EsImport { mac: [2, 0, 0, 0, 0, 1] });
        assert_eq!(decode(&[6, 3, 2, 0, 0, 0, 0, 2]), ExtCommunity::RoutersMac { mac: [2, 0, 0, 0, 0, 2] });
        assert_eq!(decode(&[0x43, 0x0b, 0, 0, 0, 0, 0, 0]), ExtCommunity::Other { type_high: 0x43, subtype: 0x0b });
    }

    #[test]
    fn summary_keeps_rts_and_reports_bad_length() {
        let v = [3, 0x0c, 0, 0, 0, 0, 0, 8, 0, 2, 0xfc, 0, 0, 0, 0, 90, 6, 0, 0, 0, 0, 0, 0, 3];
        let (c, e) = summarise(&v);
        assert!(e.is_none());
        assert_eq!(c.encapsulation, Some(8));
        assert_eq!(c.route_targets(), &[u64::from_be_bytes([0, 2, 0xfc, 0, 0, 0, 0, 90])]);
        assert_eq!(c.mobility, Some((false, 3)));
        let (c, e) = summarise(&v[..20]);
        assert_eq!(e.unwrap().got, 20);
        assert_eq!(c.n_rts, 1);
        assert!(label_is_vni(Some(8)) && !label_is_vni(Some(10)) && !label_is_vni(None));
    }
}
