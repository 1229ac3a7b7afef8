//! Per-direction TCP reassembly into BGP messages: in-order delivery, trimmed
//! retransmissions, a bounded out-of-order stash, gaps declared when it overflows, and
//! marker-based resynchronisation after lost bytes or a capture that starts mid-stream.

use crate::bgp::message::{parse_header, parse_update, HEADER_LEN, MAX_MESSAGE_LEN, OPEN, UPDATE};
use crate::util::bounded::{try_extend, try_push};
use crate::util::error::DecodeError;

/// Out-of-order segments held per direction before a gap is declared.
const MAX_STASH_SEGMENTS: usize = 32;
/// Out-of-order bytes held per direction before a gap is declared.
const MAX_STASH_BYTES: usize = 256 << 10;
/// Capture time a hole may stay open waiting for a retransmission before it is a gap.
const STASH_TIMEOUT_NS: u64 = 2_000_000_000;
/// Bytes kept while scanning for a marker; older bytes are dropped.
const MAX_RESYNC_BYTES: usize = 2 * MAX_MESSAGE_LEN;

/// What reassembly hands to the BGP decoder.
pub enum StreamEvent<'a> {
    /// One complete BGP message, header included.
    Message(&'a [u8]),
    /// Framing broke (bad marker/length); the stream resynchronises on the next marker.
    Error(DecodeError),
    /// Bytes that never arrived (or could not be held); BGP messages may be missing.
    Gap(u32),
}

struct Stashed {
    seq: u32,
    ns: u64,
    data: Vec<u8>,
}

/// Reassembly state of one direction of a TCP connection.
pub struct Stream {
    pub started: bool,
    pub syn_seen: bool,
    /// False when the first framed bytes were not the stream start (capture began mid-session).
    pub from_start: bool,
    pub gaps: u32,
    pub gap_bytes: u64,
    pub retransmitted_bytes: u64,
    pub fin_seen: bool,
    next_seq: u32,
    pending: Vec<u8>,
    resync: bool,
    stash: Vec<Stashed>,
    stash_bytes: usize,
}

impl Stream {
    /// A direction that has seen nothing.
    pub fn new() -> Self {
        Stream {
            started: false,
            syn_seen: false,
            from_start: true,
            gaps: 0,
            gap_bytes: 0,
            retransmitted_bytes: 0,
            fin_seen: false,
            next_seq: 0,
            pending: Vec::new(),
            resync: false,
            stash: Vec::new(),
            stash_bytes: 0,
        }
    }

    /// Bytes this direction holds (buffered message, out-of-order stash).
    pub fn memory(&self) -> usize {
        self.pending.capacity() + self.stash_bytes
    }

    /// Gives every buffer up (over the decoder's memory budget, or the session ended);
    /// buffered bytes count as a gap and framing restarts at the next marker.
    pub fn shed(&mut self, sink: &mut dyn FnMut(StreamEvent)) {
        let lost = self.stash_bytes + self.pending.len();
        self.stash = Vec::new();
        self.stash_bytes = 0;
        self.pending = Vec::new();
        if lost > 0 {
            self.declare_gap(lost.min(u32::MAX as usize) as u32, sink);
        }
        // Take the next segment as it comes, like a stream joined mid-way.
        self.started = false;
    }

    /// Frees the buffers of a direction whose session ended (no events: nothing more is decoded).
    pub fn release(&mut self) {
        self.stash = Vec::new();
        self.stash_bytes = 0;
        self.pending = Vec::new();
    }

    /// True when a segment at `seq` with `len` payload bytes (no SYN/FIN, nothing cut off)
    /// is simply the next bytes: started, in sync, nothing buffered or stashed. `segment` would
    /// then only advance `next_seq` and frame the payload (see `frame_in_order`).
    #[inline(always)]
    pub fn next_in_order(&self, seq: u32, len: usize) -> bool {
        self.started && !self.resync && len > 0 && seq == self.next_seq && self.pending.is_empty() && self.stash.is_empty()
    }

    /// Accounts for `len` in-order bytes the caller frames itself (after `next_in_order`).
    #[inline(always)]
    pub fn advance(&mut self, len: usize) {
        self.next_seq = self.next_seq.wrapping_add(len as u32);
    }

    /// Frames the rest of an in-order segment whose leading whole messages the caller
    /// already delivered (nothing buffered, in sync: `frame` continues from here the same way).
    pub fn frame_in_order(&mut self, d: &[u8], sink: &mut dyn FnMut(StreamEvent)) {
        self.frame(d, sink);
    }

