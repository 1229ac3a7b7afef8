//! The EVPN control-plane view over time: every route ever seen, which sessions hold it,
//! per-VTEP/VNI segments (IMET presence, route targets) and per-MAC indexes used to check
//! data-plane frames. A route is active while at least one BGP session holds it.

use crate::bgp::evpn::{EvpnRoute, RouteKey};
use crate::bgp::ext_community::Communities;
use crate::bgp::message::Pmsi;
use crate::journal::{EventKind, Journal, Kind, Subject, ERROR};
use crate::util::bounded::{try_push, SmallIds};
use crate::util::index_map::{bytes_eq, hash_bytes, IndexMap, Key};

pub const MAX_ROUTES: usize = 1 << 18;
const MAX_SEGMENTS: usize = 1 << 16;
const MAX_MACS: usize = 1 << 18;
/// Withdrawn routes listed in the report (one entry per session direction, route and
/// match); withdrawals of further routes are only counted.
pub const MAX_WITHDRAWALS: usize = 1 << 16;
/// The holder of routes loaded from a control-plane snapshot (`--rib`): the view at the
/// capture's start, before any captured session said anything.
pub const SNAPSHOT_HOLDER: u32 = u32::MAX - 1;
/// Sessions (directions) that can hold one route at once.
pub const MAX_HOLDERS: usize = 8;
/// Distinct route targets tracked per VTEP/VNI segment.
const SEGMENT_RTS: usize = 8;

/// What the route says beyond its NLRI.
#[derive(Clone, Copy)]
pub struct RouteAttrs {
    pub vtep: [u8; 16],
    pub communities: Communities,
    pub pmsi: Option<Pmsi>,
    pub originator_id: Option<[u8; 4]>,
}

/// One EVPN route and its history.
#[derive(Clone, Copy)]
pub struct Route {
    pub nlri: EvpnRoute,
    pub attrs: RouteAttrs,
    /// The VNI the data plane must use towards this VTEP (label per RFC 8365, or MPLS label).
    pub vni: u32,
    pub label_is_vni: bool,
    pub holders: SmallIds<MAX_HOLDERS>,
    pub active: bool,
    pub first_pkt: u64,
    pub first_ns: u64,
    pub last_pkt: u64,
    pub last_ns: u64,
    pub advertisements: u32,
    pub withdrawals: u32,
    /// Loaded from a snapshot (`--rib`) rather than first seen in the capture.
    pub from_snapshot: bool,
}

/// One withdrawn NLRI as the UPDATE named it, with the route it withdrew when that route is
/// known (advertised earlier in the capture or in a snapshot): its VTEP and VNI.
#[derive(Clone, Copy)]
pub struct Withdrawal {
    pub nlri: EvpnRoute,
    pub holder: u32,
    /// The first withdrawal of the entry.
    pub pkt: u64,
    pub ns: u64,
    /// Withdrawals of the same route by the same session direction with the same match,
    /// and the last one (a churning pod's route is withdrawn again and again).
    pub count: u64,
    pub last_pkt: u64,
    pub last_ns: u64,
    /// Id of the route with this NLRI's key, if any was known.
    pub route: Option<u32>,
    /// The withdrawing session held the route (advertised it in the capture, or the snapshot had it).
    pub matched: bool,
}

impl Route {
    /// The VTEP that receives traffic for this route (PMSI endpoint for IMET, else next hop).
    pub fn vtep(&self) -> [u8; 16] {
        match self.attrs.pmsi {
            Some(p) if self.nlri.route_type == 3 && p.has_endpoint => p.endpoint,
            _ => self.attrs.vtep,
        }
    }

    fn mobility_seq(&self) -> (u32, bool) {
        match self.attrs.communities.mobility {
            Some((sticky, seq)) => (seq, sticky),
            None => (0, false),
        }
    }
}

#[derive(Clone, Copy, Eq)]
struct SegKey([u8; 20]);
impl PartialEq for SegKey {
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        crate::util::index_map::bytes_eq(&self.0, &o.0)
    }
}

impl Key for SegKey {
    fn hash64(&self) -> u64 {
        hash_bytes(&self.0)
    }
}
/// A withdrawal entry's identity: the route's key, the session direction and the match.
#[derive(Clone, Copy)]
struct WithdrawalKey([u8; 45]);
impl PartialEq for WithdrawalKey {
    fn eq(&self, o: &Self) -> bool {
        bytes_eq(&self.0, &o.0)
    }
}
impl Eq for WithdrawalKey {}
impl Key for WithdrawalKey {
    fn hash64(&self) -> u64 {
        hash_bytes(&self.0)
    }
}
fn withdrawal_key(nlri: &EvpnRoute, holder: u32, matched: bool) -> WithdrawalKey {
    let mut k = [0u8; 45];
    k[..40].copy_from_slice(&nlri.key().0);
    k[40..44].copy_from_slice(&holder.to_le_bytes());
    k[44] = matched as u8;
    WithdrawalKey(k)
}

