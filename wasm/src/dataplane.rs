//! VXLAN flows and the check of every frame against the control plane at capture time.
//!
//! A flow is (outer src VTEP, outer dst VTEP, VNI, inner src MAC, inner dst MAC). Its verdict
//! is recomputed only when something it depends on changed since the flow's last frame (the
//! versions of its two MACs, of the receiver's segment, of the knowledge state), so the
//! per-frame cost is one hash lookup plus counter updates even while other routes churn.

use crate::control_plane::{ControlPlane, Route};
use crate::journal::{Journal, Kind, Subject, ERROR, INFO, WARNING};
use crate::late_source::LateSources;
use crate::replication::Replication;
use crate::util::bounded::try_push;
use crate::util::index_map::{IndexMap, Key};
use crate::wire::vxlan::{self, InnerLight, InnerSummary};

pub const MAX_FLOWS: usize = 1 << 18;
/// Findings remembered per flow verdict.
const VERDICT_SLOTS: usize = 3;

/// Flow identity, as six words so lookups compare and hash words, not bytes.
#[derive(Clone, Copy, Eq)]
pub struct FlowKey(pub [u64; 6]);

impl PartialEq for FlowKey {
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        // Word compares without a memcmp call: this runs once per frame.
        let (a, b) = (&self.0, &o.0);
        ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) | (a[5] ^ b[5])) == 0
    }
}

impl Key for FlowKey {
    #[inline]
    fn hash64(&self) -> u64 {
        // Two independent multiplies instead of a chain of seven (the slot load waits for
        // the hash); the fold puts the products' well-mixed high halves into the low bits the
        // table uses. Only slot positions depend on it: flow ids stay in first-seen order.
        let k = &self.0;
        let x = k[1] ^ k[2].rotate_left(23) ^ k[4];
        let y = k[3] ^ k[0].rotate_left(41) ^ k[5];
        let h = (x ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0x517c_c1b7_2722_0a95) ^ (y ^ 0xc2b2_ae3d_27d4_eb4f).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 29) ^ (h >> 47)
    }
}

/// Builds a flow key.
#[inline]
pub fn flow_key(src_vtep: &[u8; 16], dst_vtep: &[u8; 16], vni: u32, src_mac: &[u8; 6], dst_mac: &[u8; 6]) -> FlowKey {
    let w = |b: &[u8; 16], i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(if i == 0 { &b[..8] } else { &b[8..] });
        u64::from_le_bytes(x)
    };
    let m = |m: &[u8; 6]| u64::from_le_bytes([m[0], m[1], m[2], m[3], m[4], m[5], 0, 0]);
    FlowKey([w(src_vtep, 0), w(src_vtep, 1), w(dst_vtep, 0), w(dst_vtep, 1), m(src_mac) | (vni as u64 & 0xffff) << 48, m(dst_mac) | (vni as u64 >> 16) << 48])
}

/// Counters of inner frame kinds.
#[derive(Clone, Copy, Default)]
pub struct InnerCounts {
    pub arp: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub icmp: u64,
    pub other: u64,
    pub nested_vxlan: u64,
}

/// One VXLAN flow.
#[derive(Clone, Copy)]
pub struct Flow {
    pub src_vtep: [u8; 16],
    pub dst_vtep: [u8; 16],
    pub vni: u32,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub packets: u64,
    pub bytes: u64,
    pub first_pkt: u64,
    pub last_pkt: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    pub max_outer_len: u32,
    pub first_inner: InnerSummary,
    pub counts: InnerCounts,
    pub nested_vni: Option<u32>,
    deps: Deps,
    verdict: [u32; VERDICT_SLOTS],
    n_verdict: u8,
    /// The destination MAC is advertised by this (VTEP, VNI), not by the receiver: each frame
    /// waits in `Replication` to tell flooding from a frame sent to the wrong VTEP.
    advertised_elsewhere: Option<([u8; 16], u32)>,
}

/// What a cached verdict was computed from.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Deps {
    checked: bool,
    know: u32,
    src_slot: u32,
    dst_slot: u32,
    seg_slot: u32,
    src_ver: u32,
    dst_ver: u32,
    seg_ver: u32,
    /// Only compared while a slot is missing (the MAC/segment may appear later).
    structure: u32,
}

