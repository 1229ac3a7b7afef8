//! A minimal streaming JSON writer into a capped byte buffer (no `core::fmt`, no panics).

use super::bounded::try_extend;
use super::bytes::is_v4_mapped;

/// Largest report the writer will produce; past it output is cut and `overflowed` is set.
pub const MAX_JSON_BYTES: usize = 512 << 20;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes JSON tokens, inserting commas between members automatically.
///
/// The value and field writers are `#[inline(never)]`: the report is written once, by code
/// V8 compiles on first call and runs in its baseline tier, where a call is cheaper than
/// compiling an inlined copy of a writer at each of the report's few hundred fields.
pub struct JsonWriter {
    pub out: Vec<u8>,
    /// Bit i set: the container at depth i already has a member.
    has_member: u64,
    depth: u32,
    after_key: bool,
    pub overflowed: bool,
    /// `MAX_JSON_BYTES`; tests cut reports shorter.
    cap: usize,
}

impl JsonWriter {
    /// An empty writer.
    pub fn new() -> Self {
        let mut out = Vec::new();
        // Most reports fit: avoid regrowing (and copying) the buffer while writing.
        let _ = out.try_reserve(1 << 20);
        JsonWriter { out, has_member: 0, depth: 0, after_key: false, overflowed: false, cap: MAX_JSON_BYTES }
    }

    fn raw(&mut self, s: &[u8]) {
        if !self.overflowed && !try_extend(&mut self.out, s, self.cap) {
            self.overflowed = true;
        }
    }

    fn sep(&mut self) {
        if self.needs_comma() {
            self.raw(b",");
        }
    }

    /// Records a new member; true when a comma must go before it.
    fn needs_comma(&mut self) -> bool {
        if self.after_key {
            self.after_key = false;
            return false;
        }
        let bit = 1u64 << (self.depth & 63);
        let comma = self.has_member & bit != 0;
        self.has_member |= bit;
        comma
    }

    fn open(&mut self, c: &[u8]) {
        self.sep();
        self.raw(c);
        self.depth = self.depth.saturating_add(1);
        self.has_member &= !(1u64 << (self.depth & 63));
    }

    fn close(&mut self, c: &[u8]) {
        self.depth = self.depth.saturating_sub(1);
        self.raw(c);
    }

    /// `{` as a value.
    #[inline(never)]
    pub fn begin_object(&mut self) {
        self.open(b"{");
    }
    /// `}`.
    #[inline(never)]
    pub fn end_object(&mut self) {
        self.close(b"}");
    }
    /// `[` as a value.
    #[inline(never)]
    pub fn begin_array(&mut self) {
        self.open(b"[");
    }
    /// `]`.
    #[inline(never)]
    pub fn end_array(&mut self) {
        self.close(b"]");
    }

    /// `"name":` — the next call writes the value.
    pub fn key(&mut self, name: &str) {
        self.sep();
        self.string_raw(name.as_bytes());
        self.raw(b":");
        self.after_key = true;
    }

    /// `"name":` for a name the caller vouches for (a static ASCII identifier, so no escape
    /// scan) — the next call writes the value. Same bytes as `key`.
    #[inline(never)]
    pub fn field(&mut self, name: &'static str) {
        let comma = self.needs_comma();
        let name = name.as_bytes();
        let len = self.out.len();
        let end = len.saturating_add(comma as usize + name.len() + 3);
        if !self.overflowed && end <= self.out.capacity() && end <= self.cap {
            // Fits the reserved buffer: one copy instead of up to five `raw` pieces.
            unsafe {
                let mut p = self.out.as_mut_ptr().add(len);
                if comma {
                    *p = b',';
                    p = p.add(1);
                }
                *p = b'"';
                core::ptr::copy_nonoverlapping(name.as_ptr(), p.add(1), name.len());
                *p.add(1 + name.len()) = b'"';
                *p.add(2 + name.len()) = b':';
                self.out.set_len(end);
            }
        } else {
            // Growing or at the cap: the same pieces as `key`, so a cut report ends at the same byte.
            if comma {
                self.raw(b",");
            }
            self.raw(b"\"");
            self.raw(name);
            self.raw(b"\"");
            self.raw(b":");
        }
        self.after_key = true;
    }

    /// `"name":` and an unsigned integer.
    #[inline(never)]
    pub fn field_uint(&mut self, name: &'static str, v: u64) {
        self.field(name);
        self.uint(v);
    }

    /// `"name":` and a string (the value is escaped).
    #[inline(never)]
    pub fn field_str(&mut self, name: &'static str, s: &str) {
        self.field(name);
        self.string(s);
    }

    /// `"name":` and a boolean.
    #[inline(never)]
    pub fn field_bool(&mut self, name: &'static str, v: bool) {
        self.field(name);
        self.boolean(v);
    }

