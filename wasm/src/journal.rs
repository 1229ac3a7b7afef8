//! What the decoder reports besides state: findings (aggregated), a bounded timeline of
//! control-plane and finding events, and a bounded list of decode errors.

use crate::util::bounded::try_push;
use crate::util::error::DecodeError;
use crate::util::index_map::{hash_bytes, IndexMap, Key};

pub const MAX_FINDINGS: usize = 100_000;
pub const MAX_TIMELINE: usize = 200_000;
pub const MAX_DECODE_ERRORS: usize = 10_000;

/// Finding kinds; names and meaning are documented in lib/verify/SCHEMA.md.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Kind {
    SrcMacNotAdvertised = 1,
    SrcMacWithdrawn,
    SrcMacAtOtherVtep,
    SrcMacOtherDomain,
    DstMacNotAdvertised,
    UnknownUnicastFlooded,
    DstMacWithdrawn,
    DstMacAtOtherVtep,
    DstVniMismatch,
    BumWithoutImet,
    DuplicateMac,
    OversizeFrame,
    OuterFragmented,
    BadUdpChecksum,
    VxlanFlagMissing,
    VxlanReservedBits,
    Unverifiable,
    BgpStreamGap,
    BgpNotification,
    BgpMalformed,
    WithdrawUnknownRoute,
    VxlanMalformed,
    DstMacFlooded,
    SrcMacAdvertisedLate,
}

pub const KINDS: [Kind; 24] = [
    Kind::SrcMacNotAdvertised,
    Kind::SrcMacWithdrawn,
    Kind::SrcMacAtOtherVtep,
    Kind::SrcMacOtherDomain,
    Kind::DstMacNotAdvertised,
    Kind::UnknownUnicastFlooded,
    Kind::DstMacWithdrawn,
    Kind::DstMacAtOtherVtep,
    Kind::DstVniMismatch,
    Kind::BumWithoutImet,
    Kind::DuplicateMac,
    Kind::OversizeFrame,
    Kind::OuterFragmented,
    Kind::BadUdpChecksum,
    Kind::VxlanFlagMissing,
    Kind::VxlanReservedBits,
    Kind::Unverifiable,
    Kind::BgpStreamGap,
    Kind::BgpNotification,
    Kind::BgpMalformed,
    Kind::WithdrawUnknownRoute,
    Kind::VxlanMalformed,
    Kind::DstMacFlooded,
    Kind::SrcMacAdvertisedLate,
];

impl Kind {
    /// Stable snake_case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SrcMacNotAdvertised => "src_mac_not_advertised",
            Kind::SrcMacWithdrawn => "src_mac_withdrawn",
            Kind::SrcMacAtOtherVtep => "src_mac_at_other_vtep",
            Kind::SrcMacOtherDomain => "src_mac_other_domain",
            Kind::DstMacNotAdvertised => "dst_mac_not_advertised",
            Kind::UnknownUnicastFlooded => "unknown_unicast_flooded",
            Kind::DstMacWithdrawn => "dst_mac_withdrawn",
            Kind::DstMacAtOtherVtep => "dst_mac_at_other_vtep",
            Kind::DstVniMismatch => "dst_vni_mismatch",
            Kind::BumWithoutImet => "bum_without_imet",
            Kind::DuplicateMac => "duplicate_mac",
            Kind::OversizeFrame => "oversize_frame",
            Kind::OuterFragmented => "outer_fragmented",
            Kind::BadUdpChecksum => "bad_udp_checksum",
            Kind::VxlanFlagMissing => "vxlan_flag_missing",
            Kind::VxlanReservedBits => "vxlan_reserved_bits",
            Kind::Unverifiable => "unverifiable",
            Kind::BgpStreamGap => "bgp_stream_gap",
            Kind::BgpNotification => "bgp_notification",
            Kind::BgpMalformed => "bgp_malformed",
            Kind::WithdrawUnknownRoute => "withdraw_unknown_route",
            Kind::VxlanMalformed => "vxlan_malformed",
            Kind::DstMacFlooded => "dst_mac_flooded",
            Kind::SrcMacAdvertisedLate => "src_mac_advertised_late",
        }
    }

    /// Kind from its numeric code.
    pub fn from_code(c: u8) -> Option<Kind> {
        KINDS.get((c as usize).wrapping_sub(1)).copied()
    }
}

pub const INFO: u8 = 0;
pub const WARNING: u8 = 1;
pub const ERROR: u8 = 2;

/// Aggregation key: one finding per kind and subject (flow, MAC pair, session...).
#[derive(Clone, Copy, Eq)]
pub struct FindingKey(pub [u8; 56]);

impl PartialEq for FindingKey {
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        crate::util::index_map::bytes_eq(&self.0, &o.0)
    }
}

impl Key for FindingKey {
    #[inline]
    fn hash64(&self) -> u64 {
        hash_bytes(&self.0)
    }
}

/// The subject of a finding.
#[derive(Clone, Copy, Default)]
pub struct Subject {
    pub vni: u32,
    pub src_vtep: [u8; 16],
    pub dst_vtep: [u8; 16],
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// Disambiguates findings of one kind on one subject (a session id, a sub-kind...).
    pub aux: u32,
    pub has_vni: bool,
    pub has_vteps: bool,
    pub has_macs: bool,
}

impl Subject {
    fn key(&self, kind: Kind) -> FindingKey {
        let mut k = [0u8; 56];
        let parts: [&[u8]; 7] = [&[kind as u8, self.has_vni as u8 | (self.has_vteps as u8) << 1 | (self.has_macs as u8) << 2], &self.vni.to_le_bytes(), &self.src_vtep, &self.dst_vtep, &self.src_mac, &self.dst_mac, &self.aux.to_le_bytes()];
        let mut off = 0;
        for p in parts {
            if let Some(dst) = k.get_mut(off..off + p.len()) {
                dst.copy_from_slice(p);
            }
            off += p.len();
        }
        FindingKey(k)
    }
}

