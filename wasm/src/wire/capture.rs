//! Streaming reader for pcap (µs/ns, both byte orders, Kuznetsov variant) and pcapng.
//!
//! The reader never buffers: it is handed the unconsumed part of the caller's input and
//! returns one step at a time with the number of bytes it consumed. A record that does not
//! fit yet yields `NeedMore`, so the caller keeps the tail and appends the next chunk.

use crate::util::bytes::{slice_at, u16_at, u32_at};
use crate::util::error::DecodeError;

/// Records longer than this are skipped (reported), so input buffers stay bounded.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Interfaces remembered per pcapng section.
const MAX_INTERFACES: usize = 256;

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAP_MAGIC_KUZNETSOV: u32 = 0xa1b2_cd34;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;

/// Which container the input turned out to be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Unknown,
    Pcap { big_endian: bool, nanos: bool, kuznetsov: bool },
    Pcapng,
}

#[derive(Clone, Copy)]
struct Interface {
    link_type: u16,
    /// Timestamp units: `Dec(e)` = 10^-e s, `Bin(e)` = 2^-e s.
    resolution: Resolution,
    offset_s: i64,
    snaplen: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Resolution {
    Dec(u8),
    Bin(u8),
}

/// One captured frame.
pub struct Record<'a> {
    pub ts_ns: u64,
    pub link_type: u16,
    pub data: &'a [u8],
    pub orig_len: u32,
}

/// Outcome of one `next` call.
pub enum Step<'a> {
    /// A frame and the bytes it used.
    Packet(Record<'a>, usize),
    /// A non-packet block or header was consumed.
    Consumed(usize),
    /// A malformed record was consumed; `packet` is true when it counted as a frame.
    Bad(DecodeError, usize, bool),
    /// Not enough bytes for the next record; call again with more.
    NeedMore,
    /// The input cannot be read any further (e.g. unknown magic, broken block framing).
    Fatal(DecodeError),
}

/// pcap/pcapng reader state.
pub struct CaptureReader {
    pub format: Format,
    pcap_link: u16,
    pcap_snaplen: u32,
    ng_big_endian: bool,
    ifaces: Vec<Interface>,
    pub interfaces_seen: u32,
    pub sections: u32,
    pub skipped_blocks: u64,
    /// Bytes still to discard from an oversized record.
    pub skip_remaining: u64,
    pub link_types: [u16; 8],
    pub link_type_count: usize,
}

impl CaptureReader {
    /// A reader that has seen no bytes yet.
    pub fn new() -> Self {
        CaptureReader {
            format: Format::Unknown,
            pcap_link: 0,
            pcap_snaplen: 0,
            ng_big_endian: false,
            ifaces: Vec::new(),
            interfaces_seen: 0,
            sections: 0,
            skipped_blocks: 0,
            skip_remaining: 0,
            link_types: [0; 8],
            link_type_count: 0,
        }
    }

    fn note_link_type(&mut self, lt: u16) {
        let n = self.link_type_count.min(self.link_types.len());
        if self.link_types.get(..n).map_or(false, |s| s.contains(&lt)) {
            return;
        }
        if let Some(slot) = self.link_types.get_mut(n) {
            *slot = lt;
            self.link_type_count = n + 1;
        }
    }

