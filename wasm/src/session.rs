//! BGP sessions seen on TCP port 179: per-direction reassembly, OPEN/capabilities, message
//! counts, and the decoding of UPDATEs into control-plane advertisements and withdrawals.

use crate::bgp::evpn::{decode_route_into, EvpnRoute, NlriIter};
use crate::bgp::ext_community::{label_is_vni, summarise_into, Communities};
use crate::bgp::message::{self, notification_name, parse_header, parse_open, AttributeIter, OpenRepr, HEADER_LEN};
use crate::control_plane::{holder_id, ControlPlane, Origin, RouteAttrs};
use crate::journal::{EventKind, Journal, Kind, Subject, ERROR, INFO, WARNING};
use crate::stream::{Stream, StreamEvent};
use crate::util::bytes::{array_at, u8_at};
use crate::util::error::DecodeError;
use crate::util::index_map::Key;

pub const MAX_SESSIONS: usize = 1 << 14;
pub const MAX_NOTIFICATIONS: usize = 10_000;

/// Why a session ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    Fin,
    Rst,
    Notification,
    Reopened,
}

impl CloseReason {
    /// Stable name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            CloseReason::Fin => "fin",
            CloseReason::Rst => "rst",
            CloseReason::Notification => "notification",
            CloseReason::Reopened => "reopened",
        }
    }
}

/// Per-direction state; direction 0 is client -> server.
pub struct Direction {
    pub stream: Stream,
    pub open: Option<OpenRepr>,
    pub open_pkt: u64,
    /// Messages by type (index = type code, 0 unused).
    pub messages: [u64; 6],
    pub evpn_advertised: u64,
    pub evpn_withdrawn: u64,
    pub other_families: u64,
    pub decode_errors: u64,
    pub keepalive_after_open: bool,
    /// `open`'s add-path bits for EVPN (0 without an OPEN), read for every segment.
    add_path_bits: u32,
    /// Without a captured OPEN, what it would have said, inferred from the UPDATEs:
    /// `NOT_YET` until an UPDATE settles it, then `NO` or `YES`.
    pub inferred_add_path: u8,
    pub inferred_four_octet_as: u8,
}

/// Values of `Direction::inferred_*`.
pub const NOT_YET: u8 = 0;
pub const NO: u8 = 1;
pub const YES: u8 = 2;

impl Direction {
    fn new() -> Self {
        Direction { stream: Stream::new(), open: None, open_pkt: 0, messages: [0; 6], evpn_advertised: 0, evpn_withdrawn: 0, other_families: 0, decode_errors: 0, keepalive_after_open: false, add_path_bits: 0, inferred_add_path: NOT_YET, inferred_four_octet_as: NOT_YET }
    }
}

/// One TCP connection carrying BGP.
pub struct Session {
    pub client: ([u8; 16], u16),
    pub server: ([u8; 16], u16),
    pub first_pkt: u64,
    pub last_pkt: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    pub dirs: [Direction; 2],
    pub established: bool,
    pub closed: Option<(CloseReason, u64, u64)>,
    /// Some routes may be missing: started mid-stream or lost bytes.
    pub partial: bool,
    /// Counted in the decoder's live-incomplete total (partial, or waiting for a hole).
    pub counted_incomplete: bool,
}

/// Connection key: both endpoints, in canonical order.
#[derive(Clone, Copy, Eq)]
pub struct ConnKey([u64; 5]);

impl PartialEq for ConnKey {
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        // Word compares, no memcmp call: this runs for every BGP-port segment.
        let (a, b) = (&self.0, &o.0);
        ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0
    }
}

impl Key for ConnKey {
    #[inline]
    fn hash64(&self) -> u64 {
        let k = &self.0;
        let x = k[0] ^ k[2].rotate_left(23) ^ k[4];
        let y = k[1] ^ k[3].rotate_left(41);
        let h = (x ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0x517c_c1b7_2722_0a95) ^ (y ^ 0xc2b2_ae3d_27d4_eb4f).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 29) ^ (h >> 47)
    }
}

