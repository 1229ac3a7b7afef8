//! Head-end replication of unknown unicast, told apart from a frame sent to the wrong VTEP.
//!
//! A Linux VXLAN device without `proxy`, with `nolearning` and no fdb entry for a destination
//! MAC sends the frame to every VTEP of its flood list (the all-zeros entries): one copy each,
//! cloned from one skb in one transmit call, so the copies leave back to back (microseconds
//! apart even on a loaded host). That is normal for a moment at first contact (the route is
//! being installed) but every copy that reaches a VTEP other than the one advertising the MAC
//! looks like `dst_mac_at_other_vtep`. So a frame for a MAC advertised elsewhere is held here
//! for `WINDOW_NS`: the same inner frame (same sender VTEP, VNI, MACs and inner bytes) that
//! reached at least two VTEPs within the window, counting a frame to the advertised VTEP of
//! that flow within the window, is one flooded frame (`dst_mac_flooded`, a warning); a copy
//! that was alone stays `dst_mac_at_other_vtep`.
//!
//! Memory is bounded: at most `MAX_PENDING` frames wait, each for at most the window of
//! capture time; when more arrive within one window, the older half is decided early.

use crate::dataplane::{flow_key, key_parts, Flow, FlowKey};
use crate::journal::{Journal, Kind, Subject, ERROR, WARNING};
use crate::util::bounded::try_push;
use crate::util::index_map::{hash_bytes, IndexMap};

/// How far apart copies of one replicated frame may be. The kernel sends them in one loop;
/// 1 ms is far above that spread (tens of microseconds on a loaded 2-core host) and far
/// below the interval of repeated traffic such as pings (1 s), whose frames differ anyway.
pub const WINDOW_NS: u64 = 1_000_000;
/// Frames held at once (a burst of misdirected frames within one window).
pub const MAX_PENDING: usize = 4096;
/// Copies remembered per replicated frame; further copies are only counted.
const MAX_COPIES: usize = 16;
/// VTEPs listed per flooding finding; further ones are only counted.
pub const MAX_LISTED_VTEPS: usize = 8;
/// Recent held frames compared with a new one (copies arrive back to back).
const SCAN: usize = 64;

#[derive(Clone, Copy, Default)]
struct HeldCopy {
    flow: u32,
    pkt: u64,
    ns: u64,
}

/// One inner frame and the copies of it seen so far.
struct Held {
    /// The flow key without the destination VTEP.
    key: FlowKey,
    hash: u64,
    /// Where the MAC is advertised (VTEP, VNI), from the first copy's verdict.
    advertised: ([u8; 16], u32),
    copies: [HeldCopy; MAX_COPIES],
    n: usize,
    /// Copies past `MAX_COPIES`.
    more: u32,
}

impl Held {
    fn first(&self) -> HeldCopy {
        self.copies.first().copied().unwrap_or_default()
    }
    fn last(&self) -> HeldCopy {
        self.copies.get(self.n.saturating_sub(1)).copied().unwrap_or_default()
    }
}

/// What a `dst_mac_flooded` finding reports beyond the common fields.
#[derive(Clone, Copy)]
pub struct FloodRecord {
    pub vteps: [[u8; 16]; MAX_LISTED_VTEPS],
    pub n_vteps: usize,
    /// Distinct VTEPs reached, including those not listed (at least this many).
    pub vteps_reached: u32,
    /// Frames captured over all flooded frames of the finding (to all VTEPs).
    pub copies: u64,
    /// A flow of the first copy (for the inner IPs).
    pub flow: u32,
}

/// Frames waiting for their replication window, and the records of flooding findings.
pub struct Replication {
    /// In arrival order, oldest first.
    held: Vec<Held>,
    /// Capture time after which the oldest held frame is decided; `u64::MAX` when none.
    pub deadline: u64,
    pub floods: Vec<FloodRecord>,
}

impl Replication {
    /// Nothing held.
    pub fn new() -> Self {
        Replication { held: Vec::new(), deadline: u64::MAX, floods: Vec::new() }
    }

