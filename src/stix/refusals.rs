//! The errors the platform answers when the worker imports an object it refuses, as data,
//! and the exact text pycti's worker then records on the connector's work.
//!
//! See `refusals.md` next to this file for the rules, the sources and worked examples.
//!
//! # How an error reaches the work
//!
//! The platform answers the GraphQL mutation with `errors[0] = {message, extensions: {code,
//! data}, name}` (`config/errors.ts`: `data` is `{http_status, genre, ...extra}` in that
//! order). pycti's `query()` raises `ValueError({"name": name, "error_message": message,
//! **data})` with the `input` key of `data` removed; `import_item_with_retries` takes
//! `str(exception)` as the work error message and `json.dumps(item)` (or "Bundle too large")
//! as its source. [`Refusal::work_error_text`] reproduces that `str()`: a Python dict repr.
//!
//! # Sources
//!
//! * `OpenCTI-Platform/opencti`, `opencti-platform/opencti-graphql/src/config/errors.ts`,
//!   commits `28652bbefe4557c66d3aa40f1a7210ef8f19f09e` and
//!   `0a515305ebb52925e67463fd5b010e8ed37a948f` (codes, default messages, `data` layout).
//! * `src/database/middleware.ts`, commit `007e0a594186676c1ec40f6054471a9c2cf5b587`
//!   (`inputResolveRefs`, `createRelationRaw`).
//! * `src/domain/stixRefRelationship.js`, commit `4fac620b9ccde882a522be48a54df3fe17b5aa23`
//!   (`addStixRefRelationship`).
//! * `src/domain/stixCyberObservable.js` (index id 1114186921), `src/utils/syntax.js`
//!   (commit `340d3b07f8258db6c5e49235577efc91c1166232`), `src/utils/format.js` (commit
//!   `014e9c0661c4c3a23330ac36a16ba6aa9c882ed7`), `src/modules/indicator/indicator-domain.ts`
//!   (index id 2159891255), `src/modules/indicator/indicator-utils.ts` (commit
//!   `98ff301b06dfd3a7d078342a7967ede6d9720980`), `src/utils/modelConsistency.ts` (see
//!   `relationships.md`), `src/schema/fieldDataAdapter.ts` (index id 5891732873).
//! * pycti 7.261026.0: `api/opencti_api_client.py` (`query`), `utils/opencti_stix2.py`
//!   (`import_item_with_retries`, `_report_expectation_item_error`, `import_bundle`,
//!   `missing_ref_retry_delay`), `utils/opencti_stix2_splitter.py`.

use serde_json::{Map, Value, json};

/// `MISSING_REFERENCE_ERROR`.
pub const MISSING_REFERENCE_ERROR: &str = "MISSING_REFERENCE_ERROR";
/// `FUNCTIONAL_ERROR`.
pub const FUNCTIONAL_ERROR: &str = "FUNCTIONAL_ERROR";
/// `VALIDATION_ERROR`.
pub const VALIDATION_ERROR: &str = "VALIDATION_ERROR";
/// `UNSUPPORTED_ERROR`.
pub const UNSUPPORTED_ERROR: &str = "UNSUPPORTED_ERROR";

/// pycti's `PROCESSING_COUNT`: a `MISSING_REFERENCE_ERROR` is retried while the attempt
/// index (0-based) is below it, so 4 retries and 5 attempts in all.
pub const MISSING_REFERENCE_RETRIES: u32 = 4;
/// The platform refuses unresolved *optional* references (everything but a relationship's
/// `fromId`/`toId`) only while the `opencti-retry-number` header is at most 2; from this
/// retry number on it accepts the object and drops those references.
pub const OPTIONAL_REFS_ACCEPTED_FROM_RETRY: u32 = 3;
/// pycti's `MAX_PROCESSING_COUNT`: retries (lock errors, timeouts…) before giving up.
pub const MAX_PROCESSING_COUNT: u32 = 100;
/// pycti's `MAX_REPORTED_SOURCE_LENGTH`: a source at least this long reads "Bundle too large".
pub const MAX_REPORTED_SOURCE_LENGTH: usize = 50_000;
/// The work error source used instead of a source that is too long.
pub const BUNDLE_TOO_LARGE: &str = "Bundle too large";
/// The work error message for an element the bundle splitter cannot process.
pub const INCOMPATIBLE_ELEMENT_MESSAGE: &str = "Incompatible element in bundle";