const NO_SLOT: u32 = u32::MAX;

impl Deps {
    fn current(f: &Flow, cp: &ControlPlane, know: &Knowledge) -> Deps {
        let src_slot = cp.mac_slot(&f.src_mac).unwrap_or(NO_SLOT);
        let dst_slot = if f.dst_mac[0] & 1 != 0 { NO_SLOT - 1 } else { cp.mac_slot(&f.dst_mac).unwrap_or(NO_SLOT) };
        let seg_slot = cp.segment_slot(&f.dst_vtep, f.vni).unwrap_or(NO_SLOT);
        Deps {
            checked: true,
            know: know.version,
            src_slot,
            dst_slot,
            seg_slot,
            src_ver: cp.mac_version(src_slot),
            dst_ver: cp.mac_version(dst_slot),
            seg_ver: cp.segment_version(seg_slot),
            structure: cp.structure,
        }
    }

    #[inline]
    fn still_valid(&self, cp: &ControlPlane, know: &Knowledge) -> bool {
        self.checked
            && self.know == know.version
            && cp.mac_version(self.src_slot) == self.src_ver
            && cp.mac_version(self.dst_slot) == self.dst_ver
            && cp.segment_version(self.seg_slot) == self.seg_ver
            && (self.structure == cp.structure || (self.src_slot != NO_SLOT && self.dst_slot != NO_SLOT && self.seg_slot != NO_SLOT))
    }
}

const NO_DEPS: Deps = Deps { checked: false, know: 0, src_slot: NO_SLOT, dst_slot: NO_SLOT, seg_slot: NO_SLOT, src_ver: 0, dst_ver: 0, seg_ver: 0, structure: 0 };

/// One failed check before it is turned into a finding.
#[derive(Clone, Copy)]
struct Failure {
    kind: Kind,
    severity: u8,
    other_vtep: Option<[u8; 16]>,
    detail: u32,
}

/// Whether the control-plane view can judge frames right now.
#[derive(Clone, Copy)]
pub struct Knowledge {
    /// At least one BGP session has been seen.
    pub any_session: bool,
    /// Live sessions whose routes may be incomplete (mid-stream start, lost bytes).
    pub partial_live: u32,
    /// Bumped whenever either field above changes.
    pub version: u32,
}

/// The flow table.
pub struct Flows {
    keys: IndexMap<FlowKey>,
    pub flows: Vec<Flow>,
    pub dropped_packets: u64,
    pub replication: Replication,
    pub late: LateSources,
}

impl Flows {
    /// Empty table.
    pub fn new() -> Self {
        Flows { keys: IndexMap::new(MAX_FLOWS), flows: Vec::new(), dropped_packets: 0, replication: Replication::new(), late: LateSources::new() }
    }

    /// Id of the flow with `key`, if seen.
    pub fn find(&self, key: &FlowKey) -> Option<u32> {
        self.keys.find(key)
    }

    /// Accounts one frame and checks it; returns the flow id. `inner` is the inner frame,
    /// summarised in full only for a flow's first frame. The general path's entry.
    #[inline(never)]
    pub fn frame(&mut self, key: FlowKey, light: &InnerLight, inner: &[u8], outer_len: u32, pkt: u64, ns: u64, cp: &ControlPlane, know: &Knowledge, j: &mut Journal) -> Option<u32> {
        self.account(key, light.ethertype, light.protocol, inner, outer_len, pkt, ns, cp, know, j)
    }

    /// `frame` for a plain VXLAN-over-IPv4 frame, from scalars the fast path loaded: the
    /// addresses and MACs as little-endian words (the key is built in locals, never stored).
    #[inline(never)]
    pub fn frame_v4(&mut self, src4: u32, dst4: u32, vni: u32, src_mac: u64, dst_mac: u64, ethertype: u16, protocol: u8, inner: &[u8], outer_len: u32, pkt: u64, ns: u64, cp: &ControlPlane, know: &Knowledge, j: &mut Journal) {
        let mapped = |a: u32| 0xffff_0000 | (a as u64) << 32;
        let key = FlowKey([0, mapped(src4), 0, mapped(dst4), src_mac | (vni as u64 & 0xffff) << 48, dst_mac | (vni as u64 >> 16) << 48]);
        self.account(key, ethertype, protocol, inner, outer_len, pkt, ns, cp, know, j);
    }