    /// Holds a copy of a frame on flow `flow` whose destination MAC is advertised
    /// by `advertised`; decides the oldest first when `MAX_PENDING` are held. Out of line:
    /// the per-frame path only tests whether a flow's frames are held.
    #[inline(never)]
    pub fn hold(&mut self, flow: u32, advertised: ([u8; 16], u32), inner: &[u8], pkt: u64, ns: u64, keys: &IndexMap<FlowKey>, flows: &[Flow], j: &mut Journal) {
        // The flow's key without its destination VTEP (rebuilt here: the per-frame path keeps
        // its key in registers).
        let gk = match flows.get(flow as usize) {
            Some(f) => flow_key(&f.src_vtep, &[0; 16], f.vni, &f.src_mac, &f.dst_mac),
            None => return,
        };
        let hash = hash_bytes(inner);
        let copy = HeldCopy { flow, pkt, ns };
        let start = self.held.len().saturating_sub(SCAN);
        for h in self.held.iter_mut().skip(start).rev() {
            if h.key == gk && h.hash == hash && ns.abs_diff(h.first().ns) <= WINDOW_NS {
                match h.copies.get_mut(h.n) {
                    Some(slot) => {
                        *slot = copy;
                        h.n += 1;
                    }
                    None => h.more += 1,
                }
                return;
            }
        }
        if self.held.len() >= MAX_PENDING {
            // Decide the older half early (one move of the rest, not one per frame).
            self.decide_first(MAX_PENDING / 2, keys, flows, j);
        }
        let mut copies = [HeldCopy::default(); MAX_COPIES];
        copies[0] = copy;
        if !try_push(&mut self.held, Held { key: gk, hash, advertised, copies, n: 1, more: 0 }, MAX_PENDING) {
            // No memory for it: decided at once, as if alone.
            misdirected(&copy, flows, advertised, j);
        }
        self.update_deadline();
    }

    /// Decides every held frame whose window ended before capture time `now` (all for
    /// `u64::MAX`: the end of the capture).
    #[inline(never)]
    pub fn settle(&mut self, now: u64, keys: &IndexMap<FlowKey>, flows: &[Flow], j: &mut Journal) {
        let due = if now == u64::MAX { self.held.len() } else { self.held.iter().take_while(|h| h.first().ns.saturating_add(WINDOW_NS) < now).count() };
        self.decide_first(due, keys, flows, j);
    }

    /// Decides the `n` oldest held frames.
    fn decide_first(&mut self, n: usize, keys: &IndexMap<FlowKey>, flows: &[Flow], j: &mut Journal) {
        let held = core::mem::take(&mut self.held);
        for h in held.iter().take(n) {
            self.decide(h, keys, flows, j);
        }
        self.held = held;
        let mut seen = 0;
        self.held.retain(|_| {
            seen += 1;
            seen > n
        });
        self.update_deadline();
    }

    fn update_deadline(&mut self) {
        self.deadline = self.held.first().map_or(u64::MAX, |h| h.first().ns.saturating_add(WINDOW_NS));
    }

