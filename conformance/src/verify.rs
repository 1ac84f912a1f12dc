//! The small vocabulary checks are written in: questions about the evidence, answered
//! from what went over the wire.

use serde_json::Value;

use crate::check::Outcome;
use crate::evidence::{Evidence, Operation, Work};

/// Error codes meaning the caller's token or role was not good enough.
pub const AUTH_ERRORS: &[&str] = &["AUTH_REQUIRED", "FORBIDDEN_ACCESS", "AUTH_FAILURE"];

/// The connector's first successful registration; a check that needs one is blocked
/// without it.
pub fn registration(ev: &Evidence) -> Result<&Operation, Outcome> {
    ev.calls("registerConnector")
        .find(|o| o.succeeded())
        .ok_or_else(|| Outcome::blocked("the connector never registered successfully (see REG-001)"))
}

/// Bundles pushed over GraphQL (`stixBundlePush`), in order.
pub fn pushes(ev: &Evidence) -> Vec<&Operation> {
    ev.calls("stixBundlePush").collect()
}

/// Works the connector opened itself (`workAdd`), in order.
pub fn opened_works(ev: &Evidence) -> Vec<&Work> {
    ev.works.iter().filter(|w| !w.created_by_platform && w.job.is_none()).collect()
}

/// Jobs of a role; without one, why: not applicable when the gate had no such job for this
/// connector (its plan says why), blocked when it could not send one.
pub fn jobs_of<'a>(ev: &'a Evidence, role: &str) -> Result<Vec<&'a crate::evidence::Job>, Outcome> {
    let jobs: Vec<_> = ev.jobs.iter().filter(|j| j.role == role).collect();
    if !jobs.is_empty() {
        return Ok(jobs);
    }
    Err(no_job(ev, &format!("no {role} job"), &[role]))
}

/// Why no job of the given roles was sent: the plan's reason (not applicable), or where the
/// session stopped (blocked).
pub fn no_job(ev: &Evidence, what: &str, roles: &[&str]) -> Outcome {
    if let Some((_, why)) = ev.plan_notes.iter().find(|(r, _)| roles.contains(&r.as_str())) {
        return Outcome::not_applicable(format!("{what}: {why}"));
    }
    if registration(ev).is_err() {
        return Outcome::blocked(format!("{what}: the connector never registered (see REG-001)"));
    }
    let exited = ev.runs.iter().find(|r| r.end == crate::evidence::RunEnd::Exited);
    match exited {
        Some(r) => Outcome::blocked(format!(
            "{what}: the connector exited ({}) after {:.1} s (see RUN-001)",
            r.exit_code.map_or("by a signal".to_string(), |c| format!("code {c}")),
            r.seconds
        )),
        None => Outcome::blocked(format!("{what} was sent: the connector's listener never took the jobs")),
    }
}

/// The ids of every object pushed for a work (all its bundles).
pub fn pushed_ids<'a>(ev: &'a Evidence, work_id: &'a str) -> std::collections::BTreeSet<&'a str> {
    ev.bundles_of(work_id).flat_map(|b| b.object_ids.iter().map(String::as_str)).collect()
}

/// Every job's work closed by the connector (`toProcessed`).
pub fn jobs_answered(ev: &Evidence) -> Outcome {
    if ev.jobs.is_empty() {
        return no_job(ev, "no job", &["in-scope", "valid-file", "single", "query"]);
    }
    // A job the platform itself could not send (its broker gone) is no fault of the
    // connector's: it is left out, and only such jobs open blocks the check.
    let (lost, sent): (Vec<&crate::evidence::Job>, Vec<&crate::evidence::Job>) =
        ev.jobs.iter().filter(|j| !j.processed).partition(|j| j.undeliverable);
    let open: Vec<String> =
        sent.iter().map(|j| format!("{} work {}", describe_job(j), j.work_status.as_deref().unwrap_or("?"))).collect();
    if !open.is_empty() {
        return Outcome::fail(format!("all {} jobs' works closed", ev.jobs.len()), format!("not closed: {}", sample(&open, 3)));
    }
    if lost.is_empty() {
        Outcome::Pass
    } else {
        let lost: Vec<String> = lost.iter().map(|j| describe_job(j)).collect();
        Outcome::blocked(format!("the platform could not send {} (see the transcript)", sample(&lost, 3)))
    }
}

/// Every job completed without error was reported received first. A job that fails
/// before the connector takes it (pycti cannot read the entity) is closed in error without
/// `toReceived`.
pub fn jobs_received_before_completed(ev: &Evidence) -> Outcome {
    if ev.jobs.is_empty() {
        return no_job(ev, "no job", &["in-scope", "valid-file", "single", "query"]);
    }
    if ev.jobs.iter().all(|j| !j.processed) {
        return Outcome::blocked("no job was answered");
    }
    let bad: Vec<String> = ev.jobs.iter().filter(|j| j.processed && !j.in_error && !j.received).map(describe_job).collect();
    if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail(
            "toReceived before toProcessed for every job completed without error",
            format!("closed without toReceived: {}", sample(&bad, 3)),
        )
    }
}