/// Canonical key of a connection: its two endpoints in a fixed order, so both directions
/// give the same key. Only compared and hashed (ids are first-seen order).
#[inline]
pub fn conn_key(src: &[u8; 16], sport: u16, dst: &[u8; 16], dport: u16) -> ConnKey {
    let w = |b: &[u8; 16], i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(if i == 0 { &b[..8] } else { &b[8..] });
        u64::from_be_bytes(x)
    };
    // Big-endian words compare like the bytes, so the order is the endpoints' (address,
    // port) order.
    let a = (w(src, 0), w(src, 1), sport);
    let b = (w(dst, 0), w(dst, 1), dport);
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    ConnKey([x.0, x.1, y.0, y.1, (x.2 as u64) << 16 | y.2 as u64])
}

impl Session {
    /// A session first seen on a segment from (src,sport) to (dst,dport).
    pub fn new(src: [u8; 16], sport: u16, dst: [u8; 16], dport: u16, syn_only: bool, pkt: u64, ns: u64) -> Self {
        // The server is the side on port 179; when both are, the receiver of a bare SYN.
        let src_is_server = if sport == 179 && dport != 179 { true } else if dport == 179 && sport != 179 { false } else { !syn_only };
        let (client, server) = if src_is_server { ((dst, dport), (src, sport)) } else { ((src, sport), (dst, dport)) };
        Session { client, server, first_pkt: pkt, last_pkt: pkt, first_ns: ns, last_ns: ns, dirs: [Direction::new(), Direction::new()], established: false, closed: None, partial: false, counted_incomplete: false }
    }

    /// Direction index of a segment sent from (src, sport).
    pub fn dir_of(&self, src: &[u8; 16], sport: u16) -> usize {
        if sport == self.client.1 && crate::util::index_map::bytes_eq(src, &self.client.0) {
            0
        } else {
            1
        }
    }

    /// Sender address of direction `d`.
    pub fn sender(&self, d: usize) -> [u8; 16] {
        if d == 0 {
            self.client.0
        } else {
            self.server.0
        }
    }

    /// True while the session's routes may be incomplete right now.
    pub fn incomplete(&self) -> bool {
        self.partial || self.dirs.iter().any(|d| d.stream.waiting())
    }

    /// Receiver address of direction `d`.
    pub fn receiver(&self, d: usize) -> [u8; 16] {
        if d == 0 {
            self.server.0
        } else {
            self.client.0
        }
    }
}

/// Shared context for decoding the messages of one direction.
pub struct MsgCtx<'a> {
    pub cp: &'a mut ControlPlane,
    pub journal: &'a mut Journal,
    pub session_id: u32,
    pub dir: usize,
    pub pkt: u64,
    pub ns: u64,
    pub sender: [u8; 16],
    pub receiver: [u8; 16],
    pub add_path: bool,
    pub notifications: &'a mut Vec<Notification>,
}

/// A NOTIFICATION as reported.
#[derive(Clone, Copy)]
pub struct Notification {
    pub session: u32,
    pub dir: u8,
    pub pkt: u64,
    pub ns: u64,
    pub code: u8,
    pub subcode: u8,
}

/// What a message asks of the session after decoding.
pub enum After {
    Nothing,
    Close,
}

