//! OpenCTI standard ids: the deterministic `type--uuid` the platform gives every STIX object.
//!
//! A standard id is `"<stix type>--" + UUIDv5(namespace, canonical JSON of the contributing
//! properties)`. The namespace is the STIX 2.1 one, `00abedb4-aa42-466c-9c01-fed23315a9b7`
//! (OpenCTI's `OASIS_NAMESPACE`), for domain, meta and observable objects and for
//! relationships alike; the canonical JSON is RFC 8785 (JCS): keys sorted by UTF-16 code
//! units, no whitespace, ECMAScript number formatting, only `"`, `\` and control characters
//! escaped — what `stix2.canonicalization.Canonicalize.canonicalize(data, utf8=False)` gives
//! in pycti and `canonicalize` gives in the platform. The UUID is taken over the UTF-8 bytes.
//!
//! # Sources
//!
//! Read for facts, not copied:
//! - pycti 7.261026.0 (PyPI wheel): every `generate_id` / `generate_id_from_data` in
//!   `pycti/entities/*.py`, `pycti/utils/opencti_stix2_identifier.py`,
//!   `pycti/utils/opencti_stix2_utils.py` (`STIX_CYBER_OBSERVABLE_MAPPING`),
//!   `pycti/utils/constants.py` (custom observables and their id-contributing properties),
//!   and the `import_from_stix2` methods of marking definitions, attack patterns, courses
//!   of action, locations, identities and threat actors (how a STIX object becomes the
//!   creation input).
//! - OpenCTI-Platform/opencti `opencti-platform/opencti-graphql/src/schema/identifier.js`,
//!   the newest version in the index (commit `001c3155be1d20533b822f24c413f307a8ee906d`,
//!   the one with `X_SCORE`, `FunctionalError` and `cleanObject`): the observable
//!   contribution table, hash precedence, `filteredIdContributions` (dependencies, empty
//!   values, alternative "ways"); the module definitions (`organization.ts`,
//!   `case-incident.ts`, `threat-actor-individual.ts`) for the types registered outside it;
//!   `src/schema/general.js` for the namespace.
//!
//! # Rules
//!
//! Where pycti has a `generate_id`, its rule wins, since connectors compute ids with it:
//! - `name` is lower-cased then stripped of whitespace as Python's `str.strip()` does
//!   ([`normalize_name`]); every other string is taken verbatim unless said otherwise.
//! - Name-only: campaign, channel, data-component, data-source, event, feedback,
//!   infrastructure, intrusion-set, language, malware, narrative, tool, vulnerability.
//! - `name` + `created`: case-incident, case-rfi, case-rft, incident, task. `name` +
//!   `published`: report. `name` + `context` (normalised too) [+ `created`]: grouping.
//! - attack-pattern, course-of-action: `{x_mitre_id}` (lower-cased, stripped) when a MITRE
//!   id is known — from `x_mitre_id`, (attack patterns) `x_opencti_external_id`, the MITRE
//!   extension's `id`, else the last MITRE external reference, as pycti's import finds it —
//!   otherwise `{name}`.
//! - identity: `{name, identity_class}` (class lower-cased); a missing class is derived from
//!   the OpenCTI type as the platform sets it (`organization`, `individual`, `class`,
//!   `system`, `securityplatform`).
//! - location: `{name, x_opencti_location_type}`, the type read as pycti's import does
//!   (`x_opencti_location_type`, the extension's `type`, then city/country/region, else
//!   Position); a Position uses `{latitude, longitude}` (either alone when only one is set),
//!   else `{name}`.
//! - threat-actor: `{name, opencti_type}` with `Threat-Actor-Group` or
//!   `Threat-Actor-Individual` (from `x_opencti_type`, the extension's `type`, or
//!   `resource_level: individual`).
//! - indicator `{pattern}` (stripped); note `{content, created?, attribute_abstract?}`
//!   (content and abstract stripped, the abstract read from `abstract`); opinion
//!   `{opinion, created?}`; observed-data `{objects: object_refs}` (order kept);
//!   malware-analysis `{result_name, product, submitted?}`; security-coverage
//!   `{covered_ref}` (normalised); security-coverage-result `{result_of_ref, name?,
//!   external_uri?}`.
//! - relationship `{relationship_type, source_ref, target_ref, start_time?, stop_time?}`
//!   where `stop_time` counts only with a `start_time`; sighting `{type: "sighting",
//!   sighting_of_ref, where_sighted_refs, first_seen?, last_seen?}` likewise.
//! - marking-definition: `(definition_type, definition)` read as pycti's import does (OpenCTI
//!   `x_opencti_definition*`, STIX `tlp` markings become `TLP` / `TLP:<LEVEL>`, a statement
//!   reads its text, `TLP:WHITE` is `TLP:CLEAR`); the five TLP markings keep their fixed ids,
//!   the others hash `{definition_type, definition}`.
//! - label `{value}`, kill-chain-phase `{phase_name, kill_chain_name}`, external-reference
//!   `{url}` else `{source_name, external_id}`, vocabulary `{name, category}`.
//!
//! Observables follow the platform's table: the first non-empty "way" wins, a property whose
//! dependencies are empty voids its way, empty values (`null`, `""`, `[]`, `{}`) drop out.
//! `file`, `artifact` and `x509-certificate` use one hash, the first of MD5, SHA-1, SHA-256,
//! SHA-512, SHA3-256, SHA3-512, SSDEEP (keys compared upper-cased), before their name / url /
//! serial number / subject; the refs of `email-message` and `network-traffic` are taken as
//! given (the referenced objects' standard ids).
//!
//! A property that pycti's `generate_id_from_data` reads with `data[...]` is required: when
//! it is absent (or `null`, or of the wrong JSON type) the function answers `None`, as it
//! does for unknown types and for `simple-observable`.
//!
//! Known gaps from the platform (kept on purpose, pycti wins): the platform also lower-cases
//! label values, upper-cases marking definitions, sorts observed-data refs and does not
//! lower-case MITRE ids. Not confirmed from platform source (absent from the indexed
//! `identifier.js`): `ssh-key` (taken as `{fingerprint_sha256}`), `ai-prompt`, `imei`,
//! `iccid`, `imsi` (taken as `{value}`, as pycti's custom observables declare), and the
//! "all properties" rule of `email-mime-part-type` / `windows-registry-value-type`
//! (approximated with the properties pycti sends plus `opencti_type`).

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::OPENCTI_EXTENSION;

