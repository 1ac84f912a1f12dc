//! The value checks the platform applies to observables and indicators before it creates
//! them, so that the mock refuses the same objects.
//!
//! # Sources
//!
//! Read from `OpenCTI-Platform/opencti` through the code index (the whole repository is over
//! the fetch limit); several versions of each file are stored, the newest one was used:
//!
//! * `opencti-platform/opencti-graphql/src/utils/syntax.js`, commit
//!   `340d3b07f8258db6c5e49235577efc91c1166232`: `checkObservableSyntax` and its checkers
//!   (`systemChecker`, `domainChecker`, `hostnameChecker`, `emailChecker`, `ipv4Checker`,
//!   `ipv6Checker`, `macAddrChecker`, `cpeChecker`, `imeiChecker`, `iccidChecker`,
//!   `imsiChecker`, and the per-algorithm hash lengths).
//! * `opencti-platform/opencti-graphql/src/domain/stixCyberObservable.js` (newest stored
//!   version, index id 1114186921): `addStixCyberObservable` lower-cases `Domain-Name` and
//!   `Email-Addr` values, converts hashes with `inputHashesToStix`, then runs the syntax
//!   check; a failure is a `FUNCTIONAL_ERROR` (see [`crate::stix::refusals`]).
//! * `opencti-platform/opencti-graphql/src/schema/fieldDataAdapter.ts` (newest stored
//!   version, index id 5891732873; commit not reported by the index): `inputHashesToStix`
//!   upper-cases and trims the algorithm, lower-cases (except SSDEEP and SDHASH) and trims
//!   the value, and refuses algorithms outside `SUPPORTED_HASH_ALGORITHMS`.
//! * `opencti-platform/opencti-graphql/src/utils/format.js`, commit
//!   `014e9c0661c4c3a23330ac36a16ba6aa9c882ed7`: `checkScore`.
//! * `opencti-platform/opencti-graphql/src/modules/indicator/indicator-domain.ts` (newest
//!   stored version, index id 2159891255) and `indicator-utils.ts`, commit
//!   `98ff301b06dfd3a7d078342a7967ede6d9720980`: `addIndicator`, `computeValidPeriod`.
//! * pycti 7.261026.0 (`entities/opencti_indicator.py`, `entities/opencti_stix_cyber_observable.py`):
//!   what the worker sends, and the indicators it does not send at all.
//!
//! The platform checks **only** these observable types: Autonomous-System, Domain-Name,
//! StixFile and Artifact (hashes), Hostname, Email-Addr, IPv4-Addr, IPv6-Addr, Mac-Addr,
//! Software, IMEI, ICCID and IMSI. URLs, phone numbers, bank accounts (IBAN), payment cards,
//! cryptocurrency wallets, X509 certificate hashes and every other type are not checked, so
//! they are accepted whatever their value.
//!
//! The checks reproduce JavaScript semantics where they matter: a missing value is tested as
//! the string `"undefined"` (so a Hostname without value passes, as on the platform),
//! `\s` is JavaScript's whitespace set and lengths are counted in UTF-16 code units.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// Why an observable or indicator value fails a platform check.
///
/// `message` is the platform's own reason (for observables, the string
/// `checkObservableSyntax` returns, e.g. `Valid IPv4 address`; the platform does not put it in
/// the GraphQL error, which always reads `Observable is not correctly formatted`). `field` is
/// the STIX property that was checked (`value`, `number`, `hashes.MD5`, `name`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The platform's reason.
    pub message: String,
    /// The checked STIX property.
    pub field: String,
}

impl SyntaxError {
    fn new(message: &str, field: &str) -> Self {
        SyntaxError { message: message.to_string(), field: field.to_string() }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.field)
    }
}

impl std::error::Error for SyntaxError {}

/// Hash algorithms whose value the platform keeps as given (no lower-casing).
const CASE_SENSITIVE_HASHES: &[&str] = &["SSDEEP", "SDHASH"];

/// Score applied by the platform to an indicator sent without one.
pub const INDICATOR_DEFAULT_SCORE: i64 = 50;

/// The observable kinds the platform checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    AutonomousSystem,
    DomainName,
    Hashed,
    Hostname,
    EmailAddr,
    Ipv4,
    Ipv6,
    Mac,
    Software,
    Imei,
    Iccid,
    Imsi,
}