    #[inline(always)]
    fn account(&mut self, key: FlowKey, ethertype: u16, protocol: u8, inner: &[u8], outer_len: u32, pkt: u64, ns: u64, cp: &ControlPlane, know: &Knowledge, j: &mut Journal) -> Option<u32> {
        let (id, new) = match self.keys.find_or_insert(key) {
            Some(x) => x,
            None => {
                self.dropped_packets += 1;
                return None;
            }
        };
        if new && !self.push_new(&key, inner, pkt, ns) {
            self.dropped_packets += 1;
            return None;
        }
        let f = self.flows.get_mut(id as usize)?;
        f.packets += 1;
        f.bytes += outer_len as u64;
        f.last_pkt = pkt;
        f.last_ns = ns;
        if outer_len > f.max_outer_len {
            f.max_outer_len = outer_len;
        }
        match (ethertype, protocol) {
            (0x0806, _) => f.counts.arp += 1,
            (0x0800, p) => {
                f.counts.ipv4 += 1;
                f.counts.icmp += (p == 1) as u64;
            }
            (0x86dd, p) => {
                f.counts.ipv6 += 1;
                f.counts.icmp += (p == 58) as u64;
            }
            _ => f.counts.other += 1,
        }
        if !f.deps.still_valid(cp, know) {
            recheck(f, pkt, ns, cp, know, &mut self.late, j);
        }
        for &fid in f.verdict.iter().take(f.n_verdict as usize) {
            j.hit(fid, pkt, ns);
        }
        if let Some(adv) = f.advertised_elsewhere {
            self.replication.hold(id, adv, inner, pkt, ns, &self.keys, &self.flows, j);
        }
        Some(id)
    }

    /// Decides the frames held for replication whose window ended before capture time `now`
    /// (all of them for `u64::MAX`).
    pub fn settle(&mut self, now: u64, j: &mut Journal) {
        self.replication.settle(now, &self.keys, &self.flows, j);
    }

    /// After the control plane changed at capture time `now`: `src_mac_not_advertised`
    /// findings whose source is now advertised become `src_mac_advertised_late` (late_source.rs).
    #[inline(never)]
    pub fn resolve_late(&mut self, now: u64, cp: &ControlPlane, know: &Knowledge, j: &mut Journal) {
        // The source rule alone decides, also while a partial session would make it unverifiable.
        let know = Knowledge { partial_live: 0, ..*know };
        self.late.resolve(now, cp.epoch, j, |s| {
            let f = new_flow(s.src_vtep, s.dst_vtep, s.vni, s.src_mac, s.dst_mac, InnerSummary::default(), 0, now);
            let mut fails = [Failure { kind: Kind::Unverifiable, severity: INFO, other_vtep: None, detail: 0 }; VERDICT_SLOTS];
            let n = check(&f, cp, know, &mut fails);
            !fails.iter().take(n).any(|x| matches!(x.kind, Kind::SrcMacNotAdvertised | Kind::SrcMacWithdrawn | Kind::SrcMacAtOtherVtep | Kind::SrcMacOtherDomain))
        });
    }
}

impl Flows {
    /// Appends a flow for a frame whose key was just inserted; false when the table is full.
    /// Out of line, like `recheck`: `frame` runs for every VXLAN frame, and V8 compiles a
    /// small function with its optimising tier sooner (and spends less time on it) than one
    /// carrying the rare paths too.
    #[inline(never)]
    fn push_new(&mut self, key: &FlowKey, inner: &[u8], pkt: u64, ns: u64) -> bool {
        let (src_vtep, dst_vtep, vni, src_mac, dst_mac) = key_parts(key);
        let first_inner = vxlan::inner_summary(inner).unwrap_or_default();
        let f = new_flow(src_vtep, dst_vtep, vni, src_mac, dst_mac, first_inner, pkt, ns);
        try_push(&mut self.flows, f, MAX_FLOWS)
    }
}