/// The UUIDv5 namespace of every standard id (STIX 2.1's SCO namespace; OpenCTI's
/// `OASIS_NAMESPACE`).
pub const STIX_ID_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// The fixed ids of the TLP markings, by their OpenCTI definition.
pub const TLP_MARKING_IDS: &[(&str, &str)] = &[
    ("TLP:CLEAR", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
    ("TLP:WHITE", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
    ("TLP:GREEN", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"),
    ("TLP:AMBER", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"),
    ("TLP:AMBER+STRICT", "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"),
    ("TLP:RED", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"),
];

/// The OpenCTI extension carried by observables.
const OPENCTI_SCO_EXTENSION: &str = "extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82";
/// The MITRE ATT&CK extension.
const MITRE_EXTENSION: &str = "extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b";

// region canonical JSON

/// The RFC 8785 canonical JSON text of a value, as `stix2`'s `canonicalize(data, utf8=False)`
/// and the platform's `canonicalize` write it: object keys sorted by UTF-16 code units, no
/// insignificant whitespace, integers as written, other numbers in ECMAScript's shortest
/// form, strings with only `"`, `\` and U+0000–U+001F escaped.
pub fn canonicalize(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(f) = n.as_f64() {
                out.push_str(&es6_number(f));
            }
        }
        Value::String(s) => write_canonical_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| utf16_cmp(a.0, b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_canonical_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A finite double in ECMAScript's `Number.prototype.toString` form (RFC 8785 §3.2.2.3):
/// the shortest round-tripping digits, plain notation for exponents in [-6, 21), else
/// `d.ddde±x`.
pub fn es6_number(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        // JCS has no NaN or infinities; serde_json never holds them.
        return "0".to_string();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
    out
}

// endregion

// region names and ids

/// Whether Python's `str.isspace()` holds for a character: Unicode white space plus the
/// information separators U+001C–U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A string stripped of leading and trailing white space as Python's `str.strip()` does.
pub fn python_strip(s: &str) -> &str {
    s.trim_matches(is_python_space)
}

/// A name as OpenCTI and pycti compare them: lower-cased, then stripped (`name.lower().strip()`).
pub fn normalize_name(name: &str) -> String {
    python_strip(&name.to_lowercase()).to_string()
}

/// `"<stix_type>--" + UUIDv5(STIX_ID_NAMESPACE, canonical JSON of data)`.
pub fn id_from_data(stix_type: &str, data: &Value) -> String {
    let uuid = Uuid::new_v5(&STIX_ID_NAMESPACE, canonicalize(data).as_bytes());
    format!("{stix_type}--{uuid}")
}

fn id_from_pairs(stix_type: &str, pairs: Vec<(&str, Value)>) -> String {
    let map: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    id_from_data(stix_type, &Value::Object(map))
}

// endregion

type Obj = Map<String, Value>;

/// A present, non-null property.
fn prop<'a>(o: &'a Obj, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

/// A present string property.
fn str_prop<'a>(o: &'a Obj, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

/// pycti's `get_attribute_in_extension`: the OpenCTI extension, the observable extension,
/// then the object itself (never its `type`).
fn ext_attr<'a>(o: &'a Obj, key: &str) -> Option<&'a Value> {
    let in_ext = |ext: &str| o.get("extensions").and_then(|e| e.get(ext)).and_then(|e| e.get(key));
    in_ext(OPENCTI_EXTENSION)
        .or_else(|| in_ext(OPENCTI_SCO_EXTENSION))
        .or_else(|| if key == "type" { None } else { o.get(key) })
        .filter(|v| !v.is_null())
}

/// The OpenCTI type a STIX object carries explicitly: `x_opencti_type`, else the
/// extension's `type`.
fn explicit_opencti_type(o: &Obj) -> Option<&str> {
    str_prop(o, "x_opencti_type").or_else(|| ext_attr(o, "type").and_then(Value::as_str))
}

/// The normalised `name` (required by every rule that reads it).
fn name(o: &Obj) -> Option<String> {
    str_prop(o, "name").map(normalize_name)
}

/// The id of a STIX 2.1 object as OpenCTI computes it, `None` when the type is unknown or a
/// property the rule requires is missing. See the module documentation for the rules.
pub fn standard_id(obj: &Value) -> Option<String> {
    let o = obj.as_object()?;
    let stix_type = canonical_stix_type(str_prop(o, "type")?);
    match stix_type {
        "attack-pattern" => mitre_or_name(stix_type, o, attack_pattern_mitre_id(o)),
        "course-of-action" => mitre_or_name(stix_type, o, course_of_action_mitre_id(o)),
        "campaign" | "channel" | "data-component" | "data-source" | "event" | "feedback" | "infrastructure" | "intrusion-set"
        | "language" | "malware" | "narrative" | "tool" | "vulnerability" => {
            Some(id_from_pairs(stix_type, vec![("name", Value::String(name(o)?))]))
        }
        "case-incident" | "case-rfi" | "case-rft" | "incident" | "task" => {
            Some(id_from_pairs(stix_type, vec![("name", Value::String(name(o)?)), ("created", prop(o, "created")?.clone())]))
        }
        "report" => {
            Some(id_from_pairs(stix_type, vec![("name", Value::String(name(o)?)), ("published", prop(o, "published")?.clone())]))
        }
        "grouping" => {
            let mut pairs =
                vec![("name", Value::String(name(o)?)), ("context", Value::String(normalize_name(str_prop(o, "context")?)))];
            if let Some(created) = prop(o, "created") {
                pairs.push(("created", created.clone()));
            }
            Some(id_from_pairs(stix_type, pairs))
        }
        "identity" => identity_id(o),
        "location" => location_id(o),
        "threat-actor" => threat_actor_id(o),
        "indicator" => {
            Some(id_from_pairs(stix_type, vec![("pattern", Value::String(python_strip(str_prop(o, "pattern")?).into()))]))
        }
        "note" => note_id(o),
        "opinion" => {
            let mut pairs = vec![("opinion", Value::String(python_strip(str_prop(o, "opinion")?).into()))];
            if let Some(created) = prop(o, "created") {
                pairs.push(("created", created.clone()));
            }
            Some(id_from_pairs(stix_type, pairs))
        }
        "observed-data" => Some(id_from_pairs(stix_type, vec![("objects", prop(o, "object_refs")?.clone())])),
        "malware-analysis" => {
            let mut pairs = vec![
                ("result_name", Value::String(normalize_name(str_prop(o, "result_name")?))),
                ("product", prop(o, "product")?.clone()),
            ];
            if let Some(submitted) = prop(o, "submitted") {
                pairs.push(("submitted", submitted.clone()));
            }
            Some(id_from_pairs(stix_type, pairs))
        }
        "security-coverage" => {
            Some(id_from_pairs(stix_type, vec![("covered_ref", Value::String(normalize_name(str_prop(o, "covered_ref")?)))]))
        }
        "security-coverage-result" => {
            let mut pairs = vec![("result_of_ref", Value::String(python_strip(str_prop(o, "result_of_ref")?).into()))];
            if let Some(n) = str_prop(o, "name") {
                pairs.push(("name", Value::String(normalize_name(n))));
            }
            if let Some(uri) = str_prop(o, "external_uri") {
                pairs.push(("external_uri", Value::String(python_strip(uri).into())));
            }
            Some(id_from_pairs(stix_type, pairs))
        }
        "relationship" => relationship_id(o),
        "sighting" => sighting_id(o),
        "marking-definition" => marking_definition_id(o),
        "label" => Some(id_from_pairs(stix_type, vec![("value", Value::String(str_prop(o, "value")?.into()))])),
        "kill-chain-phase" => Some(id_from_pairs(
            stix_type,
            vec![
                ("phase_name", Value::String(str_prop(o, "phase_name")?.into())),
                ("kill_chain_name", Value::String(str_prop(o, "kill_chain_name")?.into())),
            ],
        )),
        "external-reference" => external_reference_id(o),
        "vocabulary" => Some(id_from_pairs(
            stix_type,
            vec![("name", Value::String(name(o)?)), ("category", Value::String(str_prop(o, "category")?.into()))],
        )),
        other => observable_id(other, o),
    }
}

/// The STIX type OpenCTI uses for a type or one of its legacy / MITRE spellings.
fn canonical_stix_type(t: &str) -> &str {
    match t {
        "x-mitre-data-component" => "data-component",
        "x-mitre-data-source" => "data-source",
        "x-opencti-case-incident" => "case-incident",
        "x-opencti-case-rfi" => "case-rfi",
        "x-opencti-case-rft" => "case-rft",
        "x-opencti-feedback" => "feedback",
        "x-opencti-task" => "task",
        "x-opencti-channel" => "channel",
        "x-opencti-event" => "event",
        "x-opencti-narrative" => "narrative",
        "x-opencti-language" => "language",
        "x-opencti-hostname" => "hostname",
        "x-opencti-payment-card" => "payment-card",
        "x-opencti-credential" => "credential",
        "x-opencti-tracking-number" => "tracking-number",
        "x-opencti-cryptocurrency-wallet" => "cryptocurrency-wallet",
        "x-opencti-user-agent" => "user-agent",
        "x-opencti-cryptographic-key" => "cryptographic-key",
        "x-opencti-imei" => "imei",
        "x-opencti-iccid" => "iccid",
        "x-opencti-imsi" => "imsi",
        "x-opencti-text" => "text",
        other => other,
    }
}

// region domain objects

fn non_empty_mitre_id(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(normalize_name).filter(|s| !s.is_empty())
}

fn mitre_extension_id(o: &Obj) -> Option<&Value> {
    o.get("extensions").and_then(|e| e.get(MITRE_EXTENSION)).and_then(|e| e.get("id"))
}

/// The `external_id` of the last external reference whose source matches.
fn last_external_id(o: &Obj, source_matches: impl Fn(&str) -> bool) -> Option<&Value> {
    o.get("external_references")?
        .as_array()?
        .iter()
        .filter(|r| r.get("source_name").and_then(Value::as_str).is_some_and(&source_matches))
        .filter_map(|r| r.get("external_id").filter(|v| v.is_string()))
        .next_back()
}

fn attack_pattern_mitre_id(o: &Obj) -> Option<String> {
    non_empty_mitre_id(o.get("x_mitre_id"))
        .or_else(|| non_empty_mitre_id(o.get("x_opencti_external_id")))
        .or_else(|| non_empty_mitre_id(mitre_extension_id(o)))
        .or_else(|| non_empty_mitre_id(last_external_id(o, |s| s.starts_with("mitre-"))))
}

fn course_of_action_mitre_id(o: &Obj) -> Option<String> {
    non_empty_mitre_id(o.get("x_mitre_id")).or_else(|| non_empty_mitre_id(mitre_extension_id(o))).or_else(|| {
        non_empty_mitre_id(last_external_id(o, |s| {
            matches!(s, "mitre-attack" | "mitre-pre-attack" | "mitre-mobile-attack" | "amitt-attack")
        }))
    })
}

fn mitre_or_name(stix_type: &str, o: &Obj, mitre_id: Option<String>) -> Option<String> {
    match mitre_id {
        Some(id) => Some(id_from_pairs(stix_type, vec![("x_mitre_id", Value::String(id))])),
        None => Some(id_from_pairs(stix_type, vec![("name", Value::String(name(o)?))])),
    }
}

fn identity_id(o: &Obj) -> Option<String> {
    let class = match str_prop(o, "identity_class") {
        Some(c) => c.to_lowercase(),
        None => match explicit_opencti_type(o) {
            Some("Individual") => "individual",
            Some("Sector") => "class",
            Some("System") => "system",
            Some("SecurityPlatform") => "securityplatform",
            _ => "organization",
        }
        .to_string(),
    };
    Some(id_from_pairs("identity", vec![("name", Value::String(name(o)?)), ("identity_class", Value::String(class))]))
}

fn location_id(o: &Obj) -> Option<String> {
    let location_type = str_prop(o, "x_opencti_location_type").or_else(|| ext_attr(o, "type").and_then(Value::as_str)).unwrap_or(
        if o.contains_key("city") {
            "City"
        } else if o.contains_key("country") {
            "Country"
        } else if o.contains_key("region") {
            "Region"
        } else {
            "Position"
        },
    );
    let raw_name = ["name", "city", "country", "region"].iter().find_map(|k| str_prop(o, k));
    if location_type == "Position" {
        let mut pairs = Vec::new();
        if let Some(lat) = prop(o, "latitude") {
            pairs.push(("latitude", lat.clone()));
        }
        if let Some(lon) = prop(o, "longitude") {
            pairs.push(("longitude", lon.clone()));
        }
        if pairs.is_empty() {
            pairs.push(("name", Value::String(normalize_name(raw_name?))));
        }
        return Some(id_from_pairs("location", pairs));
    }
    Some(id_from_pairs(
        "location",
        vec![
            ("name", Value::String(normalize_name(raw_name?))),
            ("x_opencti_location_type", Value::String(location_type.to_string())),
        ],
    ))
}

fn threat_actor_id(o: &Obj) -> Option<String> {
    let individual = match explicit_opencti_type(o) {
        Some(t) => t.eq_ignore_ascii_case("Threat-Actor-Individual"),
        None => str_prop(o, "resource_level").is_some_and(|r| r.eq_ignore_ascii_case("individual")),
    };
    let opencti_type = if individual { "Threat-Actor-Individual" } else { "Threat-Actor-Group" };
    Some(id_from_pairs(
        "threat-actor",
        vec![("name", Value::String(name(o)?)), ("opencti_type", Value::String((*opencti_type).into()))],
    ))
}

fn note_id(o: &Obj) -> Option<String> {
    let mut pairs = vec![("content", Value::String(python_strip(str_prop(o, "content")?).into()))];
    if let Some(created) = prop(o, "created") {
        pairs.push(("created", created.clone()));
    }
    let abstract_ = str_prop(o, "abstract").or_else(|| str_prop(o, "attribute_abstract")).map(python_strip);
    if let Some(a) = abstract_.filter(|a| !a.is_empty()) {
        pairs.push(("attribute_abstract", Value::String(a.into())));
    }
    Some(id_from_pairs("note", pairs))
}

// endregion

// region relationships and meta objects

fn relationship_id(o: &Obj) -> Option<String> {
    let mut pairs = vec![
        ("relationship_type", prop(o, "relationship_type")?.clone()),
        ("source_ref", prop(o, "source_ref")?.clone()),
        ("target_ref", prop(o, "target_ref")?.clone()),
    ];
    if let Some(start) = prop(o, "start_time") {
        pairs.push(("start_time", start.clone()));
        if let Some(stop) = prop(o, "stop_time") {
            pairs.push(("stop_time", stop.clone()));
        }
    }
    Some(id_from_pairs("relationship", pairs))
}

fn sighting_id(o: &Obj) -> Option<String> {
    let mut pairs = vec![
        ("type", Value::String("sighting".into())),
        ("sighting_of_ref", prop(o, "sighting_of_ref")?.clone()),
        ("where_sighted_refs", prop(o, "where_sighted_refs")?.clone()),
    ];
    if let Some(first) = prop(o, "first_seen") {
        pairs.push(("first_seen", first.clone()));
        if let Some(last) = prop(o, "last_seen") {
            pairs.push(("last_seen", last.clone()));
        }
    }
    Some(id_from_pairs("sighting", pairs))
}

/// The `(definition_type, definition)` pycti's import reads from a STIX marking definition.
pub fn marking_definition_parts(o: &Map<String, Value>) -> Option<(String, String)> {
    let (definition_type, definition) =
        if let (Some(t), Some(d)) = (str_prop(o, "x_opencti_definition_type"), str_prop(o, "x_opencti_definition")) {
            (t.to_string(), d.to_string())
        } else if let Some(t) = str_prop(o, "definition_type") {
            if t == "tlp" {
                let level = o.get("definition").and_then(|d| d.get("tlp")).and_then(Value::as_str);
                let definition = match level {
                    Some(level) => format!("TLP:{}", level.to_uppercase()),
                    None => str_prop(o, "name")?.to_string(),
                };
                ("TLP".to_string(), definition)
            } else {
                let definition = match o.get("definition") {
                    Some(Value::String(d)) => d.clone(),
                    Some(Value::Object(d)) if d.get(t).is_some_and(Value::is_string) => d.get(t)?.as_str()?.to_string(),
                    _ => str_prop(o, "name")?.to_string(),
                };
                (t.to_string(), definition)
            }
        } else {
            let n = str_prop(o, "name")?;
            let t = if n.contains(':') { n.split(':').next().unwrap_or(n) } else { "statement" };
            (t.to_string(), n.to_string())
        };
    let definition = if definition == "TLP:WHITE" { "TLP:CLEAR".to_string() } else { definition };
    Some((definition_type, definition))
}

fn marking_definition_id(o: &Obj) -> Option<String> {
    let (definition_type, definition) = marking_definition_parts(o)?;
    if definition_type == "TLP"
        && let Some((_, id)) = TLP_MARKING_IDS.iter().find(|(d, _)| *d == definition)
    {
        return Some((*id).to_string());
    }
    Some(id_from_pairs(
        "marking-definition",
        vec![("definition_type", Value::String(definition_type)), ("definition", Value::String(definition))],
    ))
}

fn external_reference_id(o: &Obj) -> Option<String> {
    if let Some(url) = prop(o, "url") {
        return Some(id_from_pairs("external-reference", vec![("url", url.clone())]));
    }
    let (source_name, external_id) = (prop(o, "source_name")?, prop(o, "external_id")?);
    Some(id_from_pairs("external-reference", vec![("source_name", source_name.clone()), ("external_id", external_id.clone())]))
}

// endregion

// region observables

/// One contributing property of an observable: its STIX name, the key it takes in the
/// hashed data, and the properties it needs non-empty.
struct Contrib {
    src: &'static str,
    dest: &'static str,
    dependencies: &'static [&'static str],
}

const fn c(src: &'static str) -> Contrib {
    Contrib { src, dest: src, dependencies: &[] }
}

/// How an observable type's id is built.
enum ObservableRule {
    /// One set of properties.
    Props(&'static [Contrib]),
    /// Alternative sets, the first non-empty one wins.
    Ways(&'static [&'static [Contrib]]),
    /// Every property (approximated by the listed ones) plus `opencti_type`.
    All(&'static str, &'static [&'static str]),
}

use ObservableRule::{All, Props, Ways};

const VALUE: &[Contrib] = &[c("value")];
const HASHES: &[Contrib] = &[c("hashes")];

/// The observable types and their rules (the platform's `stixBaseCyberObservableContribution`).
const OBSERVABLE_RULES: &[(&[&str], ObservableRule)] = &[
    (&["autonomous-system"], Props(&[c("number")])),
    (&["directory"], Props(&[c("path")])),
    (
        &[
            "domain-name",
            "email-addr",
            "ipv4-addr",
            "ipv6-addr",
            "mac-addr",
            "url",
            "hostname",
            "cryptographic-key",
            "cryptocurrency-wallet",
            "text",
            "user-agent",
            "phone-number",
            "credential",
            "tracking-number",
            "ai-prompt",
            "imei",
            "iccid",
            "imsi",
        ],
        Props(VALUE),
    ),
    (&["email-message"], Props(&[c("from_ref"), c("subject"), c("body")])),
    (&["artifact"], Ways(&[HASHES, &[c("url")]])),
    (&["file"], Ways(&[HASHES, &[c("name")]])),
    (&["x509-certificate"], Ways(&[HASHES, &[c("serial_number")], &[c("subject")]])),
    (&["mutex"], Props(&[c("name")])),
    (
        &["network-traffic"],
        Props(&[c("start"), c("end"), c("src_ref"), c("dst_ref"), c("src_port"), c("dst_port"), c("protocols")]),
    ),
    (&["process"], Props(&[Contrib { src: "pid", dest: "pid", dependencies: &["command_line"] }, c("command_line")])),
    (&["software"], Props(&[c("name"), c("cpe"), c("swid"), c("vendor"), c("version")])),
    (&["user-account"], Props(&[c("account_type"), c("user_id"), c("account_login")])),
    (&["windows-registry-key"], Props(&[Contrib { src: "key", dest: "attribute_key", dependencies: &[] }])),
    (&["bank-account"], Props(&[c("iban")])),
    (&["payment-card"], Props(&[c("card_number")])),
    (&["media-content"], Props(&[c("url")])),
    (&["persona"], Props(&[c("persona_name"), c("persona_type")])),
    (&["ssh-key"], Props(&[c("fingerprint_sha256")])),
    (&["email-mime-part-type"], All("Email-Mime-Part-Type", &["body", "content_type", "content_disposition"])),
    (&["windows-registry-value-type"], All("Windows-Registry-Value-Type", &["name", "data", "data_type"])),
];

fn observable_rule(stix_type: &str) -> Option<&'static ObservableRule> {
    OBSERVABLE_RULES.iter().find(|(types, _)| types.contains(&stix_type)).map(|(_, rule)| rule)
}

/// The platform's `isEmptyField`: absent, `null`, `""`, `[]` or `{}`.
fn is_empty_field(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        Some(_) => false,
    }
}

/// The hash the platform keeps: the first known algorithm, keys compared upper-cased.
pub fn preferred_hash(hashes: &Value) -> Option<(String, Value)> {
    const ORDER: &[&str] = &["MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512", "SSDEEP"];
    let map = hashes.as_object()?;
    ORDER.iter().find_map(|algo| {
        // Later keys overwrite earlier ones once upper-cased, as `Object.fromEntries` does.
        let value = map.iter().filter(|(k, _)| k.to_uppercase() == *algo).map(|(_, v)| v).next_back()?;
        let truthy = match value {
            Value::Null | Value::Bool(false) => false,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        truthy.then(|| (algo.to_string(), value.clone()))
    })
}

/// The data one way contributes, empty when it contributes nothing.
fn way_data(o: &Obj, way: &[Contrib]) -> Map<String, Value> {
    let mut data = Map::new();
    for contrib in way.iter().filter(|c| o.contains_key(c.src)) {
        if contrib.dependencies.iter().any(|d| is_empty_field(o.get(*d))) {
            return Map::new();
        }
        let value = if contrib.src == "hashes" {
            match preferred_hash(&o[contrib.src]) {
                Some((algo, hash)) => Value::Object(Map::from_iter([(algo, hash)])),
                None => Value::Null,
            }
        } else {
            o[contrib.src].clone()
        };
        if !is_empty_field(Some(&value)) {
            data.insert(contrib.dest.to_string(), value);
        }
    }
    data
}

fn observable_id(stix_type: &str, o: &Obj) -> Option<String> {
    let data = match observable_rule(stix_type)? {
        Props(way) => way_data(o, way),
        Ways(ways) => ways.iter().map(|w| way_data(o, w)).find(|d| !d.is_empty()).unwrap_or_default(),
        All(opencti_type, keys) => {
            let mut data: Map<String, Value> =
                keys.iter().filter_map(|k| prop(o, k).map(|v| (k.to_string(), v.clone()))).collect();
            if data.is_empty() {
                return None;
            }
            data.insert("opencti_type".into(), Value::String((*opencti_type).into()));
            data
        }
    };
    if data.is_empty() {
        return None;
    }
    Some(id_from_data(stix_type, &Value::Object(data)))
}

// endregion

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_pycti_vector_matches() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/stix/standard-ids.json");
        let text = std::fs::read_to_string(path).expect("read the vectors");
        let vectors: Vec<Value> = serde_json::from_str(&text).expect("parse the vectors");
        assert!(vectors.len() > 100, "only {} vectors", vectors.len());
        let mut failures = Vec::new();
        for vector in &vectors {
            let expected = vector["standard_id"].as_str().expect("a standard_id");
            let got = standard_id(&vector["object"]);
            if got.as_deref() != Some(expected) {
                failures.push(format!("object {}\n  expected {expected}\n  got      {got:?}", vector["object"]));
            }
        }
        assert!(failures.is_empty(), "{} of {} vectors differ:\n{}", failures.len(), vectors.len(), failures.join("\n"));
    }

    #[test]
    fn canonical_json_sorts_keys_by_utf16_code_units() {
        // U+E000 sorts after U+1F600 in UTF-8 byte order... and before it in UTF-16.
        let v = json!({"\u{1F600}": 1, "\u{E000}": 2, "b": [true, null], "a": "x"});
        assert_eq!(canonicalize(&v), "{\"a\":\"x\",\"b\":[true,null],\"\u{1F600}\":1,\"\u{E000}\":2}");
    }

    #[test]
    fn canonical_json_escapes_only_quotes_backslashes_and_controls() {
        let v = json!("a\"b\\c\n\u{1}\u{7f}é/");
        assert_eq!(canonicalize(&v), "\"a\\\"b\\\\c\\n\\u0001\u{7f}é/\"");
    }

    #[test]
    fn numbers_follow_the_ecmascript_form() {
        let cases: &[(f64, &str)] = &[
            (48.0, "48"),
            (48.8566, "48.8566"),
            (-2.3522, "-2.3522"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (123456789012.5, "123456789012.5"),
            (-0.0, "0"),
        ];
        for (f, expected) in cases {
            assert_eq!(es6_number(*f), *expected, "{f}");
        }
        assert_eq!(canonicalize(&json!(12345678901234_i64)), "12345678901234");
    }

    #[test]
    fn names_are_lowercased_and_stripped_like_python() {
        assert_eq!(normalize_name("  APT28\u{a0}\t"), "apt28");
        assert_eq!(normalize_name("\u{1f}Fancy Bear\u{3000}"), "fancy bear");
    }

    #[test]
    fn the_namespace_is_the_stix_one() {
        // Values from stix2 3.x and pycti 7.261026.0 for the same inputs.
        let ip = standard_id(&json!({"type": "ipv4-addr", "value": "198.51.100.3"}));
        assert_eq!(ip.as_deref(), Some("ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"));
        let malware = standard_id(&json!({"type": "malware", "name": "Emotet"}));
        assert_eq!(malware.as_deref(), Some("malware--36297121-bf18-56e1-b200-d39c9f9f5cee"));
    }

    #[test]
    fn name_variants_of_one_malware_share_an_id() {
        let a = standard_id(&json!({"type": "malware", "name": "Emotet"}));
        let b = standard_id(&json!({"type": "malware", "name": "  emoTET \n"}));
        assert!(a.is_some());
        assert_eq!(a, b);
    }

    #[test]
    fn tlp_markings_keep_their_fixed_ids() {
        let oasis_white = json!({"type": "marking-definition", "definition_type": "tlp", "definition": {"tlp": "white"}});
        assert_eq!(standard_id(&oasis_white).as_deref(), Some("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"));
        let opencti_red =
            json!({"type": "marking-definition", "x_opencti_definition_type": "TLP", "x_opencti_definition": "TLP:RED"});
        assert_eq!(standard_id(&opencti_red).as_deref(), Some("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"));
    }

    #[test]
    fn a_statement_marking_hashes_its_text() {
        let m = json!({"type": "marking-definition", "definition_type": "statement", "definition": {"statement": "Copyright X"}});
        let expected = id_from_data("marking-definition", &json!({"definition_type": "statement", "definition": "Copyright X"}));
        assert_eq!(standard_id(&m), Some(expected));
    }

    #[test]
    fn file_hashes_take_precedence_over_the_name() {
        let with_name = json!({"type": "file", "name": "a.exe", "hashes": {"SHA-256": "aa", "MD5": "bb"}});
        assert_eq!(standard_id(&with_name), Some(id_from_data("file", &json!({"hashes": {"MD5": "bb"}}))));
        let unknown_algo = json!({"type": "file", "name": "a.exe", "hashes": {"TLSH": "cc"}});
        assert_eq!(standard_id(&unknown_algo), Some(id_from_data("file", &json!({"name": "a.exe"}))));
        let sha3 = json!({"type": "file", "hashes": {"sha3-256": "dd", "ssdeep": "ee"}});
        assert_eq!(standard_id(&sha3), Some(id_from_data("file", &json!({"hashes": {"SHA3-256": "dd"}}))));
        assert_eq!(standard_id(&json!({"type": "file", "hashes": {}})), None);
    }

    #[test]
    fn an_x509_certificate_falls_back_to_serial_then_subject() {
        let serial = json!({"type": "x509-certificate", "serial_number": "01", "subject": "CN=x"});
        assert_eq!(standard_id(&serial), Some(id_from_data("x509-certificate", &json!({"serial_number": "01"}))));
        let subject = json!({"type": "x509-certificate", "subject": "CN=x"});
        assert_eq!(standard_id(&subject), Some(id_from_data("x509-certificate", &json!({"subject": "CN=x"}))));
    }

    #[test]
    fn a_process_pid_counts_only_with_a_command_line() {
        assert_eq!(standard_id(&json!({"type": "process", "pid": 42})), None);
        let both = json!({"type": "process", "pid": 42, "command_line": "cmd.exe /c"});
        assert_eq!(standard_id(&both), Some(id_from_data("process", &json!({"pid": 42, "command_line": "cmd.exe /c"}))));
    }

    #[test]
    fn a_registry_key_hashes_its_key_as_attribute_key() {
        let k = json!({"type": "windows-registry-key", "key": "HKLM\\Software", "values": [{"name": "a"}]});
        assert_eq!(standard_id(&k), Some(id_from_data("windows-registry-key", &json!({"attribute_key": "HKLM\\Software"}))));
    }

    #[test]
    fn empty_observable_properties_drop_out() {
        let e = json!({"type": "email-message", "subject": "", "body": "hello", "from_ref": null});
        assert_eq!(standard_id(&e), Some(id_from_data("email-message", &json!({"body": "hello"}))));
        assert_eq!(standard_id(&json!({"type": "domain-name", "value": ""})), None);
    }

    #[test]
    fn a_relationship_stop_time_counts_only_with_a_start_time() {
        let base = json!({"type": "relationship", "relationship_type": "uses", "source_ref": "a", "target_ref": "b"});
        let mut stop_only = base.clone();
        stop_only["stop_time"] = json!("2024-01-01T00:00:00Z");
        assert_eq!(standard_id(&base), standard_id(&stop_only));
        let mut start = base.clone();
        start["start_time"] = json!("2023-01-01T00:00:00Z");
        assert_ne!(standard_id(&base), standard_id(&start));
    }

    #[test]
    fn a_threat_actor_is_a_group_unless_said_individual() {
        let group = standard_id(&json!({"type": "threat-actor", "name": "X"}));
        let individual = standard_id(&json!({"type": "threat-actor", "name": "X", "resource_level": "individual"}));
        let ext =
            json!({"type": "threat-actor", "name": "X", "extensions": {OPENCTI_EXTENSION: {"type": "Threat-Actor-Individual"}}});
        assert_ne!(group, individual);
        assert_eq!(individual, standard_id(&ext));
    }

    #[test]
    fn a_location_type_is_guessed_from_its_fields() {
        let city = standard_id(&json!({"type": "location", "name": "Paris", "city": "Paris", "country": "FR"}));
        let expected = id_from_data("location", &json!({"name": "paris", "x_opencti_location_type": "City"}));
        assert_eq!(city, Some(expected));
        let position = standard_id(&json!({"type": "location", "latitude": 48.0, "longitude": 2.5}));
        assert_eq!(position, Some(id_from_data("location", &json!({"latitude": 48, "longitude": 2.5}))));
    }

    #[test]
    fn an_identity_without_class_takes_the_class_of_its_type() {
        let sector = json!({"type": "identity", "name": "Energy", "x_opencti_type": "Sector"});
        assert_eq!(standard_id(&sector), Some(id_from_data("identity", &json!({"name": "energy", "identity_class": "class"}))));
    }

    #[test]
    fn attack_patterns_prefer_the_lowercased_mitre_id() {
        let ap = json!({"type": "attack-pattern", "name": "Cmd", "external_references": [
            {"source_name": "capec", "external_id": "CAPEC-1"},
            {"source_name": "mitre-attack", "external_id": "T1059"}
        ]});
        assert_eq!(standard_id(&ap), Some(id_from_data("attack-pattern", &json!({"x_mitre_id": "t1059"}))));
    }

    #[test]
    fn unknown_types_and_missing_required_properties_give_none() {
        assert_eq!(standard_id(&json!({"type": "x-unknown", "name": "a"})), None);
        assert_eq!(standard_id(&json!({"type": "simple-observable", "value": "a"})), None);
        assert_eq!(standard_id(&json!({"type": "report", "name": "r"})), None);
        assert_eq!(standard_id(&json!({"type": "malware"})), None);
        assert_eq!(standard_id(&json!({"type": "external-reference", "source_name": "x"})), None);
        assert_eq!(standard_id(&json!("not an object")), None);
    }

    #[test]
    fn legacy_type_names_get_the_current_prefix() {
        let legacy = standard_id(&json!({"type": "x-mitre-data-source", "name": "Process"}));
        let current = standard_id(&json!({"type": "data-source", "name": "process"}));
        assert_eq!(legacy, current);
        assert!(current.is_some_and(|id| id.starts_with("data-source--")));
    }
}