/// Maps a STIX type (`ipv4-addr`, `x-opencti-hostname`, `file`) or an OpenCTI entity type
/// (`IPv4-Addr`, `StixFile`) to the checked kind, if the platform checks it.
fn checked_kind(stix_type: &str) -> Option<Checked> {
    let lower = stix_type.to_ascii_lowercase();
    let t = lower.strip_prefix("x-opencti-").unwrap_or(&lower);
    Some(match t {
        "autonomous-system" => Checked::AutonomousSystem,
        "domain-name" => Checked::DomainName,
        "file" | "stixfile" | "artifact" => Checked::Hashed,
        "hostname" => Checked::Hostname,
        "email-addr" => Checked::EmailAddr,
        "ipv4-addr" => Checked::Ipv4,
        "ipv6-addr" => Checked::Ipv6,
        "mac-addr" => Checked::Mac,
        "software" => Checked::Software,
        "imei" => Checked::Imei,
        "iccid" => Checked::Iccid,
        "imsi" => Checked::Imsi,
        _ => return None,
    })
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

// Transcriptions of the platform's checkers, in the `regex` crate's syntax. `\d` is written
// `[0-9]` because JavaScript's `\d` is ASCII only.
static AS_NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]{0,10}$"));
static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-_]*[a-zA-Z0-9])\.)*(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-_]*[A-Za-z0-9])$")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"^[a-zA-Z0-9.!#$%&'*+/=?^_\x60{|}~\-]+@",
        r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?",
        r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?)*$",
    ))
});
static IPV4: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:/(?:[0-9]|[1-2][0-9]|3[0-2]))?$"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    let h = "[0-9a-fA-F]";
    let octet = "(?:25[0-5]|(?:2[0-4]|1{0,1}[0-9]){0,1}[0-9])";
    let alternatives = [
        format!("(?:{h}{{1,4}}:){{7,7}}{h}{{1,4}}"),
        format!("(?:{h}{{1,4}}:){{1,7}}:"),
        format!("(?:{h}{{1,4}}:){{1,6}}:{h}{{1,4}}"),
        format!("(?:{h}{{1,4}}:){{1,5}}(?::{h}{{1,4}}){{1,2}}"),
        format!("(?:{h}{{1,4}}:){{1,4}}(?::{h}{{1,4}}){{1,3}}"),
        format!("(?:{h}{{1,4}}:){{1,3}}(?::{h}{{1,4}}){{1,4}}"),
        format!("(?:{h}{{1,4}}:){{1,2}}(?::{h}{{1,4}}){{1,5}}"),
        format!("{h}{{1,4}}:(?:(?::{h}{{1,4}}){{1,6}})"),
        format!(":(?:(?::{h}{{1,4}}){{1,7}}|:)"),
        format!("fe80:(?::{h}{{0,4}}){{0,4}}%[0-9a-zA-Z]{{1,}}"),
        format!("::(?:ffff(?::0{{1,4}}){{0,1}}:){{0,1}}(?:{octet}\\.){{3,3}}{octet}"),
        format!("(?:{h}{{1,4}}:){{1,4}}:(?:{octet}\\.){{3,3}}{octet}"),
    ];
    re(&format!("^(?:{})(?:/(?:[0-9]|[1-9][0-9]|1[0-1][0-9]|12[0-8]))?$", alternatives.join("|")))
});
static MAC: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:[0-9A-Fa-f]{2}[:\-]){5}[0-9A-Fa-f]{2}$"));
// Unanchored at the end in its first branch, as on the platform (`test` searches).
static CPE: LazyLock<Regex> = LazyLock::new(|| re(r"^cpe://[a-zA-Z0-9_./:\-]+|^cpe:/[a-zA-Z0-9_./:\-]+$"));
static IMEI: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]{15,16}$"));
static ICCID: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]{18,22}$"));
static IMSI: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]{14,15}$"));

/// JavaScript's `\s`: whitespace and line terminators.
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The platform's `domainChecker`, whose look-aheads the `regex` crate lacks: 1 to 253
/// UTF-16 units, no leading `-`, at least two dot-separated labels made of anything but
/// whitespace, inner labels of 1 to 63 units and a last label of 2 to 63 units.
fn is_valid_domain(value: &str) -> bool {
    if value.is_empty() || utf16_len(value) > 253 || value.starts_with('-') {
        return false;
    }
    let labels: Vec<&str> = value.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let last = labels.len() - 1;
    labels.iter().enumerate().all(|(i, label)| {
        let n = utf16_len(label);
        let sized = if i == last { (2..=63).contains(&n) } else { (1..=63).contains(&n) };
        sized && !label.chars().any(is_js_whitespace)
    })
}

/// JavaScript's `String(x)` of a property, as `RegExp.prototype.test` sees it.
fn js_string(value: Option<&Value>) -> String {
    match value {
        None => "undefined".to_string(),
        Some(v) => js_string_of(v),
    }
}

