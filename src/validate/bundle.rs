//! Validating a whole bundle: every object against its type, and references that point
//! to nothing in the bundle.
//!
//! The bundle is read in one pass and never held as one tree: the `objects` array is
//! streamed, each object parsed into a [`Doc`] borrowing from the input, checked, and
//! dropped before the next one is read. References are resolved against the ids seen so far;
//! the few that point forward wait for the end of the array.

use std::borrow::Cow;
use std::fmt;

use rustc_hash::FxHashSet;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::doc::{Doc, KeySeed};
use crate::validate::{Finding, StixValidator};

/// The result of validating a bundle.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BundleReport {
    /// Number of objects checked.
    pub objects: usize,
    /// Every finding, in object order (paths from the bundle root).
    pub findings: Vec<Finding>,
}

/// Every reference an object holds: `(JSON pointer, referenced id)` for top-level
/// `*_ref` / `*_refs` properties and the `marking_ref` of granular markings.
#[cfg(any(test, feature = "internals"))]
pub fn references(obj: &serde_json::Value) -> Vec<(String, String)> {
    let doc = Doc::from_value(obj);
    let mut out = Vec::new();
    if let Some(members) = doc.members() {
        for_each_reference(members, |at, r| out.push((at.pointer(), r.to_string())));
    }
    out
}

/// Validates a bundle (JSON text). `known` answers whether an id outside the bundle
/// exists anyway (the platform's built-in markings, stored objects).
///
/// Fails (with the reason) when the text is not JSON or not a bundle: a top-level object
/// with `"type": "bundle"` and, if it has `objects`, an array there.
pub fn validate_bundle(text: &str, known: &dyn Fn(&str) -> bool) -> Result<BundleReport, String> {
    let mut walk = Walk {
        validator: StixValidator::get(),
        ids: FxHashSet::default(),
        pending: Vec::new(),
        findings: Vec::new(),
        objects: 0,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let kind = de
        .deserialize_map(BundleVisitor { walk: &mut walk })
        .and_then(|kind| de.end().map(|()| kind))
        .map_err(|e| if e.is_data() { format!("not a STIX bundle: {e}") } else { format!("not JSON: {e}") })?;
    if kind.as_deref() != Some("bundle") {
        return Err("not a STIX bundle: its `type` is not \"bundle\"".into());
    }
    Ok(walk.finish(known))
}

/// A reference to an id not seen yet when its object was checked.
struct Pending<'a> {
    object: usize,
    object_id: Option<Cow<'a, str>>,
    path: String,
    target: Cow<'a, str>,
}

/// What the pass over `objects` accumulates.
struct Walk<'a> {
    validator: &'static StixValidator,
    ids: FxHashSet<Cow<'a, str>>,
    pending: Vec<Pending<'a>>,
    /// Findings with their object's index (references are resolved at the end).
    findings: Vec<(usize, Finding)>,
    objects: usize,
}

impl<'a> Walk<'a> {
    fn object(&mut self, obj: &Doc<'a>) {
        let index = self.objects;
        self.objects += 1;
        let mut found = Vec::new();
        self.validator.check_doc(obj, &mut found);
        for mut f in found {
            f.path = format!("/objects/{index}{}", f.path);
            self.findings.push((index, f));
        }
        let Some(members) = obj.members() else { return };
        let id = members.iter().find(|(k, _)| k == "id").and_then(|(_, v)| match v {
            Doc::String(s) => Some(s.clone()),
            _ => None,
        });
        if let Some(id) = &id {
            self.ids.insert(id.clone());
        }
        for_each_reference(members, |at: RefAt<'_>, target: &Cow<'a, str>| {
            if !self.ids.contains(target) {
                let path = format!("/objects/{index}{}", at.pointer());
                self.pending.push(Pending { object: index, object_id: id.clone(), path, target: target.clone() });
            }
        });
    }

    fn finish(mut self, known: &dyn Fn(&str) -> bool) -> BundleReport {
        for p in std::mem::take(&mut self.pending) {
            if !self.ids.contains(&p.target) && !known(&p.target) {
                let finding = Finding {
                    object_id: p.object_id.map(Cow::into_owned),
                    path: p.path,
                    message: format!("'{}' is not in the bundle", p.target),
                    rule: "reference",
                };
                self.findings.push((p.object, finding));
            }
        }
        // Stable: within an object, its own findings stay before its references'.
        self.findings.sort_by_key(|(object, _)| *object);
        BundleReport { objects: self.objects, findings: self.findings.into_iter().map(|(_, f)| f).collect() }
    }
}

