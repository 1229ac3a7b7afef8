//! Routes loaded from a control-plane snapshot (`verify --rib`): the EVPN view at the
//! capture's start, held by `SNAPSHOT_HOLDER` until a captured session advertises or
//! withdraws them. The TypeScript side normalises each snapshot format into records that
//! carry the routes as they are on the wire, so they are decoded by the same code as UPDATEs:
//!
//! ```text
//! record := len:u16be  type:u8 nlri_len:u8 nlri  nh_len:u8 next_hop
//!           ext_len:u16be ext_communities  pmsi_len:u8 pmsi_tunnel
//! ```

use crate::bgp::evpn::{decode_route_into, EvpnRoute};
use crate::bgp::ext_community::{label_is_vni, summarise_into, Communities};
use crate::bgp::message::{next_hop_address, parse_pmsi};
use crate::control_plane::{ControlPlane, Origin, RouteAttrs, SNAPSHOT_HOLDER};
use crate::journal::Journal;
use crate::util::bytes::{be16, slice_at, u8_at};
use crate::util::error::{DecodeError, Result};

/// A byte range of one record, or the error naming the field that does not fit.
fn field<'a>(rec: &'a [u8], off: &mut usize, len: usize, what: &'static str) -> Result<&'a [u8]> {
    let v = slice_at(rec, *off, len).ok_or(DecodeError::new("snapshot route", what, len as u64))?;
    *off += len;
    Ok(v)
}

fn byte(rec: &[u8], off: &mut usize, what: &'static str) -> Result<usize> {
    let v = u8_at(rec, *off).ok_or(DecodeError::new("snapshot route", what, rec.len() as u64))?;
    *off += 1;
    Ok(v as usize)
}

/// Loads every record of `buf`; returns how many routes were loaded. Nothing is loaded when
/// a record is malformed (the error names it; the first `index` is the record's number).
pub fn load(buf: &[u8], cp: &mut ControlPlane, j: &mut Journal) -> core::result::Result<u32, (u32, DecodeError)> {
    // Checked in full first, so a bad snapshot leaves the control plane untouched.
    let mut n = 0u32;
    let mut off = 0usize;
    while off < buf.len() {
        let len = be16(buf, off).ok_or((n, DecodeError::new("snapshot record", "ends inside its length", (buf.len() - off) as u64)))? as usize;
        let rec = slice_at(buf, off + 2, len).ok_or((n, DecodeError::new("snapshot record", "length runs past the buffer", len as u64)))?;
        each(rec, |_, _| {}).map_err(|e| (n, e))?;
        off += 2 + len;
        n += 1;
    }
    cp.seeded = true;
    cp.reserve_routes(n as usize);
    let origin = Origin { holder: SNAPSHOT_HOLDER, pkt: 0, ns: 0 };
    let mut off = 0usize;
    while let (Some(len), true) = (be16(buf, off), off < buf.len()) {
        let rec = slice_at(buf, off + 2, len as usize).unwrap_or(&[]);
        let _ = each(rec, |route, attrs| {
            let vni_labels = label_is_vni(attrs.communities.encapsulation);
            cp.advertise(route, attrs, vni_labels, origin, j);
        });
        off += 2 + len as usize;
    }
    Ok(n)
}

