//! Judging a session: the gate's verdict, the console report and JUnit.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::check::{CheckResult, Level, Outcome};
use crate::evidence::Evidence;

/// Runs every check on the evidence.
pub fn judge(checks: &[&'static crate::Check], evidence: &Evidence) -> Vec<CheckResult> {
    checks.iter().map(|c| CheckResult { check: c, outcome: (c.verify)(evidence) }).collect()
}

/// Whether a result fails the gate: a MUST that failed; a SHOULD that failed, in strict
/// mode. A check that does not apply never does; a blocked one leaves the gate undecided
/// ([`undecided`]).
pub fn fails_gate(r: &CheckResult, strict: bool) -> bool {
    matches!(r.outcome, Outcome::Fail { .. }) && (r.check.level == Level::Must || strict)
}

/// Whether a blocked result leaves the gate undecided: a MUST the gate could not judge (a
/// SHOULD too, in strict mode).
pub fn undecided(r: &CheckResult, strict: bool) -> bool {
    matches!(r.outcome, Outcome::Blocked { .. }) && (r.check.level == Level::Must || strict)
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the connector passes.
    pub passed: bool,
    /// Process exit code: 0 passes, 1 fails (a requirement broken, or nothing passed), 2 the
    /// gate could not judge every requirement (blocked checks, nothing failed).
    pub exit_code: i32,
    /// The one-line summary.
    pub line: String,
}

/// The gate: FAIL when a result [`fails_gate`] or nothing passed; otherwise BLOCKED (exit
/// 2) when a result leaves it [`undecided`]; otherwise PASS. Checks that do not apply are
/// counted and never decide.
pub fn verdict(connector_type: &str, results: &[CheckResult], strict: bool) -> Verdict {
    let count = |v: &str| results.iter().filter(|r| r.outcome.verdict() == v).count();
    let (passed, failed, blocked, not_applicable) = (count("PASS"), count("FAIL"), count("BLOCKED"), count("NOT APPLICABLE"));
    let failing = results.iter().any(|r| fails_gate(r, strict)) || passed == 0;
    let undecided = results.iter().any(|r| undecided(r, strict));
    let (word, exit_code) = match (failing, undecided) {
        (true, _) => ("FAIL", 1),
        (false, true) => ("BLOCKED", 2),
        (false, false) => ("PASS", 0),
    };
    let mode = if strict { ", strict" } else { "" };
    let why = match (passed, word) {
        (0, _) => " (nothing passed)",
        (_, "BLOCKED") => " (the gate could not judge every requirement)",
        _ => "",
    };
    let line = format!(
        "conformance {connector_type}{mode}: {passed} passed, {failed} failed, {not_applicable} not applicable, {blocked} blocked of {} checks — {word}{why}",
        results.len(),
    );
    Verdict { passed: exit_code == 0, exit_code, line }
}

/// One line per result (`✔ REG-001 …`), as the console shows them.
pub fn line(r: &CheckResult) -> String {
    let mark = match r.outcome {
        Outcome::Pass => "✔",
        Outcome::Fail { .. } => "✘",
        Outcome::NotApplicable { .. } => "–",
        Outcome::Blocked { .. } => "⊘",
    };
    let level = match r.check.level {
        Level::Must => "",
        Level::Should => " (SHOULD)",
    };
    format!("{mark} {} {}{level} — {}", r.check.id, r.check.title, r.outcome.verdict())
}

/// What a failed or blocked check says: Requirement / Expected / Actual, then the citation.
pub fn details(r: &CheckResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  Requirement: {}", r.check.requirement);
    match &r.outcome {
        Outcome::Fail { expected, actual } => {
            let _ = writeln!(out, "  Expected:    {expected}");
            let _ = writeln!(out, "  Actual:      {actual}");
        }
        Outcome::Blocked { reason } => {
            let _ = writeln!(out, "  Blocked:     {reason}");
        }
        Outcome::NotApplicable { reason } => {
            let _ = writeln!(out, "  Why:         {reason}");
            return out;
        }
        Outcome::Pass => {}
    }
    let _ = writeln!(out, "  Cites:       {}", r.check.cites);
    out
}

/// The whole console report.
pub fn console(connector_type: &str, results: &[CheckResult], strict: bool) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(out, "{}", line(r));
        if !matches!(r.outcome, Outcome::Pass) {
            out.push_str(&details(r));
        }
    }
    let _ = writeln!(out, "{}", verdict(connector_type, results, strict).line);
    out
}

/// The JUnit report: one test case per check, named `ID title`. A failure that fails the
/// gate is a `failure`, one that does not (a SHOULD, without `--strict`) an `error`; both
/// have type `FAIL`. A blocked check is an `error` of type `BLOCKED` when it leaves the gate
/// undecided, a skipped case whose message starts with `blocked:` otherwise; a check that
/// does not apply is a skipped case whose message starts with `not applicable:`.
pub fn junit(connector_type: &str, results: &[CheckResult], strict: bool, output: &str) -> String {
    let mut suite = TestSuite::new(format!("conformance {connector_type}"));
    for r in results {
        let status = match &r.outcome {
            Outcome::Pass => TestCaseStatus::success(),
            Outcome::Fail { expected, actual } => {
                let kind = if fails_gate(r, strict) { NonSuccessKind::Failure } else { NonSuccessKind::Error };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_type("FAIL");
                s.set_message(format!("{}: expected {expected}; actual {actual}", r.check.level.as_str()));
                s.set_description(details(r));
                s
            }
            Outcome::Blocked { reason } if undecided(r, strict) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_type("BLOCKED");
                s.set_message(format!("blocked: {reason}"));
                s.set_description(details(r));
                s
            }
            Outcome::Blocked { reason } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("blocked: {reason}"));
                s
            }
            Outcome::NotApplicable { reason } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("not applicable: {reason}"));
                s
            }
        };
        let mut case = TestCase::new(format!("{} {}", r.check.id, r.check.title), status);
        case.set_classname(format!("conformance.{}", r.check.id.rsplit_once('-').map_or(r.check.id, |(p, _)| p)));
        suite.add_test_case(case);
    }
    suite.set_system_out(output.to_string());
    let mut report = quick_junit::Report::new("opencti-mock conform");
    report.add_test_suite(suite);
    report.to_string().unwrap_or_else(|e| format!("<!-- JUnit report could not be written: {e} -->"))
}