/// The bundle's top level: its `type` is kept, `objects` is walked, the rest skipped.
struct BundleVisitor<'w, 'a> {
    walk: &'w mut Walk<'a>,
}

impl<'de> Visitor<'de> for BundleVisitor<'_, 'de> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX bundle (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut kind = None;
        let mut seen_objects = false;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "type" => kind = map.next_value::<Doc<'de>>()?.as_str().map(str::to_string),
                "objects" if seen_objects => return Err(de::Error::duplicate_field("objects")),
                "objects" => {
                    seen_objects = true;
                    map.next_value_seed(ObjectsSeed { walk: &mut *self.walk })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(kind)
    }
}

/// The `objects` array, checked one element at a time.
struct ObjectsSeed<'w, 'a> {
    walk: &'w mut Walk<'a>,
}

impl<'de> DeserializeSeed<'de> for ObjectsSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ObjectsSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of STIX objects in `objects`")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(obj) = seq.next_element::<Doc<'de>>()? {
            self.walk.object(&obj);
        }
        Ok(())
    }
}

/// Where a reference sits in its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefAt<'d> {
    /// A `*_ref` property.
    Key(&'d str),
    /// An element of a `*_refs` property.
    Item(&'d str, usize),
    /// The `marking_ref` of a granular marking.
    Granular(usize),
}

impl RefAt<'_> {
    /// The JSON pointer, relative to the object.
    fn pointer(&self) -> String {
        match self {
            RefAt::Key(k) => format!("/{k}"),
            RefAt::Item(k, i) => format!("/{k}/{i}"),
            RefAt::Granular(i) => format!("/granular_markings/{i}/marking_ref"),
        }
    }
}

/// Every reference an object holds: top-level `*_ref` / `*_refs` properties and the
/// `marking_ref` of granular markings.
fn for_each_reference<'d, 'a>(members: &'d [(Cow<'a, str>, Doc<'a>)], mut f: impl FnMut(RefAt<'d>, &'d Cow<'a, str>)) {
    for (key, value) in members {
        if key.ends_with("_refs") {
            for (i, r) in value.as_array().into_iter().flatten().enumerate() {
                if let Doc::String(r) = r {
                    f(RefAt::Item(key, i), r);
                }
            }
        } else if key.ends_with("_ref") {
            if let Doc::String(r) = value {
                f(RefAt::Key(key), r);
            }
        } else if key == "granular_markings" {
            for (i, gm) in value.as_array().into_iter().flatten().enumerate() {
                if let Some(Doc::String(r)) = gm.get("marking_ref") {
                    f(RefAt::Granular(i), r);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_dangling_reference_is_reported_with_its_path() {
        let bundle = json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
            {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "10.0.0.1",
             "object_marking_refs": ["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"]},
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--5d0092c5-5f74-4287-9642-33f4c354e56d",
             "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "relationship_type": "related-to",
             "source_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "target_ref": "identity--5d0092c5-5f74-4287-9642-33f4c354e56e"}
        ]});
        let known = |id: &str| id == "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
        let report = validate_bundle(&bundle.to_string(), &known).unwrap();
        assert_eq!(report.objects, 2);
        let paths: Vec<&str> = report.findings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["/objects/1/target_ref"], "{:?}", report.findings);
    }

    #[test]
    fn forward_references_resolve_and_findings_stay_in_object_order() {
        let bundle = json!({"objects": [
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--5d0092c5-5f74-4287-9642-33f4c354e56d",
             "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "relationship_type": "related-to",
             "source_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "target_ref": "identity--5d0092c5-5f74-4287-9642-33f4c354e56e"},
            {"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "10.0.0.1", "spec_version": "2.0"}
        ], "type": "bundle"});
        let report = validate_bundle(&bundle.to_string(), &|_| false).unwrap();
        let paths: Vec<&str> = report.findings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["/objects/0/target_ref", "/objects/1/spec_version"], "{:?}", report.findings);
    }

    #[test]
    fn what_is_not_a_bundle_is_refused_with_the_reason() {
        let refuse = |text: &str| validate_bundle(text, &|_| false).unwrap_err();
        assert!(refuse("{\"type\": \"bundle\", \"objects\": [").starts_with("not JSON"));
        assert!(refuse("[1, 2]").starts_with("not a STIX bundle"));
        assert!(refuse("{\"type\": \"bundle\", \"objects\": {}}").contains("an array of STIX objects"));
        assert!(refuse("{\"type\": \"indicator\"}").contains("is not \"bundle\""));
        assert!(refuse("{\"type\": \"bundle\", \"objects\": []} x").starts_with("not JSON"));
    }
}