/// Decodes one record and hands its route to `f`.
fn each(rec: &[u8], mut f: impl FnMut(&EvpnRoute, &RouteAttrs)) -> Result<()> {
    let mut off = 0usize;
    let route_type = byte(rec, &mut off, "ends before the route type")? as u8;
    let nlri_len = byte(rec, &mut off, "ends before the NLRI length")?;
    let body = field(rec, &mut off, nlri_len, "NLRI runs past the record")?;
    let mut route = EvpnRoute::default();
    if !decode_route_into(route_type, body, 0, &mut route)? {
        return Err(DecodeError::new("snapshot route", "route type is not 1-5", route_type as u64));
    }
    let nh_len = byte(rec, &mut off, "ends before the next hop length")?;
    let vtep = next_hop_address(field(rec, &mut off, nh_len, "next hop runs past the record")?)?;
    let ext_len = be16(rec, off).ok_or(DecodeError::new("snapshot route", "ends before the communities length", rec.len() as u64))? as usize;
    off += 2;
    let mut communities = Communities::default();
    if let Some(e) = summarise_into(field(rec, &mut off, ext_len, "communities run past the record")?, &mut communities) {
        return Err(e);
    }
    let pmsi_len = byte(rec, &mut off, "ends before the PMSI length")?;
    let pmsi = match pmsi_len {
        0 => None,
        n => Some(parse_pmsi(field(rec, &mut off, n, "PMSI runs past the record")?)?),
    };
    if off != rec.len() {
        return Err(DecodeError::new("snapshot route", "bytes after the PMSI tunnel", (rec.len() - off) as u64));
    }
    f(&route, &RouteAttrs { vtep, communities, pmsi, originator_id: None });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::evpn::vectors;

    fn record(route_type: u8, nlri: &[u8], nh: [u8; 4], ext: &[u8], pmsi: &[u8]) -> Vec<u8> {
        let mut r = vec![route_type, nlri.len() as u8];
        r.extend_from_slice(nlri);
        r.push(4);
        r.extend_from_slice(&nh);
        r.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        r.extend_from_slice(ext);
        r.push(pmsi.len() as u8);
        r.extend_from_slice(pmsi);
        let mut out = (r.len() as u16).to_be_bytes().to_vec();
        out.extend(r);
        out
    }

    const VXLAN_RT90: [u8; 16] = [3, 0x0c, 0, 0, 0, 0, 0, 8, 0, 2, 0xfc, 0, 0, 0, 0, 90];

    #[test]
    fn loads_routes_held_by_the_snapshot_until_a_session_withdraws() {
        let mut cp = ControlPlane::new();
        let mut j = Journal::new();
        let buf = record(2, &vectors::MAC_IP_V4, [10, 0, 0, 1], &VXLAN_RT90, &[]);
        assert_eq!(load(&buf, &mut cp, &mut j).ok(), Some(1));
        assert!(cp.routes[0].active && cp.routes[0].from_snapshot);
        assert_eq!(cp.routes[0].vni, 16);
        let r = cp.routes[0].nlri;
        assert!(cp.withdraw(&r, Origin { holder: 5, pkt: 9, ns: 0 }, &mut j));
        assert!(!cp.routes[0].active);
        assert_eq!(cp.withdrawals.len(), 1);
        assert!(cp.withdrawals[0].matched);
    }

    #[test]
    fn a_session_advertising_a_snapshot_route_takes_it_over() {
        let mut cp = ControlPlane::new();
        let mut j = Journal::new();
        let buf = record(2, &vectors::MAC_IP_V4, [10, 0, 0, 1], &VXLAN_RT90, &[]);
        load(&buf, &mut cp, &mut j).ok();
        let r = cp.routes[0].nlri;
        let a = RouteAttrs { vtep: crate::util::bytes::v4_mapped([10, 0, 0, 1]), communities: crate::bgp::ext_community::summarise(&VXLAN_RT90).0, pmsi: None, originator_id: None };
        cp.advertise(&r, &a, true, Origin { holder: 2, pkt: 3, ns: 0 }, &mut j);
        cp.drop_holder(2, 4, 0, &mut j);
        assert!(!cp.routes[0].active);
    }

    #[test]
    fn malformed_records_load_nothing_and_say_why() {
        let good = record(2, &vectors::MAC_IP_V4, [10, 0, 0, 1], &VXLAN_RT90, &[]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..good.len() - 1].to_vec(), "length runs past the buffer"),
            (record(9, &vectors::MAC_IP_V4, [10, 0, 0, 1], &VXLAN_RT90, &[]), "route type is not 1-5"),
            (record(2, &vectors::MAC_IP_V4, [10, 0, 0, 1], &VXLAN_RT90[..5], &[]), "length is not a multiple of 8"),
            (record(3, &[1, 2, 3], [10, 0, 0, 1], &[], &[]), ""),
        ];
        for (buf, why) in cases {
            let mut both = good.clone();
            both.extend(buf);
            let mut cp = ControlPlane::new();
            let mut j = Journal::new();
            let (index, e) = load(&both, &mut cp, &mut j).err().expect("malformed");
            assert_eq!(index, 1);
            assert!(e.why.contains(why), "{}", e.why);
            assert!(cp.routes.is_empty());
        }
    }
}
