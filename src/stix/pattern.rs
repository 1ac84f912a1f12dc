//! STIX patterns: validation of `pattern_type: "stix"` indicator patterns.
//!
//! The language is STIX Patterning as defined by STIX Version 2.1 (OASIS Standard, 10 June
//! 2021), section 9 "STIX Patterning": observation expressions (9.5) joined by `AND`, `OR`
//! and `FOLLOWEDBY` and qualified by `WITHIN`, `REPEATS` and `START`/`STOP`; comparison
//! expressions (9.6) over object paths (9.4) and constants (9.2). The grammar is in
//! `pattern.pest`, next to this file.
//!
//! The real platform refuses an indicator whose STIX pattern fails
//! `stix2patterns.validator.run_validator` (the OASIS `cti-pattern-validator`, whose
//! grammar is `STIXPattern.g4`), so [`parse_pattern`] accepts what that validator accepts,
//! except for the three checks listed further down. In particular: keywords are upper case
//! (booleans lower case), `==` and `<>` are accepted as spellings of `=` and `!=`, comments
//! (`/* */`, `//`) count as whitespace, object types may hold hyphens but property names
//! must be quoted to hold them (`hashes.'SHA-256'`), a pattern must begin
//! with `[` (after any `(`), a qualifier type may appear only once directly on one
//! `[...]`, and a comparison on `hashes.<algorithm>` must carry a well-formed digest for
//! the algorithms that validator knows. Where the validator crashes (a negative list
//! index, a list index right after `hashes`) the platform refuses the pattern, and so does
//! this module.
//!
//! Checks the grammar alone cannot express, taken from the specification's prose and
//! RFC 3339, are made by [`check_pattern`] only (the STIX findings channel): the platform's
//! validator does not make them, so [`parse_pattern`] — what the platform refuses —
//! accepts patterns that break them:
//! - a timestamp must be a real calendar date (RFC 3339 section 5.7: no `2023-02-29`),
//! - the number in `WITHIN n SECONDS` and `REPEATS n TIMES` must be positive,
//! - the `START` timestamp must be earlier than the `STOP` timestamp.
//!
//! Nesting of brackets and parentheses is limited to [`MAX_NESTING`] levels (the Python
//! validator runs out of recursion a little deeper).

use std::fmt;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

#[allow(missing_docs)]
mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "stix/pattern.pest"]
    pub(super) struct PatternParser;
}

use grammar::{PatternParser, Rule};

/// The deepest nesting of `[`/`(` a pattern may use.
pub const MAX_NESTING: usize = 200;

/// How many characters of the pattern an error quotes from its position on.
const NEAR_CHARS: usize = 24;

/// Why a pattern is not valid STIX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// What is wrong, e.g. `expected an object path`.
    pub message: String,
    /// Byte offset into the pattern where the problem was found.
    pub position: usize,
    /// The pattern text from `position` on, shortened and with control characters
    /// escaped; empty when the problem is at the end of the pattern.
    pub near: String,
}

impl PatternError {
    fn new(pattern: &str, position: usize, message: impl Into<String>) -> Self {
        let mut position = position.min(pattern.len());
        while !pattern.is_char_boundary(position) {
            position -= 1;
        }
        let rest = &pattern[position..];
        let mut near = String::new();
        for c in rest.chars().take(NEAR_CHARS) {
            if c.is_control() {
                near.extend(c.escape_default());
            } else {
                near.push(c);
            }
        }
        if rest.chars().nth(NEAR_CHARS).is_some() {
            near.push_str("...");
        }
        PatternError { message: message.into(), position, near }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pattern is not valid STIX: {} at position {}", self.message, self.position)?;
        if self.near.is_empty() { f.write_str(" (end of pattern)") } else { write!(f, " (\"{}\")", self.near) }
    }
}

impl std::error::Error for PatternError {}

/// Checks `pattern` as the platform does before accepting an indicator with
/// `pattern_type: "stix"` (what `stix2-patterns` accepts).
///
/// On failure the error names the first problem in the pattern and its byte offset.
pub fn parse_pattern(pattern: &str) -> Result<(), PatternError> {
    check(pattern, false)
}

/// Checks that `pattern` is a valid STIX 2.1 pattern (STIX 2.1 section 9): what
/// [`parse_pattern`] checks, plus the specification's rules the platform does not enforce
/// (see the module documentation).
pub fn check_pattern(pattern: &str) -> Result<(), PatternError> {
    check(pattern, true)
}

fn check(pattern: &str, strict: bool) -> Result<(), PatternError> {
    check_opening_bracket(pattern)?;
    check_nesting(pattern)?;
    let pairs = PatternParser::parse(Rule::pattern, pattern).map_err(|e| syntax_error(pattern, &e))?;
    let first_problem = pairs.flatten().filter_map(|pair| check_pair(pattern, pair, strict).err()).min_by_key(|e| e.position);
    match first_problem {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The reference lexer's whitespace (`WHITESPACE` in the grammar).
fn is_layout_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// A pattern must open with `[`, after any `(` and whitespace; the reference validator
/// refuses anything else, even a leading comment.
fn check_opening_bracket(pattern: &str) -> Result<(), PatternError> {
    if pattern.chars().all(is_layout_space) {
        return Err(PatternError::new(pattern, 0, "the pattern is empty"));
    }
    match pattern.char_indices().find(|&(_, c)| c != '(' && !is_layout_space(c)) {
        Some((_, '[')) => Ok(()),
        Some((i, _)) if pattern[i..].starts_with("/*") || pattern[i..].starts_with("//") => Err(PatternError::new(
            pattern,
            i,
            "expected '[' to open the first observation expression (a comment may not come first)",
        )),
        Some((i, _)) => Err(PatternError::new(pattern, i, "expected '[' to open an observation expression")),
        None => Err(PatternError::new(pattern, pattern.len(), "expected '[' to open an observation expression")),
    }
}

/// Refuses nesting deeper than [`MAX_NESTING`], skipping string literals and comments.
fn check_nesting(pattern: &str) -> Result<(), PatternError> {
    let b = pattern.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => match pattern[i + 2..].find("*/") {
                Some(end) => i += 2 + end + 2,
                None => return Ok(()),
            },
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            }
            b'(' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(PatternError::new(
                        pattern,
                        i,
                        format!("brackets and parentheses nest deeper than {MAX_NESTING} levels"),
                    ));
                }
                i += 1;
            }
            b')' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Syntax errors