    /// True while out-of-order bytes wait for a hole before them to be filled.
    pub fn waiting(&self) -> bool {
        !self.stash.is_empty()
    }

    /// Accepts one segment captured at `ns`, of which `missing` payload bytes were not captured;
    /// complete messages and problems go to `sink`.
    pub fn segment(&mut self, seq: u32, syn: bool, fin: bool, payload: &[u8], missing: u32, ns: u64, sink: &mut dyn FnMut(StreamEvent)) {
        let oldest = self.stash.iter().map(|s| s.ns).min();
        if oldest.map_or(false, |o| ns.saturating_sub(o) > STASH_TIMEOUT_NS) {
            // The retransmission never came (or was not captured): give the bytes up.
            self.flush_stash(sink);
        }
        if syn {
            self.syn_seen = true;
            self.started = true;
            self.next_seq = seq.wrapping_add(1);
            self.pending.clear();
            self.resync = false;
            self.from_start = true;
            return;
        }
        if !payload.is_empty() {
            if !self.started {
                self.started = true;
                self.next_seq = seq;
                let opens = matches!(parse_header(payload), Ok((_, OPEN)));
                if !opens {
                    self.from_start = false;
                    self.resync = true;
                }
            }
            self.accept(seq, payload, ns, sink);
        }
        if missing > 0 && seq.wrapping_add(payload.len() as u32) == self.next_seq {
            // The capture cut this segment short (snap length): its tail is lost, not late.
            self.declare_gap(missing, sink);
            self.next_seq = self.next_seq.wrapping_add(missing);
        }
        if fin {
            self.fin_seen = true;
            self.flush_stash(sink);
        }
    }

    /// Delivers whatever is stashed, declaring the holes as gaps (end of capture or FIN).
    pub fn flush_stash(&mut self, sink: &mut dyn FnMut(StreamEvent)) {
        while let Some(i) = self.earliest_stashed() {
            if i >= self.stash.len() {
                return;
            }
            let s = self.stash.swap_remove(i);
            self.stash_bytes = self.stash_bytes.saturating_sub(s.data.len());
            let rel = s.seq.wrapping_sub(self.next_seq) as i32;
            if rel > 0 {
                self.declare_gap(rel as u32, sink);
                self.next_seq = s.seq;
            }
            self.deliver_in_order(s.seq, &s.data, sink);
        }
    }

    fn earliest_stashed(&self) -> Option<usize> {
        let base = self.next_seq;
        let mut best: Option<(usize, i32)> = None;
        for (i, s) in self.stash.iter().enumerate() {
            let rel = s.seq.wrapping_sub(base) as i32;
            if best.map_or(true, |(_, b)| rel < b) {
                best = Some((i, rel));
            }
        }
        best.map(|(i, _)| i)
    }

    fn accept(&mut self, seq: u32, payload: &[u8], ns: u64, sink: &mut dyn FnMut(StreamEvent)) {
        let rel = seq.wrapping_sub(self.next_seq) as i32;
        if rel > 0 {
            let fits = self.stash.len() < MAX_STASH_SEGMENTS && self.stash_bytes + payload.len() <= MAX_STASH_BYTES;
            if fits {
                let mut data = Vec::new();
                if try_extend(&mut data, payload, MAX_STASH_BYTES) && try_push(&mut self.stash, Stashed { seq, ns, data }, MAX_STASH_SEGMENTS) {
                    self.stash_bytes += payload.len();
                    return;
                }
            }
            // No room to wait for the missing bytes: give them up and go on.
            self.flush_stash(sink);
            let rel = seq.wrapping_sub(self.next_seq) as i32;
            if rel > 0 {
                self.declare_gap(rel as u32, sink);
                self.next_seq = seq;
            }
        }
        self.deliver_in_order(seq, payload, sink);
        self.drain_stash(sink);
    }

    fn drain_stash(&mut self, sink: &mut dyn FnMut(StreamEvent)) {
        loop {
            let base = self.next_seq;
            let pos = self.stash.iter().position(|s| (s.seq.wrapping_sub(base) as i32) <= 0);
            match pos {
                Some(i) => {
                    let s = self.stash.swap_remove(i);
                    self.stash_bytes = self.stash_bytes.saturating_sub(s.data.len());
                    self.deliver_in_order(s.seq, &s.data, sink);
                }
                None => return,
            }
        }
    }

