//! Ethernet II frames with 802.1Q / 802.1ad (QinQ) tags.

use crate::util::bytes::{array_at, be16, tail};
use crate::util::error::{DecodeError, Result};

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const PAYLOAD: usize = 14;
}

/// Most VLAN tags accepted in a row before the frame is called malformed.
pub const MAX_VLAN_TAGS: usize = 4;

/// 802.1Q, 802.1ad and the pre-standard QinQ tag types.
#[inline(always)]
pub fn is_vlan_tpid(t: u16) -> bool {
    t == 0x8100 || t == 0x88a8 || t == 0x9100 || t == 0x9200
}

/// Ethernet header fields after any VLAN tags.
#[derive(Clone, Copy)]
pub struct EthernetRepr<'a> {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ethertype: u16,
    /// Outermost VLAN id, 0 when untagged.
    pub vlan: u16,
    pub tags: u8,
    pub payload: &'a [u8],
}

/// Decodes an Ethernet frame, skipping up to `MAX_VLAN_TAGS` VLAN tags.
#[inline(always)]
pub fn parse(frame: &[u8]) -> Result<EthernetRepr<'_>> {
    let (dst, src) = match (array_at::<6>(frame, field::DST.start), array_at::<6>(frame, field::SRC.start)) {
        (Some(d), Some(s)) => (d, s),
        _ => return Err(DecodeError::new("ethernet header", "frame shorter than 14 bytes", frame.len() as u64)),
    };
    let (ethertype, off, vlan, tags) = skip_vlan_tags(frame, field::ETHERTYPE)?;
    Ok(EthernetRepr { dst, src, ethertype, vlan, tags, payload: tail(frame, off) })
}

/// Reads the ethertype at `off`, following VLAN tags; returns (ethertype, payload offset, vlan, tags).
#[inline(always)]
pub fn skip_vlan_tags(frame: &[u8], mut off: usize) -> Result<(u16, usize, u16, u8)> {
    let mut vlan = 0u16;
    let mut tags = 0u8;
    loop {
        let t = match be16(frame, off) {
            Some(t) => t,
            None => return Err(DecodeError::new("ethernet header", "frame ends before the ethertype", frame.len() as u64)),
        };
        if !is_vlan_tpid(t) {
            return Ok((t, off + 2, vlan, tags));
        }
        if tags as usize >= MAX_VLAN_TAGS {
            return Err(DecodeError::new("vlan tag", "more than 4 stacked VLAN tags", tags as u64 + 1));
        }
        let tci = match be16(frame, off + 2) {
            Some(v) => v,
            None => return Err(DecodeError::new("vlan tag", "frame ends inside a VLAN tag", frame.len() as u64)),
        };
        if tags == 0 {
            vlan = tci & 0x0fff;
        }
        tags += 1;
        off += 4;
    }
}

/// The payload offset of an untagged Ethernet frame.
pub const HEADER_LEN: usize = field::PAYLOAD;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qinq() {
        let f = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00, 0x45];
        let e = parse(&f).unwrap();
        assert_eq!(e.ethertype, 0x0800);
        assert_eq!(e.vlan, 100);
        assert_eq!(e.tags, 2);
        assert_eq!(e.payload, &[0x45]);
    }

    #[test]
    fn rejects_short_and_overtagged_frames() {
        assert!(parse(&[0; 13]).is_err());
        let mut f = vec![0u8; 12];
        for _ in 0..5 {
            f.extend_from_slice(&[0x81, 0, 0, 1]);
        }
        f.extend_from_slice(&[8, 0]);
        assert_eq!(parse(&f).err().unwrap().got, 5);
    }
}