fn syntax_error(pattern: &str, e: &pest::error::Error<Rule>) -> PatternError {
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((start, _)) => start,
    };
    if let Some(literal_problem) = diagnose_literal(pattern, pos) {
        return literal_problem;
    }
    let expected = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => expected_message(positives),
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let mut message = match keyword_case_hint(&pattern[pos..]) {
        Some(hint) => format!("{hint}; {expected}"),
        None => expected,
    };
    // `'it's'`: the string ended early, at an unescaped quote.
    if pattern[..pos].ends_with('\'') && pattern[pos..].contains('\'') {
        message.push_str(" (a quote inside a string is written \\')");
    }
    PatternError::new(pattern, pos, message)
}

/// A quoted literal at `pos` that never ends, or holds a backslash that escapes nothing.
fn diagnose_literal(pattern: &str, pos: usize) -> Option<PatternError> {
    let rest = &pattern[pos..];
    let (quote, kind) = if rest.starts_with('\'') {
        (0, "string")
    } else if rest.starts_with("t'") {
        (1, "timestamp")
    } else if rest.starts_with("h'") {
        (1, "hex")
    } else if rest.starts_with("b'") {
        (1, "binary")
    } else {
        return None;
    };
    let mut chars = rest.char_indices().skip(quote + 1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' => return None,
            '\\' if kind == "string" => match chars.next() {
                Some((_, '\'' | '\\')) => {}
                Some((_, other)) => {
                    let message = format!(
                        "invalid escape '\\{other}' in a string literal: only \\' and \\\\ are escapes (write a backslash as \\\\)"
                    );
                    return Some(PatternError::new(pattern, pos + i, message));
                }
                None => break,
            },
            _ => {}
        }
    }
    let message = format!("unterminated {kind} literal: no closing quote (a quote inside a string is written \\')");
    Some(PatternError::new(pattern, pos, message))
}

const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUPERSET",
    "ISSUBSET",
    "EXISTS",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "WITHIN",
    "REPEATS",
    "TIMES",
];

/// A keyword written in the wrong case at the start of `rest`.
fn keyword_case_hint(rest: &str) -> Option<String> {
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    let word = &rest[..end];
    let upper = word.to_ascii_uppercase();
    let lower = word.to_ascii_lowercase();
    if word != upper && KEYWORDS.contains(&upper.as_str()) {
        Some(format!("keywords are upper case ('{word}' should be '{upper}')"))
    } else if word != lower && (lower == "true" || lower == "false") {
        Some(format!("booleans are lower case ('{word}' should be '{lower}')"))
    } else {
        None
    }
}

fn is_literal(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::int_pos
            | Rule::int_neg
            | Rule::float_pos
            | Rule::float_neg
            | Rule::string
            | Rule::hex
            | Rule::binary
            | Rule::timestamp
            | Rule::bool_lit
            | Rule::malformed_timestamp
            | Rule::malformed_hex
            | Rule::malformed_binary
            | Rule::index_star
    )
}

fn is_comparison_operator(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::EQ
            | Rule::NEQ
            | Rule::LT
            | Rule::LE
            | Rule::GT
            | Rule::GE
            | Rule::IN
            | Rule::LIKE
            | Rule::MATCHES
            | Rule::ISSUBSET
            | Rule::ISSUPERSET
    )
}

/// What a set of expected literal tokens amounts to.
fn literal_description(literals: &[Rule]) -> &'static str {
    let only = |set: &[Rule]| literals.iter().all(|r| set.contains(r));
    if literals.contains(&Rule::path_ident) {
        "a property name"
    } else if only(&[Rule::string]) {
        "a quoted string"
    } else if only(&[Rule::int_pos]) {
        "a positive integer"
    } else if only(&[Rule::int_pos, Rule::float_pos]) {
        "a positive number"
    } else if only(&[Rule::timestamp, Rule::malformed_timestamp]) {
        "a timestamp such as t'2020-01-31T23:59:59Z'"
    } else if only(&[Rule::int_pos, Rule::int_neg, Rule::index_star]) {
        "a list index (a number or '*')"
    } else {
        "a value (a quoted string, number, boolean, t'timestamp', h'hex' or b'base64')"
    }
}

fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "the end of the pattern",
        Rule::pattern
        | Rule::observation_expressions
        | Rule::observation_or
        | Rule::observation_and
        | Rule::qualified_observation
        | Rule::simple_observation
        | Rule::compound_observation => "an observation expression ('[...]')",
        Rule::comparison_expression
        | Rule::comparison_and
        | Rule::comparison
        | Rule::exists_test
        | Rule::paren_comparison
        | Rule::object_path
        | Rule::object_type => "an object path",
        Rule::set_literal => "a parenthesised list of values such as ('a', 'b')",
        Rule::within_qualifier | Rule::WITHIN => "WITHIN",
        Rule::repeats_qualifier | Rule::REPEATS => "REPEATS",
        Rule::start_stop_qualifier | Rule::START => "START",
        Rule::STOP => "STOP",
        Rule::SECONDS => "SECONDS",
        Rule::TIMES => "TIMES",
        Rule::AND => "AND",
        Rule::OR => "OR",
        Rule::NOT => "NOT",
        Rule::EXISTS => "EXISTS",
        Rule::FOLLOWEDBY => "FOLLOWEDBY",
        Rule::LBRACK | Rule::index_step => "'['",
        Rule::RBRACK => "']'",
        Rule::LPAREN => "'('",
        Rule::RPAREN => "')'",
        Rule::COLON => "':'",
        Rule::COMMA => "','",
        Rule::DOT | Rule::key_step => "'.'",
        _ => "a valid token",
    }
}