/// Decodes one complete BGP message of direction `ctx.dir`.
pub fn handle_message(msg: &[u8], d: &mut Direction, ctx: &mut MsgCtx) -> After {
    let (len, t) = match parse_header(msg) {
        Ok(x) => x,
        Err(e) => {
            bgp_error(e, d, ctx);
            return After::Nothing;
        }
    };
    if let Some(c) = d.messages.get_mut(t as usize) {
        *c += 1;
    }
    let body = msg.get(HEADER_LEN..len).unwrap_or(&[]);
    match t {
        message::OPEN => match parse_open(body) {
            Ok(o) => {
                d.add_path_bits = o.add_path_evpn();
                d.open = Some(o);
                d.open_pkt = ctx.pkt;
                ctx.journal.event(ctx.pkt, ctx.ns, EventKind::SessionOpen, ctx.session_id, ctx.dir as u32);
            }
            Err(e) => bgp_error(e, d, ctx),
        },
        message::UPDATE => handle_update(body, d, ctx),
        message::NOTIFICATION => {
            let code = u8_at(body, 0).unwrap_or(0);
            let subcode = u8_at(body, 1).unwrap_or(0);
            let n = Notification { session: ctx.session_id, dir: ctx.dir as u8, pkt: ctx.pkt, ns: ctx.ns, code, subcode };
            crate::util::bounded::try_push(ctx.notifications, n, MAX_NOTIFICATIONS);
            ctx.journal.event(ctx.pkt, ctx.ns, EventKind::Notification, ctx.session_id, ((code as u32) << 8) | subcode as u32);
            // Message/OPEN/UPDATE errors mean a speaker sent something broken; Cease and
            // hold-timer expiry are operational events.
            let severity = if (1..=3).contains(&code) { ERROR } else { WARNING };
            let subject = Subject { src_vtep: ctx.sender, dst_vtep: ctx.receiver, has_vteps: true, aux: ((code as u32) << 8) | subcode as u32, ..Default::default() };
            if let Some(f) = ctx.journal.report(Kind::BgpNotification, severity, &subject, ctx.pkt, ctx.ns) {
                let (c, s) = notification_name(code, subcode);
                f.text = c;
                f.text2 = s;
                f.detail = [code as u32, subcode as u32];
            }
            return After::Close;
        }
        message::KEEPALIVE => {
            if d.open.is_some() {
                d.keepalive_after_open = true;
            }
        }
        _ => {
            // ROUTE-REFRESH: AFI(2) subtype(1) SAFI(1)
            let afi = crate::util::bytes::be16(body, 0).unwrap_or(0) as u32;
            let safi = u8_at(body, 3).unwrap_or(0) as u32;
            ctx.journal.event(ctx.pkt, ctx.ns, EventKind::RouteRefresh, ctx.session_id, (afi << 8) | safi);
        }
    }
    After::Nothing
}

// The BGP path is split into out-of-line pieces: V8 compiles each hot one with its
// optimising tier in a few ms; as one function (22 KB of wasm) it took ~75 ms, and UPDATEs
// ran in the baseline tier meanwhile.
#[cold]
#[inline(never)]
fn bgp_error(e: DecodeError, d: &mut Direction, ctx: &mut MsgCtx) {
    d.decode_errors += 1;
    ctx.journal.error(ctx.pkt, ctx.ns, e);
    let subject = Subject { src_vtep: ctx.sender, dst_vtep: ctx.receiver, has_vteps: true, ..Default::default() };
    if let Some(f) = ctx.journal.report(Kind::BgpMalformed, WARNING, &subject, ctx.pkt, ctx.ns) {
        if f.text.is_empty() {
            f.text = e.what;
            f.text2 = e.why;
        }
    }
}