fn js_string_of(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            items.iter().map(|v| if v.is_null() { String::new() } else { js_string_of(v) }).collect::<Vec<_>>().join(",")
        }
        Value::Object(_) => "[object Object]".to_string(),
    }
}

fn js_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.fract() == 0.0 && f.abs() < 1e21 { format!("{f:.0}") } else { f.to_string() }
}

/// JavaScript truthiness of a property.
fn js_truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_)) | Some(Value::Object(_)) => true,
    }
}

/// The hashes as the platform holds them after `inputHashesToStix`: algorithm upper-cased
/// and trimmed, value lower-cased (except SSDEEP/SDHASH) and trimmed, last duplicate wins.
fn normalised_hashes(obj: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let Some(hashes) = obj.get("hashes").and_then(Value::as_object) else {
        return out;
    };
    for (algorithm, hash) in hashes {
        let algorithm = algorithm.to_uppercase().trim().to_string();
        let raw = js_string_of(hash);
        let hash = if CASE_SENSITIVE_HASHES.contains(&algorithm.as_str()) { raw } else { raw.to_lowercase() }.trim().to_string();
        match out.iter_mut().find(|(a, _)| *a == algorithm) {
            Some(entry) => entry.1 = hash,
            None => out.push((algorithm, hash)),
        }
    }
    out
}

fn check_hashes(obj: &Value) -> Result<(), SyntaxError> {
    let hashes = normalised_hashes(obj);
    let rules: [(&str, usize, &str); 4] = [
        ("MD5", 32, "Valid MD5 hash"),
        ("SHA-1", 40, "Valid SHA-1 hash"),
        ("SHA-256", 64, "Valid SHA-256 hash"),
        ("SHA-512", 128, "Valid SHA-512 hash"),
    ];
    for (algorithm, length, message) in rules {
        let Some((_, hash)) = hashes.iter().find(|(a, _)| a == algorithm) else { continue };
        if hash.is_empty() {
            continue; // an empty hash is not checked
        }
        let valid = hash.len() == length && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(SyntaxError::new(message, &format!("hashes.{algorithm}")));
        }
    }
    Ok(())
}

/// Applies the platform's observable syntax check (`checkObservableSyntax`) to a STIX
/// observable as a connector pushes it.
///
/// `stix_type` is the STIX type (`ipv4-addr`, `file`, `x-opencti-hostname`…) or the OpenCTI
/// entity type (`IPv4-Addr`, `StixFile`…). Types the platform does not check always pass.
/// On failure the platform answers `FUNCTIONAL_ERROR` "Observable is not correctly formatted"
/// with `doc_code` `INCORRECT_OBSERVABLE_FORMAT` ([`crate::stix::refusals::invalid_observable`]).
pub fn check_observable(stix_type: &str, obj: &Value) -> Result<(), SyntaxError> {
    let Some(kind) = checked_kind(stix_type) else {
        return Ok(());
    };
    let value = || js_string(obj.get("value"));
    let test = |regex: &Regex, message: &str| {
        if regex.is_match(&value()) { Ok(()) } else { Err(SyntaxError::new(message, "value")) }
    };
    match kind {
        Checked::AutonomousSystem => {
            if AS_NUMBER.is_match(&js_string(obj.get("number"))) {
                Ok(())
            } else {
                Err(SyntaxError::new("Must be numeric", "number"))
            }
        }
        Checked::DomainName => {
            if is_valid_domain(&value().to_lowercase()) {
                Ok(())
            } else {
                Err(SyntaxError::new("Valid domain name", "value"))
            }
        }
        Checked::Hashed => check_hashes(obj),
        Checked::Hostname => test(&HOSTNAME, "Valid hostname"),
        Checked::EmailAddr => {
            if EMAIL.is_match(&value().to_lowercase()) {
                Ok(())
            } else {
                Err(SyntaxError::new("Valid email address", "value"))
            }
        }
        Checked::Ipv4 => test(&IPV4, "Valid IPv4 address"),
        Checked::Ipv6 => test(&IPV6, "Valid IPv6 address"),
        Checked::Mac => test(&MAC, "Valid MAC address"),
        Checked::Software => {
            let named = js_truthy(obj.get("name"));
            let cpe = CPE.is_match(&js_string(obj.get("cpe")));
            let swid = js_truthy(obj.get("swid"));
            if named || cpe || swid { Ok(()) } else { Err(SyntaxError::new("Valid Software attributes", "name")) }
        }
        Checked::Imei => test(&IMEI, "Valid IMEI"),
        Checked::Iccid => test(&ICCID, "Valid ICCID"),
        Checked::Imsi => test(&IMSI, "Valid IMSI"),
    }
}

