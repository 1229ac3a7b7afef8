//! The per-packet pipeline: capture record -> link -> IP -> BGP (TCP 179) or VXLAN (UDP),
//! updating the control plane, sessions, flows and the journal. Fed in chunks; keeps no
//! packet bytes between calls except inside BGP reassembly buffers.

use crate::control_plane::{holder_id, ControlPlane};
use crate::dataplane::{flow_key, Flows, Knowledge};
use crate::wire::capture::{Format, MAX_RECORD_BYTES};
use crate::journal::{EventKind, Journal, Kind, Subject, ERROR, INFO, WARNING};
use crate::session::{conn_key, feed_segment, After, CloseReason, ConnKey, CtxParts, Notification, Session, MAX_SESSIONS};
use crate::util::bounded::try_push;
use crate::util::error::DecodeError;
use crate::util::index_map::IndexMap;
use crate::wire::capture::{CaptureReader, Step};
use crate::wire::ip::{self, Fragment, IpRepr};
use crate::wire::transport::{self, ChecksumStatus, TCP_FIN, TCP_RST, TCP_SYN};
use crate::util::bytes::{be16, le64, tail, u8_at};
use crate::wire::{ethernet, link, vxlan};

/// Extra VXLAN ports accepted besides 4789.
pub const MAX_VXLAN_PORTS: usize = 8;
/// Bytes all BGP reassembly buffers together may hold; a direction that would exceed it gives
/// its buffers up (reported as a gap), so memory stays bounded whatever the input.
const STREAM_BUDGET: usize = 64 << 20;
/// IANA Geneve port.
const GENEVE_PORT: u16 = 6081;
/// Nested tunnel layers (VXLAN, GRE, Geneve) decoded inside one frame.
const MAX_TUNNEL_DEPTH: u8 = 3;

/// Run options.
#[derive(Clone, Copy)]
pub struct Options {
    pub vxlan_ports: [u16; MAX_VXLAN_PORTS],
    pub n_ports: usize,
    pub underlay_mtu: u32,
    /// Take the direct path for plain VXLAN-over-IPv4 frames (tests turn it off to prove
    /// both paths give the same report).
    pub fast_path: bool,
    /// Write the timeline into the report (the text report does not print it, and it is
    /// over half of a large report's JSON).
    pub timeline: bool,
    /// List at most `BRIEF_WITHDRAWALS` withdrawals and `BRIEF_ROUTES` routes in the report
    /// (the text report shows no more; a busy fabric's capture or snapshot holds far more).
    pub brief: bool,
}

/// Withdrawals listed by a brief report.
pub const BRIEF_WITHDRAWALS: usize = 256;
/// Routes listed by a brief report (the text report prints 200; a `--rib` snapshot may hold
/// 100,000, whose JSON alone took seconds to write and read back).
pub const BRIEF_ROUTES: usize = 1024;

impl Options {
    /// Defaults: UDP 4789 only, 1500-byte underlay.
    pub fn new() -> Self {
        let mut ports = [0u16; MAX_VXLAN_PORTS];
        ports[0] = vxlan::PORT;
        Options { vxlan_ports: ports, n_ports: 1, underlay_mtu: 1500, fast_path: true, timeline: true, brief: false }
    }

    /// Adds a VXLAN UDP port; false when the list is full.
    pub fn add_port(&mut self, port: u16) -> bool {
        if self.ports().contains(&port) {
            return true;
        }
        match self.vxlan_ports.get_mut(self.n_ports) {
            Some(slot) => {
                *slot = port;
                self.n_ports += 1;
                true
            }
            None => false,
        }
    }

    /// Configured VXLAN ports.
    pub fn ports(&self) -> &[u16] {
        self.vxlan_ports.get(..self.n_ports).unwrap_or(&[])
    }
}

/// Packet counters.
#[derive(Clone, Copy, Default)]
pub struct Stats {
    pub packets: u64,
    pub captured_bytes: u64,
    pub truncated: u64,
    pub unsupported_link: u64,
    pub non_ip: u64,
    pub ip_fragments: u64,
    pub tcp: u64,
    pub udp: u64,
    pub bgp_packets: u64,
    pub vxlan_packets: u64,
    pub nested_vxlan: u64,
    pub gre: u64,
    pub geneve: u64,
    pub bad_checksums: u64,
    pub malformed: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    pub input_bytes: u64,
}