#[inline(never)]
fn handle_update(body: &[u8], d: &mut Direction, ctx: &mut MsgCtx) {
    let u = match message::parse_update(body) {
        Ok(u) => u,
        Err(e) => return bgp_error(e, d, ctx),
    };
    if d.open.is_none() {
        infer_open(u.attributes, d);
        ctx.add_path = d.inferred_add_path == YES;
    }
    // First pass: collect the attributes EVPN needs, whatever their order (FRR and GoBGP send
    // EXTENDED_COMMUNITIES after MP_REACH_NLRI).
    let mut reach: Option<&[u8]> = None;
    let mut unreach: Option<&[u8]> = None;
    // Filled in place (the next hop comes from MP_REACH_NLRI): built from returned values,
    // the attributes were copied field by field twice per UPDATE.
    let mut attrs = RouteAttrs { vtep: [0; 16], communities: Communities::default(), pmsi: None, originator_id: None };
    for a in AttributeIter::new(u.attributes) {
        let a = match a {
            Ok(a) => a,
            Err(e) => {
                bgp_error(e, d, ctx);
                break;
            }
        };
        match a.type_code {
            message::ATTR_MP_REACH => reach = Some(a.value),
            message::ATTR_MP_UNREACH => unreach = Some(a.value),
            message::ATTR_EXT_COMMUNITIES => {
                if let Some(e) = summarise_into(a.value, &mut attrs.communities) {
                    bgp_error(e, d, ctx);
                }
            }
            message::ATTR_PMSI_TUNNEL => match message::parse_pmsi(a.value) {
                Ok(p) => attrs.pmsi = Some(p),
                Err(e) => bgp_error(e, d, ctx),
            },
            message::ATTR_ORIGINATOR_ID => attrs.originator_id = array_at::<4>(a.value, 0),
            _ => {}
        }
    }
    let origin = Origin { holder: holder_id(ctx.session_id, ctx.dir), pkt: ctx.pkt, ns: ctx.ns };
    if let Some(v) = unreach {
        withdraw_all(v, origin, d, ctx);
    }
    if let Some(v) = reach {
        advertise_all(v, &mut attrs, origin, d, ctx);
    }
}

/// No OPEN was captured for this direction (the capture joined an established session):
/// settle 4-octet AS from the AS_PATH segment lengths and ADD-PATH from the EVPN NLRI layout,
/// once each, from the first UPDATE that tells them apart.
#[cold]
#[inline(never)]
fn infer_open(attributes: &[u8], d: &mut Direction) {
    if d.inferred_add_path != NOT_YET && d.inferred_four_octet_as != NOT_YET {
        return;
    }
    for a in AttributeIter::new(attributes) {
        let a = match a {
            Ok(a) => a,
            Err(_) => return,
        };
        match a.type_code {
            message::ATTR_AS_PATH if d.inferred_four_octet_as == NOT_YET => d.inferred_four_octet_as = message::infer_as_path_width(a.value),
            // AS4_PATH is sent only to speakers without 4-octet AS support.
            message::ATTR_AS4_PATH => d.inferred_four_octet_as = NO,
            message::ATTR_MP_REACH if d.inferred_add_path == NOT_YET => {
                if let Ok(mp) = message::parse_mp_reach(a.value) {
                    if mp.afi == 25 && mp.safi == 70 {
                        d.inferred_add_path = crate::bgp::evpn::infer_add_path(mp.nlri);
                    }
                }
            }
            message::ATTR_MP_UNREACH if d.inferred_add_path == NOT_YET => {
                if let Ok((25, 70, nlri)) = message::parse_mp_unreach(a.value) {
                    d.inferred_add_path = crate::bgp::evpn::infer_add_path(nlri);
                }
            }
            _ => {}
        }
    }
}

/// Decodes each EVPN route of an NLRI field into one reused buffer and hands it to `on_route`;
/// a malformed item is reported and skipped, a route type we do not decode is counted.
#[inline(always)]
fn each_evpn_route(nlri: &[u8], d: &mut Direction, ctx: &mut MsgCtx, mut on_route: impl FnMut(&EvpnRoute, &mut Direction, &mut MsgCtx)) {
    let mut route = EvpnRoute::default();
    for item in NlriIter::new(nlri, ctx.add_path) {
        // Matched step by step: a (raw, route) tuple in a Result cost two 84-byte copies.
        let raw = match item {
            Ok(raw) => raw,
            Err(e) => {
                bgp_error(e, d, ctx);
                continue;
            }
        };
        match decode_route_into(raw.route_type, raw.body, raw.path_id, &mut route) {
            Ok(true) => on_route(&route, d, ctx),
            Ok(false) => ctx.cp.unknown_route_types[raw.route_type as usize] += 1,
            Err(e) => bgp_error(e, d, ctx),
        }
    }
}

