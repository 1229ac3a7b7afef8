//! A source MAC advertised shortly after its first frames: how data-plane-learning VTEPs work.
//!
//! FRR (and hardware VTEPs) learn a new host's MAC from its first frame, then advertise it:
//! kernel fdb → zebra → bgpd → (route reflector) → the capture point. So the first unicast
//! frames of a new host precede its MAC/IP route by milliseconds to about a second, and each
//! looks like `src_mac_not_advertised`. Such a finding (unicast, an error) is remembered here
//! for `WINDOW_NS` from its first frame; when a route arriving within the window makes the
//! frame's source rule pass (S advertises the MAC in the frame's VNI or domain), the finding
//! becomes `src_mac_advertised_late` (a warning) with the delay from the first frame. Frames
//! whose MAC is not advertised within the window stay errors.
//!
//! Nothing here runs per frame: findings are remembered when a flow's verdict is recomputed,
//! and looked at again only when the control plane changed. At most `MAX_PENDING` wait.

use crate::journal::{Journal, Kind, WARNING};

/// How long after a host's first frame its route may arrive: FRR 8.4 learns the MAC (kernel
/// fdb → zebra), bgpd sends it, a route reflector passes it on to the capture point. Measured
/// in tests/frr_vtep_test.ts on the loaded 2-core test host: 3 and 87 ms in the runs where the
/// route came after the first unicast frame. 2 s leaves room for a busier host or one more
/// reflector hop; a MAC still not advertised 2 s after its first frame is a fault (traffic back
/// to it is flooded or dropped), and stays an error.
pub const WINDOW_NS: u64 = 2_000_000_000;
/// Findings remembered at once; past that the oldest ones stay errors.
pub const MAX_PENDING: usize = 4096;

/// `src_mac_not_advertised` findings that a route arriving soon may still explain.
pub struct LateSources {
    /// Finding ids, oldest first.
    pending: Vec<u32>,
    /// The control plane's epoch when last looked at.
    pub epoch: u64,
}

impl LateSources {
    /// Nothing pending.
    pub fn new() -> Self {
        LateSources { pending: Vec::new(), epoch: 0 }
    }

    /// Whether no finding waits.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Remembers finding `fid`, first seen at `ns`; when full, forgets the expired ones, then
    /// the older half (they stay errors).
    pub fn remember(&mut self, fid: u32, ns: u64, j: &Journal) {
        if self.pending.len() >= MAX_PENDING {
            self.expire(ns, j);
        }
        if self.pending.len() >= MAX_PENDING {
            // The older half; retain, not drain(..n): no range check, so no panic path linked.
            let mut seen = 0;
            self.pending.retain(|_| {
                seen += 1;
                seen > MAX_PENDING / 2
            });
        }
        // Without memory for it, the finding just stays an error.
        crate::util::bounded::try_push(&mut self.pending, fid, MAX_PENDING);
    }

    /// The lowest id of a finding that a route may still turn into a warning at capture time
    /// `now`; findings below it can no longer change (`verify --live` prints up to it).
    pub fn first_unsettled(&self, now: u64, j: &Journal) -> Option<u32> {
        let open = |fid: &&u32| j.findings.get(**fid as usize).map_or(false, |f| f.kind == Kind::SrcMacNotAdvertised && f.first_ns.saturating_add(WINDOW_NS) >= now);
        self.pending.iter().filter(open).min().copied()
    }

    /// Forgets findings whose window ended before `now`.
    fn expire(&mut self, now: u64, j: &Journal) {
        self.pending.retain(|&fid| j.findings.get(fid as usize).map_or(false, |f| f.first_ns.saturating_add(WINDOW_NS) >= now));
    }

