//! A scan that recognises the STIX patterns most feeds send, without the full parser.
//!
//! Both the worker (an indicator's pattern is checked before import) and the validator
//! use it in front of [`crate::stix::pattern`]: the parser costs microseconds a pattern,
//! the scan a pass over its bytes.

/// Whether `pattern` is certainly a valid STIX pattern, decided without the full parser:
/// `true` only for the shapes most feeds send — observations joined by `AND`, `OR` or
/// `FOLLOWEDBY` without qualifiers, each of comparisons joined by `AND` / `OR`, each
/// comparison `type:path = 'string'` (or `!=`) with plain spaces and lower-case
/// identifiers, or `type:hashes.ALG = 'digest'` where ALG is MD5, SHA-1, SHA-256 or SHA-512
/// (bare or quoted) and the digest is hex of that algorithm's length. Everything else,
/// valid or not, answers `false` and goes to [`crate::stix::pattern::check_pattern`].
///
/// Every pattern this accepts is accepted by `check_pattern` (the grammar in
/// `src/stix/pattern.pest`: such a pattern has no qualifier, timestamp, number or list
/// index, and its only hash comparisons carry well-formed digests — the only things the
/// strict checks look at); `tests/validation.rs` checks the implication on every pattern of
/// the fixtures and the OASIS examples and on near misses. The full parser costs 6 to 9 µs
/// a pattern, more than all other checks of an indicator together; this costs a scan.
pub fn is_plain_pattern(pattern: &str) -> bool {
    let mut s = Scanner { b: pattern.as_bytes(), i: 0 };
    loop {
        if !s.observation() {
            return false;
        }
        if s.i == s.b.len() {
            return true;
        }
        if !(s.spaces() && (s.word(b"AND") || s.word(b"OR") || s.word(b"FOLLOWEDBY")) && s.spaces()) {
            return false;
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    /// `[comparison ((AND|OR) comparison)*]`.
    fn observation(&mut self) -> bool {
        if !self.eat(b'[') {
            return false;
        }
        self.spaces();
        loop {
            if !self.comparison() {
                return false;
            }
            let had_space = self.spaces();
            if self.eat(b']') {
                return true;
            }
            if !(had_space && (self.word(b"AND") || self.word(b"OR")) && self.spaces()) {
                return false;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    /// Plain spaces; whether there was at least one.
    fn spaces(&mut self) -> bool {
        let start = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        self.i > start
    }

    fn word(&mut self, w: &[u8]) -> bool {
        let hit = self.b[self.i..].starts_with(w);
        self.i += if hit { w.len() } else { 0 };
        hit
    }

    /// `[a-z_][a-z0-9_]*` (plus `-` inside an object type), not `true`/`false`, not `hashes`.
    fn identifier(&mut self, hyphens: bool) -> bool {
        let start = self.i;
        if !matches!(self.peek(), Some(b'a'..=b'z' | b'_')) {
            return false;
        }
        while matches!(self.peek(), Some(b'a'..=b'z' | b'0'..=b'9' | b'_')) || (hyphens && self.peek() == Some(b'-')) {
            self.i += 1;
        }
        !matches!(&self.b[start..self.i], b"true" | b"false" | b"hashes")
    }

    /// `type:prop(.prop)* (=|!=) 'string'`, or `type:hashes.ALG (=|!=) 'digest'`.
    fn comparison(&mut self) -> bool {
        if !(self.identifier(true) && self.eat(b':')) {
            return false;
        }
        let digest_len = if self.word(b"hashes.") {
            match self.hash_algorithm() {
                Some(len) => Some(len),
                None => return false,
            }
        } else {
            if !self.identifier(false) {
                return false;
            }
            while self.eat(b'.') {
                if !self.identifier(false) {
                    return false;
                }
            }
            None
        };
        // An identifier never runs into `-` in a property path.
        if self.peek() == Some(b'-') {
            return false;
        }
        self.spaces();
        let _ = self.eat(b'!');
        if !self.eat(b'=') {
            return false;
        }
        self.spaces();
        match digest_len {
            Some(len) => self.hex_string(len),
            None => self.string(),
        }
    }

    /// `MD5`, `SHA1`, `'SHA-256'`… (any case) after `hashes.`: the digest length in hex
    /// digits, for the four algorithms whose digests the platform checks by length.
    fn hash_algorithm(&mut self) -> Option<usize> {
        let quoted = self.eat(b'\'');
        let start = self.i;
        while matches!(self.peek(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9')) || (quoted && self.peek() == Some(b'-')) {
            self.i += 1;
        }
        let name: Vec<u8> = self.b[start..self.i].iter().filter(|&&c| c != b'-').map(u8::to_ascii_uppercase).collect();
        if quoted && !self.eat(b'\'') {
            return None;
        }
        match name.as_slice() {
            b"MD5" => Some(32),
            b"SHA1" => Some(40),
            b"SHA256" => Some(64),
            b"SHA512" => Some(128),
            _ => None,
        }
    }

    /// `'...'` holding exactly `len` hex digits.
    fn hex_string(&mut self, len: usize) -> bool {
        let digits = self.b.get(self.i + 1..self.i + 1 + len);
        let ok = self.peek() == Some(b'\'')
            && digits.is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit))
            && self.b.get(self.i + 1 + len) == Some(&b'\'');
        if ok {
            self.i += len + 2;
        }
        ok
    }

    /// `'...'` where only `\'` and `\\` are escapes.
    fn string(&mut self) -> bool {
        if !self.eat(b'\'') {
            return false;
        }
        loop {
            match self.peek() {
                None => return false,
                Some(b'\'') => {
                    self.i += 1;
                    return true;
                }
                Some(b'\\') => {
                    if !matches!(self.b.get(self.i + 1), Some(b'\'' | b'\\')) {
                        return false;
                    }
                    self.i += 2;
                }
                Some(_) => self.i += 1,
            }
        }
    }
}