/// MP_UNREACH_NLRI: withdraws each EVPN route it lists.
#[inline(never)]
fn withdraw_all(v: &[u8], origin: Origin, d: &mut Direction, ctx: &mut MsgCtx) {
    match message::parse_mp_unreach(v) {
        Ok((25, 70, nlri)) => each_evpn_route(nlri, d, ctx, |route, d, ctx| {
            d.evpn_withdrawn += 1;
            if !ctx.cp.withdraw(route, origin, ctx.journal) {
                withdraw_unknown(ctx);
            }
        }),
        Ok(_) => d.other_families += 1,
        Err(e) => bgp_error(e, d, ctx),
    }
}

#[cold]
#[inline(never)]
fn withdraw_unknown(ctx: &mut MsgCtx) {
    let subject = Subject { src_vtep: ctx.sender, dst_vtep: ctx.receiver, has_vteps: true, ..Default::default() };
    ctx.journal.report(Kind::WithdrawUnknownRoute, INFO, &subject, ctx.pkt, ctx.ns);
}

/// MP_REACH_NLRI: advertises each EVPN route it lists with the UPDATE's attributes (`attrs`
/// without the next hop, which comes from this attribute).
#[inline(never)]
fn advertise_all(v: &[u8], attrs: &mut RouteAttrs, origin: Origin, d: &mut Direction, ctx: &mut MsgCtx) {
    let mp = match message::parse_mp_reach(v) {
        Ok(m) => m,
        Err(e) => return bgp_error(e, d, ctx),
    };
    if mp.afi != 25 || mp.safi != 70 {
        d.other_families += 1;
        return;
    }
    let vtep = match message::next_hop_address(mp.next_hop) {
        Ok(v) => v,
        Err(e) => return bgp_error(e, d, ctx),
    };
    attrs.vtep = vtep;
    let vni_labels = label_is_vni(attrs.communities.encapsulation);
    each_evpn_route(mp.nlri, d, ctx, |route, d, ctx| {
        d.evpn_advertised += 1;
        ctx.cp.advertise(route, attrs, vni_labels, origin, ctx.journal);
    });
}

/// Feeds one TCP segment of a session into its reassembly and decodes what completes.
pub fn feed_segment(s: &mut Session, session_id: u32, dir: usize, seq: u32, syn: bool, fin: bool, payload: &[u8], missing: u32, parts: CtxParts) -> (After, bool) {
    let ns = parts.ns;
    if !syn && !fin && missing == 0 && s.dirs.get(dir).map_or(false, |d| d.stream.next_in_order(seq, payload.len())) {
        return in_order(s, session_id, dir, payload, parts);
    }
    drive(s, session_id, dir, parts, |stream, sink| stream.segment(seq, syn, fin, payload, missing, ns, sink))
}

/// Drops a direction's buffers (memory budget exceeded), reporting what they held as a gap.
pub fn shed(s: &mut Session, session_id: u32, dir: usize, parts: CtxParts) -> (After, bool) {
    drive(s, session_id, dir, parts, |stream, sink| stream.shed(sink))
}

/// Delivers a direction's stashed out-of-order bytes (end of capture), declaring holes as gaps.
pub fn flush_only(s: &mut Session, session_id: u32, dir: usize, _seq: u32, parts: CtxParts) -> (After, bool) {
    drive(s, session_id, dir, parts, |stream, sink| stream.flush_stash(sink))
}