    /// `"name":` and seconds since the epoch (see `seconds`).
    #[inline(never)]
    pub fn field_seconds(&mut self, name: &'static str, ns: u64) {
        self.field(name);
        self.seconds(ns);
    }

    /// `"name":` and an IP address string.
    #[inline(never)]
    pub fn field_ip(&mut self, name: &'static str, a: &[u8; 16]) {
        self.field(name);
        self.ip(a);
    }

    /// `"name":` and a MAC address string.
    #[inline(never)]
    pub fn field_mac(&mut self, name: &'static str, m: &[u8; 6]) {
        self.field(name);
        self.mac(m);
    }

    /// `"name":` and `write`'s value, or `null` when there is none.
    pub fn field_opt<T>(&mut self, name: &'static str, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        self.field(name);
        match value {
            Some(v) => write(self, v),
            None => self.null(),
        }
    }

    /// `"name":{` — close with `end_object`.
    #[inline(never)]
    pub fn begin_object_field(&mut self, name: &'static str) {
        self.field(name);
        self.begin_object();
    }

    /// `"name":[` — close with `end_array`.
    #[inline(never)]
    pub fn begin_array_field(&mut self, name: &'static str) {
        self.field(name);
        self.begin_array();
    }

    /// A string value (bytes outside printable ASCII are escaped).
    #[inline(never)]
    pub fn string(&mut self, s: &str) {
        self.sep();
        self.string_raw(s.as_bytes());
    }

    /// A string value from raw bytes.
    pub fn string_bytes(&mut self, s: &[u8]) {
        self.sep();
        self.string_raw(s);
    }

    /// An unsigned integer value.
    #[inline(never)]
    pub fn uint(&mut self, v: u64) {
        self.sep();
        self.digits(v);
    }

    /// A boolean value.
    #[inline(never)]
    pub fn boolean(&mut self, v: bool) {
        self.sep();
        self.raw(if v { b"true" } else { b"false" });
    }

    /// `null`.
    #[inline(never)]
    pub fn null(&mut self) {
        self.sep();
        self.raw(b"null");
    }