    fn declare_gap(&mut self, n: u32, sink: &mut dyn FnMut(StreamEvent)) {
        self.gaps = self.gaps.saturating_add(1);
        self.gap_bytes = self.gap_bytes.saturating_add(n as u64);
        self.pending.clear();
        self.resync = true;
        sink(StreamEvent::Gap(n));
    }

    /// `seq` is at or before `next_seq`: trim what was already delivered, frame the rest.
    fn deliver_in_order(&mut self, seq: u32, payload: &[u8], sink: &mut dyn FnMut(StreamEvent)) {
        let rel = seq.wrapping_sub(self.next_seq) as i32;
        let skip = if rel < 0 { rel.unsigned_abs() as usize } else { 0 };
        if skip >= payload.len() {
            self.retransmitted_bytes = self.retransmitted_bytes.saturating_add(payload.len() as u64);
            return;
        }
        self.retransmitted_bytes = self.retransmitted_bytes.saturating_add(skip as u64);
        let data = payload.get(skip..).unwrap_or(&[]);
        self.next_seq = self.next_seq.wrapping_add(data.len() as u32);
        self.frame(data, sink);
    }

    fn frame(&mut self, mut d: &[u8], sink: &mut dyn FnMut(StreamEvent)) {
        // Bounded: each iteration consumes input or completes/drops a buffered message.
        while !d.is_empty() || (!self.resync && self.pending_complete()) {
            if self.resync {
                if !try_extend(&mut self.pending, d, MAX_RESYNC_BYTES + MAX_MESSAGE_LEN) {
                    self.pending.clear();
                }
                d = &[];
                if !self.resynchronise() {
                    return;
                }
                continue;
            }
            if self.pending.is_empty() {
                if d.len() < HEADER_LEN {
                    self.buffer(d);
                    return;
                }
                match parse_header(d) {
                    Ok((len, _)) => match d.get(..len) {
                        Some(msg) => {
                            sink(StreamEvent::Message(msg));
                            d = d.get(len..).unwrap_or(&[]);
                        }
                        None => {
                            self.buffer(d);
                            return;
                        }
                    },
                    Err(e) => {
                        sink(StreamEvent::Error(e));
                        self.resync = true;
                    }
                }
                continue;
            }
            // Complete the buffered header, then the buffered message.
            let want = if self.pending.len() < HEADER_LEN {
                HEADER_LEN - self.pending.len()
            } else {
                match parse_header(&self.pending) {
                    Ok((len, _)) => len.saturating_sub(self.pending.len()),
                    Err(e) => {
                        sink(StreamEvent::Error(e));
                        self.resync = true;
                        continue;
                    }
                }
            };
            let take = want.min(d.len());
            self.buffer(d.get(..take).unwrap_or(&[]));
            d = d.get(take..).unwrap_or(&[]);
            if self.pending.len() >= HEADER_LEN {
                match parse_header(&self.pending) {
                    Ok((len, _)) if self.pending.len() >= len => {
                        let msg = core::mem::take(&mut self.pending);
                        sink(StreamEvent::Message(msg.get(..len).unwrap_or(&[])));
                        self.pending = msg;
                        // After a resynchronisation the buffer holds every message that
                        // followed the marker in that segment: keep them, not just the first.
                        if self.pending.len() > len {
                            self.pending.drain(..len);
                        } else {
                            self.pending.clear();
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        sink(StreamEvent::Error(e));
                        self.resync = true;
                    }
                }
            }
        }
    }

    fn pending_complete(&self) -> bool {
        match parse_header(&self.pending) {
            Ok((len, _)) => self.pending.len() >= len,
            Err(_) => self.pending.len() >= HEADER_LEN,
        }
    }

    fn buffer(&mut self, d: &[u8]) {
        if d.is_empty() {
            // Nothing to add: a resynchronised buffer may hold more than one message.
            return;
        }
        if !try_extend(&mut self.pending, d, MAX_MESSAGE_LEN) {
            self.pending.clear();
            self.resync = true;
        }
    }

    /// Drops bytes up to the next plausible header; true when framing is restored.
    fn resynchronise(&mut self) -> bool {
        let p = &self.pending;
        let mut i = 0usize;
        let mut found = None;
        while i + HEADER_LEN <= p.len() {
            if p.get(i) == Some(&0xff) && plausible_message_at(p, i) {
                found = Some(i);
                break;
            }
            i += 1;
        }
        match found {
            Some(i) => {
                self.pending.drain(..i);
                self.resync = false;
                true
            }
            None => {
                // Keep only a tail that could still start a marker.
                let keep = HEADER_LEN - 1;
                if self.pending.len() > keep {
                    let cut = self.pending.len() - keep;
                    self.pending.drain(..cut);
                }
                false
            }
        }
    }
}

/// True when `p[i..]` starts a BGP message that a false sync on 16 0xff bytes inside another
/// message would hardly produce: a valid header (length and type), an UPDATE whose inner
/// lengths add up, and, when bytes follow the message, the next marker right after it.
fn plausible_message_at(p: &[u8], i: usize) -> bool {
    let win = match p.get(i..) {
        Some(w) => w,
        None => return false,
    };
    let (len, t) = match parse_header(win) {
        Ok(x) => x,
        Err(_) => return false,
    };
    let msg = match win.get(..len) {
        Some(m) => m,
        // Not complete yet: the header is all that can be checked.
        None => return true,
    };
    if t == UPDATE {
        if let Ok(u) = parse_update(msg.get(HEADER_LEN..).unwrap_or(&[])) {
            if u.withdrawn.len() + u.attributes.len() + 4 > len - HEADER_LEN {
                return false;
            }
        } else {
            return false;
        }
    }
    // What follows must begin another marker (as far as it was captured).
    let next = win.get(len..).unwrap_or(&[]);
    next.iter().take(16).all(|&b| b == 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalive() -> Vec<u8> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[0, 19, 4]);
        m
    }