/// A flow before its first frame is counted.
fn new_flow(src_vtep: [u8; 16], dst_vtep: [u8; 16], vni: u32, src_mac: [u8; 6], dst_mac: [u8; 6], first_inner: InnerSummary, pkt: u64, ns: u64) -> Flow {
    Flow {
        src_vtep,
        dst_vtep,
        vni,
        src_mac,
        dst_mac,
        packets: 0,
        bytes: 0,
        first_pkt: pkt,
        last_pkt: pkt,
        first_ns: ns,
        last_ns: ns,
        max_outer_len: 0,
        first_inner,
        counts: InnerCounts::default(),
        nested_vni: None,
        deps: NO_DEPS,
        verdict: [0; VERDICT_SLOTS],
        n_verdict: 0,
        advertised_elsewhere: None,
    }
}

/// The parts of a flow key: source VTEP, destination VTEP, VNI, source MAC, destination MAC.
pub fn key_parts(key: &FlowKey) -> ([u8; 16], [u8; 16], u32, [u8; 6], [u8; 6]) {
    let k = &key.0;
    let vtep = |a: u64, b: u64| {
        let (a, b) = (a.to_le_bytes(), b.to_le_bytes());
        [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]
    };
    let mac = |w: u64| {
        let b = w.to_le_bytes();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    };
    let vni = ((k[4] >> 48) | (k[5] >> 48) << 16) as u32;
    (vtep(k[0], k[1]), vtep(k[2], k[3]), vni, mac(k[4]), mac(k[5]))
}

/// Recomputes a flow's verdict after something it depends on changed (out of line: rare).
#[inline(never)]
fn recheck(f: &mut Flow, pkt: u64, ns: u64, cp: &ControlPlane, know: &Knowledge, late: &mut LateSources, j: &mut Journal) {
    f.deps = Deps::current(f, cp, know);
    f.n_verdict = 0;
    f.advertised_elsewhere = None;
    let mut fails = [Failure { kind: Kind::Unverifiable, severity: INFO, other_vtep: None, detail: 0 }; VERDICT_SLOTS];
    let n = check(f, cp, *know, &mut fails);
    let subject = Subject { vni: f.vni, src_vtep: f.src_vtep, dst_vtep: f.dst_vtep, src_mac: f.src_mac, dst_mac: f.dst_mac, has_vni: true, has_vteps: true, has_macs: true, aux: 0 };
    for fail in fails.iter().take(n) {
        if fail.kind == Kind::DstMacAtOtherVtep {
            // Decided per frame once its replication window has passed (replication.rs).
            f.advertised_elsewhere = fail.other_vtep.map(|v| (v, fail.detail));
            continue;
        }
        let mut s = subject;
        if fail.kind == Kind::Unverifiable {
            s.aux = fail.detail;
        }
        if let Some(fid) = j.finding_id(fail.kind, fail.severity, &s, pkt, ns) {
            if let Some(rec) = j.findings.get_mut(fid as usize) {
                rec.other_vtep = fail.other_vtep.or(rec.other_vtep);
                rec.detail[0] = fail.detail;
                if rec.count == 0 && rec.kind == Kind::SrcMacNotAdvertised && rec.severity == ERROR {
                    // A new host's MAC may be advertised just after its first frames.
                    late.remember(fid, ns, j);
                }
            }
            if let Some(slot) = f.verdict.get_mut(f.n_verdict as usize) {
                *slot = fid;
                f.n_verdict += 1;
            }
        }
    }
}