fn seg_key(vtep: &[u8; 16], vni: u32) -> SegKey {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(vtep);
    k[16..].copy_from_slice(&vni.to_le_bytes());
    SegKey(k)
}

#[derive(Clone, Copy, Eq)]
struct VtepMacKey([u8; 22]);
impl PartialEq for VtepMacKey {
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        crate::util::index_map::bytes_eq(&self.0, &o.0)
    }
}

impl Key for VtepMacKey {
    fn hash64(&self) -> u64 {
        hash_bytes(&self.0)
    }
}
fn vtep_mac_key(vtep: &[u8; 16], mac: &[u8; 6]) -> VtepMacKey {
    let mut k = [0u8; 22];
    k[..16].copy_from_slice(vtep);
    k[16..].copy_from_slice(mac);
    VtepMacKey(k)
}

#[derive(Clone, Copy, Eq)]
struct MacKey([u8; 6]);
impl PartialEq for MacKey {
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        crate::util::index_map::bytes_eq(&self.0, &o.0)
    }
}

impl Key for MacKey {
    fn hash64(&self) -> u64 {
        hash_bytes(&self.0)
    }
}

/// A VTEP's view of one VNI: IMET routes and the route targets its routes carry.
#[derive(Clone, Copy)]
pub struct Segment {
    pub vtep: [u8; 16],
    pub vni: u32,
    pub imet_active: u32,
    pub mac_active: u32,
    pub imet_ever: bool,
    rts: [(u64, u32); SEGMENT_RTS],
}

impl Segment {
    /// Route targets currently carried by active routes of this segment.
    pub fn route_targets(&self, out: &mut [u64; SEGMENT_RTS]) -> usize {
        let mut n = 0;
        for &(rt, c) in self.rts.iter() {
            if c > 0 {
                if let Some(s) = out.get_mut(n) {
                    *s = rt;
                    n += 1;
                }
            }
        }
        n
    }

    /// Adjusts route-target reference counts; true when the set of targets changed.
    fn add_rts(&mut self, rts: &[u64], delta: i32) -> bool {
        let mut changed = false;
        for &rt in rts {
            if let Some(e) = self.rts.iter_mut().find(|e| e.0 == rt && e.1 > 0) {
                e.1 = if delta > 0 { e.1.saturating_add(1) } else { e.1.saturating_sub(1) };
                changed |= e.1 == 0;
            } else if delta > 0 {
                if let Some(e) = self.rts.iter_mut().find(|e| e.1 == 0) {
                    *e = (rt, 1);
                    changed = true;
                }
            }
        }
        changed
    }
}

/// Route holder id of one direction of one session.
pub fn holder_id(session: u32, dir: usize) -> u32 {
    session.wrapping_mul(2).wrapping_add(dir as u32)
}

/// Where an advertisement or withdrawal came from and when.
#[derive(Clone, Copy)]
pub struct Origin {
    pub holder: u32,
    pub pkt: u64,
    pub ns: u64,
}

/// The whole control-plane state.
pub struct ControlPlane {
    keys: IndexMap<RouteKey>,
    pub routes: Vec<Route>,
    seg_keys: IndexMap<SegKey>,
    pub segments: Vec<Segment>,
    at_keys: IndexMap<VtepMacKey>,
    at: Vec<SmallIds<8>>,
    any_keys: IndexMap<MacKey>,
    any: Vec<SmallIds<16>>,
    /// Bumped on every route activation change (statistics; verdicts use the versions below).
    pub epoch: u64,
    /// Per-MAC version (parallel to the MAC index): bumped when a type-2 route of the MAC
    /// changes, so flows re-check only when their own MACs or segment changed.
    mac_ver: Vec<u32>,
    /// Per-segment version (parallel to `segments`).
    seg_ver: Vec<u32>,
    /// Bumped when a MAC or segment is indexed for the first time.
    pub structure: u32,
    pub unknown_route_types: [u64; 256],
    pub routes_dropped: u64,
    pub index_overflow: u64,
    pub withdrawals_unmatched: u64,
    /// The explicit withdrawals (MP_UNREACH_NLRI), one entry per withdrawn route, session
    /// direction and match, in order of their first withdrawal, up to `MAX_WITHDRAWALS`
    /// entries: one per withdrawal made a 1M-packet capture's JSON report 9.6 MB, 9.1 of
    /// them 23,579 withdrawals of a few hundred routes.
    pub withdrawals: Vec<Withdrawal>,
    /// The entries' keys (ids are indexes into `withdrawals`, also past `withdrawals_listed`).
    withdrawal_keys: IndexMap<WithdrawalKey>,
    /// Withdrawals of routes past `MAX_WITHDRAWALS` entries.
    pub withdrawals_dropped: u64,
    /// How many entries `withdrawals` keeps (the decoder lowers it for a brief report, which
    /// the text report shows no more of).
    pub withdrawals_listed: usize,
    /// Withdrawals of entries past `withdrawals_listed` (and under `MAX_WITHDRAWALS`): only
    /// counted.
    pub withdrawals_unlisted: u64,
    /// Routes were loaded from a snapshot: a session's advertisement or withdrawal of one of
    /// them takes it over from the snapshot.
    pub seeded: bool,
    /// Per holder (session direction): ids of routes it advertised, possibly stale, so a
    /// session that ends releases its routes without scanning the whole table.
    held: Vec<Vec<u32>>,
}