    /// One held frame: flooded when it reached two VTEPs or more, else each copy is an error.
    fn decide(&mut self, h: &Held, keys: &IndexMap<FlowKey>, flows: &[Flow], j: &mut Journal) {
        let (src_vtep, _, vni, src_mac, dst_mac) = key_parts(&h.key);
        let (adv_vtep, adv_vni) = h.advertised;
        let mut vteps = [[0u8; 16]; MAX_COPIES + 1];
        let mut n = 0usize;
        let mut add = |v: [u8; 16], n: &mut usize| {
            if !vteps.get(..*n).map_or(false, |s| s.contains(&v)) {
                if let Some(slot) = vteps.get_mut(*n) {
                    *slot = v;
                    *n += 1;
                }
            }
        };
        for c in h.copies.iter().take(h.n) {
            if let Some(f) = flows.get(c.flow as usize) {
                add(f.dst_vtep, &mut n);
            }
        }
        // The copy to the advertised VTEP is a healthy flow: matched by time (its bytes are
        // not hashed on the per-frame path).
        let (first, last) = (h.first(), h.last());
        let right = keys.find(&flow_key(&src_vtep, &adv_vtep, vni, &src_mac, &dst_mac)).and_then(|id| flows.get(id as usize));
        let reached_advertised = right.map_or(false, |r| r.last_ns.saturating_add(WINDOW_NS) >= first.ns && r.last_ns <= last.ns.saturating_add(WINDOW_NS));
        if reached_advertised {
            add(adv_vtep, &mut n);
        }
        if n < 2 && h.more == 0 {
            for c in h.copies.iter().take(h.n) {
                misdirected(c, flows, h.advertised, j);
            }
            return;
        }
        let s = Subject { vni, src_vtep, dst_vtep: [0; 16], src_mac, dst_mac, aux: reached_advertised as u32, has_vni: true, has_vteps: true, has_macs: true };
        let fid = match j.finding_id(Kind::DstMacFlooded, WARNING, &s, first.pkt, first.ns) {
            Some(id) => id,
            None => return,
        };
        let copies = h.n as u64 + h.more as u64 + reached_advertised as u64;
        if let Some(rec) = j.findings.get_mut(fid as usize) {
            if rec.count == 0 {
                let record = FloodRecord { vteps: [[0; 16]; MAX_LISTED_VTEPS], n_vteps: 0, vteps_reached: 0, copies: 0, flow: first.flow };
                rec.other_vtep = Some(adv_vtep);
                rec.detail = [adv_vni, if try_push(&mut self.floods, record, crate::journal::MAX_FINDINGS) { (self.floods.len() - 1) as u32 } else { u32::MAX }];
            }
            if let Some(r) = self.floods.get_mut(rec.detail[1] as usize) {
                for v in vteps.iter().take(n) {
                    if !r.vteps.get(..r.n_vteps).map_or(false, |s| s.contains(v)) {
                        match r.vteps.get_mut(r.n_vteps) {
                            Some(slot) => {
                                *slot = *v;
                                r.n_vteps += 1;
                            }
                            None => r.vteps_reached = r.vteps_reached.max(MAX_LISTED_VTEPS as u32 + 1),
                        }
                    }
                }
                r.vteps_reached = r.vteps_reached.max(r.n_vteps as u32).max(n as u32 + h.more);
                r.copies += copies;
            }
        }
        j.hit(fid, last.pkt, last.ns);
    }
}