    /// Decodes the next step from `buf` (the unconsumed input). `eof` says no more bytes follow.
    pub fn next<'a>(&mut self, buf: &'a [u8], eof: bool) -> Step<'a> {
        if self.skip_remaining > 0 {
            let n = (buf.len() as u64).min(self.skip_remaining);
            if n == 0 {
                return if eof { Step::Fatal(DecodeError::new("capture", "file ends inside an oversized record", self.skip_remaining)) } else { Step::NeedMore };
            }
            self.skip_remaining -= n;
            return Step::Consumed(n as usize);
        }
        match self.format {
            Format::Unknown => self.detect(buf, eof),
            Format::Pcap { big_endian, nanos, kuznetsov } => self.pcap_record(buf, eof, big_endian, nanos, kuznetsov),
            Format::Pcapng => self.pcapng_block(buf, eof),
        }
    }

    fn detect<'a>(&mut self, buf: &'a [u8], eof: bool) -> Step<'a> {
        let magic = match u32_at(buf, 0, true) {
            Some(m) => m,
            None if eof => return Step::Fatal(DecodeError::new("capture", "file too short for a capture header", buf.len() as u64)),
            None => return Step::NeedMore,
        };
        if magic == PCAPNG_SHB {
            self.format = Format::Pcapng;
            return Step::Consumed(0);
        }
        for big_endian in [true, false] {
            let m = if big_endian { magic } else { magic.swap_bytes() };
            let (nanos, kuznetsov) = match m {
                PCAP_MAGIC_US => (false, false),
                PCAP_MAGIC_NS => (true, false),
                PCAP_MAGIC_KUZNETSOV => (false, true),
                _ => continue,
            };
            if buf.len() < 24 {
                return if eof { Step::Fatal(DecodeError::new("pcap header", "file ends inside the 24-byte global header", buf.len() as u64)) } else { Step::NeedMore };
            }
            let link = u32_at(buf, 20, big_endian).unwrap_or(0);
            self.pcap_snaplen = u32_at(buf, 16, big_endian).unwrap_or(0);
            // The upper bits of the link-type field carry FCS information (pcap-linktype).
            self.pcap_link = (link & 0xffff) as u16;
            self.note_link_type(self.pcap_link);
            self.format = Format::Pcap { big_endian, nanos, kuznetsov };
            return Step::Consumed(24);
        }
        Step::Fatal(DecodeError::new("capture", "unknown magic number (not pcap or pcapng)", magic as u64))
    }

    fn pcap_record<'a>(&mut self, buf: &'a [u8], eof: bool, be: bool, nanos: bool, kuznetsov: bool) -> Step<'a> {
        let hdr = if kuznetsov { 24 } else { 16 };
        if buf.len() < hdr {
            return if eof && !buf.is_empty() { Step::Fatal(DecodeError::new("pcap record", "file ends inside a record header", buf.len() as u64)) } else { Step::NeedMore };
        }
        let sec = u32_at(buf, 0, be).unwrap_or(0) as u64;
        let frac = u32_at(buf, 4, be).unwrap_or(0) as u64;
        let caplen = u32_at(buf, 8, be).unwrap_or(0) as usize;
        let orig = u32_at(buf, 12, be).unwrap_or(0);
        if caplen > MAX_RECORD_BYTES {
            self.skip_remaining = caplen as u64;
            return Step::Bad(DecodeError::new("pcap record", "captured length above 1 MiB; record skipped", caplen as u64), hdr, true);
        }
        let total = hdr + caplen;
        let data = match slice_at(buf, hdr, caplen) {
            Some(d) => d,
            None if eof => return Step::Fatal(DecodeError::new("pcap record", "file ends inside a record (truncated capture)", caplen as u64)),
            None => return Step::NeedMore,
        };
        let frac_ns = if nanos { frac } else { frac.saturating_mul(1000) };
        let ts_ns = sec.saturating_mul(1_000_000_000).saturating_add(frac_ns);
        Step::Packet(Record { ts_ns, link_type: self.pcap_link, data, orig_len: orig }, total)
    }

    fn pcapng_block<'a>(&mut self, buf: &'a [u8], eof: bool) -> Step<'a> {
        if buf.len() < 12 {
            return if eof && !buf.is_empty() { Step::Fatal(DecodeError::new("pcapng block", "file ends inside a block header", buf.len() as u64)) } else { Step::NeedMore };
        }
        let btype = u32_at(buf, 0, true).unwrap_or(0);
        if btype == PCAPNG_SHB {
            // The section's byte order comes from its byte-order magic, not from the block type.
            match u32_at(buf, 8, true) {
                Some(PCAPNG_BOM) => self.ng_big_endian = true,
                Some(m) if m.swap_bytes() == PCAPNG_BOM => self.ng_big_endian = false,
                Some(m) => return Step::Fatal(DecodeError::new("pcapng section header", "byte-order magic is not 0x1a2b3c4d", m as u64)),
                None => return Step::NeedMore,
            }
        }
        let be = self.ng_big_endian;
        let btype = u32_at(buf, 0, be).unwrap_or(0);
        let blen = u32_at(buf, 4, be).unwrap_or(0) as usize;
        if blen < 12 || blen % 4 != 0 {
            return Step::Fatal(DecodeError::new("pcapng block", "total length is below 12 or not a multiple of 4", blen as u64));
        }
        if blen > MAX_RECORD_BYTES + 64 {
            self.skip_remaining = blen as u64;
            self.skipped_blocks += 1;
            let counts = btype == 6 || btype == 3 || btype == 2;
            return Step::Bad(DecodeError::new("pcapng block", "block longer than 1 MiB; skipped", blen as u64), 0, counts);
        }
        let block = match slice_at(buf, 0, blen) {
            Some(b) => b,
            None if eof => return Step::Fatal(DecodeError::new("pcapng block", "file ends inside a block (truncated capture)", blen as u64)),
            None => return Step::NeedMore,
        };
        if u32_at(block, blen - 4, be) != Some(blen as u32) {
            return Step::Fatal(DecodeError::new("pcapng block", "trailing length differs from the leading length", blen as u64));
        }
        let body = block.get(8..blen - 4).unwrap_or(&[]);
        match btype {
            PCAPNG_SHB => {
                self.ifaces.clear();
                self.sections += 1;
                Step::Consumed(blen)
            }
            1 => {
                self.interface_block(body, be);
                Step::Consumed(blen)
            }
            6 => self.enhanced_packet(body, be, blen),
            3 => self.simple_packet(body, be, blen),
            2 => self.obsolete_packet(body, be, blen),
            _ => {
                self.skipped_blocks += 1;
                Step::Consumed(blen)
            }
        }
    }

    fn interface_block(&mut self, body: &[u8], be: bool) {
        let link_type = u16_at(body, 0, be).unwrap_or(0);
        let snaplen = u32_at(body, 4, be).unwrap_or(0);
        let mut iface = Interface { link_type, resolution: Resolution::Dec(6), offset_s: 0, snaplen };
        let mut off = 8usize;
        // Options: code(2) length(2) value padded to 4; bounded by the body length.
        while let (Some(code), Some(len)) = (u16_at(body, off, be), u16_at(body, off + 2, be)) {
            if code == 0 {
                break;
            }
            let len = len as usize;
            let value = slice_at(body, off + 4, len).unwrap_or(&[]);
            match (code, value) {
                (9, &[r]) => iface.resolution = if r & 0x80 != 0 { Resolution::Bin(r & 0x7f) } else { Resolution::Dec(r) },
                (14, v) if v.len() == 8 => {
                    let hi = u32_at(v, 0, be).unwrap_or(0) as u64;
                    let lo = u32_at(v, 4, be).unwrap_or(0) as u64;
                    let raw = if be { (hi << 32) | lo } else { (lo << 32) | hi };
                    iface.offset_s = raw as i64;
                }
                _ => {}
            }
            off = off + 4 + ((len + 3) & !3);
        }
        self.interfaces_seen += 1;
        self.note_link_type(link_type);
        if self.ifaces.len() < MAX_INTERFACES {
            crate::util::bounded::try_push(&mut self.ifaces, iface, MAX_INTERFACES);
        }
    }

    fn ts_ns(&self, iface: &Interface, ticks: u64) -> u64 {
        let ns = match iface.resolution {
            Resolution::Dec(e) if e <= 9 => ticks.saturating_mul(pow10(9 - e as u32)),
            Resolution::Dec(e) => {
                let div = pow10(e as u32 - 9);
                if div == 0 { 0 } else { ticks / div }
            }
            Resolution::Bin(e) => {
                let wide = (ticks as u128).saturating_mul(1_000_000_000);
                let shifted = if e >= 127 { 0 } else { wide >> e };
                if shifted > u64::MAX as u128 { u64::MAX } else { shifted as u64 }
            }
        };
        let off = iface.offset_s.saturating_mul(1_000_000_000);
        if off >= 0 { ns.saturating_add(off as u64) } else { ns.saturating_sub(off.unsigned_abs()) }
    }

    fn enhanced_packet<'a>(&mut self, body: &'a [u8], be: bool, blen: usize) -> Step<'a> {
        let id = u32_at(body, 0, be).unwrap_or(u32::MAX) as usize;
        let hi = u32_at(body, 4, be).unwrap_or(0) as u64;
        let lo = u32_at(body, 8, be).unwrap_or(0) as u64;
        let caplen = u32_at(body, 12, be).unwrap_or(0) as usize;
        let orig = u32_at(body, 16, be).unwrap_or(0);
        let iface = match self.ifaces.get(id) {
            Some(i) => *i,
            None => return Step::Bad(DecodeError::new("pcapng enhanced packet", "interface id has no interface description", id as u64), blen, true),
        };
        let data = match slice_at(body, 20, caplen) {
            Some(d) => d,
            None => return Step::Bad(DecodeError::new("pcapng enhanced packet", "captured length exceeds the block", caplen as u64), blen, true),
        };
        let ts_ns = self.ts_ns(&iface, (hi << 32) | lo);
        Step::Packet(Record { ts_ns, link_type: iface.link_type, data, orig_len: orig }, blen)
    }

    fn simple_packet<'a>(&mut self, body: &'a [u8], be: bool, blen: usize) -> Step<'a> {
        let iface = match self.ifaces.first() {
            Some(i) => *i,
            None => return Step::Bad(DecodeError::new("pcapng simple packet", "no interface description precedes it", 0), blen, true),
        };
        let orig = u32_at(body, 0, be).unwrap_or(0);
        let mut caplen = (orig as usize).min(body.len().saturating_sub(4));
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        let data = slice_at(body, 4, caplen).unwrap_or(&[]);
        // Simple packet blocks carry no timestamp.
        Step::Packet(Record { ts_ns: 0, link_type: iface.link_type, data, orig_len: orig }, blen)
    }

    fn obsolete_packet<'a>(&mut self, body: &'a [u8], be: bool, blen: usize) -> Step<'a> {
        let id = u16_at(body, 0, be).unwrap_or(u16::MAX) as usize;
        let hi = u32_at(body, 4, be).unwrap_or(0) as u64;
        let lo = u32_at(body, 8, be).unwrap_or(0) as u64;
        let caplen = u32_at(body, 12, be).unwrap_or(0) as usize;
        let orig = u32_at(body, 16, be).unwrap_or(0);
        let iface = match self.ifaces.get(id) {
            Some(i) => *i,
            None => return Step::Bad(DecodeError::new("pcapng packet block", "interface id has no interface description", id as u64), blen, true),
        };
        match slice_at(body, 20, caplen) {
            Some(data) => Step::Packet(Record { ts_ns: self.ts_ns(&iface, (hi << 32) | lo), link_type: iface.link_type, data, orig_len: orig }, blen),
            None => Step::Bad(DecodeError::new("pcapng packet block", "captured length exceeds the block", caplen as u64), blen, true),
        }
    }

    /// Link type from the pcap header (0 for pcapng).
    pub fn pcap_link(&self) -> u16 {
        self.pcap_link
    }

    /// Snap length from the pcap header (0 for pcapng).
    pub fn snaplen(&self) -> u32 {
        self.pcap_snaplen
    }
}

