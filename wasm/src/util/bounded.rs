//! Growth without panics: vectors grow only through `try_reserve` and refuse past a cap.
//!
//! `Vec::push` links a capacity-overflow panic path; pushing only when `len < capacity`
//! lets the optimiser drop it, so the built module keeps no panic machinery.

/// Appends `item` unless `v` already holds `cap` items or memory cannot be reserved.
#[inline]
pub fn try_push<T>(v: &mut Vec<T>, item: T, cap: usize) -> bool {
    if v.len() >= cap {
        return false;
    }
    if v.len() == v.capacity() {
        let want = if v.capacity() == 0 { 8 } else { v.capacity() };
        let want = want.min(cap.saturating_sub(v.len())).max(1);
        if v.try_reserve(want).is_err() {
            return false;
        }
    }
    if v.len() < v.capacity() {
        v.push(item);
        true
    } else {
        false
    }
}

/// Appends all of `src` unless that would exceed `cap` bytes or memory cannot be reserved.
#[inline]
pub fn try_extend(v: &mut Vec<u8>, src: &[u8], cap: usize) -> bool {
    let need = match v.len().checked_add(src.len()) {
        Some(n) if n <= cap => n,
        _ => return false,
    };
    if need > v.capacity() {
        let grow = need.max(v.capacity().saturating_mul(2)).min(cap);
        if v.try_reserve(grow - v.len()).is_err() {
            return false;
        }
    }
    if need > v.capacity() {
        return false;
    }
    // `extend_from_slice` would link a grow-or-panic path the optimiser cannot remove; the
    // capacity is already reserved, so copy directly.
    let len = v.len();
    unsafe {
        core::ptr::copy_nonoverlapping(src.as_ptr(), v.as_mut_ptr().add(len), src.len());
        v.set_len(need);
    }
    true
}

/// A vector of `n` copies of `value`, or `None` when memory cannot be reserved.
pub fn try_filled<T: Copy>(n: usize, value: T) -> Option<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).ok()?;
    for _ in 0..n {
        if v.len() < v.capacity() {
            v.push(value);
        }
    }
    Some(v)
}

/// A small inline list of up to `N` u32 ids; pushing past `N` reports overflow.
#[derive(Clone, Copy)]
pub struct SmallIds<const N: usize> {
    ids: [u32; N],
    len: u8,
}

impl<const N: usize> SmallIds<N> {
    /// An empty list.
    pub const fn new() -> Self {
        SmallIds { ids: [0; N], len: 0 }
    }

    /// The stored ids.
    pub fn as_slice(&self) -> &[u32] {
        self.ids.get(..self.len as usize).unwrap_or(&[])
    }

    /// Adds `id` unless present; false when the list is full.
    pub fn insert(&mut self, id: u32) -> bool {
        if self.as_slice().contains(&id) {
            return true;
        }
        match self.ids.get_mut(self.len as usize) {
            Some(slot) => {
                *slot = id;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Removes `id` if present.
    pub fn remove(&mut self, id: u32) {
        let n = self.len as usize;
        if let Some(pos) = self.as_slice().iter().position(|&x| x == id) {
            let mut i = pos;
            while i + 1 < n {
                let next = self.ids.get(i + 1).copied().unwrap_or(0);
                if let Some(s) = self.ids.get_mut(i) {
                    *s = next;
                }
                i += 1;
            }
            self.len -= 1;
        }
    }

    /// Number of stored ids.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when no id is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_push_stops_at_cap() {
        let mut v = Vec::new();
        for i in 0..10 {
            assert!(try_push(&mut v, i, 10));
        }
        assert!(!try_push(&mut v, 10, 10));
        assert_eq!(v.len(), 10);
    }

    #[test]
    fn try_extend_stops_at_cap() {
        let mut v = Vec::new();
        assert!(try_extend(&mut v, &[1, 2, 3], 4));
        assert!(!try_extend(&mut v, &[4, 5], 4));
        assert!(try_extend(&mut v, &[4], 4));
        assert_eq!(v, vec![1, 2, 3, 4]);
    }

    #[test]
    fn small_ids_insert_remove() {
        let mut s = SmallIds::<3>::new();
        assert!(s.insert(1) && s.insert(2) && s.insert(2) && s.insert(3));
        assert!(!s.insert(4));
        s.remove(2);
        assert_eq!(s.as_slice(), &[1, 3]);
        assert!(s.insert(4));
        assert_eq!(s.as_slice(), &[1, 3, 4]);
    }
}