/// A copy that was not part of a replication: the frame went to the wrong VTEP.
fn misdirected(c: &HeldCopy, flows: &[Flow], advertised: ([u8; 16], u32), j: &mut Journal) {
    let f = match flows.get(c.flow as usize) {
        Some(f) => f,
        None => return,
    };
    let s = Subject { vni: f.vni, src_vtep: f.src_vtep, dst_vtep: f.dst_vtep, src_mac: f.src_mac, dst_mac: f.dst_mac, aux: 0, has_vni: true, has_vteps: true, has_macs: true };
    if let Some(fid) = j.finding_id(Kind::DstMacAtOtherVtep, ERROR, &s, c.pkt, c.ns) {
        if let Some(rec) = j.findings.get_mut(fid as usize) {
            rec.other_vtep = Some(advertised.0);
            rec.detail[0] = advertised.1;
        }
        j.hit(fid, c.pkt, c.ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_flows::{Run, MAC, MS};
    use crate::util::bytes::v4_mapped;

    // MAC (vectors::MAC_IP_V4, VNI 16) is advertised by A; S sends frames for it.
    const A: [u8; 4] = [192, 168, 33, 21];
    const B: [u8; 4] = [192, 168, 33, 22];
    const C: [u8; 4] = [192, 168, 33, 23];
    const S: [u8; 4] = [192, 168, 33, 24];
    const SRC_MAC: [u8; 6] = [2, 0x27, 0, 0, 0, 9];

    fn advertised_by_a() -> Run {
        let mut r = Run::new();
        r.advertise(A, 0);
        r
    }

    /// One copy of inner frame number `frame` to `dst` at `ns`.
    fn send(r: &mut Run, dst: [u8; 4], frame: u8, ns: u64) {
        if ns > r.flows.replication.deadline {
            r.flows.settle(ns, &mut r.j);
        }
        let inner = [MAC[0], MAC[1], MAC[2], MAC[3], MAC[4], MAC[5], 2, 0x27, 0, 0, 0, 9, 0x08, 0x00, 0x45, frame];
        r.frame((S, dst), (SRC_MAC, MAC), &inner, ns);
    }

    /// (kind, dst VTEP's last byte or 0, count, detail) of the findings about the MAC.
    fn end(r: &mut Run) -> Vec<(&'static str, u8, u64, [u32; 2])> {
        r.flows.settle(u64::MAX, &mut r.j);
        let kinds = [Kind::DstMacFlooded, Kind::DstMacAtOtherVtep];
        r.j.findings.iter().filter(|f| kinds.contains(&f.kind)).map(|f| (f.kind.name(), f.subject.dst_vtep[15], f.count, f.detail)).collect()
    }

    #[test]
    fn a_frame_flooded_to_three_vteps_with_the_right_one_is_one_warning() {
        let mut r = advertised_by_a();
        for k in 0..3u8 {
            // Ping k: one copy per VTEP of the flood list, 10 µs apart.
            let t = k as u64 * 1000 * MS;
            send(&mut r, B, k, t);
            send(&mut r, A, k, t + 10_000);
            send(&mut r, C, k, t + 20_000);
        }
        let got = end(&mut r);
        assert_eq!(got.len(), 1, "one warning, no error");
        assert_eq!((got[0].0, got[0].1, got[0].2, got[0].3[0]), ("dst_mac_flooded", 0, 3, 16));
        let f = r.j.findings.iter().find(|f| f.kind == Kind::DstMacFlooded).unwrap();
        assert_eq!((f.severity, f.subject.aux, f.other_vtep), (WARNING, 1, Some(v4_mapped(A))));
        let rec = r.flows.replication.floods[f.detail[1] as usize];
        assert_eq!((rec.n_vteps, rec.vteps_reached, rec.copies), (3, 3, 9));
        assert_eq!(&rec.vteps[..3], &[v4_mapped(B), v4_mapped(C), v4_mapped(A)], "copies to wrong VTEPs, then the advertised one");
    }

    #[test]
    fn a_flood_that_missed_the_advertising_vtep_is_a_warning_saying_so() {
        let mut r = advertised_by_a();
        send(&mut r, B, 1, 0);
        send(&mut r, C, 1, 10_000);
        let got = end(&mut r);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0, got[0].2), ("dst_mac_flooded", 1));
        let f = r.j.findings.iter().find(|f| f.kind == Kind::DstMacFlooded).unwrap();
        assert_eq!(f.subject.aux, 0, "advertised VTEP not reached");
    }

    #[test]
    fn a_single_copy_to_a_wrong_vtep_stays_an_error() {
        let mut r = advertised_by_a();
        send(&mut r, B, 1, 0);
        send(&mut r, B, 2, 1000 * MS);
        assert_eq!(end(&mut r), vec![("dst_mac_at_other_vtep", 22, 2, [16, 0])]);
    }

    #[test]
    fn copies_too_far_apart_or_of_different_frames_stay_errors() {
        let mut r = advertised_by_a();
        send(&mut r, B, 1, 0);
        send(&mut r, C, 1, 2 * MS); // past the window
        send(&mut r, B, 2, 10 * MS);
        send(&mut r, C, 3, 10 * MS + 5_000); // another frame (other bytes)
        let got = end(&mut r);
        assert_eq!(got, vec![("dst_mac_at_other_vtep", 22, 2, [16, 0]), ("dst_mac_at_other_vtep", 23, 2, [16, 0])]);
    }

    #[test]
    fn held_frames_stay_bounded() {
        let mut r = advertised_by_a();
        for k in 0..(MAX_PENDING as u64 + 10) {
            send(&mut r, B, k as u8, k); // all within one window, each alone
        }
        assert!(r.flows.replication.held.len() <= MAX_PENDING);
        assert_eq!(end(&mut r), vec![("dst_mac_at_other_vtep", 22, MAX_PENDING as u64 + 10, [16, 0])]);
    }
}