/// Everything one run accumulates.
pub struct Decoder {
    pub opts: Options,
    pub reader: CaptureReader,
    pub stats: Stats,
    pub cp: ControlPlane,
    pub journal: Journal,
    pub flows: Flows,
    conn_keys: IndexMap<ConnKey>,
    conn_current: Vec<u32>,
    pub sessions: Vec<Session>,
    pub sessions_dropped: u64,
    pub notifications: Vec<Notification>,
    know: Knowledge,
    /// Bytes held by all reassembly buffers.
    stream_bytes: usize,
    pub fatal: Option<DecodeError>,
    pub finished: bool,
    /// Routes loaded from snapshots before the capture (`--rib`).
    pub snapshot_routes: u32,
}

impl Decoder {
    /// A decoder with `opts`.
    pub fn new(opts: Options) -> Self {
        let mut cp = ControlPlane::new();
        if opts.brief {
            cp.withdrawals_listed = BRIEF_WITHDRAWALS;
        }
        Decoder {
            opts,
            reader: CaptureReader::new(),
            stats: Stats::default(),
            cp,
            journal: Journal::new(),
            flows: Flows::new(),
            conn_keys: IndexMap::new(MAX_SESSIONS),
            conn_current: Vec::new(),
            sessions: Vec::new(),
            sessions_dropped: 0,
            notifications: Vec::new(),
            know: Knowledge { any_session: false, partial_live: 0, version: 0 },
            stream_bytes: 0,
            fatal: None,
            finished: false,
            snapshot_routes: 0,
        }
    }

    /// Loads snapshot records (see snapshot.rs) before any packet: the control plane at the
    /// capture's start is then known, so sessions joined mid-stream miss nothing.
    pub fn seed(&mut self, buf: &[u8]) -> core::result::Result<u32, (u32, DecodeError)> {
        let n = crate::snapshot::load(buf, &mut self.cp, &mut self.journal)?;
        self.snapshot_routes = self.snapshot_routes.saturating_add(n);
        self.know.any_session = true;
        self.know.version = self.know.version.wrapping_add(1);
        Ok(n)
    }

    /// Decodes as many whole records of `buf` as possible; returns the bytes consumed.
    /// The caller keeps the rest and passes it again, followed by more input.
    pub fn feed(&mut self, buf: &[u8], eof: bool) -> usize {
        let mut off = 0usize;
        if self.fatal.is_some() {
            return buf.len();
        }
        // Bounded: every step consumes bytes, or stops the loop.
        loop {
            if let Format::Pcap { big_endian: false, nanos, kuznetsov: false } = self.reader.format {
                if self.reader.skip_remaining == 0 {
                    off = self.pcap_le_records(buf, off, nanos);
                }
            }
            let rest = buf.get(off..).unwrap_or(&[]);
            match self.reader.next(rest, eof) {
                Step::Packet(rec, n) => {
                    self.packet(rec.ts_ns, rec.link_type, rec.data, rec.orig_len);
                    off += n;
                }
                Step::Consumed(n) => {
                    if n == 0 && self.reader.format == crate::wire::capture::Format::Unknown {
                        break;
                    }
                    off += n;
                }
                Step::Bad(e, n, counts) => {
                    if counts {
                        self.stats.packets += 1;
                    }
                    self.journal.error(self.stats.packets, self.stats.last_ns, e);
                    off += n;
                }
                Step::NeedMore => break,
                Step::Fatal(e) => {
                    self.journal.error(self.stats.packets, self.stats.last_ns, e);
                    self.fatal = Some(e);
                    // Count only what was decoded: the report must not depend on chunking.
                    self.stats.input_bytes += off as u64;
                    return buf.len();
                }
            }
            if off >= buf.len() && !(eof && self.reader.skip_remaining > 0) {
                break;
            }
        }
        self.stats.input_bytes += off as u64;
        off
    }