/// A platform refusal: the GraphQL error `extensions.code`, `message` and `extensions.data`
/// (keys in the platform's order, `http_status` and `genre` first).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// `extensions.code` (also the top-level `name`), e.g. `MISSING_REFERENCE_ERROR`.
    pub code: &'static str,
    /// The GraphQL error message.
    pub message: String,
    /// `extensions.data`.
    pub data: Map<String, Value>,
}

/// One entry of a work's errors, as pycti reports it (`report_expectation(work_id, {"error":
/// …, "source": …})`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkError {
    /// The work error message.
    pub error: String,
    /// The work error source.
    pub source: String,
}

/// What pycti's `import_item_with_retries` does with an error on a given attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerHandling {
    /// Sleep, then import the item again with the next retry number.
    Retry,
    /// Report the error on the work and move on to the next item (no retry).
    Report,
    /// Report with the source "Draft in read only" and move on.
    ReportDraftReadOnly,
    /// Drop the item silently (the work is gone).
    Drop,
}

fn genre_for(code: &str) -> Option<&'static str> {
    match code {
        "AUTH_FAILURE" | "AUTH_REQUIRED" | "FORBIDDEN_ACCESS" | "DATABASE_ERROR" | "UNKNOWN_ERROR" => Some("TECHNICAL"),
        "RESOURCE_NOT_FOUND" => None,
        _ => Some("BUSINESS"),
    }
}

fn http_status_for(code: &str) -> u16 {
    match code {
        "FUNCTIONAL_ERROR" | "ALREADY_DELETED_ERROR" | "DRAFT_LOCKED" | "WORK_NOT_ALIVE" => 400,
        "MISSING_REFERENCE_ERROR" | "RESOURCE_NOT_FOUND" => 404,
        "AUTH_FAILURE" | "AUTH_REQUIRED" => 401,
        "FORBIDDEN_ACCESS" => 403,
        _ => 500,
    }
}

impl Refusal {
    /// A refusal with the code's `http_status` and `genre` followed by `extra` data keys, as
    /// the platform's error constructors build it.
    pub fn new(code: &'static str, message: impl Into<String>, extra: Vec<(&str, Value)>) -> Self {
        let mut data = Map::new();
        data.insert("http_status".into(), json!(http_status_for(code)));
        if let Some(genre) = genre_for(code) {
            data.insert("genre".into(), json!(genre));
        }
        for (k, v) in extra {
            data.insert(k.to_string(), v);
        }
        Refusal { code, message: message.into(), data }
    }

    /// The dict pycti raises (`ValueError(dict)`): `name`, `error_message`, then `data`
    /// without its `input` key.
    pub fn worker_exception_dict(&self) -> Value {
        let mut dict = Map::new();
        dict.insert("name".into(), json!(self.code));
        dict.insert("error_message".into(), json!(self.message));
        for (k, v) in &self.data {
            if k != "input" {
                dict.insert(k.clone(), v.clone());
            }
        }
        Value::Object(dict)
    }

    /// The exact work error message pycti records: `str()` of the raised `ValueError`, i.e.
    /// the Python repr of [`Refusal::worker_exception_dict`].
    pub fn work_error_text(&self) -> String {
        python_repr(&self.worker_exception_dict())
    }

    /// What the worker does with this refusal on attempt `attempt_index` (0-based, the value
    /// of the `opencti-retry-number` header). pycti tests substrings of the traceback text,
    /// in this order: `LOCK_ERROR`, `MISSING_REFERENCE_ERROR` (only while `attempt_index <
    /// 4`), `Bad Gateway`, `Request timed out`, `DRAFT_LOCKED`, `WORK_NOT_ALIVE`, else report.
    pub fn worker_handling(&self, attempt_index: u32) -> WorkerHandling {
        let text = self.work_error_text();
        if attempt_index > MAX_PROCESSING_COUNT {
            return WorkerHandling::Report;
        }
        let lock = text.contains("LOCK_ERROR");
        let missing_ref = text.contains(MISSING_REFERENCE_ERROR) && attempt_index < MISSING_REFERENCE_RETRIES;
        let gateway = text.contains("Bad Gateway") || text.contains("Request timed out");
        if lock || missing_ref || gateway {
            WorkerHandling::Retry
        } else if text.contains("DRAFT_LOCKED") {
            WorkerHandling::ReportDraftReadOnly
        } else if text.contains("WORK_NOT_ALIVE") {
            WorkerHandling::Drop
        } else {
            WorkerHandling::Report
        }
    }
}

