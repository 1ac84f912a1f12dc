//! The JSON representation the validator reads: one object of a bundle as a tree whose
//! strings borrow from the input text.
//!
//! Why not `serde_json::Value`? Validation is dominated by building the tree, and a `Value`
//! allocates every string and hashes every key into an index map (SipHash) that the
//! validator never needs: STIX objects have a few dozen keys at most, so a vector scanned
//! linearly is faster than any hash lookup. [`Doc`] allocates only its arrays and objects
//! (and the rare string holding an escape), and plugs into `jsonschema` as a custom
//! representation (`jsonschema::json`), so the schemas run on it directly.
//!
//! Semantics match `serde_json::Value` exactly: numbers are `serde_json::Number`s parsed by
//! the same parser, and when a key repeats the last value wins at the position of the first
//! occurrence (what an insertion-ordered `Value` map does).

use std::borrow::Cow;
use std::fmt;

use rustc_hash::FxHashMap;

use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use jsonschema::types::JsonType;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// One JSON value; strings borrow from the text it was parsed from when they hold no escape.
#[derive(Debug, Clone, PartialEq)]
pub enum Doc<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(Number),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Doc<'a>>),
    /// An object, members in document order, keys unique.
    Object(Vec<(Cow<'a, str>, Doc<'a>)>),
}

impl<'a> Doc<'a> {
    /// Parses JSON text (the whole text must be one value).
    pub fn parse(text: &'a str) -> serde_json::Result<Doc<'a>> {
        serde_json::from_str(text)
    }

    /// A view of a `serde_json::Value`, borrowing its strings.
    pub fn from_value(value: &'a Value) -> Doc<'a> {
        match value {
            Value::Null => Doc::Null,
            Value::Bool(b) => Doc::Bool(*b),
            Value::Number(n) => Doc::Number(n.clone()),
            Value::String(s) => Doc::String(Cow::Borrowed(s)),
            Value::Array(items) => Doc::Array(items.iter().map(Doc::from_value).collect()),
            Value::Object(map) => Doc::Object(map.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Doc::from_value(v))).collect()),
        }
    }