/// The score the worker sends for an object: `x_opencti_score`, else the OpenCTI
/// extension's `score`.
fn score_of(obj: &Value) -> Option<&Value> {
    obj.get("x_opencti_score").or_else(|| obj.pointer(&format!("/extensions/{}/score", crate::stix::OPENCTI_EXTENSION)))
}

/// The platform's `checkScore`, applied to observables (`stixCyberObservableAdd`) and
/// indicators (`indicatorAdd`): a score that is set and not zero must be an integer from 0
/// to 100, else `VALIDATION_ERROR` "The score should be an integer between 0 and 100"
/// ([`crate::stix::refusals::invalid_score`]). A string is read as JavaScript's
/// `parseFloat` reads it.
pub fn check_score(obj: &Value) -> Result<(), SyntaxError> {
    let Some(score) = score_of(obj) else { return Ok(()) };
    if !js_truthy(Some(score)) {
        return Ok(());
    }
    let parsed = match score {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => js_parse_float(s),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) | Value::Null => js_parse_float(&js_string_of(score)),
    };
    // NaN compares false everywhere in JavaScript, and is an integer nowhere.
    let invalid = match parsed {
        Some(f) => !(0.0..=100.0).contains(&f) || f.fract() != 0.0,
        None => true,
    };
    if invalid { Err(SyntaxError::new("The score should be an integer between 0 and 100", "x_opencti_score")) } else { Ok(()) }
}

/// JavaScript's `parseFloat`: the longest decimal prefix after leading whitespace, `None`
/// for NaN.
fn js_parse_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(is_js_whitespace);
    for prefix in ["Infinity", "+Infinity"] {
        if t.starts_with(prefix) {
            return Some(f64::INFINITY);
        }
    }
    if t.starts_with("-Infinity") {
        return Some(f64::NEG_INFINITY);
    }
    let bytes = t.as_bytes();
    let mut end = 0;
    let mut best = None;
    let mut seen_dot = false;
    let mut seen_exp = false;
    if end < bytes.len() && (bytes[end] == b'+' || bytes[end] == b'-') {
        end += 1;
    }
    while end < bytes.len() {
        let c = bytes[end];
        if c.is_ascii_digit() {
            end += 1;
            if let Ok(f) = t[..end].parse::<f64>() {
                best = Some(f);
            }
        } else if c == b'.' && !seen_dot && !seen_exp {
            seen_dot = true;
            end += 1;
        } else if (c == b'e' || c == b'E') && !seen_exp && best.is_some() {
            seen_exp = true;
            end += 1;
            if end < bytes.len() && (bytes[end] == b'+' || bytes[end] == b'-') {
                end += 1;
            }
        } else {
            break;
        }
    }
    best
}

/// What becomes of an indicator that fails a check made before or instead of the pattern
/// grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndicatorError {
    /// pycti does not send it: it logs `[opencti_indicator] Missing parameters: name or
    /// pattern or pattern_type or x_opencti_main_observable_type` and moves on. Nothing is
    /// created and the work records **no error** (the item counts as processed).
    NotSent(SyntaxError),
    /// pycti raises before calling the platform (an absent `name` falls back to `pattern`,
    /// which is then read unconditionally); the work error is this Python exception text
    /// (`'pattern'` for a `KeyError`), reported without retry.
    WorkerFailure(String),
    /// The platform refuses it with this error code; `message` is the GraphQL error message.
    Refused {
        /// `extensions.code` of the platform's error.
        code: &'static str,
        /// Message and checked field.
        error: SyntaxError,
    },
}