/// Holder ids tracked (two directions per session).
const MAX_HOLDER_IDS: usize = 2 * crate::session::MAX_SESSIONS;

impl ControlPlane {
    /// Empty state.
    pub fn new() -> Self {
        ControlPlane {
            keys: IndexMap::new(MAX_ROUTES),
            routes: Vec::new(),
            seg_keys: IndexMap::new(MAX_SEGMENTS),
            segments: Vec::new(),
            at_keys: IndexMap::new(MAX_MACS),
            at: Vec::new(),
            any_keys: IndexMap::new(MAX_MACS),
            any: Vec::new(),
            epoch: 1,
            mac_ver: Vec::new(),
            seg_ver: Vec::new(),
            structure: 0,
            unknown_route_types: [0; 256],
            routes_dropped: 0,
            index_overflow: 0,
            withdrawals_unmatched: 0,
            withdrawals: Vec::new(),
            withdrawal_keys: IndexMap::new(MAX_WITHDRAWALS),
            withdrawals_dropped: 0,
            withdrawals_listed: MAX_WITHDRAWALS,
            withdrawals_unlisted: 0,
            seeded: false,
            held: Vec::new(),
        }
    }

    /// Makes room for `n` more routes and their MACs before a snapshot loads them: its
    /// 100,000 routes otherwise grow each table many times over (reallocation and rehashing).
    pub fn reserve_routes(&mut self, n: usize) {
        self.keys.reserve(n);
        let _ = self.routes.try_reserve(n.min(MAX_ROUTES.saturating_sub(self.routes.len())));
        self.at_keys.reserve(n);
        self.any_keys.reserve(n);
        let macs = |v: usize| n.min(MAX_MACS.saturating_sub(v));
        let _ = self.at.try_reserve(macs(self.at.len()));
        let _ = self.any.try_reserve(macs(self.any.len()));
        let _ = self.mac_ver.try_reserve(macs(self.mac_ver.len()));
    }

    /// Remembers that `holder` holds route `id` (stale entries are skipped when used).
    fn note_held(&mut self, holder: u32, id: u32) {
        let h = holder as usize;
        if h >= MAX_HOLDER_IDS {
            return;
        }
        while self.held.len() <= h {
            if !try_push(&mut self.held, Vec::new(), MAX_HOLDER_IDS) {
                return;
            }
        }
        let routes = &self.routes;
        if let Some(list) = self.held.get_mut(h) {
            // Re-advertising after withdrawals leaves stale ids: compact when they dominate.
            if list.len() >= 64 && list.len() > 2 * routes.len() {
                list.retain(|&r| routes.get(r as usize).map_or(false, |x| x.holders.as_slice().contains(&holder)));
                list.dedup();
            }
            try_push(list, id, 2 * MAX_ROUTES);
        }
    }

    /// The segment (vtep, vni), if any route ever created it.
    #[inline]
    pub fn segment(&self, vtep: &[u8; 16], vni: u32) -> Option<&Segment> {
        self.seg_keys.find(&seg_key(vtep, vni)).and_then(|i| self.segments.get(i as usize))
    }

    /// Index slot of `mac` (any VTEP), if it was ever advertised.
    #[inline]
    pub fn mac_slot(&self, mac: &[u8; 6]) -> Option<u32> {
        self.any_keys.find(&MacKey(*mac))
    }

    /// Index slot of segment (vtep, vni), if any route created it.
    #[inline]
    pub fn segment_slot(&self, vtep: &[u8; 16], vni: u32) -> Option<u32> {
        self.seg_keys.find(&seg_key(vtep, vni))
    }

    /// Version of a MAC slot.
    #[inline]
    pub fn mac_version(&self, slot: u32) -> u32 {
        self.mac_ver.get(slot as usize).copied().unwrap_or(0)
    }

    /// Version of a segment slot.
    #[inline]
    pub fn segment_version(&self, slot: u32) -> u32 {
        self.seg_ver.get(slot as usize).copied().unwrap_or(0)
    }