    fn collect(s: &mut Stream, seq: u32, data: &[u8], out: &mut Vec<String>) {
        s.segment(seq, false, false, data, 0, 0, &mut |e| {
            out.push(match e {
                StreamEvent::Message(m) => format!("msg{}", m.len()),
                StreamEvent::Error(_) => "err".into(),
                StreamEvent::Gap(n) => format!("gap{}", n),
            })
        });
    }

    #[test]
    fn frames_several_messages_per_segment_and_across_segments() {
        let mut s = Stream::new();
        let mut out = vec![];
        s.segment(99, true, false, &[], 0, 0, &mut |_| {});
        let mut data = keepalive();
        data.extend(keepalive());
        data.extend(&keepalive()[..10]);
        collect(&mut s, 100, &data, &mut out);
        collect(&mut s, 100 + 48, &keepalive()[10..], &mut out);
        assert_eq!(out, vec!["msg19", "msg19", "msg19"]);
        assert!(s.from_start);
    }

    #[test]
    fn ignores_retransmissions_and_reorders() {
        let mut s = Stream::new();
        let mut out = vec![];
        s.segment(0, true, false, &[], 0, 0, &mut |_| {});
        let ka = keepalive();
        collect(&mut s, 1, &ka, &mut out);
        collect(&mut s, 1, &ka, &mut out); // retransmission
        collect(&mut s, 1 + 19 + 10, &ka[10..], &mut out); // arrives early
        collect(&mut s, 1 + 19, &ka[..10], &mut out);
        assert_eq!(out, vec!["msg19", "msg19"]);
        assert_eq!(s.retransmitted_bytes, 19);
    }

    #[test]
    fn gap_resynchronises_on_next_marker() {
        let mut s = Stream::new();
        let mut out = vec![];
        s.segment(0, true, false, &[], 0, 0, &mut |_| {});
        let ka = keepalive();
        collect(&mut s, 1, &ka[..5], &mut out);
        // 14 bytes lost, then a full keepalive
        collect(&mut s, 1 + 19, &ka, &mut out);
        s.segment(1 + 38, false, true, &[], 0, 0, &mut |e| match e {
            StreamEvent::Gap(n) => out.push(format!("gap{}", n)),
            StreamEvent::Message(m) => out.push(format!("msg{}", m.len())),
            StreamEvent::Error(_) => out.push("err".into()),
        });
        assert_eq!(out, vec!["gap14", "msg19"]);
    }