/// `expected A, B or C` from the rules pest tried at the error position.
fn expected_message(positives: &[Rule]) -> String {
    let operator_expected = positives.iter().any(|&r| is_comparison_operator(r));
    let literals: Vec<Rule> = positives.iter().copied().filter(|&r| is_literal(r) || r == Rule::path_ident).collect();
    let mut items: Vec<&str> = Vec::new();
    for &rule in positives {
        let item = if is_comparison_operator(rule) {
            "a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET or ISSUPERSET)"
        } else if operator_expected && matches!(rule, Rule::NOT | Rule::DOT | Rule::key_step | Rule::LBRACK | Rule::index_step) {
            continue;
        } else if is_literal(rule) || rule == Rule::path_ident {
            literal_description(&literals)
        } else {
            describe(rule)
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    match items.split_last() {
        None => "unexpected input".to_string(),
        Some((last, [])) => format!("expected {last}"),
        Some((last, rest)) => format!("expected {} or {last}", rest.join(", ")),
    }
}

// ---------------------------------------------------------------------------------------
// Checks on the parse tree

fn check_pair(pattern: &str, pair: Pair<'_, Rule>, strict: bool) -> Result<(), PatternError> {
    let start = pair.as_span().start();
    let fail = |message: String| Err(PatternError::new(pattern, start, message));
    match pair.as_rule() {
        Rule::qualified_observation => check_qualifiers(pattern, pair, strict),
        Rule::timestamp | Rule::malformed_timestamp => match parse_timestamp(pair.as_str(), strict) {
            Ok(_) => Ok(()),
            Err(message) => fail(message),
        },
        Rule::malformed_hex => fail(format!("hex literal {} must hold pairs of hexadecimal digits", pair.as_str())),
        Rule::malformed_binary => fail(format!("binary literal {} must hold non-empty, padded base64", pair.as_str())),
        Rule::index_step => match pair.into_inner().find(|p| p.as_rule() == Rule::int_neg) {
            Some(index) => {
                Err(PatternError::new(pattern, index.as_span().start(), format!("list index {} is negative", index.as_str())))
            }
            None => Ok(()),
        },
        Rule::comparison => check_hash_value(pattern, pair),
        _ => Ok(()),
    }
}

/// A `WITHIN`/`REPEATS` number is positive when any digit is not zero.
fn is_positive(number: &str) -> bool {
    number.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// The qualifiers applied to one observation expression: (as the reference validator
/// requires) no qualifier type twice directly on a `[...]`, and when `strict`, positive
/// numbers and START before STOP.
fn check_qualifiers(pattern: &str, pair: Pair<'_, Rule>, strict: bool) -> Result<(), PatternError> {
    let mut inner = pair.into_inner();
    let Some(base) = inner.next() else { return Ok(()) };
    let on_simple = base.as_rule() == Rule::simple_observation;
    let mut seen: Vec<Rule> = Vec::new();
    for qualifier in inner {
        let rule = qualifier.as_rule();
        let start = qualifier.as_span().start();
        let keyword = describe(rule);
        if on_simple && seen.contains(&rule) {
            let message = format!("duplicate {keyword} qualifier on one observation expression");
            return Err(PatternError::new(pattern, start, message));
        }
        seen.push(rule);
        let parts: Vec<Pair<'_, Rule>> = qualifier.into_inner().collect();
        match rule {
            _ if !strict => {}
            Rule::within_qualifier | Rule::repeats_qualifier => {
                let number = &parts[1];
                if !is_positive(number.as_str()) {
                    let what = if rule == Rule::within_qualifier { "a positive number of seconds" } else { "a positive count" };
                    let message = format!("{keyword} needs {what}, not {}", number.as_str());
                    return Err(PatternError::new(pattern, number.as_span().start(), message));
                }
            }
            Rule::start_stop_qualifier => {
                let (from, to) = (&parts[1], &parts[3]);
                if let (Ok(a), Ok(b)) = (parse_timestamp(from.as_str(), true), parse_timestamp(to.as_str(), true))
                    && a >= b
                {
                    let message = format!("START {} must be earlier than STOP {}", from.as_str(), to.as_str());
                    return Err(PatternError::new(pattern, start, message));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A timestamp as a sortable key: year, month, day, hour, minute, second, and the
/// fraction digits without trailing zeros.
type TimestampKey = ([u32; 6], String);

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `t'YYYY-MM-DDTHH:MM:SS[.fraction]Z'`: an RFC 3339 date-time in UTC; when
/// `strict`, with a real calendar date (RFC 3339 section 5.7), otherwise any day 01-31 as
/// the reference grammar allows. Second 60 (a leap second) is accepted, as the STIX
/// timestamp grammar accepts it.
fn parse_timestamp(text: &str, strict: bool) -> Result<TimestampKey, String> {
    let shape = || {
        format!(
            "timestamp {text} is not an RFC 3339 UTC date-time such as t'2020-01-31T23:59:59Z' or t'2020-01-31T23:59:59.123Z'"
        )
    };
    let body = text.strip_prefix("t'").and_then(|s| s.strip_suffix('\'')).ok_or_else(shape)?;
    let b = body.as_bytes();
    let digits = |from: usize, to: usize| b.get(from..to).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    let fields_ok = [(0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)].iter().all(|&(f, t)| digits(f, t));
    if !fields_ok || separators.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return Err(shape());
    }
    let tail = &body[19..];
    let fraction = match tail.strip_suffix('Z') {
        Some("") => "",
        Some(f) if f.len() > 1 && f.starts_with('.') && f[1..].bytes().all(|c| c.is_ascii_digit()) => &f[1..],
        Some(_) => return Err(shape()),
        None => return Err(format!("timestamp {text} must be in UTC and end with Z")),
    };
    let field = |from: usize, to: usize| body[from..to].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (field(0, 4), field(5, 7), field(8, 10));
    let (hour, minute, second) = (field(11, 13), field(14, 16), field(17, 19));
    if !(1..=12).contains(&month) {
        return Err(format!("timestamp {text} has month {month:02}, which does not exist"));
    }
    if day == 0 || day > if strict { days_in_month(year, month) } else { 31 } {
        return Err(format!("timestamp {text} has day {day:02}, which does not exist in {year:04}-{month:02}"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("timestamp {text} has a time of day out of range (hours 00-23, minutes 00-59, seconds 00-60)"));
    }
    Ok(([year, month, day, hour, minute, second], fraction.trim_end_matches('0').to_string()))
}

/// One step of an object path.
enum PathStep {
    Key(String),
    Index,
    Star,
}

/// The text of a string literal without its quotes and escapes.
fn unquote(literal: &str) -> String {
    let inner = &literal[1..literal.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

fn path_steps(path: Pair<'_, Rule>) -> Vec<PathStep> {
    let mut steps = Vec::new();
    for part in path.into_inner() {
        match part.as_rule() {
            Rule::path_ident => steps.push(PathStep::Key(part.as_str().to_string())),
            Rule::string => steps.push(PathStep::Key(unquote(part.as_str()))),
            Rule::key_step | Rule::index_step => {
                for step in part.into_inner() {
                    match step.as_rule() {
                        Rule::path_ident => steps.push(PathStep::Key(step.as_str().to_string())),
                        Rule::string => steps.push(PathStep::Key(unquote(step.as_str()))),
                        Rule::index_star => steps.push(PathStep::Star),
                        Rule::int_pos | Rule::int_neg => steps.push(PathStep::Index),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    steps
}

fn all_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `value` is a well-formed digest for the hash `algorithm` (upper case, without
/// `-`), as the reference validator's expressions accept it; `None` for algorithms it does
/// not check. Like Python's `$`, a single trailing newline is tolerated, and MD6 only
/// needs to start with 32 hex digits (the reference expression is unanchored there).
fn hash_value_ok(algorithm: &str, value: &str) -> Option<bool> {
    let exact = value.strip_suffix('\n').unwrap_or(value);
    let hex_of = |len: usize| exact.len() == len && all_hex(exact);
    Some(match algorithm {
        "MD5" => hex_of(32),
        "SHA1" | "RIPEMD160" => hex_of(40),
        "SHA224" | "SHA3224" => hex_of(56),
        "SHA256" | "SHA3256" => hex_of(64),
        "SHA384" | "SHA3384" => hex_of(96),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => hex_of(128),
        "MD6" => {
            value.get(..32).is_some_and(all_hex) || value.strip_prefix("\n    ").and_then(|v| v.get(..64)).is_some_and(all_hex)
        }
        "SSDEEP" => {
            (1..=128).contains(&exact.len())
                && exact.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b':' | b'.'))
        }
        _ => return None,
    })
}

/// A comparison on `...hashes.<algorithm>` must carry a digest of the right shape (a
/// check of the reference validator that the platform applies).
fn check_hash_value(pattern: &str, comparison: Pair<'_, Rule>) -> Result<(), PatternError> {
    let mut parts = comparison.into_inner();
    let Some(path) = parts.next() else { return Ok(()) };
    let Some(operand) = parts.last() else { return Ok(()) };
    let steps = path_steps(path);
    if !steps.iter().any(|s| matches!(s, PathStep::Key(k) if k == "hashes")) {
        return Ok(());
    }
    let at = operand.as_span().start();
    match steps.last() {
        Some(PathStep::Key(name)) => {
            let algorithm = name.to_uppercase().replace(['-', '\''], "");
            // The reference validator checks the operand's source text without quotes; for
            // a set that is the whole `(...)`, which no digest matches.
            let text = match operand.as_rule() {
                Rule::set_literal => operand.into_inner().map(|p| p.as_str()).collect::<String>(),
                _ => operand.as_str().to_string(),
            };
            let value = text.replace('\'', "");
            let message = if text.starts_with('(') {
                format!(
                    "{name} cannot be compared with IN: the platform's validator reads the list '{value}' as one {name} digest"
                )
            } else {
                format!("'{value}' is not a valid {name} hash")
            };
            match hash_value_ok(&algorithm, &value) {
                Some(false) => Err(PatternError::new(pattern, at, message)),
                _ => Ok(()),
            }
        }
        Some(PathStep::Index) => {
            Err(PatternError::new(pattern, at, "a hash must be selected by algorithm name (hashes.MD5), not by list index"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Patterns the platform accepts, by source.
    const VALID: &[&str] = &[
        // --- STIX 2.1 section 9 examples, as collected by OASIS in cti-pattern-validator
        // `stix2patterns/test/v21/spec_examples.txt` (stix2-patterns 2.1.2). That file keeps
        // the STIX 2.0 type name `win-registry-key`; the 2.1 spelling is listed after it.
        r"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
        r"[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']",
        r"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']",
        r"[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
        r"([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS",
        r"([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS",
        r"[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']",
        r"[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']",
        r"[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']",
        r"[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
        r"[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']",
        r"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']",
        r"[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS",
        r"[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']",
        r"[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']",
        r"[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']",
        r"[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']",
        r"[(file:name = 'pdf.exe' OR file:size = '371712') AND file:created = t'2014-01-13T07:03:17Z']",
        r"[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']",
        r"[x-usb-device:usbdrive.serial_number = '575833314133343231313937']",
        r"[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES'^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS",
        r"[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']",
        r"([file:name = 'foo.dll'] AND [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:name = 'fooproc' OR process:name = 'procfoo']",
        r"[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a69faa']",
        // --- cti-pattern-validator `stix2patterns/test/v21/test_validator.py`, PASS_CASES.
        r"[file:size = 1280]",
        r"[file:size != 1280]",
        r"[file:size < 1024]",
        r"[file:size <= 1024]",
        r"[file:size > 1024]",
        r"[file:size >= 1024]",
        r"[file:file_name = 'my_file_name']",
        r"[file:extended_properties.'ntfs-ext'.sid = '234']",
        r"[emailaddr:value MATCHES '.+\\@ibm\\.com$' OR file:name MATCHES '^Final Report.+\\.exe$']",
        r"[ipv4addr:value ISSUBSET '192.168.0.1/24']",
        r"[ipv4addr:value NOT ISSUBSET '192.168.0.1/24']",
        r"[user-account:value = 'Peter'] AND [user-account:value != 'Paul'] AND [user-account:value = 'Mary'] WITHIN 5 SECONDS",
        r"[file:file_system_properties.file_name LIKE 'name%']",
        r"[file:file_name IN ('test.txt', 'test2.exe', 'README')]",
        r"[file:size IN (1024, 2048, 4096)]",
        r"[network-connection:extended_properties[0].source_payload MATCHES 'dGVzdHRlc3R0ZXN0']",
        r"[win-registry-key:key = 'hkey_local_machine\\foo\\bar'] WITHIN 5 SECONDS",
        r"[x_whatever:detected == t'2018-03-22T12:11:14.1Z']",
        r"[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']",
        r"[foo:bar=1] REPEATS 9 TIMES",
        r"[network-traffic:start = '2018-04-20T12:36:24.558Z']",
        r"( [(network-traffic:dst_port IN(443,6443,8443) AND network-traffic:src_packets != 0) ])",
        r"([win-registry-key:key = 'hkey_local_machine\\foo\\bar']) WITHIN 5 SECONDS WITHIN 6 SECONDS",
        r"([win-registry-key:key = 'hkey_local_machine\\foo\\bar'] REPEATS 2 TIMES) REPEATS 2 TIMES",
        r"[network-traffic:src_port = 37020 AND user-account:user_id = 'root'] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z' OR [ipv4-addr:value = '192.168.122.83'] START t'2016-06-01T03:55:00.123Z' STOP t'2016-06-01T04:30:24.743Z'",
        r"[file:hashes[*] = '8665c8d477534008b3058b72e2dae8ae']",
        // --- cti-pattern-validator test_validator.py, TIMESTAMP_PASS_CASES (real dates only;
        // its impossible dates are in INVALID below).
        r"[x:created = t'2024-01-15T12:30:45Z']",
        r"[x:created = t'2024-12-31T23:59:59Z']",
        r"[x:created = t'2024-01-01T00:00:00Z']",
        r"[x:created = t'2024-01-15T12:30:45.123Z']",
        r"[x:created = t'2024-01-15T12:30:45.123456Z']",
        r"[x:created = t'2024-02-29T12:00:00Z']",
        r"[x:created = t'2000-02-29T12:00:00Z']",
        r"[file:name = 'test'] START t'2024-01-01T00:00:00Z' STOP t'2024-12-31T23:59:59Z'",
        // --- cti-pattern-validator `stix2patterns/test/v21/test_inspector.py`.
        r"[foo:bar = 1]",
        r"[foo:bar = 1] REPEATS 5 TIMES",
        r"[foo:bar = 1] WITHIN 10.3 SECONDS",
        r"[foo:bar = 1] WITHIN 123 SECONDS",
        r"[foo:bar = 1] START t'1932-11-12T15:42:15Z' STOP t'1964-10-23T21:12:26Z'",
        r"[foo:bar = 1] REPEATS 1 TIMES AND [foo:baz = 2] WITHIN 1.23 SECONDS",
        r"([foo:bar = 1] START t'1932-11-12T15:42:15Z' STOP t'1964-10-23T21:12:26Z' AND [foo:abc < h'12ab']) WITHIN 22 SECONDS OR [frob:baz NOT IN (1,2,3)] REPEATS 31 TIMES",
        r"[foo:bar = 1] AND [foo:baz > 25.2]",
        r"[foo:bar = 1] OR [foo:baz != 'hello']",
        r"[foo:bar = 1] FOLLOWEDBY [foo:baz IN (1,2,3)]",
        r"[foo:bar = 1] AND [foo:baz = 22] OR [foo:abc = '123']",
        r"[foo:bar = 1] OR ([foo:baz = false] FOLLOWEDBY [frob:abc LIKE '123']) WITHIN 46.1 SECONDS",
        r"[foo:bar=1 AND foo:baz=2]",
        r"[foo:bar NOT !=1 OR bar:foo<12.3]",
        r"[foo:bar=1] OR [foo:baz MATCHES '123\\d+']",
        r"[foo:bar=1 AND bar:foo NOT >33] REPEATS 12 TIMES OR   ([baz:bar ISSUBSET '1234'] FOLLOWEDBY [baz:quux NOT LIKE 'a_cd'])",
        r"[obj-type:a.b[*][1].'c-d' NOT ISSUPERSET '1.2.3.4/16']",
        // --- Patterns OpenCTI connectors send.
        r"[ipv4-addr:value = '1.2.3.4']",
        r"[ipv6-addr:value = '2001:db8::1']",
        r"[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
        r"[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
        r"[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' OR file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
        r"[domain-name:value = 'x.com'] OR [url:value = 'http://x']",
        r"[network-traffic:dst_ref.value = '10.0.0.1' AND network-traffic:dst_port = 443]",
        r"[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\SOFTWARE']",
        r"[x-opencti-hostname:value = 'a']",
        r"[hostname:value = 'host.example.org']",
        r"[cryptocurrency-wallet:value = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa']",
        r"[email-addr:value = 'phish@example.com']",
        r"[url:value = 'https://example.com/it\'s?q=1']",
        r"[user-agent:value = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)']",
        r"[autonomous-system:number = 64496]",
        r"[mac-addr:value = '00:00:5e:00:53:af']",
        r"[x509-certificate:hashes.'SHA-256' = '0000000000000000000000000000000000000000000000000000000000000000']",
        r"[file:name = 'invoice.pdf.exe' AND file:size > 1000000]",
        r"[text:value = 'line one
line two']",
        // --- Grammar corners (spec 9 and the OASIS grammar), each accepted by stix2-patterns.
        r"[EXISTS windows-registry-key:values]",
        r"[NOT EXISTS file:hashes.MD5]",
        r"[ipv4-addr:value NOT = '1.2.3.4']",
        r"[ipv4-addr:value <> '1.2.3.4']",
        r"[file:size NOT < 1]",
        r"[foo:'quoted'.'path with spaces'[0] = true]",
        r"[foo:bar.'it\'s' = 'a\\b']",
        r"[foo-:bar = -0]",
        r"[foo:bar IN ()]",
        r"[foo:bar IN (true, 'a', 1, -2.5, h'', b'YQ==', t'2020-01-01T00:00:00Z')]",
        r"[foo:bar = +5] WITHIN +.5 SECONDS",
        r"[foo:bar = .5 OR foo:baz = -.5]",
        r"[foo:bar[+1] = 1]",
        r"[foo:bar = 1AND foo:baz = 2]",
        r"[foo:bar = 1]AND[foo:bar=2]",
        r"[foo:bar=1]WITHIN 5SECONDS",
        r"[foo:bar = /* comment */ 1] // trailing comment",
        r"[ foo : bar . baz [ 0 ] = 1 ]",
        "\u{3000}[foo:bar = 1]\u{A0}",
        r"[foo:bar = 1] WITHIN 5 SECONDS REPEATS 2 TIMES",
        r"[foo:bar = 1] REPEATS 2 TIMES WITHIN 5 SECONDS START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
        r"[a:b = 1] REPEATS 2 TIMES AND [c:d = 1] REPEATS 2 TIMES",
        r"[foo:bar = t'2016-12-31T23:59:60Z']",
        r"[foo:bar = 1] START t'2020-01-01T00:00:00.1Z' STOP t'2020-01-01T00:00:00.10001Z'",
        r"[file:hashes.MD6 = 'cead3f77f6cda6ec00f57d76c9a6879fzzzz']",
        r"[file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']",
        r"[file:hashes.'SHA3-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
        r"[file:hashes.TLSH = 'anything goes']",
        r"[AND-x:y = 1 AND INx:OR_ = 'z']",
        r"(((([foo:bar = 1]))))",
        r"[((foo:bar = 1))]",
    ];

    /// Patterns the platform refuses (stix2-patterns reports an error or crashes), except
    /// where a comment says the reference validator accepts them.
    const INVALID: &[&str] = &[
        // --- cti-pattern-validator `stix2patterns/test/v21/test_validator.py`, FAIL_CASES.
        r"file:size = 1280",
        r"[file:size = ]",
        r"[file:hashes.MD5 = cead3f77f6cda6ec00f57d76c9a6879f]",
        r"[file.size = 1280]",
        r"[file:name MATCHES /.*\\.dll/]",
        r"[win-registry-key:key = 'hkey_local_machine\\foo\\bar'] WITHIN ]",
        r"[win-registry-key:key = 'hkey_local_machine\\foo\\bar'] WITHIN 5 HOURS]",
        r"[win-registry-key:key = 'hkey_local_machine\\foo\\bar'] WITHIN -5 SECONDS]",
        r"[network-traffic:dst_ref.value ISSUBSET ]",
        r"[file:hashes.MD5 =? 'cead3f77f6cda6ec00f57d76c9a6879f']",
        r"[x_whatever:detected == t'2457-73-22T32:81:84.1Z']",
        r"[artifact:payload_bin = b'====']",
        r"[foo:bar=1] within 2 seconds",
        r"[file:hashes.'SHA-256' = 'f00']",
        r"[win-registry-key:key = 'hkey_local_machine\\foo\\bar'] WITHIN 5 SECONDS WITHIN 6 SECONDS",
        r"([win-registry-key:key = 'hkey_local_machine\\foo\\bar'] REPEATS 2 TIMES REPEATS 3 TIMES)",
        r"[win-registry-key:key = 'hkey_local_machine\\foo\\bar'] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z' START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z'",
        // --- test_validator.py, TIMESTAMP_FAIL_CASES.
        r"[x:created = t'2024-13-01T12:00:00Z']",
        r"[x:created = t'2024-00-01T12:00:00Z']",
        r"[x:created = t'2024-01-32T12:00:00Z']",
        r"[x:created = t'2024-01-00T12:00:00Z']",
        r"[x:created = t'2024-01-15T25:00:00Z']",
        r"[x:created = t'2024-01-15T12:60:00Z']",
        r"[x:created = t'2024-01-15T12:30:61Z']",
        r"[x:created = t'2024-01-15T12:30:45']",
        r"[x:created = t'not-a-timestamp']",
        r"[x:created = t'2024/01/15T12:30:45Z']",
        // --- Impossible calendar dates: refused here (RFC 3339 section 5.7, which STIX
        // timestamps follow). stix2-patterns ACCEPTS these three (its TIMESTAMP_PASS_CASES
        // call them "syntactically valid"); the real platform would take them.
        r"[x:created = t'2024-02-30T12:00:00Z']",
        r"[x:created = t'2024-04-31T12:00:00Z']",
        r"[x:created = t'2023-02-29T12:00:00Z']",
        // --- Qualifier values the spec rules out. stix2-patterns ACCEPTS these four (its
        // grammar takes any IntPosLiteral, 0 included, and never compares START and STOP);
        // the real platform would take them.
        r"[foo:bar = 1] REPEATS 0 TIMES",
        r"[foo:bar = 1] WITHIN 0 SECONDS",
        r"[foo:bar = 1] START t'2020-01-02T00:00:00Z' STOP t'2020-01-01T00:00:00Z'",
        r"[foo:bar = 1] START t'2020-01-01T00:00:00.5Z' STOP t'2020-01-01T00:00:00.50Z'",
        // --- Structure.
        "",
        "   ",
        r"[]",
        r"[foo:bar]",
        r"[foo:bar = 1",
        r"foo:bar = 1]",
        r"([foo:bar = 1]",
        r"[foo:bar = 1])",
        r"[foo:bar = 1] AND",
        r"[foo:bar = 1] trailing",
        r"[foo:bar = 1] [foo:baz = 2]",
        r"/* comment first */ [foo:bar = 1]",
        r"[foo:bar = 1 AND NOT foo:baz = 2]",
        r"[foo:bar EXISTS]",
        // --- Operators and operands.
        r"[foo:bar === 1]",
        r"[foo:bar ! = 1]",
        r"[foo:bar NOTIN ('a')]",
        r"[foo:bar NOT NOT = 1]",
        r"[foo:bar < true]",
        r"[foo:bar LIKE 1]",
        r"[foo:bar ISSUBSET 1]",
        r"[foo:bar IN 'a']",
        r"[foo:bar IN (1,)]",
        r"[foo:bar ＝ 1]",
        r"[foo:bar = TRUE]",
        // --- Lower-case keywords.
        r"[foo:bar = 1] and [foo:bar = 2]",
        r"[foo:bar = 1 or foo:baz = 2]",
        r"[foo:bar = 1] REPEATS 2 times",
        r"[foo:bar like 'a%']",
        // --- Literals.
        r"[foo:bar = 'unterminated]",
        r"[foo:bar = 'bad \d escape']",
        r"[foo:bar = 'it's']",
        r"[foo:bar = 01]",
        r"[foo:bar = 1.]",
        r"[foo:bar = h'abc']",
        r"[foo:bar = h'zz']",
        r"[foo:bar = b'']",
        r"[foo:bar = b'Y===']",
        r"[foo:bar = t'2020-01-01t00:00:00Z']",
        r"[foo:bar = t'2020-01-01T00:00:00+00:00']",
        r"[foo:bar = t'2020-01-01T00:00:00.Z']",
        r"[foo:bar = 1] START '2020-01-01T00:00:00Z' STOP '2021-01-01T00:00:00Z'",
        r"[foo:bar = 1] REPEATS 1.5 TIMES",
        r"[foo:bar = 1] WITHIN 5.SECONDS",
        // --- Object paths.
        r"[AND:bar = 1]",
        r"[foo:AND = 1]",
        r"[true:bar = 1]",
        r"[-foo:bar = 1]",
        r"[1foo:bar = 1]",
        r#"[foo:"bar" = 1]"#,
        r"[foo:bar-baz = 1]",
        r"[foo:bar.[0] = 1]",
        r"[foo:bar[01] = 1]",
        r"[foo:bar[-1] = 1]",
        r"[file:hashes[0] = 'x']",
        // --- Hash digests the reference validator checks.
        r"[file:hashes.MD5 = 'not-a-digest']",
        r"[file:hashes.'sha-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd8070']",
        r"[file:hashes.MD5 IN ('cead3f77f6cda6ec00f57d76c9a6879f')]",
        r"[file:hashes.SSDEEP = 'has spaces']",
        r"[file:hashes.'SHA-256' LIKE '%']",
    ];

    #[test]
    fn accepts_valid_patterns() {
        assert!(VALID.len() >= 40);
        let failures: Vec<String> =
            VALID.iter().filter_map(|p| parse_pattern(p).err().map(|e| format!("{p}\n    {e}"))).collect();
        assert!(failures.is_empty(), "valid patterns refused:\n{}", failures.join("\n"));
    }

    #[test]
    fn refuses_invalid_patterns() {
        assert!(INVALID.len() >= 25);
        let accepted: Vec<&str> = INVALID.iter().copied().filter(|p| check_pattern(p).is_ok()).collect();
        assert!(accepted.is_empty(), "invalid patterns accepted:\n{}", accepted.join("\n"));
        let accepted: Vec<&str> =
            INVALID.iter().copied().filter(|p| !SPECIFICATION_ONLY.contains(p) && parse_pattern(p).is_ok()).collect();
        assert!(accepted.is_empty(), "invalid patterns accepted:\n{}", accepted.join("\n"));
    }

    fn error(pattern: &str) -> PatternError {
        check_pattern(pattern).expect_err(pattern)
    }

    /// What the specification forbids but `stix2-patterns` (so the platform) accepts.
    const SPECIFICATION_ONLY: &[&str] = &[
        "[x:created = t'2024-02-30T12:00:00Z']",
        "[x:created = t'2024-04-31T12:00:00Z']",
        "[x:created = t'2023-02-29T12:00:00Z']",
        "[foo:bar = 1] REPEATS 0 TIMES",
        "[foo:bar = 1] WITHIN 0 SECONDS",
        "[foo:bar = 1] START t'2020-01-02T00:00:00Z' STOP t'2020-01-01T00:00:00Z'",
        "[foo:bar = 1] START t'2020-01-01T00:00:00.5Z' STOP t'2020-01-01T00:00:00.50Z'",
    ];

    #[test]
    fn the_platform_accepts_what_only_the_specification_refuses() {
        for p in SPECIFICATION_ONLY {
            assert_eq!(parse_pattern(p), Ok(()), "{p}");
            assert!(check_pattern(p).is_err(), "{p}");
        }
        // Month 13 and day 32 fail the reference grammar itself.
        assert!(parse_pattern("[a:b = t'2023-13-01T00:00:00Z']").is_err());
        assert!(parse_pattern("[a:b = t'2023-01-32T00:00:00Z']").is_err());
    }

    #[test]
    fn error_display_names_position_and_text() {
        let e = error("[ipv4-addr:value = '1.2.3.4'] AND [ = 'x']");
        assert_eq!(e.position, 36);
        assert_eq!(e.message, "expected an object path");
        assert_eq!(e.to_string(), r#"pattern is not valid STIX: expected an object path at position 36 ("= 'x']")"#);
        let e = error("[ipv4-addr:value = '1.2.3.4'] AND");
        assert_eq!(e.position, 33);
        assert!(e.to_string().ends_with("at position 33 (end of pattern)"), "{e}");
        let e = error("[file:name = 'a'] AND [file:name = 'a very long file name.exe']  trailing");
        assert_eq!(e.near, "trailing");
        let e = error("[file:name = 'a'] WITHIN 5 HOURS");
        assert_eq!(e.near, "HOURS");
        assert_eq!(e.message, "expected SECONDS");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "the pattern is empty"),
            ("file:size = 1280", 0, "expected '[' to open an observation expression"),
            ("[file:size = ]", 13, "expected a value"),
            ("[file:size 1280]", 11, "expected a comparison operator"),
            ("[file:name = 'abc]", 13, "unterminated string literal"),
            (r"[file:name = 'C:\temp']", 16, "invalid escape '\\t'"),
            ("[a:b = 1] and [c:d = 2]", 10, "keywords are upper case ('and' should be 'AND')"),
            ("[a:b = 1] REPEATS 0 TIMES", 18, "REPEATS needs a positive count, not 0"),
            ("[a:b = 1] WITHIN 0.0 SECONDS", 17, "WITHIN needs a positive number of seconds"),
            ("[a:b = t'2023-02-29T00:00:00Z']", 7, "day 29, which does not exist in 2023-02"),
            ("[a:b = t'2023-13-01T00:00:00Z']", 7, "month 13"),
            ("[a:b = t'2023-01-01T00:00:00+01:00']", 7, "must be in UTC"),
            ("[a:b = 1] START t'2021-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'", 10, "must be earlier than STOP"),
            ("[a:b = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS", 27, "duplicate WITHIN qualifier"),
            ("[a:b = h'abc']", 7, "hex literal h'abc'"),
            ("[a:b = b'Y===']", 7, "binary literal b'Y==='"),
            ("[a:b[-1] = 1]", 5, "list index -1 is negative"),
            ("[file:hashes.'SHA-256' = 'f00']", 25, "'f00' is not a valid SHA-256 hash"),
            ("[file:hashes[0] = 'x']", 18, "not by list index"),
            ("[a:b = 1] REPEATS 1.5 TIMES", 18, "expected a positive integer"),
            ("[a:b = 1] START t'2020' STOP t'2021-01-01T00:00:00Z'", 16, "not an RFC 3339 UTC date-time"),
            ("[a:b = 'it's']", 11, "a quote inside a string is written \\'"),
            ("[file:hashes.MD5 IN ('d41d8cd98f00b204e9800998ecf8427e')]", 20, "MD5 cannot be compared with IN"),
        ];
        for &(pattern, position, message) in cases {
            let e = error(pattern);
            assert_eq!(e.position, position, "{pattern}: {e}");
            assert!(e.message.contains(message), "{pattern}: {e}");
        }
    }

    #[test]
    fn the_first_problem_is_reported() {
        let e = error("[a:b = t'2023-02-30T00:00:00Z'] REPEATS 0 TIMES");
        assert_eq!(e.position, 7);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let depth = MAX_NESTING;
        let ok = format!("{}[a:b = 1]{}", "(".repeat(depth - 1), ")".repeat(depth - 1));
        assert_eq!(parse_pattern(&ok), Ok(()));
        let deep = format!("{}[a:b = 1]{}", "(".repeat(depth), ")".repeat(depth));
        assert!(error(&deep).message.contains("nest deeper"));
        let brackets_in_strings = format!("[a:b = '{}']", "(".repeat(10 * depth));
        assert_eq!(parse_pattern(&brackets_in_strings), Ok(()));
    }
}