/// An unresolved reference: `MISSING_REFERENCE_ERROR` "Element(s) not found" with
/// `unresolvedIds` (the ids as the worker sent them: STIX ids or internal ids) and `doc_code`
/// `ELEMENT_NOT_FOUND` (`inputResolveRefs`). For a relationship or sighting only the missing
/// `fromId`/`toId` are listed and the refusal is unconditional; for optional references
/// (`createdBy`, `objectMarking`, `objects`, `objectLabel`, `externalReferences`,
/// `objectOrganization`, `killChainPhases`, observable input refs…) the platform refuses only
/// while the retry number is at most 2 ([`OPTIONAL_REFS_ACCEPTED_FROM_RETRY`]).
pub fn missing_reference(ids: &[String]) -> Refusal {
    Refusal::new(
        MISSING_REFERENCE_ERROR,
        "Element(s) not found",
        vec![("unresolvedIds", json!(ids)), ("doc_code", json!("ELEMENT_NOT_FOUND"))],
    )
}

/// The connector's user lacks one of the object's markings (resolved but not allowed):
/// `MISSING_REFERENCE_ERROR`, retried like a missing reference, then reported.
pub fn missing_markings() -> Refusal {
    Refusal::new(
        MISSING_REFERENCE_ERROR,
        "Element(s) not found",
        vec![("reason", json!("User trying to create the data has missing markings")), ("doc_code", json!("ELEMENT_NOT_FOUND"))],
    )
}

/// A nested reference of an observable (`resolves_to_refs`, `parent_directory_ref`,
/// `from_ref`…, created by pycti through `stixRefRelationshipAdd` after the observable)
/// whose target does not exist: `FUNCTIONAL_ERROR` "MISSING_ELEMENTS", **not retried**.
/// `from` is the internal id of the observable just created, `to` the STIX id sent.
pub fn ref_target_missing(from: &str, from_missing: bool, to: &str, to_missing: bool) -> Refusal {
    Refusal::new(
        FUNCTIONAL_ERROR,
        "MISSING_ELEMENTS",
        vec![("from", json!(from)), ("from_missing", json!(from_missing)), ("to", json!(to)), ("to_missing", json!(to_missing))],
    )
}

/// An observable type the platform does not know, sent to `stixCyberObservableAdd`:
/// `FUNCTIONAL_ERROR` `Observable type <type> is not supported.` (also the indicator check
/// of `x_opencti_main_observable_type`). Unknown STIX types never reach the platform from
/// pycti: see [`incompatible_element`].
pub fn unsupported_type(entity_type: &str) -> Refusal {
    Refusal::new(FUNCTIONAL_ERROR, format!("Observable type {entity_type} is not supported."), vec![])
}

/// A core relationship type not allowed between the two concrete entity types
/// (`checkRelationConsistency`): `FUNCTIONAL_ERROR`, no extra data.
pub fn relationship_not_allowed(rel: &str, from_type: &str, to_type: &str) -> Refusal {
    Refusal::new(
        FUNCTIONAL_ERROR,
        format!("The relationship type {rel} is not allowed between {from_type} and {to_type}"),
        vec![],
    )
}

/// A `relationship` whose `relationship_type` is not a core relationship type.
pub fn not_a_core_relationship() -> Refusal {
    Refusal::new(FUNCTIONAL_ERROR, "Only stix-core-relationship can be created through this method.", vec![])
}

/// A relationship whose source and target are the same id (`createRelationRaw`).
pub fn self_referencing_relation(from_id: &str, relationship_type: &str) -> Refusal {
    Refusal::new(
        UNSUPPORTED_ERROR,
        "Relation cant be created with the same source and target",
        vec![
            ("from", json!(from_id)),
            ("relationshipType", json!(relationship_type)),
            ("doc_code", json!("SELF_REFERENCING_RELATION")),
        ],
    )
}