fn pow10(e: u32) -> u64 {
    let mut v: u64 = 1;
    for _ in 0..e.min(20) {
        v = match v.checked_mul(10) {
            Some(x) => x,
            None => return 0,
        };
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_le_us() -> Vec<u8> {
        let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0];
        // ts 1.5 s, caplen 4, len 6
        f.extend_from_slice(&[1, 0, 0, 0, 0x20, 0xa1, 0x07, 0, 4, 0, 0, 0, 6, 0, 0, 0, 9, 9, 9, 9]);
        f
    }

    #[test]
    fn reads_little_endian_microsecond_pcap() {
        let f = pcap_le_us();
        let mut r = CaptureReader::new();
        assert!(matches!(r.next(&f, false), Step::Consumed(24)));
        assert_eq!(r.format, Format::Pcap { big_endian: false, nanos: false, kuznetsov: false });
        match r.next(&f[24..], false) {
            Step::Packet(rec, n) => {
                assert_eq!(n, 20);
                assert_eq!(rec.ts_ns, 1_500_000_000);
                assert_eq!(rec.link_type, 1);
                assert_eq!(rec.data, &[9, 9, 9, 9]);
                assert_eq!(rec.orig_len, 6);
            }
            _ => panic!("expected packet"),
        }
    }

    #[test]
    fn needs_more_for_partial_record_and_fails_at_eof() {
        let f = pcap_le_us();
        let mut r = CaptureReader::new();
        let _ = r.next(&f, false);
        assert!(matches!(r.next(&f[24..40], false), Step::NeedMore));
        assert!(matches!(r.next(&f[24..40], true), Step::Fatal(_)));
    }

    #[test]
    fn reads_big_endian_nanosecond_pcap() {
        let mut f = vec![0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 101];
        f.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1, 0x45]);
        let mut r = CaptureReader::new();
        let _ = r.next(&f, false);
        match r.next(&f[24..], false) {
            Step::Packet(rec, _) => {
                assert_eq!(rec.ts_ns, 2_000_000_007);
                assert_eq!(rec.link_type, 101);
            }
            _ => panic!("expected packet"),
        }
    }

    #[test]
    fn rejects_unknown_magic() {
        let mut r = CaptureReader::new();
        assert!(matches!(r.next(b"GIF89a..", false), Step::Fatal(_)));
    }

    fn ng_block(t: u32, body: &[u8]) -> Vec<u8> {
        let len = 12 + ((body.len() + 3) & !3);
        let mut b = Vec::new();
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(body);
        while b.len() < len - 4 {
            b.push(0);
        }
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b
    }

    #[test]
    fn reads_pcapng_with_two_interfaces_and_skips_unknown_blocks() {
        let mut f = ng_block(0x0a0d0d0a, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        f.extend(ng_block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        // Interface 1: raw IP, nanosecond resolution (if_tsresol = 9).
        f.extend(ng_block(1, &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]));
        f.extend(ng_block(0x0bad, &[1, 2, 3, 4]));
        let mut epb = vec![1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0];
        epb.extend_from_slice(&[0x45, 0]);
        f.extend(ng_block(6, &epb));
        f.extend(ng_block(3, &[3, 0, 0, 0, 7, 7, 7]));
        let mut r = CaptureReader::new();
        let mut off = 0;
        let mut packets = Vec::new();
        loop {
            match r.next(&f[off..], true) {
                Step::Packet(rec, n) => {
                    packets.push((rec.ts_ns, rec.link_type, rec.data.to_vec()));
                    off += n;
                }
                Step::Consumed(n) => off += n,
                Step::NeedMore => break,
                Step::Bad(e, _, _) | Step::Fatal(e) => panic!("{:?}", e),
            }
        }
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0], (5, 101, vec![0x45, 0]));
        assert_eq!(packets[1], (0, 1, vec![7, 7, 7]));
        assert_eq!(r.skipped_blocks, 1);
        assert_eq!(r.interfaces_seen, 2);
    }

    #[test]
    fn pcapng_bad_block_length_is_fatal() {
        let mut f = ng_block(0x0a0d0d0a, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0]);
        f.extend_from_slice(&[6, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut r = CaptureReader::new();
        let mut off = 0;
        loop {
            match r.next(&f[off..], true) {
                Step::Consumed(n) => off += n,
                Step::Fatal(e) => {
                    assert_eq!(e.got, 13);
                    break;
                }
                _ => panic!("expected fatal"),
            }
        }
    }
}