    /// Ids of every type-2 route (active or not) for `mac` at `vtep`.
    #[inline]
    pub fn routes_at(&self, vtep: &[u8; 16], mac: &[u8; 6]) -> &[u32] {
        match self.at_keys.find(&vtep_mac_key(vtep, mac)).and_then(|i| self.at.get(i as usize)) {
            Some(ids) => ids.as_slice(),
            None => &[],
        }
    }

    /// Ids of every type-2 route (any VTEP) for `mac`.
    #[inline]
    pub fn routes_for_mac(&self, mac: &[u8; 6]) -> &[u32] {
        match self.any_keys.find(&MacKey(*mac)).and_then(|i| self.any.get(i as usize)) {
            Some(ids) => ids.as_slice(),
            None => &[],
        }
    }

    /// Route by id.
    #[inline]
    pub fn route(&self, id: u32) -> Option<&Route> {
        self.routes.get(id as usize)
    }

    /// Records an advertisement by `origin.holder`. Out of line so the BGP path's functions
    /// stay small for V8's optimising tier (see session.rs). The common case (a route already
    /// known, advertised again with the same attributes) compares words in place: no `Route`
    /// is built, copied or compared with memcmp.
    #[inline(never)]
    pub fn advertise(&mut self, nlri: &EvpnRoute, attrs: &RouteAttrs, label_is_vni: bool, origin: Origin, j: &mut Journal) {
        let (id, new) = match self.keys.find_or_insert(nlri.key()) {
            Some(x) => x,
            None => {
                self.routes_dropped += 1;
                return;
            }
        };
        let vni = route_vni(nlri, attrs, label_is_vni);
        if new && !self.push_route(nlri, attrs, vni, label_is_vni, origin) {
            self.routes_dropped += 1;
            return;
        }
        let vtep = route_vtep(nlri.route_type, attrs);
        let (was_active, changed, newly_held) = match self.routes.get(id as usize) {
            Some(r) => (
                r.active,
                r.vni != vni || !bytes_eq(&r.vtep(), &vtep) || !same_attrs(&r.attrs, attrs) || !same_nlri(&r.nlri, nlri),
                !r.holders.as_slice().contains(&origin.holder),
            ),
            None => return,
        };
        if was_active && changed {
            self.apply(id, false);
        }
        if self.seeded && origin.holder != SNAPSHOT_HOLDER {
            // The session now speaks for the route: its withdrawal must end it.
            if let Some(r) = self.routes.get_mut(id as usize) {
                r.holders.remove(SNAPSHOT_HOLDER);
            }
        }
        if let Some(r) = self.routes.get_mut(id as usize) {
            r.holders.insert(origin.holder);
            r.advertisements = r.advertisements.saturating_add(1);
            if !was_active || changed {
                r.nlri = *nlri;
                r.attrs = *attrs;
                r.vni = vni;
                r.label_is_vni = label_is_vni;
                r.last_pkt = origin.pkt;
                r.last_ns = origin.ns;
            }
        }
        if newly_held {
            self.note_held(origin.holder, id);
        }
        if !was_active || changed {
            self.activated(id, nlri.route_type, was_active, origin, j);
        }
    }

    /// A new route's entry (out of line: once per distinct route).
    #[inline(never)]
    fn push_route(&mut self, nlri: &EvpnRoute, attrs: &RouteAttrs, vni: u32, label_is_vni: bool, origin: Origin) -> bool {
        let fresh = Route {
            nlri: *nlri,
            attrs: *attrs,
            vni,
            label_is_vni,
            holders: SmallIds::new(),
            active: false,
            first_pkt: origin.pkt,
            first_ns: origin.ns,
            last_pkt: origin.pkt,
            last_ns: origin.ns,
            advertisements: 0,
            withdrawals: 0,
            from_snapshot: origin.holder == SNAPSHOT_HOLDER,
        };
        try_push(&mut self.routes, fresh, MAX_ROUTES)
    }

    /// A route became active or changed: indexes, mobility check, timeline.
    #[inline(never)]
    fn activated(&mut self, id: u32, route_type: u8, was_active: bool, origin: Origin, j: &mut Journal) {
        self.apply(id, true);
        if route_type == 2 {
            self.index_mac(id);
            self.check_mobility(id, origin, j);
        }
        let kind = if was_active { EventKind::Update } else { EventKind::Advertise };
        j.event(origin.pkt, origin.ns, kind, id, origin.holder);
    }