    /// The common container (little-endian classic pcap) without going through `Step`: whole
    /// ordinary records from `off` on, until one that is not (short, oversized, cut off), which
    /// the general reader then handles. Returns the new offset. Reads each record header with
    /// two 8-byte loads; the record is passed on as scalars, so nothing is written to memory.
    #[inline(never)]
    fn pcap_le_records(&mut self, buf: &[u8], mut off: usize, nanos: bool) -> usize {
        let link = self.reader.pcap_link();
        let scale: u64 = if nanos { 1 } else { 1000 };
        // Bounded: every record consumes at least its 16-byte header.
        while let Some(rest) = buf.get(off..) {
            let (w0, w1) = match (le64(rest, 0), le64(rest, 8)) {
                (Some(a), Some(b)) => (a, b),
                _ => break,
            };
            let caplen = (w1 & 0xffff_ffff) as usize;
            if caplen > MAX_RECORD_BYTES {
                break;
            }
            let data = match rest.get(16..16 + caplen) {
                Some(d) => d,
                None => break,
            };
            // sec < 2^32 and frac < 2^32: sec * 10^9 + frac * 1000 < 2^63, so the reader's
            // saturating arithmetic never saturates here and plain arithmetic is the same.
            let ts_ns = (w0 & 0xffff_ffff) * 1_000_000_000 + (w0 >> 32) * scale;
            self.packet(ts_ns, link, data, (w1 >> 32) as u32);
            off += 16 + caplen;
        }
        off
    }