    /// After a control-plane change at `now`: every pending finding whose frames now pass
    /// (`passes`, the source rule on the finding's flow) becomes `src_mac_advertised_late`.
    pub fn resolve(&mut self, now: u64, epoch: u64, j: &mut Journal, mut passes: impl FnMut(&crate::journal::Subject) -> bool) {
        self.epoch = epoch;
        self.expire(now, j);
        // retain, not remove(i): Vec::remove's index assertion would link a panic path.
        self.pending.retain(|&fid| {
            let late = j.findings.get(fid as usize).filter(|f| f.kind == Kind::SrcMacNotAdvertised).map(|f| (passes(&f.subject), now.saturating_sub(f.first_ns)));
            match late {
                Some((true, delay)) => {
                    if let Some(f) = j.findings.get_mut(fid as usize) {
                        // In place: the id, count and timeline entry stay this finding's.
                        f.kind = Kind::SrcMacAdvertisedLate;
                        f.severity = WARNING;
                        f.detail = [(delay / 1_000_000).min(u32::MAX as u64) as u32, 0];
                    }
                    false
                }
                Some((false, _)) => true,
                None => false,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::ERROR;
    use crate::test_flows::{know, Run, MAC, MS};

    // The host with MAC (vectors::MAC_IP_V4, VNI 16) is new behind S and pings a pod at B.
    const S: [u8; 4] = [192, 168, 33, 24];
    const B: [u8; 4] = [192, 168, 33, 22];
    const C: [u8; 4] = [192, 168, 33, 23];
    const POD: [u8; 6] = [2, 0x27, 0, 0, 0, 9];

    fn send(r: &mut Run, ns: u64) {
        r.frame((S, B), (MAC, POD), &[0; 34], ns);
    }

    /// The host's MAC/IP route, advertised by `vtep` at `ns`, then what the decoder does after a
    /// BGP segment.
    fn advertise(r: &mut Run, vtep: [u8; 4], ns: u64) {
        r.advertise(vtep, ns);
        r.flows.resolve_late(ns, &r.cp, &know(), &mut r.j);
    }

    /// (kind, severity, count, detail[0]) of the findings about the host's MAC.
    fn source_findings(r: &Run) -> Vec<(&'static str, u8, u64, u32)> {
        let kinds = [Kind::SrcMacNotAdvertised, Kind::SrcMacAdvertisedLate, Kind::SrcMacAtOtherVtep];
        r.j.findings.iter().filter(|f| kinds.contains(&f.kind)).map(|f| (f.kind.name(), f.severity, f.count, f.detail[0])).collect()
    }

    #[test]
    fn a_route_100_ms_after_the_first_frame_is_a_warning_with_the_delay() {
        let mut r = Run::new();
        send(&mut r, 0);
        send(&mut r, 40 * MS);
        advertise(&mut r, S, 100 * MS);
        send(&mut r, 1000 * MS); // passes now
        assert_eq!(source_findings(&r), vec![("src_mac_advertised_late", WARNING, 2, 100)]);
        assert!(r.flows.late.is_empty());
    }

    #[test]
    fn a_mac_never_advertised_stays_an_error() {
        let mut r = Run::new();
        send(&mut r, 0);
        send(&mut r, 1000 * MS);
        assert_eq!(source_findings(&r), vec![("src_mac_not_advertised", ERROR, 2, 0)]);
    }

    #[test]
    fn a_route_after_the_window_leaves_the_error() {
        let mut r = Run::new();
        send(&mut r, 0);
        advertise(&mut r, S, WINDOW_NS + MS);
        assert_eq!(source_findings(&r), vec![("src_mac_not_advertised", ERROR, 1, 0)]);
        assert!(r.flows.late.is_empty(), "expired");
    }

    #[test]
    fn the_mac_advertised_by_another_vtep_leaves_the_error() {
        let mut r = Run::new();
        send(&mut r, 0);
        advertise(&mut r, C, 100 * MS);
        advertise(&mut r, C, 200 * MS);
        assert_eq!(source_findings(&r), vec![("src_mac_not_advertised", ERROR, 1, 0)]);
    }

    #[test]
    fn a_finding_is_unsettled_until_its_window_ends_or_it_is_resolved() {
        let mut r = Run::new();
        send(&mut r, 0);
        let fid = r.j.findings.iter().position(|f| f.kind == Kind::SrcMacNotAdvertised).map(|i| i as u32);
        assert!(fid.is_some());
        assert_eq!(r.flows.late.first_unsettled(MS, &r.j), fid);
        assert_eq!(r.flows.late.first_unsettled(WINDOW_NS + MS, &r.j), None, "window over");
        advertise(&mut r, S, 100 * MS);
        assert_eq!(r.flows.late.first_unsettled(200 * MS, &r.j), None, "now a warning");
    }

    #[test]
    fn pending_findings_stay_bounded() {
        let mut late = LateSources::new();
        let j = Journal::new();
        for fid in 0..(MAX_PENDING as u32 * 3) {
            late.remember(fid, 0, &j);
        }
        assert!(late.pending.len() <= MAX_PENDING);
    }
}