    /// Records a withdrawal by `origin.holder` (out of line, like `advertise`).
    #[inline(never)]
    pub fn withdraw(&mut self, nlri: &EvpnRoute, origin: Origin, j: &mut Journal) -> bool {
        let id = self.keys.find(&nlri.key());
        let holders = id.and_then(|id| self.routes.get(id as usize)).map(|r| r.holders);
        let held = holders.map_or(false, |h| h.as_slice().contains(&origin.holder));
        // A route known only from the snapshot: this session is the one that had advertised it.
        let from_snapshot = !held && self.seeded && holders.map_or(false, |h| h.as_slice().contains(&SNAPSHOT_HOLDER));
        self.note_withdrawal(nlri, origin, id, held || from_snapshot);
        let id = match id {
            Some(id) if held || from_snapshot => id,
            _ => {
                self.withdrawals_unmatched += 1;
                return false;
            }
        };
        if from_snapshot {
            // Handed over to the withdrawing session, so the timeline names it.
            if let Some(r) = self.routes.get_mut(id as usize) {
                r.holders.remove(SNAPSHOT_HOLDER);
                r.holders.insert(origin.holder);
            }
        }
        self.release(id, origin, EventKind::Withdraw, j);
        true
    }

    /// Lists a withdrawal for the report: a new entry, or one more of an entry (bounded;
    /// beyond the caps only counted).
    fn note_withdrawal(&mut self, nlri: &EvpnRoute, origin: Origin, route: Option<u32>, matched: bool) {
        // Past the cap whether listed or not: `limits.withdrawals_dropped` is the same either way.
        let id = match self.withdrawal_keys.find_or_insert(withdrawal_key(nlri, origin.holder, matched)) {
            Some((id, _)) => id as usize,
            None => {
                self.withdrawals_dropped += 1;
                return;
            }
        };
        if let Some(w) = self.withdrawals.get_mut(id) {
            w.count += 1;
            w.last_pkt = origin.pkt;
            w.last_ns = origin.ns;
            if w.route.is_none() {
                w.route = route;
            }
            return;
        }
        if id != self.withdrawals.len() || self.withdrawals.len() >= self.withdrawals_listed {
            self.withdrawals_unlisted += 1;
            return;
        }
        let w = Withdrawal {
            nlri: *nlri,
            holder: origin.holder,
            pkt: origin.pkt,
            ns: origin.ns,
            count: 1,
            last_pkt: origin.pkt,
            last_ns: origin.ns,
            route,
            matched,
        };
        if !try_push(&mut self.withdrawals, w, MAX_WITHDRAWALS) {
            self.withdrawals_unlisted += 1;
        }
    }

    /// All explicit withdrawals, listed or not.
    pub fn withdrawals_total(&self) -> u64 {
        self.withdrawals.iter().map(|w| w.count).sum::<u64>() + self.withdrawals_unlisted + self.withdrawals_dropped
    }

    /// Drops every route held by `holder` (the session ended).
    pub fn drop_holder(&mut self, holder: u32, pkt: u64, ns: u64, j: &mut Journal) {
        let origin = Origin { holder, pkt, ns };
        let list = match self.held.get_mut(holder as usize) {
            Some(l) => core::mem::take(l),
            None => return,
        };
        for &id in list.iter() {
            let held = self.routes.get(id as usize).map_or(false, |r| r.holders.as_slice().contains(&holder));
            if held {
                self.release(id, origin, EventKind::ImplicitWithdraw, j);
            }
        }
    }

    fn release(&mut self, id: u32, origin: Origin, kind: EventKind, j: &mut Journal) {
        let now_empty = match self.routes.get_mut(id as usize) {
            Some(r) => {
                r.holders.remove(origin.holder);
                r.holders.is_empty() && r.active
            }
            None => false,
        };
        if now_empty {
            self.apply(id, false);
            if let Some(r) = self.routes.get_mut(id as usize) {
                r.withdrawals = r.withdrawals.saturating_add(1);
                r.last_pkt = origin.pkt;
                r.last_ns = origin.ns;
            }
            j.event(origin.pkt, origin.ns, kind, id, origin.holder);
        }
    }

    /// Activates or deactivates route `id` in the segment indexes.
    fn apply(&mut self, id: u32, on: bool) {
        let r = match self.routes.get_mut(id as usize) {
            Some(r) => r,
            None => return,
        };
        if r.active == on {
            return;
        }
        r.active = on;
        // The fields used below, not the whole route (a 320-byte copy).
        let (route_type, vni, mac, rts, n_rts) = (r.nlri.route_type, r.vni, r.nlri.mac, r.attrs.communities.rts, r.attrs.communities.n_rts);
        let vtep = r.vtep();
        let rts = rts.get(..n_rts as usize).unwrap_or(&[]);
        self.epoch = self.epoch.wrapping_add(1);
        if route_type != 2 && route_type != 3 {
            return;
        }
        let (sid, new) = match self.seg_keys.find_or_insert(seg_key(&vtep, vni)) {
            Some(x) => x,
            None => {
                self.index_overflow += 1;
                return;
            }
        };
        if new {
            let s = Segment { vtep, vni, imet_active: 0, mac_active: 0, imet_ever: false, rts: [(0, 0); SEGMENT_RTS] };
            if !try_push(&mut self.segments, s, MAX_SEGMENTS) || !try_push(&mut self.seg_ver, 0, MAX_SEGMENTS) {
                self.index_overflow += 1;
                return;
            }
            self.structure = self.structure.wrapping_add(1);
        }
        let mut seg_changed = route_type == 3;
        if route_type == 2 {
            if let Some(slot) = self.any_keys.find(&MacKey(mac)) {
                if let Some(v) = self.mac_ver.get_mut(slot as usize) {
                    *v = v.wrapping_add(1);
                }
            }
        }
        if let Some(s) = self.segments.get_mut(sid as usize) {
            let d: i32 = if on { 1 } else { -1 };
            if route_type == 3 {
                s.imet_active = if on { s.imet_active.saturating_add(1) } else { s.imet_active.saturating_sub(1) };
                s.imet_ever |= on;
            } else {
                s.mac_active = if on { s.mac_active.saturating_add(1) } else { s.mac_active.saturating_sub(1) };
            }
            seg_changed |= s.add_rts(rts, d);
        }
        // Verdicts read a segment's IMET presence and route targets, not its MAC count.
        if seg_changed {
            if let Some(v) = self.seg_ver.get_mut(sid as usize) {
                *v = v.wrapping_add(1);
            }
        }
    }

