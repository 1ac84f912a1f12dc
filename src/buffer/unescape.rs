//! Decoding large JSON string literals without extra copies.
//!
//! serde_json decodes a string with escapes into a growing scratch buffer and then copies
//! it, so a 45 MB `stixBundlePush` bundle would briefly cost about three times its size.
//! [`json_string`] decodes a literal (RFC 8259 escapes, surrogate pairs) straight into a
//! string of the final size; [`decode_in_place`] decodes a literal *inside its own bytes*
//! (a decoded string is never longer than its literal), which is how the bundle of a
//! `stixBundlePush` reuses the request body's memory ([`crate::buffer`]).

/// Decodes a JSON string literal (with its quotes). `None` if it is not a valid literal.
pub fn json_string(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut i = 0;
    while i < bytes.len() {
        let run_end = bytes[i..].iter().position(|&b| b == b'\\' || b == b'"' || b < 0x20).map_or(bytes.len(), |p| i + p);
        out.push_str(&inner[i..run_end]);
        i = run_end;
        if i == bytes.len() {
            break;
        }
        if bytes[i] != b'\\' {
            return None; // an unescaped quote or control character
        }
        let escape = *bytes.get(i + 1)?;
        i += 2;
        match escape {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = hex4(inner.get(i..i + 4)?)?;
                i += 4;
                let c = if (0xD800..0xDC00).contains(&hi) {
                    let lo = match (bytes.get(i), bytes.get(i + 1)) {
                        (Some(b'\\'), Some(b'u')) => hex4(inner.get(i + 2..i + 6)?)?,
                        _ => return None,
                    };
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    char::from_u32(hi)?
                };
                out.push(c);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Decodes the JSON string literal filling `literal` (quotes included) in place: the
/// decoded bytes are written from the start of the slice. Returns their length, or
/// `None` if the literal is invalid.
pub fn decode_in_place(literal: &mut [u8]) -> Option<usize> {
    let end = literal.len();
    if end < 2 || literal[0] != b'"' || literal[end - 1] != b'"' {
        return None;
    }
    let (mut read, mut write) = (1, 0);
    let stop = end - 1;
    while read < stop {
        let b = literal[read];
        if b == b'"' || b < 0x20 {
            return None;
        }
        if b != b'\\' {
            // Copy the whole run up to the next escape at once.
            let run = literal[read..stop].iter().position(|&c| c == b'\\' || c == b'"' || c < 0x20).map_or(stop, |p| read + p);
            literal.copy_within(read..run, write);
            write += run - read;
            read = run;
            continue;
        }
        if read + 1 >= stop {
            return None;
        }
        let escape = literal[read + 1];
        read += 2;
        let simple = match escape {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return None,
        };
        if let Some(c) = simple {
            literal[write] = c;
            write += 1;
            continue;
        }
        let hi = hex4(std::str::from_utf8(literal.get(read..(read + 4).min(stop))?).ok()?)?;
        read += 4;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if literal.get(read) != Some(&b'\\') || literal.get(read + 1) != Some(&b'u') || read + 6 > stop {
                return None;
            }
            let lo = hex4(std::str::from_utf8(&literal[read + 2..read + 6]).ok()?)?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            read += 6;
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        let mut buf = [0u8; 4];
        let encoded = char::from_u32(code)?.encode_utf8(&mut buf);
        literal[write..write + encoded.len()].copy_from_slice(encoded.as_bytes());
        write += encoded.len();
    }
    Some(write)
}

fn hex4(s: &str) -> Option<u32> {
    if s.len() != 4 {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn decodes_like_serde_json() {
        let samples = [
            r#""plain""#,
            r#""a \"quoted\" \\ back\/slash""#,
            r#""\b\f\n\r\t""#,
            r#""\u00e9t\u00E9 \ud83d\ude00 ok""#,
            r#""{\"type\": \"bundle\", \"objects\": []}""#,
            r#""""#,
            "\"é unicode ✓\"",
        ];
        for s in samples {
            assert_eq!(json_string(s), serde_json::from_str::<String>(s).ok(), "{s}");
        }
    }

    #[test]
    fn decodes_in_place_like_serde_json() {
        let samples = [
            r#""plain""#,
            r#""a \"quoted\" \\ back\/slash""#,
            r#""\b\f\n\r\t""#,
            r#""\u00e9t\u00E9 \ud83d\ude00 ok""#,
            r#""""#,
            "\"é unicode ✓\"",
        ];
        for s in samples {
            let mut bytes = s.as_bytes().to_vec();
            let decoded = super::decode_in_place(&mut bytes).map(|n| String::from_utf8(bytes[..n].to_vec()).unwrap());
            assert_eq!(decoded, serde_json::from_str::<String>(s).ok(), "{s}");
        }
        assert_eq!(super::decode_in_place(&mut b"\"\\x\"".to_vec()), None);
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for s in [r#""\x""#, r#""\u12""#, r#""\ud83d""#, r#""a"b""#, "\"tab\there\"", "no quotes"] {
            assert_eq!(json_string(s), None, "{s}");
            assert!(serde_json::from_str::<String>(s).is_err(), "{s}");
        }
    }
}
