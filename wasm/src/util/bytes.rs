//! Panic-free big/little-endian readers over byte slices.
//!
//! Every reader returns `None` (or a default) instead of indexing out of range, so callers
//! that validated a length once can read fields without any panicking code path.

/// Reads one byte at `off`.
#[inline(always)]
pub fn u8_at(buf: &[u8], off: usize) -> Option<u8> {
    buf.get(off).copied()
}

/// Reads a big-endian u16 at `off`.
#[inline(always)]
pub fn be16(buf: &[u8], off: usize) -> Option<u16> {
    match buf.get(off..off.checked_add(2)?) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// Reads a big-endian 24-bit value at `off`.
#[inline(always)]
pub fn be24(buf: &[u8], off: usize) -> Option<u32> {
    match buf.get(off..off.checked_add(3)?) {
        Some(&[a, b, c]) => Some(u32::from_be_bytes([0, a, b, c])),
        _ => None,
    }
}

/// Reads a big-endian u32 at `off`.
#[inline(always)]
pub fn be32(buf: &[u8], off: usize) -> Option<u32> {
    match buf.get(off..off.checked_add(4)?) {
        Some(&[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}

/// Reads a big-endian u64 at `off`.
#[inline(always)]
pub fn be64(buf: &[u8], off: usize) -> Option<u64> {
    let hi = be32(buf, off)?;
    let lo = be32(buf, off.checked_add(4)?)?;
    Some(((hi as u64) << 32) | lo as u64)
}

/// Reads a little-endian u64 at `off` (one 8-byte load).
#[inline(always)]
pub fn le64(buf: &[u8], off: usize) -> Option<u64> {
    let s = buf.get(off..off.checked_add(8)?)?;
    <[u8; 8]>::try_from(s).ok().map(u64::from_le_bytes)
}

/// Reads a u16 at `off` in the given byte order.
#[inline(always)]
pub fn u16_at(buf: &[u8], off: usize, big_endian: bool) -> Option<u16> {
    let v = be16(buf, off)?;
    Some(if big_endian { v } else { v.swap_bytes() })
}

/// Reads a u32 at `off` in the given byte order.
#[inline(always)]
pub fn u32_at(buf: &[u8], off: usize, big_endian: bool) -> Option<u32> {
    let v = be32(buf, off)?;
    Some(if big_endian { v } else { v.swap_bytes() })
}

/// Copies `N` bytes at `off` into an array, or `None` when the slice is too short.
#[inline(always)]
pub fn array_at<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    let src = buf.get(off..off.checked_add(N)?)?;
    let mut out = [0u8; N];
    out.copy_from_slice(src);
    Some(out)
}

/// The sub-slice `off..off+len`, or `None` when it does not fit.
#[inline(always)]
pub fn slice_at(buf: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    buf.get(off..off.checked_add(len)?)
}

/// The sub-slice from `off` to the end (empty when `off` is past the end).
#[inline(always)]
pub fn tail(buf: &[u8], off: usize) -> &[u8] {
    buf.get(off..).unwrap_or(&[])
}

/// An IPv4 address as the IPv4-mapped IPv6 form used everywhere as a key.
#[inline(always)]
pub fn v4_mapped(a: [u8; 4]) -> [u8; 16] {
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3]]
}

/// True when a 16-byte address is IPv4-mapped.
#[inline(always)]
pub fn is_v4_mapped(a: &[u8; 16]) -> bool {
    a[..10].iter().all(|&b| b == 0) && a[10] == 0xff && a[11] == 0xff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_reject_out_of_range() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(be16(&b, 0), Some(0x0102));
        assert_eq!(be16(&b, 4), None);
        assert_eq!(be24(&b, 2), Some(0x030405));
        assert_eq!(be32(&b, 1), Some(0x02030405));
        assert_eq!(be32(&b, 2), None);
        assert_eq!(u32_at(&b, 0, false), Some(0x04030201));
        assert_eq!(be16(&b, usize::MAX), None);
        assert_eq!(array_at::<2>(&b, 3), Some([4, 5]));
        assert_eq!(array_at::<2>(&b, 4), None);
        assert_eq!(tail(&b, 9), &[] as &[u8]);
    }
}