/// An observable failing the syntax check ([`crate::stix::observable_syntax::check_observable`]):
/// `FUNCTIONAL_ERROR` "Observable is not correctly formatted" with the entity `type`, the
/// `input` (dropped by pycti) and `doc_code` `INCORRECT_OBSERVABLE_FORMAT`.
pub fn invalid_observable(entity_type: &str, input: Value) -> Refusal {
    Refusal::new(
        FUNCTIONAL_ERROR,
        "Observable is not correctly formatted",
        vec![("type", json!(entity_type)), ("input", input), ("doc_code", json!("INCORRECT_OBSERVABLE_FORMAT"))],
    )
}

/// An indicator whose pattern does not validate for its `pattern_type` (given as sent, not
/// lower-cased): `FUNCTIONAL_ERROR` with `doc_code` `INCORRECT_INDICATOR_FORMAT`.
pub fn invalid_pattern(pattern_type: &str) -> Refusal {
    Refusal::new(
        FUNCTIONAL_ERROR,
        format!("Indicator of type {pattern_type} is not correctly formatted."),
        vec![("doc_code", json!("INCORRECT_INDICATOR_FORMAT"))],
    )
}

/// A score outside 0–100 or not an integer (`checkScore`, observables and indicators).
pub fn invalid_score() -> Refusal {
    Refusal::new(VALIDATION_ERROR, "The score should be an integer between 0 and 100", vec![("field", json!("x_opencti_score"))])
}

/// An indicator whose `valid_until` is not after its `valid_from` (`computeValidUntil`).
/// The platform calls `ValidationError('valid_until', {message: …})` against a signature
/// `(message, field, data)`, so the message is `valid_until` and `field` is an object.
pub fn invalid_validity_period() -> Refusal {
    Refusal::new(
        VALIDATION_ERROR,
        "valid_until",
        vec![("field", json!({"message": "The valid until date must be greater than the valid from date"}))],
    )
}

/// `created_by_ref` resolving to something that is not an Identity.
pub fn created_by_not_identity(entity_type: &str) -> Refusal {
    Refusal::new(FUNCTIONAL_ERROR, "CreatedBy relation must be an Identity entity", vec![("entityType", json!(entity_type))])
}

/// An Artifact with both `payload_bin` and `url`.
pub fn payload_bin_and_url() -> Refusal {
    Refusal::new(FUNCTIONAL_ERROR, "Cannot create observable with both payload_bin and url filled.", vec![])
}

/// The work error source pycti records: `json.dumps(item)` (Python's default formatting,
/// ASCII-escaped), or [`BUNDLE_TOO_LARGE`] when that is [`MAX_REPORTED_SOURCE_LENGTH`]
/// characters or more.
pub fn work_error_source(item: &Value) -> String {
    let text = python_json_dumps(item);
    if text.len() < MAX_REPORTED_SOURCE_LENGTH { text } else { BUNDLE_TOO_LARGE.to_string() }
}

/// The work error for an element the worker's bundle splitter cannot process (a type pycti
/// does not support, a relationship without `source_ref`/`target_ref`, a sighting without
/// `sighting_of_ref` or `where_sighted_refs`). No platform call is made.
pub fn incompatible_element(id: &str) -> WorkError {
    WorkError {
        error: INCOMPATIBLE_ELEMENT_MESSAGE.to_string(),
        source: format!("Element {id} is incompatible and couldn't be processed"),
    }
}

// ---------------------------------------------------------------------------------------
// Python formatting

/// Python's `repr()` of the value once `json.loads` has turned it into Python objects
/// (`None`, `True`, `'str'`, `[…]`, `{'k': v}`), as `str(dict)` prints it.
pub fn python_repr(value: &Value) -> String {
    let mut out = String::new();
    write_python(&mut out, value, PythonStyle::Repr);
    out
}

/// The two ways Python prints a `json.loads` result: `repr()` and `json.dumps()`. Both use
/// `", "` and `": "` separators and keep key order; scalars differ.
#[derive(Clone, Copy, PartialEq)]
enum PythonStyle {
    Repr,
    Json,
}