/// Indicator checks other than the pattern grammar, in the order pycti and the platform
/// apply them (`indicatorAdd` / `addIndicator`):
///
/// 1. pycti sends nothing when `pattern_type` is absent or null, when `name` is null (an
///    absent name falls back to the pattern), or when `x_opencti_main_observable_type` is an
///    explicit null ([`IndicatorError::NotSent`]); with neither `name` nor `pattern` it
///    raises `KeyError('pattern')` ([`IndicatorError::WorkerFailure`]).
/// 2. A main observable type other than `Unknown` (`File` is read `StixFile`) must be an
///    observable entity type: `FUNCTIONAL_ERROR` "Observable type X is not supported.".
/// 3. (the pattern grammar, not checked here: `INCORRECT_INDICATOR_FORMAT`).
/// 4. The score ([`check_score`]; absent means 50).
/// 5. A `valid_until` not after `valid_from` (or `created` when `valid_from` is absent):
///    `VALIDATION_ERROR` whose message is `valid_until` (see the module's `refusals.md`).
///    Dates that do not parse are not compared.
pub fn check_indicator(obj: &Value) -> Result<(), IndicatorError> {
    let not_sent = |field: &str| {
        IndicatorError::NotSent(SyntaxError::new(
            "[opencti_indicator] Missing parameters: name or pattern or pattern_type or x_opencti_main_observable_type",
            field,
        ))
    };
    if obj.get("pattern_type").is_none_or(Value::is_null) {
        return Err(not_sent("pattern_type"));
    }
    match (obj.get("name"), obj.get("pattern")) {
        (None, None) => return Err(IndicatorError::WorkerFailure("'pattern'".to_string())),
        (Some(Value::Null), _) | (None, Some(Value::Null)) => return Err(not_sent("name")),
        _ => {}
    }
    let extension_main_type =
        obj.pointer(&format!("/extensions/{}/main_observable_type", crate::stix::OPENCTI_EXTENSION)).filter(|v| !v.is_null());
    let main_type = match obj.get("x_opencti_main_observable_type").or(extension_main_type) {
        Some(Value::Null) => return Err(not_sent("x_opencti_main_observable_type")),
        Some(v) => js_string_of(v),
        None => "Unknown".to_string(),
    };
    let main_type = if main_type == "File" { "StixFile".to_string() } else { main_type };
    if !main_type.is_empty() && main_type != "Unknown" && !is_observable_entity_type(&main_type) {
        return Err(IndicatorError::Refused {
            code: "FUNCTIONAL_ERROR",
            error: SyntaxError::new(&format!("Observable type {main_type} is not supported."), "x_opencti_main_observable_type"),
        });
    }
    if let Err(error) = check_score(obj) {
        return Err(IndicatorError::Refused { code: "VALIDATION_ERROR", error });
    }
    let until = obj.get("valid_until").and_then(Value::as_str).filter(|s| !s.is_empty());
    let from = obj
        .get("valid_from")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| obj.get("created").and_then(Value::as_str).filter(|s| !s.is_empty()));
    let millis = |t: Option<&str>| t.and_then(epoch_millis);
    if let (Some(u), Some(f)) = (millis(until), millis(from))
        && u <= f
    {
        return Err(IndicatorError::Refused { code: "VALIDATION_ERROR", error: SyntaxError::new("valid_until", "valid_until") });
    }
    Ok(())
}

/// Whether `entity_type` is one of the platform's observable entity types.
fn is_observable_entity_type(entity_type: &str) -> bool {
    crate::stix::OBSERVABLE_TYPES.iter().any(|(_, e)| *e == entity_type)
}