    #[test]
    fn hole_times_out_into_a_gap() {
        let mut s = Stream::new();
        let mut out = vec![];
        s.segment(0, true, false, &[], 0, 0, &mut |_| {});
        s.segment(1 + 19, false, false, &keepalive(), 0, 1, &mut |_| {});
        assert!(s.waiting());
        s.segment(1 + 38, false, false, &[], 0, 3_000_000_000, &mut |e| match e {
            StreamEvent::Gap(n) => out.push(format!("gap{}", n)),
            StreamEvent::Message(m) => out.push(format!("msg{}", m.len())),
            StreamEvent::Error(_) => out.push("err".into()),
        });
        assert_eq!(out, vec!["gap19", "msg19"]);
        assert!(!s.waiting());
    }

    #[test]
    fn segment_cut_by_snap_length_is_a_gap_not_a_stall() {
        let mut s = Stream::new();
        let mut out = vec![];
        s.segment(0, true, false, &[], 0, 0, &mut |_| {});
        let mut two = keepalive();
        two.extend(keepalive());
        // Only 25 of 38 bytes captured; the next segment follows at 1 + 38.
        s.segment(1, false, false, &two[..25], 13, 0, &mut |e| if let StreamEvent::Gap(n) = e { out.push(format!("gap{}", n)) });
        collect(&mut s, 1 + 38, &keepalive(), &mut out);
        assert_eq!(out, vec!["gap13", "msg19"]);
        assert!(!s.waiting());
    }

    #[test]
    fn shedding_buffers_is_a_gap_and_framing_restarts() {
        let mut s = Stream::new();
        let mut out = vec![];
        s.segment(0, true, false, &[], 0, 0, &mut |_| {});
        collect(&mut s, 1, &keepalive()[..7], &mut out);
        collect(&mut s, 1 + 19, &keepalive(), &mut out);
        assert!(s.memory() >= 7 + 19);
        s.shed(&mut |e| if let StreamEvent::Gap(n) = e { out.push(format!("gap{}", n)) });
        assert_eq!(s.memory(), 0);
        collect(&mut s, 1 + 38, &keepalive(), &mut out);
        assert_eq!(out, vec!["gap26", "msg19"]);
    }

    #[test]
    fn mid_stream_start_is_marked_and_resyncs() {
        let mut s = Stream::new();
        let mut out = vec![];
        let mut data = vec![1, 2, 3];
        data.extend(keepalive());
        collect(&mut s, 5000, &data, &mut out);
        assert!(!s.from_start);
        assert_eq!(out, vec!["msg19"]);
    }

    fn update(nlri_len: usize) -> Vec<u8> {
        // An UPDATE with no withdrawn routes, no attributes and `nlri_len` bytes of NLRI.
        let len = 19 + 4 + nlri_len;
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[(len >> 8) as u8, len as u8, 2, 0, 0, 0, 0]);
        m.extend(std::iter::repeat(7u8).take(nlri_len));
        m
    }

    #[test]
    fn mid_stream_segment_with_many_messages_yields_them_all() {
        // A capture that joins an established session: the first segment starts inside a
        // message and then carries seven whole UPDATEs; the next one two more.
        let mut s = Stream::new();
        let mut out = vec![];
        let mut data = vec![0xff, 0xff, 0, 40, 2, 1, 2, 3];
        for n in 0..7 {
            data.extend(update(n * 3));
        }
        collect(&mut s, 7000, &data, &mut out);
        let mut next = update(5);
        next.extend(keepalive());
        collect(&mut s, 7000 + data.len() as u32, &next, &mut out);
        assert_eq!(out, vec!["msg23", "msg26", "msg29", "msg32", "msg35", "msg38", "msg41", "msg28", "msg19"]);
        assert!(!s.from_start);
    }

    #[test]
    fn marker_inside_a_message_is_not_a_sync_point() {
        // 16 0xff bytes inside the tail of a message, followed by a plausible header whose
        // message is not followed by a marker: skipped; the real message after it is found.
        let mut s = Stream::new();
        let mut out = vec![];
        let mut data = vec![0xff; 16];
        data.extend_from_slice(&[0, 19, 4, 9, 9, 9]);
        data.extend(keepalive());
        collect(&mut s, 100, &data, &mut out);
        assert_eq!(out, vec!["msg19"]);
    }

    #[test]
    fn bad_marker_reports_and_recovers() {
        let mut s = Stream::new();
        let mut out = vec![];
        s.segment(0, true, false, &[], 0, 0, &mut |_| {});
        let mut bad = keepalive();
        bad[0] = 0;
        bad.extend(keepalive());
        collect(&mut s, 1, &bad, &mut out);
        assert_eq!(out, vec!["err", "msg19"]);
    }
}