/// One aggregated finding.
#[derive(Clone, Copy)]
pub struct Finding {
    pub kind: Kind,
    pub severity: u8,
    pub subject: Subject,
    /// A third VTEP involved (where the MAC really is, the previous owner...).
    pub other_vtep: Option<[u8; 16]>,
    /// An IP the finding is about when it is not a flow's (the IP of a duplicate MAC's route).
    pub ip: Option<[u8; 16]>,
    /// Kind-specific numbers (advertised VNI, sequence numbers, sizes, codes...).
    pub detail: [u32; 2],
    /// A kind-specific message (decode error text, notification name...).
    pub text: &'static str,
    pub text2: &'static str,
    pub first_pkt: u64,
    pub last_pkt: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    pub count: u64,
}

/// Timeline event kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EventKind {
    Advertise = 1,
    Withdraw,
    ImplicitWithdraw,
    Update,
    SessionOpen,
    SessionEstablished,
    SessionClosed,
    Finding,
    MacMove,
    RouteRefresh,
    Notification,
}

impl EventKind {
    /// Stable name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Advertise => "advertise",
            EventKind::Withdraw => "withdraw",
            EventKind::ImplicitWithdraw => "implicit_withdraw",
            EventKind::Update => "update",
            EventKind::SessionOpen => "session_open",
            EventKind::SessionEstablished => "session_established",
            EventKind::SessionClosed => "session_closed",
            EventKind::Finding => "finding",
            EventKind::MacMove => "mac_move",
            EventKind::RouteRefresh => "route_refresh",
            EventKind::Notification => "notification",
        }
    }
}

/// One timeline entry; `a`/`b` are ids whose meaning depends on the kind.
#[derive(Clone, Copy)]
pub struct Event {
    pub pkt: u64,
    pub ns: u64,
    pub kind: EventKind,
    pub a: u32,
    pub b: u32,
}

/// One decode error with where it happened.
#[derive(Clone, Copy)]
pub struct ErrorEntry {
    pub pkt: u64,
    pub ns: u64,
    pub error: DecodeError,
}

/// Findings, timeline and decode errors of one run.
pub struct Journal {
    keys: IndexMap<FindingKey>,
    pub findings: Vec<Finding>,
    pub findings_dropped: u64,
    pub timeline: Vec<Event>,
    pub timeline_dropped: u64,
    pub errors: Vec<ErrorEntry>,
    pub errors_total: u64,
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Self {
        Journal { keys: IndexMap::new(MAX_FINDINGS), findings: Vec::new(), findings_dropped: 0, timeline: Vec::new(), timeline_dropped: 0, errors: Vec::new(), errors_total: 0 }
    }

    /// Appends a timeline event (counted, not stored, once the timeline is full).
    /// An event about an earlier packet (a finding decided after its replication window,
    /// replication.rs) goes back to its place, so the timeline stays in capture order.
    pub fn event(&mut self, pkt: u64, ns: u64, kind: EventKind, a: u32, b: u32) {
        let at = self.timeline.iter().rposition(|e| e.pkt <= pkt).map_or(0, |i| i + 1);
        if !try_push(&mut self.timeline, Event { pkt, ns, kind, a, b }, MAX_TIMELINE) {
            self.timeline_dropped += 1;
        } else {
            // Rare and short (events of the last 1 ms): bubble it back, without panicking paths.
            let mut i = self.timeline.len().saturating_sub(1);
            while i > at {
                if let Some([x, y]) = self.timeline.get_mut(i - 1..=i) {
                    core::mem::swap(x, y);
                }
                i -= 1;
            }
        }
    }

    /// Records a decode error.
    pub fn error(&mut self, pkt: u64, ns: u64, error: DecodeError) {
        self.errors_total += 1;
        try_push(&mut self.errors, ErrorEntry { pkt, ns, error }, MAX_DECODE_ERRORS);
    }

    /// The id of the finding for (kind, subject), creating it on first sight.
    pub fn finding_id(&mut self, kind: Kind, severity: u8, subject: &Subject, pkt: u64, ns: u64) -> Option<u32> {
        let (id, new) = match self.keys.find_or_insert(subject.key(kind)) {
            Some(x) => x,
            None => {
                self.findings_dropped += 1;
                return None;
            }
        };
        if new {
            let f = Finding { kind, severity, subject: *subject, other_vtep: None, ip: None, detail: [0; 2], text: "", text2: "", first_pkt: pkt, last_pkt: pkt, first_ns: ns, last_ns: ns, count: 0 };
            if !try_push(&mut self.findings, f, MAX_FINDINGS) {
                self.findings_dropped += 1;
                return None;
            }
            self.event(pkt, ns, EventKind::Finding, id, 0);
        }
        Some(id)
    }

    /// Counts one occurrence of finding `id` at packet `pkt`.
    #[inline]
    pub fn hit(&mut self, id: u32, pkt: u64, ns: u64) {
        if let Some(f) = self.findings.get_mut(id as usize) {
            f.count += 1;
            f.last_pkt = pkt;
            f.last_ns = ns;
        }
    }

    /// Records one occurrence of (kind, subject) and returns the finding for detail updates.
    pub fn report(&mut self, kind: Kind, severity: u8, subject: &Subject, pkt: u64, ns: u64) -> Option<&mut Finding> {
        let id = self.finding_id(kind, severity, subject, pkt, ns)?;
        self.hit(id, pkt, ns);
        self.findings.get_mut(id as usize)
    }
}