fn write_python(out: &mut String, value: &Value, style: PythonStyle) {
    let string = |out: &mut String, s: &str| match style {
        PythonStyle::Repr => out.push_str(&python_str_repr(s)),
        PythonStyle::Json => write_json_str(out, s),
    };
    match (value, style) {
        (Value::Null, PythonStyle::Repr) => out.push_str("None"),
        (Value::Null, PythonStyle::Json) => out.push_str("null"),
        (Value::Bool(b), PythonStyle::Repr) => out.push_str(if *b { "True" } else { "False" }),
        (Value::Bool(b), PythonStyle::Json) => out.push_str(if *b { "true" } else { "false" }),
        (Value::Number(n), PythonStyle::Repr) => out.push_str(&python_number(n)),
        (Value::Number(n), PythonStyle::Json) => {
            let text = python_number(n);
            out.push_str(match text.as_str() {
                "nan" => "NaN",
                "inf" => "Infinity",
                "-inf" => "-Infinity",
                t => t,
            });
        }
        (Value::String(s), _) => string(out, s),
        (Value::Array(items), _) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python(out, v, style);
            }
            out.push(']');
        }
        (Value::Object(map), _) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                string(out, k);
                out.push_str(": ");
                write_python(out, v, style);
            }
            out.push('}');
        }
    }
}

fn python_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        python_float_repr(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Python's `repr(float)`: shortest round-trip digits, positional notation for decimal
/// exponents from -4 to 15, scientific (`1e+16`, `1.5e-05`) otherwise.
fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let sci = format!("{:e}", f.abs()); // e.g. "1.2345e3"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if (point as usize) >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{body}")
    } else {
        let mantissa = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
    }
}

/// Whether Python's `str.isprintable()` holds for the character (control, format,
/// separator other than space, private-use and non-character code points are not
/// printable; unassigned code points are not tracked).
fn python_printable(c: char) -> bool {
    let u = c as u32;
    !(u < 0x20
        || (0x7F..=0xA0).contains(&u)
        || u == 0xAD
        || (0x600..=0x605).contains(&u)
        || u == 0x61C
        || u == 0x6DD
        || u == 0x70F
        || u == 0x890
        || u == 0x891
        || u == 0x8E2
        || u == 0x1680
        || u == 0x180E
        || (0x2000..=0x200F).contains(&u)
        || (0x2028..=0x202F).contains(&u)
        || (0x205F..=0x2064).contains(&u)
        || (0x2066..=0x206F).contains(&u)
        || u == 0x3000
        || (0xD800..=0xF8FF).contains(&u)
        || (0xFDD0..=0xFDEF).contains(&u)
        || u == 0xFEFF
        || (0xFFF9..=0xFFFB).contains(&u)
        || (u & 0xFFFE) == 0xFFFE
        || u == 0x110BD
        || u == 0x110CD
        || (0x13430..=0x1343F).contains(&u)
        || (0x1BCA0..=0x1BCA3).contains(&u)
        || (0x1D173..=0x1D17A).contains(&u)
        || u == 0xE0001
        || (0xE0020..=0xE007F).contains(&u)
        || u >= 0xF0000)
}