    fn index_mac(&mut self, id: u32) {
        let (vtep, mac) = match self.routes.get(id as usize) {
            Some(r) => (r.vtep(), r.nlri.mac),
            None => return,
        };
        match self.at_keys.find_or_insert(vtep_mac_key(&vtep, &mac)) {
            Some((i, new)) => {
                if new && !try_push(&mut self.at, SmallIds::new(), MAX_MACS) {
                    self.index_overflow += 1;
                } else if let Some(ids) = self.at.get_mut(i as usize) {
                    if !ids.insert(id) {
                        self.index_overflow += 1;
                    }
                }
            }
            None => self.index_overflow += 1,
        }
        match self.any_keys.find_or_insert(MacKey(mac)) {
            Some((i, new)) => {
                if new {
                    self.structure = self.structure.wrapping_add(1);
                }
                if new && !(try_push(&mut self.any, SmallIds::new(), MAX_MACS) && try_push(&mut self.mac_ver, 1, MAX_MACS)) {
                    self.index_overflow += 1;
                } else if let Some(ids) = self.any.get_mut(i as usize) {
                    if !ids.insert(id) {
                        self.index_overflow += 1;
                    }
                }
            }
            None => self.index_overflow += 1,
        }
    }

    /// RFC 7432 §15: a MAC advertised by another VTEP in the same domain must carry a higher
    /// MAC-mobility sequence number (and the MAC must not be sticky); otherwise it is a duplicate.
    fn check_mobility(&mut self, id: u32, origin: Origin, j: &mut Journal) {
        let r = match self.routes.get(id as usize) {
            Some(r) => *r,
            None => return,
        };
        let (seq, _) = r.mobility_seq();
        let others = *match self.any_keys.find(&MacKey(r.nlri.mac)).and_then(|i| self.any.get(i as usize)) {
            Some(ids) => ids,
            None => return,
        };
        for &oid in others.as_slice() {
            let o = match self.routes.get(oid as usize) {
                Some(o) if oid != id && o.active && o.vtep() != r.vtep() && same_domain(&r, o) => *o,
                _ => continue,
            };
            let (oseq, osticky) = o.mobility_seq();
            if seq > oseq && !osticky {
                j.event(origin.pkt, origin.ns, EventKind::MacMove, id, oid);
                continue;
            }
            let subject = Subject { vni: r.vni, src_vtep: o.vtep(), dst_vtep: r.vtep(), src_mac: r.nlri.mac, has_vni: true, has_vteps: true, has_macs: true, ..Default::default() };
            if let Some(f) = j.report(Kind::DuplicateMac, ERROR, &subject, origin.pkt, origin.ns) {
                f.detail = [oseq, seq];
                f.text = if osticky { "previous route is sticky (static MAC)" } else { "mobility sequence number did not increase" };
                if r.nlri.ip_bits != 0 {
                    f.ip = Some(r.nlri.ip);
                }
            }
        }
    }
}

/// The VNI a route asks the data plane to use.
fn route_vni(nlri: &EvpnRoute, attrs: &RouteAttrs, label_is_vni: bool) -> u32 {
    let label = match (nlri.route_type, attrs.pmsi) {
        (3, Some(p)) => p.label,
        (3, None) => return nlri.etag,
        _ => nlri.label1,
    };
    if label_is_vni {
        label
    } else {
        label >> 4
    }
}

/// The VTEP a route with these attributes receives traffic at (as `Route::vtep`).
fn route_vtep(route_type: u8, attrs: &RouteAttrs) -> [u8; 16] {
    match attrs.pmsi {
        Some(p) if route_type == 3 && p.has_endpoint => p.endpoint,
        _ => attrs.vtep,
    }
}