/// Evaluates every rule for a flow's frame; returns the number of failures written.
fn check(f: &Flow, cp: &ControlPlane, know: Knowledge, out: &mut [Failure; VERDICT_SLOTS]) -> usize {
    if !know.any_session {
        out[0] = Failure { kind: Kind::Unverifiable, severity: INFO, other_vtep: None, detail: 0 };
        return 1;
    }
    let mut n = 0usize;
    let mut push = |fail: Failure| {
        if let Some(slot) = out.get_mut(n) {
            *slot = fail;
            n += 1;
        }
    };
    let bum = f.dst_mac[0] & 1 != 0;
    let seg = cp.segment(&f.dst_vtep, f.vni).copied();
    // The receiver's broadcast domain: route targets of its routes using this VNI.
    let mut domain = [0u64; 8];
    let mut n_domain = seg.map_or(0, |s| s.route_targets(&mut domain));
    let imet = seg.map_or(0, |s| s.imet_active);

    if bum {
        if imet == 0 {
            push(Failure { kind: Kind::BumWithoutImet, severity: ERROR, other_vtep: None, detail: seg.map_or(0, |s| s.imet_ever as u32) });
        }
    } else {
        let at_dst = cp.routes_at(&f.dst_vtep, &f.dst_mac);
        let mut active_other_vni = None;
        let mut ok = false;
        let mut any = false;
        for &id in at_dst {
            if let Some(r) = cp.route(id) {
                any = true;
                if r.active && r.vni == f.vni {
                    ok = true;
                    for &rt in r.attrs.communities.route_targets() {
                        let known = domain.get(..n_domain).map_or(true, |d| d.contains(&rt));
                        if !known {
                            if let Some(slot) = domain.get_mut(n_domain) {
                                *slot = rt;
                                n_domain += 1;
                            }
                        }
                    }
                } else if r.active {
                    active_other_vni = Some(r.vni);
                }
            }
        }
        if !ok {
            if let Some(v) = active_other_vni {
                push(Failure { kind: Kind::DstVniMismatch, severity: ERROR, other_vtep: None, detail: v });
            } else if let Some(other) = active_elsewhere(cp, &f.dst_mac, &f.dst_vtep) {
                push(Failure { kind: Kind::DstMacAtOtherVtep, severity: ERROR, other_vtep: Some(other.vtep()), detail: other.vni });
            } else if any {
                push(Failure { kind: Kind::DstMacWithdrawn, severity: ERROR, other_vtep: None, detail: 0 });
            } else if imet > 0 {
                push(Failure { kind: Kind::UnknownUnicastFlooded, severity: WARNING, other_vtep: None, detail: 0 });
            } else {
                push(Failure { kind: Kind::DstMacNotAdvertised, severity: ERROR, other_vtep: None, detail: 0 });
            }
        }
    }

    let domain = domain.get(..n_domain).unwrap_or(&[]);
    let at_src = cp.routes_at(&f.src_vtep, &f.src_mac);
    let mut src_ok = false;
    let mut src_active = false;
    let mut src_any = false;
    for &id in at_src {
        if let Some(r) = cp.route(id) {
            src_any = true;
            if r.active {
                src_active = true;
                let rts = r.attrs.communities.route_targets();
                let in_domain = if rts.is_empty() || domain.is_empty() { r.vni == f.vni } else { rts.iter().any(|x| domain.contains(x)) };
                if in_domain {
                    src_ok = true;
                }
            }
        }
    }
    if !src_ok {
        if src_active {
            push(Failure { kind: Kind::SrcMacOtherDomain, severity: ERROR, other_vtep: None, detail: 0 });
        } else if let Some(other) = active_elsewhere(cp, &f.src_mac, &f.src_vtep) {
            push(Failure { kind: Kind::SrcMacAtOtherVtep, severity: ERROR, other_vtep: Some(other.vtep()), detail: other.vni });
        } else if src_any {
            push(Failure { kind: Kind::SrcMacWithdrawn, severity: ERROR, other_vtep: None, detail: 0 });
        } else {
            // Hosts' own multicast (MLD, router solicitations) is flooded from MACs nobody
            // advertises: worth a warning. Unicast from such a MAC breaks the return path.
            let severity = if bum { WARNING } else { ERROR };
            push(Failure { kind: Kind::SrcMacNotAdvertised, severity, other_vtep: None, detail: 0 });
        }
    }

    if know.partial_live > 0 {
        // Routes advertised before the capture (or in lost bytes) may explain the failure.
        for fail in out.iter_mut().take(n) {
            if fail.severity != INFO {
                *fail = Failure { kind: Kind::Unverifiable, severity: INFO, other_vtep: None, detail: fail.kind as u32 };
            }
        }
    }
    n
}

fn active_elsewhere<'a>(cp: &'a ControlPlane, mac: &[u8; 6], not_vtep: &[u8; 16]) -> Option<&'a Route> {
    cp.routes_for_mac(mac).iter().filter_map(|&id| cp.route(id)).find(|r| r.active && r.vtep() != *not_vtep)
}