/// The verdict of each check in a JUnit report written by [`junit`]: `(ID, PASS | FAIL |
/// NOT APPLICABLE | BLOCKED)`, in report order.
pub fn verdicts_from_junit(xml: &str) -> Result<Vec<(String, String)>, String> {
    let report = quick_junit::Report::deserialize_from_str(xml).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for suite in &report.test_suites {
        for case in &suite.test_cases {
            let name = case.name.as_str();
            let id = name.split_whitespace().next().unwrap_or(name).to_string();
            let verdict = match &case.status {
                TestCaseStatus::Success { .. } => "PASS",
                TestCaseStatus::NonSuccess { ty, .. } if ty.as_ref().is_some_and(|t| t.as_str() == "BLOCKED") => "BLOCKED",
                TestCaseStatus::NonSuccess { .. } => "FAIL",
                TestCaseStatus::Skipped { message, .. }
                    if message.as_ref().is_some_and(|m| m.as_str().starts_with("blocked:")) =>
                {
                    "BLOCKED"
                }
                TestCaseStatus::Skipped { message, .. }
                    if message.as_ref().is_some_and(|m| m.as_str().starts_with("not applicable:")) =>
                {
                    "NOT APPLICABLE"
                }
                TestCaseStatus::Skipped { .. } => {
                    return Err(format!("{id}: a skipped case that is neither blocked nor not applicable"));
                }
            };
            out.push((id, verdict.to_string()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Check;

    fn check(level: Level) -> &'static Check {
        Box::leak(Box::new(Check {
            id: "TEST-001",
            title: "t",
            level,
            requirement: "r",
            cites: "c",
            applies_to: &[],
            enforced_by_pycti: false,
            verify: |_| Outcome::Pass,
        }))
    }

    fn result(level: Level, outcome: Outcome) -> CheckResult {
        CheckResult { check: check(level), outcome }
    }

    #[test]
    fn the_gate_fails_on_must_failures_and_when_nothing_passed_and_is_undecided_on_blocked_musts() {
        let pass = result(Level::Must, Outcome::Pass);
        let should_fail = result(Level::Should, Outcome::fail("a", "b"));
        assert!(verdict("X", &[pass.clone(), should_fail.clone()], false).passed);
        assert!(!verdict("X", &[pass.clone(), should_fail], true).passed, "SHOULD failures count in strict mode");
        let must_fail = verdict("X", &[pass.clone(), result(Level::Must, Outcome::fail("a", "b"))], false);
        assert_eq!((must_fail.passed, must_fail.exit_code), (false, 1));
        let blocked = verdict("X", &[pass.clone(), result(Level::Must, Outcome::blocked("x"))], false);
        assert_eq!((blocked.passed, blocked.exit_code), (false, 2));
        assert!(blocked.line.ends_with("BLOCKED (the gate could not judge every requirement)"), "{}", blocked.line);
        let not_applicable = verdict("X", &[pass, result(Level::Must, Outcome::not_applicable("no job fits"))], false);
        assert_eq!((not_applicable.passed, not_applicable.exit_code), (true, 0), "a check that does not apply never decides");
        assert!(not_applicable.line.contains("1 not applicable"), "{}", not_applicable.line);
        let only_blocked_should = verdict("X", &[result(Level::Should, Outcome::blocked("x"))], false);
        assert!(!only_blocked_should.passed && only_blocked_should.line.contains("nothing passed"));
        assert_eq!(only_blocked_should.exit_code, 1);
    }

    #[test]
    fn failures_print_requirement_expected_actual_and_the_citation() {
        let r = result(Level::Must, Outcome::fail("one work", "none"));
        let text = console("X", &[r], false);
        assert!(text.contains("✘ TEST-001 t — FAIL"));
        assert!(text.contains("Requirement: r") && text.contains("Expected:    one work") && text.contains("Actual:      none"));
        assert!(text.contains("Cites:       c"));
        assert!(text.trim_end().ends_with("— FAIL (nothing passed)"), "{text}");
    }

    #[test]
    fn junit_names_each_case_by_id() {
        let xml = junit("X", &[result(Level::Must, Outcome::Pass), result(Level::Must, Outcome::fail("a", "b"))], false, "out");
        assert!(xml.contains("name=\"TEST-001 t\""), "{xml}");
        assert!(xml.contains("<failure"), "{xml}");
    }

    #[test]
    fn junit_verdicts_read_back() {
        let results = [
            result(Level::Must, Outcome::Pass),
            result(Level::Should, Outcome::fail("a", "b")),
            result(Level::Must, Outcome::blocked("x")),
            result(Level::Should, Outcome::blocked("y")),
            result(Level::Must, Outcome::not_applicable("z")),
        ];
        let xml = junit("X", &results, false, "");
        let verdicts: Vec<String> = verdicts_from_junit(&xml).unwrap().into_iter().map(|(_, v)| v).collect();
        assert_eq!(verdicts, ["PASS", "FAIL", "BLOCKED", "BLOCKED", "NOT APPLICABLE"]);
    }
}
