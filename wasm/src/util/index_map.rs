//! An insertion-ordered, append-only hash index: key -> dense u32 id.
//!
//! Open addressing with linear probing over a power-of-two slot table. Entries are never
//! removed (routes, flows and sessions keep their history), so there are no tombstones and
//! ids double as stable indices into the caller's parallel value vector.

use super::bounded::{try_filled, try_push};

/// A fixed-size key that can hash itself.
pub trait Key: Copy + Eq {
    /// A 64-bit hash of the key.
    fn hash64(&self) -> u64;
}

/// FxHash-style mixing over a byte slice, 16 bytes a round in two independent lanes (half
/// the chain of dependent multiplies), the tail as one zero-padded round with the length.
#[inline(always)]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    const K2: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut a, mut b): (u64, u64) = (0, 0);
    let mut chunks = bytes.chunks_exact(16);
    for c in &mut chunks {
        a = (a.rotate_left(5) ^ word(c, 0)).wrapping_mul(K);
        b = (b.rotate_left(5) ^ word(c, 8)).wrapping_mul(K2);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut t = [0u8; 16];
        for (d, s) in t.iter_mut().zip(rest) {
            *d = *s;
        }
        a = (a.rotate_left(5) ^ word(&t, 0) ^ rest.len() as u64).wrapping_mul(K);
        b = (b.rotate_left(5) ^ word(&t, 8)).wrapping_mul(K2);
    }
    // Final avalanche so the low bits used for slot selection depend on every input bit.
    let mut h = a ^ b.rotate_left(32);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The little-endian word at `off` (0 when out of range).
#[inline(always)]
fn word(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes)
}

/// Equality of two byte arrays a word at a time (the derived one calls memcmp, a byte loop
/// in this module).
#[inline(always)]
pub fn bytes_eq<const N: usize>(x: &[u8; N], y: &[u8; N]) -> bool {
    let mut diff = 0u64;
    let (mut cx, mut cy) = (x.chunks_exact(8), y.chunks_exact(8));
    for (a, b) in (&mut cx).zip(&mut cy) {
        diff |= word(a, 0) ^ word(b, 0);
    }
    for (a, b) in cx.remainder().iter().zip(cy.remainder()) {
        diff |= (a ^ b) as u64;
    }
    diff == 0
}

/// Append-only key -> id map with a hard cap on the number of keys.
pub struct IndexMap<K: Key> {
    slots: Vec<u32>,
    keys: Vec<K>,
    cap: usize,
}

impl<K: Key> IndexMap<K> {
    /// An empty map that will refuse keys beyond `cap`.
    pub fn new(cap: usize) -> Self {
        IndexMap { slots: Vec::new(), keys: Vec::new(), cap }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Key of `id`.
    pub fn key(&self, id: u32) -> Option<&K> {
        self.keys.get(id as usize)
    }

    /// Id of `key`, if present.
    #[inline]
    pub fn find(&self, key: &K) -> Option<u32> {
        let mask = self.slots.len().wrapping_sub(1);
        if self.slots.is_empty() {
            return None;
        }
        let mut i = key.hash64() as usize & mask;
        // Bounded probe: the table is at most half full, so an empty slot always exists.
        for _ in 0..self.slots.len() {
            let s = *self.slots.get(i)?;
            if s == 0 {
                return None;
            }
            let id = s - 1;
            if self.keys.get(id as usize) == Some(key) {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Id of `key`, inserting it when absent; `None` when full or out of memory.
    /// The bool is true when the key was inserted by this call.
    pub fn find_or_insert(&mut self, key: K) -> Option<(u32, bool)> {
        if let Some(id) = self.find(&key) {
            return Some((id, false));
        }
        self.insert_new(key)
    }

    /// The insert half of `find_or_insert`, out of line: callers run the lookup per packet
    /// and stay small (V8 compiles them with its optimising tier sooner).
    #[inline(never)]
    fn insert_new(&mut self, key: K) -> Option<(u32, bool)> {
        if self.keys.len() >= self.cap {
            return None;
        }
        if (self.keys.len() + 1) * 2 > self.slots.len() && !self.grow() {
            return None;
        }
        let id = self.keys.len() as u32;
        if !try_push(&mut self.keys, key, self.cap) {
            return None;
        }
        self.place(id, &key);
        Some((id, true))
    }

    fn place(&mut self, id: u32, key: &K) {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = key.hash64() as usize & mask;
        for _ in 0..self.slots.len() {
            match self.slots.get_mut(i) {
                Some(s) if *s == 0 => {
                    *s = id + 1;
                    return;
                }
                Some(_) => i = (i + 1) & mask,
                None => return,
            }
        }
    }

    /// Makes room for `more` keys at once (a snapshot's routes, counted before they load), so
    /// they go in without the table growing and rehashing on the way. Ids are unchanged.
    pub fn reserve(&mut self, more: usize) {
        let want = self.keys.len().saturating_add(more).min(self.cap);
        if want > self.keys.len() && self.keys.try_reserve(want - self.keys.len()).is_err() {
            return;
        }
        while want.saturating_mul(2) > self.slots.len() {
            if !self.grow() {
                return;
            }
        }
    }

    fn grow(&mut self) -> bool {
        let n = if self.slots.is_empty() { 16 } else { self.slots.len().saturating_mul(2) };
        let slots = match try_filled(n, 0u32) {
            Some(s) => s,
            None => return false,
        };
        self.slots = slots;
        for id in 0..self.keys.len() {
            if let Some(k) = self.keys.get(id).copied() {
                self.place(id as u32, &k);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Eq)]
    struct K(u32);
    impl Key for K {
        fn hash64(&self) -> u64 {
            hash_bytes(&self.0.to_le_bytes())
        }
    }

    #[test]
    fn reserved_keys_go_in_without_growing() {
        let mut m = IndexMap::new(1000);
        m.find_or_insert(K(1));
        m.reserve(999);
        let slots = m.slots.len();
        for i in 1..1000u32 {
            assert_eq!(m.find_or_insert(K(i * 7 + 2)), Some((i, true)));
        }
        assert_eq!(m.slots.len(), slots);
        assert_eq!(m.find(&K(1)), Some(0));
        assert_eq!(m.find_or_insert(K(5)), None);
    }

    #[test]
    fn ids_are_dense_and_stable() {
        let mut m = IndexMap::new(1000);
        for i in 0..1000u32 {
            assert_eq!(m.find_or_insert(K(i * 7)), Some((i, true)));
        }
        for i in 0..1000u32 {
            assert_eq!(m.find(&K(i * 7)), Some(i));
            assert_eq!(m.find_or_insert(K(i * 7)), Some((i, false)));
        }
        assert_eq!(m.find(&K(3)), None);
        assert_eq!(m.find_or_insert(K(3)), None, "cap reached");
    }
}