// The comparisons below go field by field with word compares: the derived ones call memcmp,
// a byte loop in this module, for every array.

fn same_pmsi(a: &Option<Pmsi>, b: &Option<Pmsi>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => x.flags == y.flags && x.tunnel_type == y.tunnel_type && x.label == y.label && x.has_endpoint == y.has_endpoint && bytes_eq(&x.endpoint, &y.endpoint),
        _ => false,
    }
}

fn same_rts(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn same_attrs(a: &RouteAttrs, b: &RouteAttrs) -> bool {
    bytes_eq(&a.vtep, &b.vtep)
        && same_pmsi(&a.pmsi, &b.pmsi)
        && same_rts(a.communities.route_targets(), b.communities.route_targets())
        && a.communities.mobility == b.communities.mobility
        && a.communities.encapsulation == b.communities.encapsulation
}

/// `a == b` for NLRIs (every field, like the derived `PartialEq`).
fn same_nlri(a: &EvpnRoute, b: &EvpnRoute) -> bool {
    a.route_type == b.route_type
        && a.path_id == b.path_id
        && bytes_eq(&a.rd, &b.rd)
        && bytes_eq(&a.esi, &b.esi)
        && a.etag == b.etag
        && bytes_eq(&a.mac, &b.mac)
        && bytes_eq(&a.ip, &b.ip)
        && a.ip_bits == b.ip_bits
        && a.prefix_len == b.prefix_len
        && bytes_eq(&a.gateway, &b.gateway)
        && a.gateway_bits == b.gateway_bits
        && bytes_eq(&a.originator, &b.originator)
        && a.originator_bits == b.originator_bits
        && a.label1 == b.label1
        && a.label2 == b.label2
}

/// Two routes are in one broadcast domain when they share a route target, or (without
/// route targets) when they use the same VNI.
pub fn same_domain(a: &Route, b: &Route) -> bool {
    let (ra, rb) = (a.attrs.communities.route_targets(), b.attrs.communities.route_targets());
    if ra.is_empty() || rb.is_empty() {
        return a.vni == b.vni;
    }
    ra.iter().any(|x| rb.contains(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::evpn::{decode_route, vectors};
    use crate::bgp::ext_community::summarise;
    use crate::util::bytes::v4_mapped;

    fn attrs(vtep: [u8; 4], comm: &[u8]) -> RouteAttrs {
        RouteAttrs { vtep: v4_mapped(vtep), communities: summarise(comm).0, pmsi: None, originator_id: None }
    }
    const VXLAN_RT90: [u8; 16] = [3, 0x0c, 0, 0, 0, 0, 0, 8, 0, 2, 0xfc, 0, 0, 0, 0, 90];

    #[test]
    fn route_active_while_any_holder_has_it() {
        let mut cp = ControlPlane::new();
        let mut j = Journal::new();
        let r = decode_route(2, &vectors::MAC_IP_V4).unwrap().unwrap();
        let a = attrs([192, 168, 33, 21], &VXLAN_RT90);
        cp.advertise(&r, &a, true, Origin { holder: 0, pkt: 1, ns: 0 }, &mut j);
        cp.advertise(&r, &a, true, Origin { holder: 3, pkt: 2, ns: 0 }, &mut j);
        assert!(cp.routes[0].active);
        assert_eq!(cp.routes[0].vni, 16);
        let vtep = v4_mapped([192, 168, 33, 21]);
        assert_eq!(cp.segment(&vtep, 16).unwrap().mac_active, 1);
        assert!(cp.withdraw(&r, Origin { holder: 0, pkt: 3, ns: 0 }, &mut j));
        assert!(cp.routes[0].active);
        cp.drop_holder(3, 4, 0, &mut j);
        assert!(!cp.routes[0].active);
        assert_eq!(cp.segment(&vtep, 16).unwrap().mac_active, 0);
        let kinds: Vec<&str> = j.timeline.iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, vec!["advertise", "implicit_withdraw"]);
        assert!(!cp.withdraw(&r, Origin { holder: 0, pkt: 5, ns: 0 }, &mut j));
        assert_eq!(cp.withdrawals_unmatched, 1);
    }

    #[test]
    fn withdrawals_of_one_route_are_one_entry() {
        // A churning route: withdrawn, re-advertised, withdrawn again, then withdrawn once more
        // by a session that no longer holds it (another entry: not matched).
        let mut cp = ControlPlane::new();
        let mut j = Journal::new();
        let r = decode_route(2, &vectors::MAC_IP_V4).unwrap().unwrap();
        let a = attrs([192, 168, 33, 21], &VXLAN_RT90);
        cp.advertise(&r, &a, true, Origin { holder: 0, pkt: 1, ns: 10 }, &mut j);
        assert!(cp.withdraw(&r, Origin { holder: 0, pkt: 2, ns: 20 }, &mut j));
        cp.advertise(&r, &a, true, Origin { holder: 0, pkt: 3, ns: 30 }, &mut j);
        assert!(cp.withdraw(&r, Origin { holder: 0, pkt: 4, ns: 40 }, &mut j));
        assert!(!cp.withdraw(&r, Origin { holder: 0, pkt: 5, ns: 50 }, &mut j));
        assert_eq!(cp.withdrawals.len(), 2);
        let w = &cp.withdrawals[0];
        assert_eq!((w.count, w.pkt, w.ns, w.last_pkt, w.last_ns, w.matched), (2, 2, 20, 4, 40, true));
        let w = &cp.withdrawals[1];
        assert_eq!((w.count, w.pkt, w.last_pkt, w.matched), (1, 5, 5, false));
        assert_eq!(cp.withdrawals_total(), 3);
    }

    #[test]
    fn withdrawals_past_the_listed_count_are_only_counted() {
        // A brief report keeps the first entries; the rest still count, and the matching is
        // unchanged. A listed entry still counts its repeats.
        let mut cp = ControlPlane::new();
        cp.withdrawals_listed = 1;
        let mut j = Journal::new();
        let r = decode_route(2, &vectors::MAC_IP_V4).unwrap().unwrap();
        let imet = decode_route(3, &vectors::IMET_V4).unwrap().unwrap();
        let a = attrs([192, 168, 33, 21], &VXLAN_RT90);
        cp.advertise(&r, &a, true, Origin { holder: 0, pkt: 1, ns: 0 }, &mut j);
        cp.advertise(&imet, &a, true, Origin { holder: 0, pkt: 1, ns: 0 }, &mut j);
        assert!(cp.withdraw(&r, Origin { holder: 0, pkt: 2, ns: 0 }, &mut j));
        assert!(cp.withdraw(&imet, Origin { holder: 0, pkt: 3, ns: 0 }, &mut j));
        cp.advertise(&r, &a, true, Origin { holder: 0, pkt: 4, ns: 0 }, &mut j);
        cp.advertise(&imet, &a, true, Origin { holder: 0, pkt: 4, ns: 0 }, &mut j);
        assert!(cp.withdraw(&r, Origin { holder: 0, pkt: 5, ns: 0 }, &mut j));
        assert!(cp.withdraw(&imet, Origin { holder: 0, pkt: 6, ns: 0 }, &mut j));
        assert!(!cp.routes[0].active && !cp.routes[1].active);
        assert_eq!(cp.withdrawals.len(), 1);
        assert_eq!((cp.withdrawals[0].pkt, cp.withdrawals[0].count, cp.withdrawals[0].last_pkt), (2, 2, 5));
        assert_eq!((cp.withdrawals_unlisted, cp.withdrawals_dropped), (2, 0));
        assert_eq!(cp.withdrawals_total(), 4);
    }

    #[test]
    fn mpls_label_without_vxlan_encapsulation() {
        let mut cp = ControlPlane::new();
        let mut j = Journal::new();
        let r = decode_route(2, &vectors::MAC_IP_V4).unwrap().unwrap();
        cp.advertise(&r, &attrs([10, 0, 0, 1], &VXLAN_RT90[8..]), false, Origin { holder: 0, pkt: 1, ns: 0 }, &mut j);
        assert_eq!(cp.routes[0].vni, 1);
    }

    #[test]
    fn duplicate_mac_needs_higher_mobility_sequence() {
        let mut cp = ControlPlane::new();
        let mut j = Journal::new();
        let r1 = decode_route(2, &vectors::MAC_IP_V4).unwrap().unwrap();
        let mut v2 = vectors::MAC_IP_V4;
        v2[5] = 22; // other RD
        let r2 = decode_route(2, &v2).unwrap().unwrap();
        cp.advertise(&r1, &attrs([10, 0, 0, 1], &VXLAN_RT90), true, Origin { holder: 0, pkt: 1, ns: 0 }, &mut j);
        cp.advertise(&r2, &attrs([10, 0, 0, 2], &VXLAN_RT90), true, Origin { holder: 2, pkt: 2, ns: 0 }, &mut j);
        assert_eq!(j.findings.len(), 1);
        assert_eq!(j.findings[0].kind, Kind::DuplicateMac);
        // A move with sequence 1 is fine.
        let mut v3 = vectors::MAC_IP_V4;
        v3[5] = 23;
        let r3 = decode_route(2, &v3).unwrap().unwrap();
        let mut comm = VXLAN_RT90.to_vec();
        comm.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 1]);
        cp.advertise(&r3, &attrs([10, 0, 0, 3], &comm), true, Origin { holder: 4, pkt: 3, ns: 0 }, &mut j);
        assert_eq!(j.findings.len(), 1);
        assert!(j.timeline.iter().any(|e| e.kind.name() == "mac_move"));
    }
}