    /// Seconds since the epoch with nanosecond digits, as a JSON number.
    #[inline(never)]
    pub fn seconds(&mut self, ns: u64) {
        self.sep();
        self.digits(ns / 1_000_000_000);
        let frac = ns % 1_000_000_000;
        let mut d = [b'.', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0'];
        let mut f = frac;
        let mut i = 9usize;
        while i > 0 {
            if let Some(slot) = d.get_mut(i) {
                *slot = b'0' + (f % 10) as u8;
            }
            f /= 10;
            i -= 1;
        }
        self.raw(&d);
    }

    /// A MAC address string `aa:bb:cc:dd:ee:ff`.
    #[inline(never)]
    pub fn mac(&mut self, m: &[u8; 6]) {
        self.sep();
        let mut s = [b':'; 17];
        for (i, &b) in m.iter().enumerate() {
            if let Some(p) = s.get_mut(i * 3) {
                *p = HEX[(b >> 4) as usize];
            }
            if let Some(p) = s.get_mut(i * 3 + 1) {
                *p = HEX[(b & 15) as usize];
            }
        }
        self.raw(b"\"");
        self.raw(&s);
        self.raw(b"\"");
    }

    /// Lower-case hex string of `bytes` with an optional separator.
    pub fn hex(&mut self, bytes: &[u8], sep: Option<u8>) {
        self.sep();
        self.raw(b"\"");
        for (i, &b) in bytes.iter().enumerate() {
            if i > 0 {
                if let Some(c) = sep {
                    self.raw(&[c]);
                }
            }
            self.raw(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
        self.raw(b"\"");
    }

    /// An IP address string; IPv4-mapped addresses print as dotted quads.
    #[inline(never)]
    pub fn ip(&mut self, a: &[u8; 16]) {
        self.sep();
        self.raw(b"\"");
        self.ip_raw(a);
        self.raw(b"\"");
    }

    /// An IP prefix string `addr/len`.
    pub fn prefix(&mut self, a: &[u8; 16], len: u8) {
        self.sep();
        self.raw(b"\"");
        self.ip_raw(a);
        self.raw(b"/");
        self.digits(len as u64);
        self.raw(b"\"");
    }

    /// A string of IP addresses joined by `sep`, e.g. `"192.168.33.21, 192.168.33.22"`.
    pub fn joined_ips(&mut self, ips: &[[u8; 16]], sep: &[u8]) {
        self.sep();
        self.raw(b"\"");
        for (i, a) in ips.iter().enumerate() {
            if i > 0 {
                self.raw(sep);
            }
            self.ip_raw(a);
        }
        self.raw(b"\"");
    }

    /// A string made of parts, e.g. `"64512:90"`.
    pub fn joined_uints(&mut self, parts: &[u64], sep: u8) {
        self.sep();
        self.raw(b"\"");
        for (i, &p) in parts.iter().enumerate() {
            if i > 0 {
                self.raw(&[sep]);
            }
            self.digits(p);
        }
        self.raw(b"\"");
    }

    /// A string made of an IPv4 address and a number, e.g. `"192.168.33.21:2"`.
    pub fn ip_colon_uint(&mut self, a: [u8; 4], n: u64) {
        self.sep();
        self.raw(b"\"");
        for (i, &b) in a.iter().enumerate() {
            if i > 0 {
                self.raw(b".");
            }
            self.digits(b as u64);
        }
        self.raw(b":");
        self.digits(n);
        self.raw(b"\"");
    }

    fn ip_raw(&mut self, a: &[u8; 16]) {
        if is_v4_mapped(a) {
            for i in 12..16 {
                if i > 12 {
                    self.raw(b".");
                }
                self.digits(a.get(i).copied().unwrap_or(0) as u64);
            }
            return;
        }
        // RFC 5952: lower-case hex groups, the longest run (>1) of zero groups becomes "::".
        let mut g = [0u16; 8];
        for (i, slot) in g.iter_mut().enumerate() {
            let hi = a.get(2 * i).copied().unwrap_or(0) as u16;
            let lo = a.get(2 * i + 1).copied().unwrap_or(0) as u16;
            *slot = (hi << 8) | lo;
        }
        let (mut best_start, mut best_len, mut cur_start, mut cur_len) = (8usize, 0usize, 0usize, 0usize);
        for (i, &v) in g.iter().enumerate() {
            if v == 0 {
                if cur_len == 0 {
                    cur_start = i;
                }
                cur_len += 1;
                if cur_len > best_len {
                    best_len = cur_len;
                    best_start = cur_start;
                }
            } else {
                cur_len = 0;
            }
        }
        if best_len < 2 {
            best_start = 8;
            best_len = 0;
        }
        let mut i = 0usize;
        while i < 8 {
            if i == best_start {
                self.raw(b"::");
                i += best_len;
                continue;
            }
            if i > 0 && i != best_start + best_len {
                self.raw(b":");
            }
            self.hex_group(g.get(i).copied().unwrap_or(0));
            i += 1;
        }
    }

    fn hex_group(&mut self, v: u16) {
        let mut buf = [0u8; 4];
        let mut n = 0;
        for shift in [12u16, 8, 4, 0] {
            let d = ((v >> shift) & 15) as usize;
            if d != 0 || n > 0 || shift == 0 {
                if let Some(p) = buf.get_mut(n) {
                    *p = HEX[d];
                }
                n += 1;
            }
        }
        if let Some(s) = buf.get(..n) {
            self.raw(s);
        }
    }

    fn digits(&mut self, mut v: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        while i > 0 {
            i -= 1;
            if let Some(p) = buf.get_mut(i) {
                *p = b'0' + (v % 10) as u8;
            }
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if let Some(s) = buf.get(i..) {
            self.raw(s);
        }
    }

    fn string_raw(&mut self, s: &[u8]) {
        self.raw(b"\"");
        let mut start = 0;
        for (i, &c) in s.iter().enumerate() {
            let plain = (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\';
            if plain {
                continue;
            }
            if let Some(part) = s.get(start..i) {
                self.raw(part);
            }
            match c {
                b'"' => self.raw(b"\\\""),
                b'\\' => self.raw(b"\\\\"),
                b'\n' => self.raw(b"\\n"),
                // Control and non-ASCII bytes: \u00XX keeps the output valid UTF-8.
                _ => self.raw(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]),
            }
            start = i + 1;
        }
        if let Some(part) = s.get(start..) {
            self.raw(part);
        }
        self.raw(b"\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::bytes::v4_mapped;

    fn text(w: &JsonWriter) -> String {
        String::from_utf8(w.out.clone()).unwrap()
    }

    #[test]
    fn writes_nested_values_with_commas() {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.key("a");
        w.uint(0);
        w.key("b");
        w.begin_array();
        w.uint(18446744073709551615);
        w.string("x\"\\\n\u{1}é");
        w.begin_object();
        w.end_object();
        w.end_array();
        w.key("t");
        w.seconds(1_764_430_039_000_000_123);
        w.end_object();
        assert_eq!(
            text(&w),
            "{\"a\":0,\"b\":[18446744073709551615,\"x\\\"\\\\\\n\\u0001\\u00c3\\u00a9\",{}],\"t\":1764430039.000000123}"
        );
    }

    #[test]
    fn fields_write_what_key_and_a_value_write() {
        let mut by_key = JsonWriter::new();
        by_key.begin_object();
        by_key.key("n");
        by_key.uint(7);
        by_key.key("s");
        by_key.string("a\"b");
        by_key.key("b");
        by_key.boolean(true);
        by_key.key("t");
        by_key.seconds(1_500_000_000);
        by_key.key("ip");
        by_key.ip(&v4_mapped([10, 0, 0, 1]));
        by_key.key("mac");
        by_key.mac(&[2, 0, 0, 0, 0, 1]);
        by_key.key("some");
        by_key.uint(1);
        by_key.key("none");
        by_key.null();
        by_key.key("o");
        by_key.begin_object();
        by_key.key("a");
        by_key.begin_array();
        by_key.end_array();
        by_key.end_object();
        by_key.key("raw");
        by_key.hex(&[1, 2], None);
        by_key.end_object();

        let mut by_field = JsonWriter::new();
        by_field.begin_object();
        by_field.field_uint("n", 7);
        by_field.field_str("s", "a\"b");
        by_field.field_bool("b", true);
        by_field.field_seconds("t", 1_500_000_000);
        by_field.field_ip("ip", &v4_mapped([10, 0, 0, 1]));
        by_field.field_mac("mac", &[2, 0, 0, 0, 0, 1]);
        by_field.field_opt("some", Some(1), JsonWriter::uint);
        by_field.field_opt("none", None, JsonWriter::uint);
        by_field.begin_object_field("o");
        by_field.begin_array_field("a");
        by_field.end_array();
        by_field.end_object();
        by_field.field("raw");
        by_field.hex(&[1, 2], None);
        by_field.end_object();

        assert_eq!(
            text(&by_field),
            "{\"n\":7,\"s\":\"a\\\"b\",\"b\":true,\"t\":1.500000000,\"ip\":\"10.0.0.1\",\"mac\":\"02:00:00:00:00:01\",\"some\":1,\"none\":null,\"o\":{\"a\":[]},\"raw\":\"0102\"}"
        );
        assert_eq!(by_field.out, by_key.out);
    }

    /// A writer cutting its output at `cap` bytes, with `reserved` bytes of buffer to start.
    fn capped(cap: usize, reserved: usize) -> JsonWriter {
        let mut w = JsonWriter::new();
        w.cap = cap;
        w.out = Vec::with_capacity(reserved);
        w
    }

    #[test]
    fn fields_cut_at_the_cap_where_keys_do() {
        let by_key = |w: &mut JsonWriter| {
            w.begin_object();
            for i in 0..40u64 {
                w.key("name");
                w.uint(i);
                w.key("a_longer_field_name");
                w.begin_array();
                w.end_array();
            }
            w.end_object();
        };
        let by_field = |w: &mut JsonWriter| {
            w.begin_object();
            for i in 0..40u64 {
                w.field_uint("name", i);
                w.begin_array_field("a_longer_field_name");
                w.end_array();
            }
            w.end_object();
        };
        let mut whole = JsonWriter::new();
        by_field(&mut whole);
        let n = whole.out.len();
        // Every cut point, with the buffer reserved up front and grown on the way.
        for reserved in [1 << 20, 0, 7] {
            for cap in 0..=n + 1 {
                let (mut a, mut b) = (capped(cap, reserved), capped(cap, reserved));
                by_key(&mut a);
                by_field(&mut b);
                assert_eq!((text(&a), a.overflowed), (text(&b), b.overflowed), "cap {cap}, reserved {reserved}");
                assert_eq!(b.overflowed, cap < n);
            }
        }
    }

    #[test]
    fn field_opt_writes_a_nested_object_or_null() {
        let mut w = JsonWriter::new();
        w.begin_array();
        for v in [Some((3u64, true)), None] {
            w.begin_object();
            w.field_opt("x", v, |w, (n, b)| {
                w.begin_object();
                w.field_uint("n", n);
                w.field_bool("b", b);
                w.end_object();
            });
            w.field_uint("after", 0);
            w.end_object();
        }
        w.end_array();
        assert_eq!(text(&w), "[{\"x\":{\"n\":3,\"b\":true},\"after\":0},{\"x\":null,\"after\":0}]");
    }

    #[test]
    fn formats_addresses() {
        let mut w = JsonWriter::new();
        w.begin_array();
        w.ip(&v4_mapped([192, 168, 33, 21]));
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[2] = 0x0d;
        v6[3] = 0xb8;
        v6[15] = 1;
        w.ip(&v6);
        w.ip(&[0u8; 16]);
        w.mac(&[2, 0x27, 0, 0, 0, 0xff]);
        w.prefix(&v4_mapped([10, 27, 0, 0]), 16);
        w.end_array();
        assert_eq!(
            text(&w),
            "[\"192.168.33.21\",\"2001:db8::1\",\"::\",\"02:27:00:00:00:ff\",\"10.27.0.0/16\"]"
        );
    }
}