/// The message context of direction `dir` and the direction itself.
#[inline(always)]
fn context<'s, 'p>(s: &'s mut Session, session_id: u32, dir: usize, parts: CtxParts<'p>) -> Option<(MsgCtx<'p>, &'s mut Direction)> {
    let sender = s.sender(dir);
    let receiver = s.receiver(dir);
    // The sender adds path ids when it announced "send" (2) and the peer "receive" (1).
    let mine = s.dirs.get(dir).map_or(0, |d| d.add_path_bits);
    let theirs = s.dirs.get(1 - dir).map_or(0, |d| d.add_path_bits);
    let add_path = match s.dirs.get(dir) {
        // Without this direction's OPEN, what its UPDATEs showed (see `infer_open`).
        Some(d) if d.open.is_none() => d.inferred_add_path == YES,
        _ => mine & 2 != 0 && theirs & 1 != 0,
    };
    let CtxParts { cp, journal, notifications, pkt, ns } = parts;
    let ctx = MsgCtx { cp, journal, session_id, dir, pkt, ns, sender, receiver, add_path, notifications };
    s.dirs.get_mut(dir).map(|d| (ctx, d))
}

/// The common case: the next in-order bytes with nothing buffered, stashed or out of sync.
/// Whole messages are decoded straight from the segment, as `Stream::segment` would frame
/// them, without moving the stream out and back; a tail that is not a whole message goes
/// through the stream's framing like the rest of such a segment would.
fn in_order(s: &mut Session, session_id: u32, dir: usize, payload: &[u8], parts: CtxParts) -> (After, bool) {
    let (mut ctx, d) = match context(s, session_id, dir, parts) {
        Some(x) => x,
        None => return (After::Nothing, false),
    };
    d.stream.advance(payload.len());
    let mut after = After::Nothing;
    let mut rest = payload;
    // Bounded: every message consumes at least a header.
    while let Ok((len, _)) = parse_header(rest) {
        let msg = match rest.get(..len) {
            Some(m) => m,
            None => break,
        };
        if let After::Close = handle_message(msg, d, &mut ctx) {
            after = After::Close;
        }
        rest = rest.get(len..).unwrap_or(&[]);
    }
    if rest.is_empty() {
        return (after, false);
    }
    let (a2, gap) = run(d, &mut ctx, |stream, sink| stream.frame_in_order(rest, sink));
    if let After::Close = a2 {
        after = After::Close;
    }
    (after, gap)
}

fn drive(s: &mut Session, session_id: u32, dir: usize, parts: CtxParts, op: impl FnOnce(&mut Stream, &mut dyn FnMut(StreamEvent))) -> (After, bool) {
    match context(s, session_id, dir, parts) {
        Some((mut ctx, d)) => run(d, &mut ctx, op),
        None => (After::Nothing, false),
    }
}

/// Runs a stream operation of direction `d`, decoding the messages it completes.
fn run(d: &mut Direction, ctx: &mut MsgCtx, op: impl FnOnce(&mut Stream, &mut dyn FnMut(StreamEvent))) -> (After, bool) {
    let mut after = After::Nothing;
    let mut gap = false;
    let (sender, receiver, session_id) = (ctx.sender, ctx.receiver, ctx.session_id);
    // The stream is moved out while its events mutate the rest of the direction.
    let mut stream = core::mem::replace(&mut d.stream, Stream::new());
    op(&mut stream, &mut |ev| match ev {
        StreamEvent::Message(m) => {
            if let After::Close = handle_message(m, d, ctx) {
                after = After::Close;
            }
        }
        StreamEvent::Error(e) => bgp_error(e, d, ctx),
        StreamEvent::Gap(n) => {
            gap = true;
            let subject = Subject { src_vtep: sender, dst_vtep: receiver, has_vteps: true, aux: session_id, ..Default::default() };
            if let Some(f) = ctx.journal.report(Kind::BgpStreamGap, WARNING, &subject, ctx.pkt, ctx.ns) {
                f.detail[0] = f.detail[0].saturating_add(n);
            }
        }
    });
    d.stream = stream;
    (after, gap)
}

/// The decoder parts a segment needs.
pub struct CtxParts<'a> {
    pub cp: &'a mut ControlPlane,
    pub journal: &'a mut Journal,
    pub notifications: &'a mut Vec<Notification>,
    pub pkt: u64,
    pub ns: u64,
}