    /// The `serde_json::Value` this document stands for.
    pub fn to_json(&self) -> Value {
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => Value::Bool(*b),
            Doc::Number(n) => Value::Number(n.clone()),
            Doc::String(s) => Value::String(s.to_string()),
            Doc::Array(items) => Value::Array(items.iter().map(Doc::to_json).collect()),
            Doc::Object(members) => Value::Object(members.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()),
        }
    }

    /// The members of an object.
    pub fn members(&self) -> Option<&[(Cow<'a, str>, Doc<'a>)]> {
        match self {
            Doc::Object(members) => Some(members),
            _ => None,
        }
    }

    /// A member of an object.
    pub fn get(&self, key: &str) -> Option<&Doc<'a>> {
        self.members()?.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Doc::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Doc<'a>]> {
        match self {
            Doc::Array(items) => Some(items),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

impl<'de> serde::Deserialize<'de> for Doc<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

struct DocVisitor;

/// Objects with this many members index their keys to find repeated ones.
const INDEX_FROM: usize = 32;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Doc<'de>, E> {
        Ok(Doc::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Doc<'de>, E> {
        Ok(Doc::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Doc<'de>, E> {
        Ok(Doc::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Doc<'de>, E> {
        // As `serde_json::Value`: a float JSON can hold is always finite.
        Ok(Number::from_f64(v).map_or(Doc::Null, Doc::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Doc<'de>, E> {
        Ok(Doc::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Doc<'de>, E> {
        Ok(Doc::String(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Doc<'de>, E> {
        Ok(Doc::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Doc<'de>, E> {
        Ok(Doc::Null)
    }

    fn visit_none<E>(self) -> Result<Doc<'de>, E> {
        Ok(Doc::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Doc<'de>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Doc::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Doc<'de>)> = Vec::with_capacity(map.size_hint().unwrap_or(8));
        // Past a few dozen keys, repeated keys are found through an index instead of a scan.
        let mut index: Option<FxHashMap<Cow<'de, str>, usize>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value: Doc<'de> = map.next_value()?;
            if members.len() == INDEX_FROM {
                index = Some(members.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect());
            }
            let existing = match &index {
                Some(index) => index.get(&key).copied(),
                None => members.iter().position(|(k, _)| *k == key),
            };
            match existing {
                Some(i) => members[i].1 = value,
                None => {
                    if let Some(index) = &mut index {
                        index.insert(key.clone(), members.len());
                    }
                    members.push((key, value));
                }
            }
        }
        Ok(Doc::Object(members))
    }
}

/// An object key, borrowed from the input when it holds no escape.
pub(crate) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

// ---------------------------------------------------------------------------------------
// The `jsonschema` representation

/// `jsonschema`'s handle on [`Doc`] trees.
#[derive(Debug)]
pub struct DocJson;

/// Large enough that `jsonschema` always prefers one pass over an object's members to
/// several lookups (each lookup is itself a pass), small enough never to overflow when
/// multiplied by a count of required properties.
const SCAN_ALWAYS: usize = 1 << 24;

impl Json for DocJson {
    type Node<'a> = &'a Doc<'a>;
    type PreparedKey = Box<str>;
    type StringBuffer = ();

    const KEYS_PER_LOOKUP: usize = SCAN_ALWAYS;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> Box<str> {
        key.into()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(Self::Node<'_>) -> T) -> T {
        f(&Doc::String(Cow::Borrowed(string)))
    }
}

/// A number of a [`Doc`] (a newtype: the trait and `Number` are both foreign).
#[derive(Debug, Clone, Copy)]
pub struct DocNumber<'a>(&'a Number);

impl JsonNumber for DocNumber<'_> {
    fn as_u64(&self) -> Option<u64> {
        self.0.as_u64()
    }

    fn as_i64(&self) -> Option<i64> {
        self.0.as_i64()
    }

    fn as_f64(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn as_str(&self) -> Cow<'_, str> {
        Cow::Owned(self.0.to_string())
    }

    fn to_number(&self) -> Cow<'_, Number> {
        Cow::Borrowed(self.0)
    }

    fn is_written_as_integer(&self) -> bool {
        // serde_json keeps integers as integers and everything else as f64.
        self.0.is_u64() || self.0.is_i64()
    }
}

impl<'a> Node<'a, DocJson> for &'a Doc<'a> {
    type Object = &'a [(Cow<'a, str>, Doc<'a>)];
    type Array = &'a [Doc<'a>];
    type Number = DocNumber<'a>;

    fn as_object(&self) -> Option<Self::Object> {
        match self {
            Doc::Object(members) => Some(members),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<Self::Array> {
        match self {
            Doc::Array(items) => Some(items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self {
            Doc::String(s) => Some(Cow::Borrowed(&**s)),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<DocNumber<'a>> {
        match self {
            Doc::Number(n) => Some(DocNumber(n)),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self {
            Doc::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Doc::Null)
    }

    fn json_type(&self) -> JsonType {
        match self {
            Doc::Null => JsonType::Null,
            Doc::Bool(_) => JsonType::Boolean,
            Doc::Number(_) => JsonType::Number,
            Doc::String(_) => JsonType::String,
            Doc::Array(_) => JsonType::Array,
            Doc::Object(_) => JsonType::Object,
        }
    }

    fn string_length(&self) -> Option<u64> {
        self.as_str().map(|s| s.chars().count() as u64)
    }

    fn string_length_within(&self, min: u64, max: u64) -> Option<bool> {
        let s = self.as_str()?;
        // A code point takes one to four bytes: the byte length often decides alone.
        let bytes = s.len() as u64;
        if bytes < min || bytes.div_ceil(4) > max {
            return Some(false);
        }
        if min <= bytes.div_ceil(4) && bytes <= max {
            return Some(true);
        }
        Some((min..=max).contains(&(s.chars().count() as u64)))
    }

    fn equals_value(&self, expected: &Value) -> bool {
        match (self, expected) {
            (Doc::String(s), Value::String(e)) => s == e,
            (Doc::String(_), _) | (_, Value::String(_)) => false,
            (Doc::Bool(b), Value::Bool(e)) => b == e,
            (Doc::Null, Value::Null) => true,
            (Doc::Number(n), Value::Number(_)) => jsonschema::json::cmp::equal(&Value::Number(n.clone()), expected),
            (Doc::Array(_) | Doc::Object(_), _) => jsonschema::json::cmp::equal(&self.to_json(), expected),
            _ => false,
        }
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(self.to_json())
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Doc<'a>>(*self) as usize))
    }
}

/// Iterator over an object's members as `jsonschema` wants them.
#[derive(Debug)]
pub struct DocMembers<'a>(std::slice::Iter<'a, (Cow<'a, str>, Doc<'a>)>);

impl<'a> Iterator for DocMembers<'a> {
    type Item = (&'a str, &'a Doc<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (&**k, v))
    }
}

impl<'a> Object<'a, DocJson> for &'a [(Cow<'a, str>, Doc<'a>)] {
    type Node = &'a Doc<'a>;
    type MemberName = &'a str;
    type MembersIter = DocMembers<'a>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn get(&self, key: &Box<str>) -> Option<&'a Doc<'a>> {
        self.iter().find(|(k, _)| **k == **key).map(|(_, v)| v)
    }

    fn members(&self) -> DocMembers<'a> {
        DocMembers(self.iter())
    }
}

impl<'a> Array<'a, DocJson> for &'a [Doc<'a>] {
    type Node = &'a Doc<'a>;
    type ElementsIter = std::slice::Iter<'a, Doc<'a>>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn elements(&self) -> Self::ElementsIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_matches_serde_json_values() {
        let text = r#"{"a": [1, -2, 3.5, 1e300, "x\"y", null, true], "b": {"c": "d"}, "a": "last", "e": 18446744073709551615}"#;
        let doc = Doc::parse(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(doc.to_json(), value);
        assert_eq!(Doc::from_value(&value), doc);
        assert!(matches!(doc.get("b").and_then(|b| b.get("c")), Some(Doc::String(Cow::Borrowed("d")))));
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_last_value_in_large_objects_too() {
        let mut members: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        members.push("\"k3\": \"again\"".into());
        members.push("\"k39\": \"again\"".into());
        let text = format!("{{{}}}", members.join(","));
        let doc = Doc::parse(&text).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc.to_json(), value);
        assert_eq!(doc.members().map(<[_]>::len), Some(40));
    }
}