/// Python's `repr(str)`: single quotes unless the text holds `'` and no `"`.
fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c == ' ' || python_printable(c) => out.push(c),
            c if (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Python's `json.dumps(value)` with its defaults: `", "` and `": "` separators, keys in
/// order, non-ASCII escaped as lower-case `\uXXXX` (surrogate pairs above the BMP).
pub fn python_json_dumps(value: &Value) -> String {
    let mut out = String::new();
    write_python(&mut out, value, PythonStyle::Json);
    out
}

fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings below were produced by CPython 3.11 (`str(dict)` / `json.dumps`) on
    // the equivalent values, and, for the work errors, by running pycti 7.261026.0's
    // `import_bundle` against a fake GraphQL endpoint answering these errors.

    #[test]
    fn a_missing_reference_reads_as_pycti_reports_it() {
        let r = missing_reference(&["identity--7b82b010-b1c0-4dae-981f-7756374a17df".to_string()]);
        assert_eq!(
            r.work_error_text(),
            "{'name': 'MISSING_REFERENCE_ERROR', 'error_message': 'Element(s) not found', 'http_status': 404, 'genre': 'BUSINESS', 'unresolvedIds': ['identity--7b82b010-b1c0-4dae-981f-7756374a17df'], 'doc_code': 'ELEMENT_NOT_FOUND'}"
        );
    }

    #[test]
    fn several_missing_references_are_listed_in_order() {
        let r = missing_reference(&["a--1".to_string(), "b--2".to_string()]);
        assert_eq!(
            r.work_error_text(),
            "{'name': 'MISSING_REFERENCE_ERROR', 'error_message': 'Element(s) not found', 'http_status': 404, 'genre': 'BUSINESS', 'unresolvedIds': ['a--1', 'b--2'], 'doc_code': 'ELEMENT_NOT_FOUND'}"
        );
    }

    #[test]
    fn missing_markings_carry_a_reason() {
        assert_eq!(
            missing_markings().work_error_text(),
            "{'name': 'MISSING_REFERENCE_ERROR', 'error_message': 'Element(s) not found', 'http_status': 404, 'genre': 'BUSINESS', 'reason': 'User trying to create the data has missing markings', 'doc_code': 'ELEMENT_NOT_FOUND'}"
        );
    }

    #[test]
    fn a_relationship_not_allowed_reads_as_pycti_reports_it() {
        let r = relationship_not_allowed("uses", "Country", "Malware");
        assert_eq!(
            r.work_error_text(),
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'The relationship type uses is not allowed between Country and Malware', 'http_status': 400, 'genre': 'BUSINESS'}"
        );
    }

    #[test]
    fn an_invalid_observable_drops_the_input_from_the_work_error() {
        let r = invalid_observable("IPv4-Addr", json!({"value": "999.1.1"}));
        assert_eq!(r.data.get("input"), Some(&json!({"value": "999.1.1"})));
        assert_eq!(
            r.work_error_text(),
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'Observable is not correctly formatted', 'http_status': 400, 'genre': 'BUSINESS', 'type': 'IPv4-Addr', 'doc_code': 'INCORRECT_OBSERVABLE_FORMAT'}"
        );
    }

    #[test]
    fn an_invalid_pattern_reads_as_pycti_reports_it() {
        assert_eq!(
            invalid_pattern("stix").work_error_text(),
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'Indicator of type stix is not correctly formatted.', 'http_status': 400, 'genre': 'BUSINESS', 'doc_code': 'INCORRECT_INDICATOR_FORMAT'}"
        );
    }

    #[test]
    fn a_missing_nested_ref_target_carries_booleans_as_python_prints_them() {
        let r = ref_target_missing(
            "00000000-0000-4000-8000-000000000001",
            false,
            "domain-name--0f1e2d3c-4b5a-5697-8877-665544332211",
            true,
        );
        assert_eq!(
            r.work_error_text(),
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'MISSING_ELEMENTS', 'http_status': 400, 'genre': 'BUSINESS', 'from': '00000000-0000-4000-8000-000000000001', 'from_missing': False, 'to': 'domain-name--0f1e2d3c-4b5a-5697-8877-665544332211', 'to_missing': True}"
        );
    }

    #[test]
    fn other_refusals_read_as_python_prints_them() {
        assert_eq!(
            unsupported_type("Widget").work_error_text(),
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'Observable type Widget is not supported.', 'http_status': 400, 'genre': 'BUSINESS'}"
        );
        assert_eq!(
            self_referencing_relation("malware--1", "uses").work_error_text(),
            "{'name': 'UNSUPPORTED_ERROR', 'error_message': 'Relation cant be created with the same source and target', 'http_status': 500, 'genre': 'BUSINESS', 'from': 'malware--1', 'relationshipType': 'uses', 'doc_code': 'SELF_REFERENCING_RELATION'}"
        );
        assert_eq!(
            invalid_score().work_error_text(),
            "{'name': 'VALIDATION_ERROR', 'error_message': 'The score should be an integer between 0 and 100', 'http_status': 500, 'genre': 'BUSINESS', 'field': 'x_opencti_score'}"
        );
        assert_eq!(
            invalid_validity_period().work_error_text(),
            "{'name': 'VALIDATION_ERROR', 'error_message': 'valid_until', 'http_status': 500, 'genre': 'BUSINESS', 'field': {'message': 'The valid until date must be greater than the valid from date'}}"
        );
        assert_eq!(
            created_by_not_identity("Malware").work_error_text(),
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'CreatedBy relation must be an Identity entity', 'http_status': 400, 'genre': 'BUSINESS', 'entityType': 'Malware'}"
        );
    }

    #[test]
    fn python_repr_quotes_and_escapes_strings_like_cpython() {
        let v = json!({
            "a": "it's",
            "b": "say \"hi\"",
            "c": "both ' and \"",
            "d": "tab\tnew\nline\\",
            "e": "caf\u{e9} \u{a0}\u{200b}\u{1f600}\u{7f}",
            "f": null,
            "g": [1, 2.5, true, false],
            "h": {},
            "i": [],
            "j": 1e16,
            "k": 0.0001,
            "l": 1.5e-5,
            "m": 100.0,
            "n": -0.5
        });
        assert_eq!(
            python_repr(&v),
            r#"{'a': "it's", 'b': 'say "hi"', 'c': 'both \' and "', 'd': 'tab\tnew\nline\\', 'e': 'café \xa0\u200b😀\x7f', 'f': None, 'g': [1, 2.5, True, False], 'h': {}, 'i': [], 'j': 1e+16, 'k': 0.0001, 'l': 1.5e-05, 'm': 100.0, 'n': -0.5}"#
        );
    }

    #[test]
    fn python_json_dumps_escapes_non_ascii_like_cpython() {
        let v = json!({"name": "caf\u{e9} \u{1f600}", "q": "\"\\/\u{7f}\u{1}", "n": [1, 2.0, null, true], "e": {}});
        assert_eq!(
            python_json_dumps(&v),
            r#"{"name": "caf\u00e9 \ud83d\ude00", "q": "\"\\/\u007f\u0001", "n": [1, 2.0, null, true], "e": {}}"#
        );
    }

    #[test]
    fn the_work_error_source_is_the_item_as_pycti_holds_it() {
        let item = json!({
            "type": "ipv4-addr",
            "spec_version": "2.1",
            "id": "ipv4-addr--4b1e8c2a-7d3f-5a6b-9c8d-1e2f3a4b5c6d",
            "value": "999.1.1",
            "nb_deps": 1
        });
        assert_eq!(
            work_error_source(&item),
            r#"{"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--4b1e8c2a-7d3f-5a6b-9c8d-1e2f3a4b5c6d", "value": "999.1.1", "nb_deps": 1}"#
        );
    }

    #[test]
    fn a_source_of_fifty_thousand_characters_or_more_reads_bundle_too_large() {
        let item = json!({"description": "x".repeat(MAX_REPORTED_SOURCE_LENGTH)});
        assert_eq!(work_error_source(&item), BUNDLE_TOO_LARGE);
        let just_under = json!("y".repeat(MAX_REPORTED_SOURCE_LENGTH - 3));
        assert_eq!(work_error_source(&just_under).len(), MAX_REPORTED_SOURCE_LENGTH - 1);
    }

    #[test]
    fn splitter_errors_use_fixed_texts() {
        let e = incompatible_element("x-acme-widget--5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716");
        assert_eq!(e.error, "Incompatible element in bundle");
        assert_eq!(
            e.source,
            "Element x-acme-widget--5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716 is incompatible and couldn't be processed"
        );
    }

    #[test]
    fn missing_references_are_retried_four_times_then_reported() {
        let r = missing_reference(&["x--1".to_string()]);
        let handling: Vec<_> = (0..=MISSING_REFERENCE_RETRIES).map(|i| r.worker_handling(i)).collect();
        assert_eq!(
            handling,
            [WorkerHandling::Retry, WorkerHandling::Retry, WorkerHandling::Retry, WorkerHandling::Retry, WorkerHandling::Report]
        );
        assert_eq!(relationship_not_allowed("uses", "A", "B").worker_handling(0), WorkerHandling::Report);
    }

}