/// Milliseconds since the epoch of an RFC 3339 timestamp (`2024-01-01T00:00:00Z`,
/// fractional seconds and numeric offsets allowed), `None` when it does not parse.
fn epoch_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if part.bytes().all(|c| c.is_ascii_digit()) { part.parse().ok() } else { None }
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i.min(start + 3)];
        millis = format!("{digits:0<3}").parse().ok()?;
    }
    let offset_minutes = match s.get(i..)? {
        "Z" | "z" | "" => 0,
        rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 60 + m)
        }
        _ => return None,
    };
    // Days from the civil date (proleptic Gregorian calendar).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(stix_type: &str, obj: Value) {
        assert_eq!(check_observable(stix_type, &obj), Ok(()), "{stix_type} {obj}");
    }

    fn bad(stix_type: &str, obj: Value, message: &str, field: &str) {
        assert_eq!(check_observable(stix_type, &obj), Err(SyntaxError::new(message, field)), "{stix_type} {obj}");
    }

    #[test]
    fn ipv4_addresses_with_and_without_cidr_pass() {
        ok("ipv4-addr", json!({"value": "198.51.100.7"}));
        ok("ipv4-addr", json!({"value": "10.0.0.0/8"}));
        ok("IPv4-Addr", json!({"value": "0.0.0.0/32"}));
    }

    #[test]
    fn ipv4_checks_the_shape_only_so_large_octets_pass() {
        ok("ipv4-addr", json!({"value": "999.999.999.999"}));
    }

    #[test]
    fn malformed_ipv4_addresses_are_refused() {
        bad("ipv4-addr", json!({"value": "999.1.1"}), "Valid IPv4 address", "value");
        bad("ipv4-addr", json!({"value": "10.0.0.0/33"}), "Valid IPv4 address", "value");
        bad("ipv4-addr", json!({"value": " 10.0.0.1"}), "Valid IPv4 address", "value");
        bad("ipv4-addr", json!({"value": "1.2.3.4\n"}), "Valid IPv4 address", "value");
        bad("ipv4-addr", json!({}), "Valid IPv4 address", "value");
    }

    #[test]
    fn ipv6_addresses_in_all_usual_forms_pass() {
        for v in [
            "2001:db8:85a3:0:0:8a2e:370:7334",
            "2001:db8::1",
            "::1",
            "::",
            "fe80::1%eth0",
            "::ffff:192.0.2.128",
            "2001:db8::/32",
            "2001:db8:1:2:3:4:5:6/128",
        ] {
            ok("ipv6-addr", json!({ "value": v }));
        }
    }

    #[test]
    fn malformed_ipv6_addresses_are_refused() {
        bad("ipv6-addr", json!({"value": "2001:db8::g"}), "Valid IPv6 address", "value");
        bad("ipv6-addr", json!({"value": "2001:db8::/129"}), "Valid IPv6 address", "value");
        bad("ipv6-addr", json!({"value": "198.51.100.7"}), "Valid IPv6 address", "value");
        bad("ipv6-addr", json!({"value": "1:2:3:4:5:6:7:8:9"}), "Valid IPv6 address", "value");
    }

    #[test]
    fn domain_names_need_two_labels_and_no_whitespace() {
        ok("domain-name", json!({"value": "example.com"}));
        ok("domain-name", json!({"value": "Sub.Example.COM"}));
        ok("domain-name", json!({"value": "xn--bcher-kva.example"}));
        ok("domain-name", json!({"value": "bücher.de"}));
        ok("domain-name", json!({"value": "under_score.example.org"}));
        bad("domain-name", json!({"value": "localhost"}), "Valid domain name", "value");
        bad("domain-name", json!({"value": "-bad.example.com"}), "Valid domain name", "value");
        bad("domain-name", json!({"value": "example.c"}), "Valid domain name", "value");
        bad("domain-name", json!({"value": "example..com"}), "Valid domain name", "value");
        bad("domain-name", json!({"value": "example.com."}), "Valid domain name", "value");
        bad("domain-name", json!({"value": "exa mple.com"}), "Valid domain name", "value");
        bad("domain-name", json!({"value": "example\u{a0}x.com"}), "Valid domain name", "value");
    }

    #[test]
    fn defanged_domain_names_pass_because_only_whitespace_and_dots_are_restricted() {
        ok("domain-name", json!({"value": "hxxp://example[.]com"}));
        ok("domain-name", json!({"value": "evil.com/path?q=1"}));
    }

    #[test]
    fn domain_labels_and_total_length_are_bounded() {
        let label63 = "a".repeat(63);
        ok("domain-name", json!({ "value": format!("{label63}.com") }));
        bad("domain-name", json!({ "value": format!("{}.com", "a".repeat(64)) }), "Valid domain name", "value");
        let long = format!("{0}.{0}.{0}.{1}.com", label63, "a".repeat(58));
        assert_eq!(long.len(), 254);
        bad("domain-name", json!({ "value": long }), "Valid domain name", "value");
        let fits = format!("{0}.{0}.{0}.{1}.com", label63, "a".repeat(57));
        assert_eq!(fits.len(), 253);
        ok("domain-name", json!({ "value": fits }));
    }

    #[test]
    fn hostnames_allow_underscores_and_single_labels() {
        ok("hostname", json!({"value": "web_01"}));
        ok("x-opencti-hostname", json!({"value": "srv-1.corp.example"}));
        bad("hostname", json!({"value": "-srv"}), "Valid hostname", "value");
        bad("hostname", json!({"value": "srv.example.com."}), "Valid hostname", "value");
        bad("hostname", json!({"value": "bad host"}), "Valid hostname", "value");
    }

    #[test]
    fn a_hostname_without_value_passes_because_undefined_is_a_valid_hostname() {
        ok("hostname", json!({}));
    }

    #[test]
    fn email_addresses_need_a_local_part_and_a_domain() {
        ok("email-addr", json!({"value": "john.doe+tag@example.com"}));
        ok("email-addr", json!({"value": "Admin@Localhost"}));
        bad("email-addr", json!({"value": "john.doe"}), "Valid email address", "value");
        bad("email-addr", json!({"value": "john@-example.com"}), "Valid email address", "value");
        bad("email-addr", json!({"value": "John Doe <john@example.com>"}), "Valid email address", "value");
        bad("email-addr", json!({"value": "admin[at]example[dot]com"}), "Valid email address", "value");
    }

    #[test]
    fn mac_addresses_need_six_hex_pairs() {
        ok("mac-addr", json!({"value": "00:1A:2b:3c:4d:5e"}));
        ok("mac-addr", json!({"value": "00-1a-2b-3c-4d-5e"}));
        bad("mac-addr", json!({"value": "001a.2b3c.4d5e"}), "Valid MAC address", "value");
        bad("mac-addr", json!({"value": "00:1a:2b:3c:4d"}), "Valid MAC address", "value");
    }

    #[test]
    fn file_hashes_must_have_the_length_of_their_algorithm() {
        ok("file", json!({"hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427e"}}));
        ok("file", json!({"hashes": {"SHA-1": "da39a3ee5e6b4b0d3255bfef95601890afd80709"}}));
        ok("file", json!({"hashes": {"SHA-256": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}}));
        ok("file", json!({"hashes": {"SHA-512": "a".repeat(128)}}));
        ok("file", json!({"hashes": {"md5": " d41d8cd98f00b204e9800998ecf8427e "}}));
        bad("file", json!({"hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427"}}), "Valid MD5 hash", "hashes.MD5");
        bad("file", json!({"hashes": {"SHA-1": "xyz"}}), "Valid SHA-1 hash", "hashes.SHA-1");
        bad("StixFile", json!({"hashes": {"sha-256": "a".repeat(63)}}), "Valid SHA-256 hash", "hashes.SHA-256");
        bad("artifact", json!({"hashes": {"SHA-512": "g".repeat(128)}}), "Valid SHA-512 hash", "hashes.SHA-512");
    }

    #[test]
    fn hashes_are_checked_md5_first_whatever_their_order() {
        let obj = json!({"hashes": {"SHA-256": "bad", "MD5": "bad"}});
        bad("file", obj, "Valid MD5 hash", "hashes.MD5");
    }

    #[test]
    fn fuzzy_hashes_and_files_without_hashes_are_not_checked() {
        ok("file", json!({"hashes": {"SSDEEP": "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"}}));
        ok("file", json!({"hashes": {"TLSH": "not-checked"}}));
        ok("file", json!({"name": "evil.exe"}));
        ok("file", json!({"hashes": {"MD5": ""}}));
    }

    #[test]
    fn autonomous_system_numbers_have_at_most_ten_digits() {
        ok("autonomous-system", json!({"number": 15169}));
        ok("autonomous-system", json!({"number": "4200000000"}));
        ok("autonomous-system", json!({"number": 1.0}));
        bad("autonomous-system", json!({"number": 12_345_678_901_u64}), "Must be numeric", "number");
        bad("autonomous-system", json!({"number": "AS15169"}), "Must be numeric", "number");
        bad("autonomous-system", json!({"number": -1}), "Must be numeric", "number");
        bad("autonomous-system", json!({"number": 1.5}), "Must be numeric", "number");
        bad("autonomous-system", json!({"name": "GOOGLE"}), "Must be numeric", "number");
    }

    #[test]
    fn software_needs_a_name_a_slash_cpe_or_a_swid() {
        ok("software", json!({"name": "Word"}));
        ok("software", json!({"swid": "com.example.word"}));
        ok("software", json!({"cpe": "cpe:/a:microsoft:word:2016"}));
        ok("software", json!({"cpe": "cpe://a:vendor:product and more"}));
        bad("software", json!({"cpe": "cpe:2.3:a:microsoft:word:2016:*:*:*:*:*:*:*"}), "Valid Software attributes", "name");
        bad("software", json!({"name": ""}), "Valid Software attributes", "name");
        bad("software", json!({"vendor": "Microsoft"}), "Valid Software attributes", "name");
    }

    #[test]
    fn imei_iccid_and_imsi_are_digit_strings_of_fixed_lengths() {
        ok("imei", json!({"value": "490154203237518"}));
        ok("x-opencti-imei", json!({"value": "4901542032375181"}));
        bad("imei", json!({"value": "49015420323751"}), "Valid IMEI", "value");
        ok("iccid", json!({"value": "894412345678901234"}));
        bad("iccid", json!({"value": "89441234567890123a"}), "Valid ICCID", "value");
        ok("imsi", json!({"value": "310150123456789"}));
        bad("imsi", json!({"value": "3101501234567890"}), "Valid IMSI", "value");
    }

    #[test]
    fn unchecked_types_pass_whatever_their_value() {
        ok("url", json!({"value": "not a url"}));
        ok("phone-number", json!({"value": "call me"}));
        ok("bank-account", json!({"iban": "nope"}));
        ok("payment-card", json!({"card_number": "1234"}));
        ok("cryptocurrency-wallet", json!({"value": "?"}));
        ok("x509-certificate", json!({"hashes": {"MD5": "short"}}));
        ok("user-account", json!({}));
        assert!(checked_kind("url").is_none());
        assert!(checked_kind("x-opencti-hostname").is_some());
    }

    #[test]
    fn scores_must_be_integers_from_zero_to_one_hundred() {
        assert_eq!(check_score(&json!({"x_opencti_score": 80})), Ok(()));
        assert_eq!(check_score(&json!({"x_opencti_score": 0})), Ok(()));
        assert_eq!(check_score(&json!({"x_opencti_score": "100"})), Ok(()));
        assert_eq!(check_score(&json!({})), Ok(()));
        let refused = Err(SyntaxError::new("The score should be an integer between 0 and 100", "x_opencti_score"));
        assert_eq!(check_score(&json!({"x_opencti_score": 101})), refused);
        assert_eq!(check_score(&json!({"x_opencti_score": -5})), refused);
        assert_eq!(check_score(&json!({"x_opencti_score": 50.5})), refused);
        assert_eq!(check_score(&json!({"x_opencti_score": "high"})), refused);
        let ext = json!({"extensions": {(crate::stix::OPENCTI_EXTENSION): {"score": 150}}});
        assert_eq!(check_score(&ext), refused);
    }

    fn indicator(extra: Value) -> Value {
        let mut base = json!({
            "type": "indicator",
            "name": "i",
            "pattern": "[ipv4-addr:value = '198.51.100.7']",
            "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z"
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    }

    #[test]
    fn a_well_formed_indicator_passes() {
        assert_eq!(check_indicator(&indicator(json!({}))), Ok(()));
        assert_eq!(check_indicator(&indicator(json!({"valid_until": "2024-01-02T00:00:00.000Z"}))), Ok(()));
        assert_eq!(check_indicator(&indicator(json!({"x_opencti_main_observable_type": "File"}))), Ok(()));
    }

    #[test]
    fn an_indicator_without_pattern_type_is_not_sent_by_the_worker() {
        let mut obj = indicator(json!({}));
        obj.as_object_mut().unwrap().remove("pattern_type");
        assert!(matches!(check_indicator(&obj), Err(IndicatorError::NotSent(e)) if e.field == "pattern_type"));
        assert!(matches!(check_indicator(&indicator(json!({"name": null}))), Err(IndicatorError::NotSent(_))));
    }

    #[test]
    fn an_indicator_without_name_nor_pattern_fails_in_the_worker() {
        let obj = json!({"type": "indicator", "pattern_type": "stix"});
        assert_eq!(check_indicator(&obj), Err(IndicatorError::WorkerFailure("'pattern'".to_string())));
    }

    #[test]
    fn an_unknown_main_observable_type_is_refused() {
        let got = check_indicator(&indicator(json!({"x_opencti_main_observable_type": "Widget"})));
        assert_eq!(
            got,
            Err(IndicatorError::Refused {
                code: "FUNCTIONAL_ERROR",
                error: SyntaxError::new("Observable type Widget is not supported.", "x_opencti_main_observable_type"),
            })
        );
    }

    #[test]
    fn an_indicator_whose_validity_ends_before_it_starts_is_refused() {
        let got = check_indicator(&indicator(json!({"valid_until": "2023-12-31T23:59:59Z"})));
        assert!(matches!(got, Err(IndicatorError::Refused { code: "VALIDATION_ERROR", .. })));
        let same = check_indicator(&indicator(json!({"valid_until": "2024-01-01T01:00:00+01:00"})));
        assert!(matches!(same, Err(IndicatorError::Refused { code: "VALIDATION_ERROR", .. })));
        let created_only = json!({"name": "i", "pattern": "x", "pattern_type": "yara",
            "created": "2024-05-01T00:00:00Z", "valid_until": "2024-04-01T00:00:00Z"});
        assert!(matches!(check_indicator(&created_only), Err(IndicatorError::Refused { .. })));
    }

    #[test]
    fn an_indicator_score_out_of_range_is_refused() {
        let got = check_indicator(&indicator(json!({"x_opencti_score": 200})));
        assert!(
            matches!(got, Err(IndicatorError::Refused { code: "VALIDATION_ERROR", error }) if error.field == "x_opencti_score")
        );
    }

    #[test]
    fn timestamps_parse_to_epoch_milliseconds() {
        assert_eq!(epoch_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_millis("2024-01-01T00:00:00.5Z"), Some(1_704_067_200_500));
        assert_eq!(epoch_millis("2024-01-01T01:00:00+01:00"), Some(1_704_067_200_000));
        assert_eq!(epoch_millis("yesterday"), None);
    }

    #[test]
    fn parse_float_reads_the_leading_number_like_javascript() {
        assert_eq!(js_parse_float("  42abc"), Some(42.0));
        assert_eq!(js_parse_float("4.5e1x"), Some(45.0));
        assert_eq!(js_parse_float("abc"), None);
    }
}