    /// Ends the run: flushes reassembly stashes of sessions still open.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.flows.settle(u64::MAX, &mut self.journal);
        let pkt = self.stats.packets;
        let ns = self.stats.last_ns;
        for sid in 0..self.sessions.len() {
            let open = self.sessions.get(sid).map_or(false, |s| s.closed.is_none());
            if !open {
                continue;
            }
            for dir in 0..2 {
                let parts = CtxParts { cp: &mut self.cp, journal: &mut self.journal, notifications: &mut self.notifications, pkt, ns };
                if let Some(s) = self.sessions.get_mut(sid) {
                    // End of capture: deliver stashed bytes, declaring holes as gaps.
                    let (_, gap) = flush_direction(s, sid as u32, dir, parts);
                    s.partial |= gap;
                }
            }
        }
        self.routes_changed(ns);
    }

    // Kept out of line: V8 tiers up small functions sooner than one giant loop.
    #[inline(never)]
    fn packet(&mut self, ts_ns: u64, link_type: u16, data: &[u8], orig_len: u32) {
        self.stats.packets += 1;
        let pkt = self.stats.packets;
        let ns = ts_ns;
        if self.stats.first_ns == 0 {
            self.stats.first_ns = ns;
        }
        if ns > self.stats.last_ns {
            self.stats.last_ns = ns;
        }
        if ns > self.flows.replication.deadline {
            self.flows.settle(ns, &mut self.journal);
        }
        self.stats.captured_bytes += data.len() as u64;
        if (data.len() as u64) < orig_len as u64 {
            self.stats.truncated += 1;
        }
        if self.opts.fast_path && self.plain_vxlan(link_type, data, pkt, ns) {
            return;
        }
        self.general(link_type, data, pkt, ns);
    }

    /// Every frame the fast path does not take, out of line: `packet` stays small (fewer
    /// registers to spill on the common path, and V8 optimises it sooner).
    #[inline(never)]
    fn general(&mut self, link_type: u16, data: &[u8], pkt: u64, ns: u64) {
        let net = match link::network_layer(link_type, data) {
            Ok(Some(n)) => n,
            Ok(None) => {
                self.stats.unsupported_link += 1;
                return;
            }
            Err(e) => return self.malformed(pkt, ns, e),
        };
        if net.ethertype != 0x0800 && net.ethertype != 0x86dd {
            self.stats.non_ip += 1;
            return;
        }
        let ipr = match ip::parse(net.ethertype, net.payload) {
            Ok(i) => i,
            Err(e) => return self.malformed(pkt, ns, e),
        };
        if ipr.fragment == Fragment::Later {
            self.stats.ip_fragments += 1;
            return;
        }
        match ipr.protocol {
            6 => self.tcp(&ipr, pkt, ns),
            17 => self.udp(&ipr, pkt, ns, 0),
            47 => self.gre(&ipr, pkt, ns, 1),
            _ => {}
        }
    }

    /// GRE (RFC 2784/2890) around the fabric's traffic: IP or transparent Ethernet inside.
    fn gre(&mut self, ipr: &IpRepr, pkt: u64, ns: u64, depth: u8) {
        let p = ipr.payload;
        let (flags, proto) = match (be16(p, 0), be16(p, 2)) {
            (Some(f), Some(t)) => (f, t),
            _ => return self.malformed(pkt, ns, DecodeError::new("GRE header", "shorter than 4 bytes", p.len() as u64)),
        };
        if flags & 7 != 0 {
            return; // version 1 is PPTP's enhanced GRE, not a fabric tunnel
        }
        // Optional checksum+reserved, key and sequence number, 4 bytes each.
        let off = 4 + 4 * ((flags & 0x8000 != 0) as usize + (flags & 0x2000 != 0) as usize + (flags & 0x1000 != 0) as usize);
        self.stats.gre += 1;
        self.tunneled(proto, tail(p, off), pkt, ns, depth);
    }

    /// A tunnel's payload (`ethertype` 0x6558 = Ethernet): decoded like a captured packet.
    fn tunneled(&mut self, ethertype: u16, payload: &[u8], pkt: u64, ns: u64, depth: u8) {
        if depth > MAX_TUNNEL_DEPTH {
            return;
        }
        let (ethertype, bytes) = if ethertype == 0x6558 {
            match ethernet::parse(payload) {
                Ok(e) => (e.ethertype, e.payload),
                Err(e) => return self.malformed(pkt, ns, e),
            }
        } else {
            (ethertype, payload)
        };
        if ethertype != 0x0800 && ethertype != 0x86dd {
            return;
        }
        let inner = match ip::parse(ethertype, bytes) {
            Ok(i) => i,
            Err(e) => return self.malformed(pkt, ns, e),
        };
        if inner.fragment == Fragment::Later {
            self.stats.ip_fragments += 1;
            return;
        }
        match inner.protocol {
            6 => self.tcp(&inner, pkt, ns),
            17 => self.udp(&inner, pkt, ns, depth),
            47 => self.gre(&inner, pkt, ns, depth + 1),
            _ => {}
        }
    }

    /// The common case in one pass over fixed offsets: Ethernet or Linux SLL2, IPv4 without
    /// options or fragmentation, UDP to a VXLAN port without checksum, VXLAN flags exactly
    /// 0x08, an untagged non-UDP inner frame, within the MTU. Anything else returns false and
    /// takes the general path, which gives the same result for these frames.
    /// Reads the headers with eight-byte loads at fixed offsets (each wasm memory access costs
    /// a bounds check in V8) and hands the flow table scalars.
    #[inline(always)]
    fn plain_vxlan(&mut self, link_type: u16, d: &[u8], pkt: u64, ns: u64) -> bool {
        let l2 = match link_type {
            link::LINKTYPE_ETHERNET if be16(d, 12) == Some(0x0800) => 14,
            link::LINKTYPE_LINUX_SLL2 if be16(d, 0) == Some(0x0800) => 20,
            _ => return false,
        };
        // Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet header (14) + 6: the words
        // below cover bytes 0..56 of the IP packet.
        let ip = match d.get(l2..) {
            Some(ip) if ip.len() >= 56 => ip,
            _ => return false,
        };
        let w = |off: usize| le64(ip, off).unwrap_or(0);
        let (a, b, c, dw, e, f, g) = (w(0), w(8), w(16), w(24), w(32), w(40), w(48));
        let swap16 = |x: u64| ((x & 0xff) << 8 | (x >> 8) & 0xff) as usize;
        let total = swap16(a >> 16);
        // Version 4 with a 20-byte header, no fragmentation (flags/offset & 0x3fff == 0), UDP.
        let plain_ip = a & 0xff == 0x45 && (a >> 48) & 0xff3f == 0 && (b >> 8) & 0xff == 17;
        if !plain_ip || total > ip.len() || total < 20 + 8 + 8 + 14 || total as u32 > self.opts.underlay_mtu {
            return false;
        }
        let dport = swap16(c >> 48) as u16;
        // UDP length = total - 20, checksum 0; VXLAN flags 0x08 then three zero bytes; the
        // byte after the VNI zero.
        let plain_udp = swap16(dw) == total - 20 && (dw >> 16) & 0xffff == 0 && self.opts.ports().contains(&dport);
        let plain_vxlan = dw >> 32 == 0x08 && (e >> 24) & 0xff == 0;
        if !plain_udp || !plain_vxlan {
            return false;
        }
        let inner = ip.get(36..total).unwrap_or(&[]);
        let ethertype = swap16(g) as u16;
        let protocol = if ethertype == 0x0800 { u8_at(inner, 23).unwrap_or(0) } else if ethertype == 0x86dd { u8_at(inner, 20).unwrap_or(0) } else { 0 };
        if ethernet::is_vlan_tpid(ethertype) || protocol == 17 {
            return false;
        }
        let vni = ((e & 0xff) << 16 | (e & 0xff00) | (e >> 16) & 0xff) as u32;
        let dst_mac = (e >> 32) | (f & 0xffff) << 32;
        let src_mac = f >> 16;
        self.stats.udp += 1;
        self.stats.vxlan_packets += 1;
        self.flows.frame_v4((b >> 32) as u32, c as u32, vni, src_mac, dst_mac, ethertype, protocol, inner, total as u32, pkt, ns, &self.cp, &self.know, &mut self.journal);
        true
    }

    fn malformed(&mut self, pkt: u64, ns: u64, e: DecodeError) {
        self.stats.malformed += 1;
        self.journal.error(pkt, ns, e);
    }

    /// A TCP segment (BGP), then the findings its routes may explain (late_source.rs).
    #[inline(never)]
    fn tcp(&mut self, ipr: &IpRepr, pkt: u64, ns: u64) {
        self.bgp_segment(ipr, pkt, ns);
        self.routes_changed(ns);
    }

    /// Reclassifies `src_mac_not_advertised` findings a route that arrived at `ns` explains.
    fn routes_changed(&mut self, ns: u64) {
        if !self.flows.late.is_empty() && self.flows.late.epoch != self.cp.epoch {
            let know = self.knowledge();
            self.flows.resolve_late(ns, &self.cp, &know, &mut self.journal);
        }
    }

    fn bgp_segment(&mut self, ipr: &IpRepr, pkt: u64, ns: u64) {
        self.stats.tcp += 1;
        let t = match transport::parse_tcp(ipr.payload) {
            Ok(t) => t,
            Err(e) => return self.malformed(pkt, ns, e),
        };
        if t.src_port != 179 && t.dst_port != 179 {
            return;
        }
        self.stats.bgp_packets += 1;
        let syn = t.flags & TCP_SYN != 0;
        let key = conn_key(&ipr.src, t.src_port, &ipr.dst, t.dst_port);
        let (cid, new) = match self.conn_keys.find_or_insert(key) {
            Some(x) => x,
            None => {
                self.sessions_dropped += 1;
                return;
            }
        };
        if new && !try_push(&mut self.conn_current, u32::MAX, MAX_SESSIONS) {
            self.sessions_dropped += 1;
            return;
        }
        let mut sid = self.conn_current.get(cid as usize).copied().unwrap_or(u32::MAX);
        // A bare SYN on a connection that already carried a session starts a new session.
        let restart = syn && t.flags & 0x10 == 0 && self.sessions.get(sid as usize).map_or(false, |s| s.closed.is_some() || s.dirs.iter().any(|d| d.stream.started && !d.stream.syn_seen || d.messages.iter().any(|&m| m > 0)));
        if restart {
            self.close_session(sid, CloseReason::Reopened, pkt, ns);
        }
        if sid == u32::MAX || restart {
            let mut s = Session::new(ipr.src, t.src_port, ipr.dst, t.dst_port, syn && t.flags & 0x10 == 0, pkt, ns);
            let starts_with_open = matches!(crate::bgp::message::parse_header(t.payload), Ok((_, crate::bgp::message::OPEN)));
            // Joined an existing session: routes advertised before the capture are unknown.
            // A snapshot (`--rib`) says what they were.
            s.partial = !syn && !starts_with_open && !self.cp.seeded;
            let id = self.sessions.len() as u32;
            if !try_push(&mut self.sessions, s, MAX_SESSIONS) {
                self.sessions_dropped += 1;
                return;
            }
            if let Some(c) = self.conn_current.get_mut(cid as usize) {
                *c = id;
            }
            sid = id;
            if !self.know.any_session {
                self.know.any_session = true;
                self.know.version = self.know.version.wrapping_add(1);
            }
            self.update_incomplete(sid);
        }
        let (dir, closed) = match self.sessions.get_mut(sid as usize) {
            Some(s) => {
                s.last_pkt = pkt;
                s.last_ns = ns;
                (s.dir_of(&ipr.src, t.src_port), s.closed.is_some())
            }
            None => return,
        };
        if closed {
            return;
        }
        let fin = t.flags & TCP_FIN != 0;
        // Payload bytes the header declares but the capture cut off (snap length).
        let header_len = ipr.payload.len().saturating_sub(t.payload.len());
        let declared = ipr.payload_len_declared.saturating_sub(header_len);
        let missing = declared.saturating_sub(t.payload.len()).min(u32::MAX as usize) as u32;
        let quiet = t.payload.is_empty() && missing == 0 && t.flags & (TCP_SYN | TCP_FIN | TCP_RST) == 0;
        if quiet && !self.sessions.get(sid as usize).map_or(false, |s| s.dirs.iter().any(|d| d.stream.waiting())) {
            // A bare ACK changes nothing (no hole waiting to time out).
            return;
        }
        let parts = CtxParts { cp: &mut self.cp, journal: &mut self.journal, notifications: &mut self.notifications, pkt, ns };
        let budget_left = STREAM_BUDGET.saturating_sub(self.stream_bytes);
        let (after, gap, partial_now, established_now) = match self.sessions.get_mut(sid as usize) {
            Some(s) => {
                let before = s.dirs.get(dir).map_or(0, |d| d.stream.memory());
                let (mut after, mut gap) = feed_segment(s, sid, dir, t.seq, syn, fin, t.payload, missing, parts);
                let grown = s.dirs.get(dir).map_or(0, |d| d.stream.memory()).saturating_sub(before);
                if grown > budget_left {
                    let parts = CtxParts { cp: &mut self.cp, journal: &mut self.journal, notifications: &mut self.notifications, pkt, ns };
                    let (a2, g2) = crate::session::shed(s, sid, dir, parts);
                    if let After::Close = a2 {
                        after = After::Close;
                    }
                    gap |= g2;
                }
                let after_mem = s.dirs.get(dir).map_or(0, |d| d.stream.memory());
                self.stream_bytes = self.stream_bytes.saturating_sub(before).saturating_add(after_mem);
                let partial_now = gap || (!self.cp.seeded && s.dirs.iter().any(|d| d.stream.started && !d.stream.from_start));
                let est = !s.established && s.dirs.iter().all(|d| d.open.is_some()) && s.dirs.iter().any(|d| d.keepalive_after_open || d.messages[2] > 0);
                (after, gap, partial_now, est)
            }
            None => return,
        };
        let _ = gap;
        if let Some(s) = self.sessions.get_mut(sid as usize) {
            s.partial |= partial_now;
            if established_now {
                s.established = true;
                self.journal.event(pkt, ns, EventKind::SessionEstablished, sid, 0);
            }
        }
        self.update_incomplete(sid);
        if let After::Close = after {
            self.close_session(sid, CloseReason::Notification, pkt, ns);
        } else if t.flags & TCP_RST != 0 {
            self.close_session(sid, CloseReason::Rst, pkt, ns);
        } else if fin {
            self.close_session(sid, CloseReason::Fin, pkt, ns);
        }
    }

    /// Keeps `know.partial_live` equal to the number of open sessions whose routes may be
    /// incomplete now; any change invalidates cached flow verdicts.
    fn update_incomplete(&mut self, sid: u32) {
        let s = match self.sessions.get_mut(sid as usize) {
            Some(s) => s,
            None => return,
        };
        let now = s.closed.is_none() && s.incomplete();
        if now != s.counted_incomplete {
            s.counted_incomplete = now;
            self.know.partial_live = if now { self.know.partial_live.saturating_add(1) } else { self.know.partial_live.saturating_sub(1) };
            self.know.version = self.know.version.wrapping_add(1);
        }
    }

    fn close_session(&mut self, sid: u32, why: CloseReason, pkt: u64, ns: u64) {
        match self.sessions.get_mut(sid as usize) {
            Some(s) if s.closed.is_none() => {
                s.closed = Some((why, pkt, ns));
                // An ended session's buffers are never used again.
                for d in s.dirs.iter_mut() {
                    self.stream_bytes = self.stream_bytes.saturating_sub(d.stream.memory());
                    d.stream.release();
                }
            }
            _ => return,
        }
        self.update_incomplete(sid);
        self.journal.event(pkt, ns, EventKind::SessionClosed, sid, why as u32);
        for dir in 0..2 {
            self.cp.drop_holder(holder_id(sid, dir), pkt, ns, &mut self.journal);
        }
    }

    #[inline(never)]
    fn udp(&mut self, ipr: &IpRepr, pkt: u64, ns: u64, depth: u8) {
        if depth == 0 {
            self.stats.udp += 1;
        }
        let u = match transport::parse_udp(ipr.payload) {
            Ok(u) => u,
            Err(e) => return self.malformed(pkt, ns, e),
        };
        if !self.opts.ports().contains(&u.dst_port) {
            if u.dst_port == GENEVE_PORT {
                self.geneve(&u, pkt, ns, depth + 1);
            }
            return;
        }
        self.vxlan(ipr, &u, pkt, ns);
    }

    /// Geneve (RFC 8926) around the fabric's traffic: version 0, options skipped by length.
    fn geneve(&mut self, u: &transport::UdpRepr, pkt: u64, ns: u64, depth: u8) {
        let p = u.payload;
        let (b0, proto) = match (u8_at(p, 0), be16(p, 2)) {
            (Some(b), Some(t)) if p.len() >= 8 => (b, t),
            _ => return self.malformed(pkt, ns, DecodeError::new("Geneve header", "shorter than 8 bytes", p.len() as u64)),
        };
        if b0 >> 6 != 0 {
            return;
        }
        self.stats.geneve += 1;
        self.tunneled(proto, tail(p, 8 + (b0 & 0x3f) as usize * 4), pkt, ns, depth);
    }

    #[inline(never)]
    fn vxlan(&mut self, ipr: &IpRepr, u: &transport::UdpRepr, pkt: u64, ns: u64) {
        self.stats.vxlan_packets += 1;
        let v = match vxlan::parse(u.payload) {
            Ok(v) => v,
            Err(e) => return self.vxlan_malformed(ipr, pkt, ns, e),
        };
        let light = match vxlan::inner_light(v.payload) {
            Ok(l) => l,
            Err(e) => return self.vxlan_malformed(ipr, pkt, ns, e),
        };
        let outer_len = ipr.total_len as u32;
        let key = flow_key(&ipr.src, &ipr.dst, v.vni, &light.src, &light.dst);
        let fid = self.flows.frame(key, &light, v.payload, outer_len, pkt, ns, &self.cp, &self.know, &mut self.journal);
        // Rare per-frame conditions, aggregated on the flow (or the VTEP pair).
        let rare = outer_len > self.opts.underlay_mtu || ipr.fragment == Fragment::First || u.checksum != 0 || v.flags != vxlan::FLAG_I || v.reserved_nonzero;
        if rare {
            self.vxlan_rare(ipr, u, &v, &light, outer_len, pkt, ns);
        }
        if light.udp_dst_port != 0 && self.opts.ports().contains(&light.udp_dst_port) {
            self.nested(v.payload, fid);
        }
    }

    #[inline(never)]
    fn vxlan_rare(&mut self, ipr: &IpRepr, u: &transport::UdpRepr, v: &vxlan::VxlanRepr, light: &vxlan::InnerLight, outer_len: u32, pkt: u64, ns: u64) {
        let subject = Subject { vni: v.vni, src_vtep: ipr.src, dst_vtep: ipr.dst, src_mac: light.src, dst_mac: light.dst, has_vni: true, has_vteps: true, has_macs: true, aux: 0 };
        if outer_len > self.opts.underlay_mtu {
            if let Some(f) = self.journal.report(Kind::OversizeFrame, ERROR, &subject, pkt, ns) {
                f.detail = [f.detail[0].max(outer_len), self.opts.underlay_mtu];
            }
        }
        if ipr.fragment == Fragment::First {
            if let Some(f) = self.journal.report(Kind::OuterFragmented, WARNING, &subject, pkt, ns) {
                f.detail[0] = outer_len;
            }
        }
        if u.checksum != 0 && transport::udp_checksum(ipr, ipr.payload, u) == ChecksumStatus::Bad {
            self.stats.bad_checksums += 1;
            // Aggregated per VTEP pair. A checksum equal to the pseudo-header sum is what
            // checksum offload leaves in captures taken on the sending host: info only.
            let offload = transport::is_offload_partial(ipr, u);
            let pair = Subject { src_vtep: ipr.src, dst_vtep: ipr.dst, has_vteps: true, aux: offload as u32, ..Default::default() };
            let severity = if offload { INFO } else { WARNING };
            if let Some(f) = self.journal.report(Kind::BadUdpChecksum, severity, &pair, pkt, ns) {
                f.detail = [u.checksum as u32, offload as u32];
            }
        }
        if v.flags & vxlan::FLAG_I == 0 {
            if let Some(f) = self.journal.report(Kind::VxlanFlagMissing, ERROR, &subject, pkt, ns) {
                f.detail[0] = v.flags as u32;
            }
        } else if v.reserved_nonzero {
            if let Some(f) = self.journal.report(Kind::VxlanReservedBits, WARNING, &subject, pkt, ns) {
                f.detail[0] = v.flags as u32;
            }
        }
    }

    /// Nested VXLAN: counted and its VNI remembered on the flow; only the outer layer is held
    /// against the EVPN control plane.
    #[inline(never)]
    fn nested(&mut self, mut frame: &[u8], fid: Option<u32>) {
        let mut depth = 1u8;
        while depth < MAX_TUNNEL_DEPTH {
            let summary = match vxlan::inner_summary(frame) {
                Ok(s) => s,
                Err(_) => break,
            };
            if summary.udp_dst_port == 0 || !self.opts.ports().contains(&summary.udp_dst_port) {
                break;
            }
            let payload = frame.get(summary.udp_payload_off..summary.udp_payload_off.saturating_add(summary.udp_payload_len)).unwrap_or(&[]);
            let nested = match vxlan::parse(payload) {
                Ok(n) => n,
                Err(_) => break,
            };
            self.stats.nested_vxlan += 1;
            if let Some(f) = fid.and_then(|id| self.flows.flows.get_mut(id as usize)) {
                f.counts.nested_vxlan += 1;
                if f.nested_vni.is_none() {
                    f.nested_vni = Some(nested.vni);
                }
            }
            frame = nested.payload;
            depth += 1;
        }
    }

    fn vxlan_malformed(&mut self, ipr: &IpRepr, pkt: u64, ns: u64, e: DecodeError) {
        self.journal.error(pkt, ns, e);
        let subject = Subject { src_vtep: ipr.src, dst_vtep: ipr.dst, has_vteps: true, ..Default::default() };
        if let Some(f) = self.journal.report(Kind::VxlanMalformed, WARNING, &subject, pkt, ns) {
            f.text = e.what;
            f.text2 = e.why;
        }
    }

    /// Knowledge flags, for the report.
    pub fn knowledge(&self) -> Knowledge {
        self.know
    }
}

fn flush_direction(s: &mut Session, sid: u32, dir: usize, parts: CtxParts) -> (After, bool) {
    let has_stash = s.dirs.get(dir).map_or(false, |d| d.stream.started);
    if !has_stash {
        return (After::Nothing, false);
    }
    // A zero-length segment with FIN semantics flushes the stash without closing the session.
    let seq = 0;
    crate::session::flush_only(s, sid, dir, seq, parts)
}
