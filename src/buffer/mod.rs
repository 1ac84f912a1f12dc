//! Request bodies, and the large texts decoded from them, in memory the OS gets back.
//!
//! A `stixBundlePush` body can be 50 MB. Held in the heap, freeing it returns the memory
//! to the allocator, which may keep it resident for a while (mimalloc purges lazily), so
//! the process would carry the body *and* the stored knowledge at its peak. Bodies of
//! [`MAPPED_FROM`] bytes or more therefore live in their own anonymous memory map, which is
//! unmapped the moment it is dropped; smaller ones stay on the heap.
//!
//! The bundle variable is decoded *in place* inside the body buffer (a decoded JSON string
//! is never longer than its literal), so the bundle text reuses the body's memory:
//! [`LargeText`] is that decoded text.

use std::ops::Deref;

use memmap2::MmapMut;

pub mod unescape;

/// Bodies at least this large are memory-mapped.
pub const MAPPED_FROM: usize = 1024 * 1024;

enum Storage {
    Heap(Vec<u8>),
    Mapped(MmapMut),
}

/// A growable byte buffer, heap- or map-backed.
pub struct BodyBuf {
    storage: Storage,
    len: usize,
}

impl std::fmt::Debug for BodyBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyBuf").field("len", &self.len).field("mapped", &matches!(self.storage, Storage::Mapped(_))).finish()
    }
}

fn map(capacity: usize) -> std::io::Result<MmapMut> {
    MmapMut::map_anon(capacity.max(1))
}

impl BodyBuf {
    /// An empty buffer expecting about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> std::io::Result<BodyBuf> {
        let storage =
            if capacity >= MAPPED_FROM { Storage::Mapped(map(capacity)?) } else { Storage::Heap(Vec::with_capacity(capacity)) };
        Ok(BodyBuf { storage, len: 0 })
    }

    /// A buffer holding `bytes` (on the heap).
    pub fn from_vec(bytes: Vec<u8>) -> BodyBuf {
        let len = bytes.len();
        BodyBuf { storage: Storage::Heap(bytes), len }
    }

    fn capacity(&self) -> usize {
        match &self.storage {
            Storage::Heap(v) => v.capacity(),
            Storage::Mapped(m) => m.len(),
        }
    }

    /// Appends bytes, growing (at most to `max` bytes of capacity) as needed.
    pub fn extend(&mut self, data: &[u8], max: usize) -> std::io::Result<()> {
        let needed = self.len + data.len();
        if let Storage::Heap(v) = &mut self.storage
            && (needed < MAPPED_FROM || needed <= v.capacity())
        {
            v.extend_from_slice(data);
            self.len = v.len();
            return Ok(());
        }
        if needed > self.capacity() {
            let target = needed.max(self.capacity().saturating_mul(2)).min(max.max(needed));
            let mut grown = map(target)?;
            grown[..self.len].copy_from_slice(&self.as_slice()[..self.len]);
            self.storage = Storage::Mapped(grown);
        }
        if let Storage::Mapped(m) = &mut self.storage {
            m[self.len..needed].copy_from_slice(data);
        }
        self.len = needed;
        Ok(())
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.storage {
            Storage::Heap(v) => &v[..self.len],
            Storage::Mapped(m) => &m[..self.len],
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut self.storage {
            Storage::Heap(v) => &mut v[..self.len],
            Storage::Mapped(m) => &mut m[..self.len],
        }
    }

    /// Keeps only `range`, moved to the front.
    fn keep_range(&mut self, range: std::ops::Range<usize>) {
        let n = range.len();
        self.as_mut_slice().copy_within(range, 0);
        self.len = n;
        if let Storage::Heap(v) = &mut self.storage {
            v.truncate(n);
        }
    }
}

/// Valid UTF-8 text in a [`BodyBuf`] (a decoded `stixBundlePush` bundle), or a heap string.
pub struct LargeText(BodyBuf);

impl std::fmt::Debug for LargeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LargeText({} bytes)", self.0.len)
    }
}

impl From<String> for LargeText {
    fn from(s: String) -> Self {
        LargeText(BodyBuf::from_vec(s.into_bytes()))
    }
}

impl Deref for LargeText {
    type Target = str;

    fn deref(&self) -> &str {
        // Only constructed from `String`s or after `str::from_utf8` succeeded.
        std::str::from_utf8(self.0.as_slice()).unwrap_or_default()
    }
}

impl LargeText {
    /// The text as a heap `String` (one copy; for the rare paths that must own it).
    pub fn into_string(self) -> String {
        match self.0.storage {
            Storage::Heap(mut v) => {
                v.truncate(self.0.len);
                String::from_utf8(v).unwrap_or_default()
            }
            Storage::Mapped(_) => self.to_string(),
        }
    }
}

/// Decodes the JSON string literal at `range` of `buf` in place and returns the text,
/// which reuses `buf`'s memory. `None` if the literal is invalid.
pub fn take_string_in_place(mut buf: BodyBuf, range: std::ops::Range<usize>) -> Option<LargeText> {
    let decoded = crate::buffer::unescape::decode_in_place(&mut buf.as_mut_slice()[range.clone()])?;
    buf.keep_range(range.start..range.start + decoded);
    std::str::from_utf8(buf.as_slice()).ok()?;
    Some(LargeText(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_bodies_are_mapped_and_grow_to_fit() {
        let mut b = BodyBuf::with_capacity(0).unwrap();
        let chunk = vec![b'a'; 300 * 1024];
        for _ in 0..10 {
            b.extend(&chunk, usize::MAX).unwrap();
        }
        assert_eq!(b.as_slice().len(), 10 * 300 * 1024);
        assert!(matches!(b.storage, Storage::Mapped(_)));
        assert!(b.as_slice().iter().all(|&c| c == b'a'));
    }

    #[test]
    fn a_literal_is_decoded_into_the_same_buffer() {
        let body = br#"{"bundle": "{\"type\": \"bundle\"}", "x": 1}"#.to_vec();
        let start = body.iter().position(|&c| c == b'"').unwrap() + 10;
        let end = start + br#""{\"type\": \"bundle\"}""#.len();
        let text = take_string_in_place(BodyBuf::from_vec(body), start..end).unwrap();
        assert_eq!(&*text, r#"{"type": "bundle"}"#);
    }
}