/// A job in words (`job 3 (out-of-scope, malware--…)`).
pub fn describe_job(j: &crate::evidence::Job) -> String {
    format!("job {} ({}, {})", j.seq, j.role, j.subject)
}

/// The `workAdd` operation that opened a work.
pub fn opening_of<'a>(ev: &'a Evidence, work: &Work) -> Option<&'a Operation> {
    let seq = work.opened_by?;
    ev.operations.iter().find(|o| o.seq == seq)
}

/// `workEdit.toProcessed` calls for a work.
pub fn closings<'a>(ev: &'a Evidence, work_id: &'a str) -> impl Iterator<Item = &'a Operation> {
    ev.operations.iter().filter(move |o| o.edits("workEdit.toProcessed") && o.var_str("/id") == Some(work_id))
}

/// Every error on the connector's works.
pub fn work_errors(ev: &Evidence) -> Vec<(&Work, &crate::evidence::WorkError)> {
    ev.works.iter().flat_map(|w| w.errors.iter().map(move |e| (w, e))).collect()
}

/// Whether a state string is a JSON object.
pub fn is_json_object(state: Option<&str>) -> bool {
    state.and_then(|s| serde_json::from_str::<Value>(s).ok()).is_some_and(|v| v.is_object())
}

/// At most `n` items, joined, with the count of the rest.
pub fn sample<T: AsRef<str>>(items: &[T], n: usize) -> String {
    let shown: Vec<&str> = items.iter().take(n).map(AsRef::as_ref).collect();
    let rest = items.len().saturating_sub(n);
    if rest > 0 { format!("{} (and {rest} more)", shown.join("; ")) } else { shown.join("; ") }
}

/// A check that needs at least one push is blocked without one, saying why: the worker
/// refused every message the connector sent (EXT-IMPORT-008 fails it), or nothing was sent.
pub fn require_push(ev: &Evidence) -> Result<(), Outcome> {
    if pushes(ev).is_empty() && ev.bundles.is_empty() {
        if !ev.worker_refusals.is_empty() {
            return Err(Outcome::blocked(format!(
                "the worker refused every message the connector sent (see EXT-IMPORT-008): {}",
                sample(&ev.worker_refusals, 2)
            )));
        }
        return Err(Outcome::blocked("the connector pushed no bundle"));
    }
    Ok(())
}

/// The runs before the gate reset the connector's state (all of them, when it did not).
pub fn runs_before_reset(ev: &Evidence) -> usize {
    ev.runs.iter().position(|r| r.after_state_reset).unwrap_or(ev.runs.len())
}

/// A check that compares two runs is blocked without a second one.
pub fn require_second_run(ev: &Evidence) -> Result<(), Outcome> {
    match ev.runs.get(1) {
        Some(_) if ev.snapshots.len() >= 2 => Ok(()),
        _ => Err(Outcome::blocked("the connector was not run a second time")),
    }
}

/// Turns a `Result<(), Outcome>` chain into an outcome (`Ok` is a pass).
pub fn outcome(r: Result<(), Outcome>) -> Outcome {
    match r {
        Ok(()) => Outcome::Pass,
        Err(o) => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Job;

    fn job(seq: u64, processed: bool, undeliverable: bool) -> Job {
        Job {
            seq,
            role: "query".into(),
            kind: "INTERNAL_EXPORT_FILE".into(),
            subject: "export/Malware".into(),
            work_id: Some(format!("work-{seq}")),
            transport: "amqp".into(),
            delivered: !undeliverable,
            undeliverable,
            attempts: Vec::new(),
            sent_at: 0,
            received: processed,
            processed,
            in_error: false,
            work_status: Some(if processed { "complete" } else { "wait" }.into()),
            message: None,
            connector_alive_after: true,
            about: None,
            changed: Vec::new(),
            workbenches: Vec::new(),
            forwarded_unchanged: Vec::new(),
            format: None,
            file_name: None,
            withheld: None,
            exported: Vec::new(),
            file_markings: Vec::new(),
        }
    }

    #[test]
    fn a_job_the_platform_could_not_send_blocks_rather_than_fails() {
        let ev = |jobs| Evidence { jobs, ..Evidence::default() };
        assert_eq!(jobs_answered(&ev(vec![job(1, true, false), job(2, false, true)])).verdict(), "BLOCKED");
        assert_eq!(jobs_answered(&ev(vec![job(1, false, false), job(2, false, true)])).verdict(), "FAIL");
        assert_eq!(jobs_answered(&ev(vec![job(1, true, false)])).verdict(), "PASS");
    }
}
