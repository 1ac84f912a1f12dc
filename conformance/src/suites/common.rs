//! Checks for every connector type: registration, authorization, pings and state, stop.

use crate::check::{Check, Level, Outcome};
use crate::evidence::Evidence;
use crate::verify::{self, AUTH_ERRORS, registration};

/// The common suite.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "REG-001",
            title: "The connector registers with the platform",
            level: Level::Must,
            requirement: "A connector MUST register (registerConnector) before anything else, and the platform must accept it.",
            cites: "pycti 7.261026.0 connector/opencti_connector_helper.py OpenCTIConnectorHelper.__init__ → api/opencti_api_connector.py register",
            applies_to: &[],
            enforced_by_pycti: true,
            verify: registers,
        },
        Check {
            id: "REG-002",
            title: "Its id is a UUID",
            level: Level::Must,
            requirement: "A connector MUST register under a UUID (CONNECTOR_ID); the platform keys connectors, their queues and works by it.",
            cites: "OpenCTI deployment documentation, connector configuration: CONNECTOR_ID \"a valid arbitrary UUIDv4\"; platform registerConnector",
            applies_to: &[],
            enforced_by_pycti: false,
            verify: uuid_id,
        },
        Check {
            id: "REG-003",
            title: "It registers with the type under test",
            level: Level::Must,
            requirement: "A connector MUST register with the type it is deployed as; the platform routes jobs and shows it by type.",
            cites: "pycti 7.261026.0 connector/opencti_connector_helper.py OpenCTIConnector (type from CONNECTOR_TYPE)",
            applies_to: &[],
            enforced_by_pycti: false,
            verify: registered_type,
        },
        Check {
            id: "REG-004",
            title: "It registers with a name",
            level: Level::Must,
            requirement: "A connector MUST register with a non-empty name; it is how operators find it on the platform.",
            cites: "OpenCTI deployment documentation, connector configuration: CONNECTOR_NAME (mandatory)",
            applies_to: &[],
            enforced_by_pycti: false,
            verify: named,
        },
        Check {
            id: "REG-005",
            title: "It declares its scope",
            level: Level::Should,
            requirement: "A connector SHOULD declare a non-empty scope (CONNECTOR_SCOPE): the STIX types or MIME types it handles.",
            cites: "OpenCTI deployment documentation, connector configuration: CONNECTOR_SCOPE",
            applies_to: &[],
            enforced_by_pycti: false,
            verify: scoped,
        },
        Check {
            id: "AUTH-001",
            title: "Every call is allowed to the role its type needs",
            level: Level::Must,
            requirement: "A connector MUST work with a token of the role its type needs (the Connector role; an Administrator for export \
                          connectors): no call may be refused with AUTH_REQUIRED or FORBIDDEN_ACCESS.",
            cites: "platform data initialisation: the Connector role's capabilities; OpenCTI documentation, connectors: \"a dedicated user with the Connector role\"",
            applies_to: &[],
            enforced_by_pycti: false,
            verify: authorized,
        },
        Check {
            id: "PING-001",
            title: "It pings the platform",
            level: Level::Must,
            requirement: "A connector MUST ping the platform (pingConnector) with its id; the platform shows a connector that does not as inactive.",
            cites: "pycti 7.261026.0 connector/opencti_connector_helper.py PingAlive.ping (every 40 s, and at exit in run-and-terminate mode)",
            applies_to: &[],
            enforced_by_pycti: true,
            verify: pings,
        },
        Check {
            id: "PING-002",
            title: "Its pings never erase the state it saved",
            level: Level::Must,
            requirement: "A connector MUST keep the state it saved across restarts: the platform stores the state each ping carries, so once a \
                          state is saved no ping — in this run or the next — may carry an empty one.",
            cites: "pycti 7.261026.0 OpenCTIConnectorHelper.__init__ (connector_state from registerConnector), set_state, PingAlive.ping (state); \
                    platform pingConnector stores the state",
            applies_to: &["EXTERNAL_IMPORT", "STREAM"],
            enforced_by_pycti: false,
            verify: state_round_trip,
        },
        Check {
            id: "RUN-001",
            title: "It does not crash",
            level: Level::Must,
            requirement: "A connector MUST NOT crash: every run ends with exit status 0, or when it is stopped (an external import in \
                          run-and-terminate mode exits 0; the others keep running until stopped). A crash at start-up leaves the \
                          platform with a registered connector that never works.",
            cites: "pycti 7.261026.0 OpenCTIConnectorHelper (run-and-terminate exits 0; listen and schedule loops run until stopped); \
                    OpenCTI deployment documentation (connectors run as long-lived services)",
            applies_to: &[],
            enforced_by_pycti: false,
            verify: no_crash,
        },
        Check {
            id: "STOP-001",
            title: "Stopping leaves no work open",
            level: Level::Must,
            requirement: "A connector MUST NOT leave a work it opened waiting or in progress when it stops: the platform shows it running forever.",
            cites: "platform work completion rules (works stay in progress until closed); pycti 7.261026.0 api/opencti_api_work.py to_processed",
            applies_to: &[],
            enforced_by_pycti: false,
            verify: no_open_work,
        },
        Check {
            id: "STOP-002",
            title: "Stopping keeps the registration and its state",
            level: Level::Should,
            requirement: "A connector SHOULD NOT unregister when it stops: deleteConnector removes its state and works from the platform, so the \
                          next run starts from nothing. (pycti's helper.stop() does unregister.)",
            cites: "pycti 7.261026.0 OpenCTIConnectorHelper.stop → api/opencti_api_connector.py unregister (deleteConnector)",
            applies_to: &[],
            enforced_by_pycti: false,
            verify: stays_registered,
        },
    ]
}

fn registers(ev: &Evidence) -> Outcome {
    let tries: Vec<String> = ev.calls("registerConnector").map(|o| o.describe()).collect();
    match registration(ev) {
        Ok(_) => Outcome::Pass,
        Err(_) if tries.is_empty() => Outcome::fail("a registerConnector call", "none was made"),
        Err(_) => Outcome::fail("a registerConnector call the platform accepts", verify::sample(&tries, 3)),
    }
}

fn uuid_id(ev: &Evidence) -> Outcome {
    let reg = match registration(ev) {
        Ok(r) => r,
        Err(o) => return o,
    };
    let id = reg.var_str("/input/id").unwrap_or_default();
    if uuid::Uuid::parse_str(id).is_ok() {
        Outcome::Pass
    } else {
        Outcome::fail("input.id is a UUID", format!("input.id = {id:?}"))
    }
}

fn registered_type(ev: &Evidence) -> Outcome {
    let reg = match registration(ev) {
        Ok(r) => r,
        Err(o) => return o,
    };
    match reg.var_str("/input/type") {
        Some(t) if t == ev.connector_type => Outcome::Pass,
        other => Outcome::fail(format!("input.type = {}", ev.connector_type), format!("input.type = {other:?}")),
    }
}

fn named(ev: &Evidence) -> Outcome {
    // The platform refuses a blank name: judged on every attempt, not only on the one it
    // accepted, or a connector without a name would only ever be "not registered".
    let blank: Vec<String> = ev
        .calls("registerConnector")
        .filter(|o| o.var_str("/input/name").is_none_or(|n| n.trim().is_empty()))
        .map(|o| format!("input.name = {}", o.var("/input/name").cloned().unwrap_or_default()))
        .collect();
    if !blank.is_empty() {
        return Outcome::fail("a non-empty input.name", verify::sample(&blank, 2));
    }
    match registration(ev) {
        Ok(reg) if reg.var_str("/input/name").is_some_and(|n| !n.trim().is_empty()) => Outcome::Pass,
        Ok(reg) => Outcome::fail(
            "a non-empty input.name",
            format!("input.name = {}", reg.var("/input/name").cloned().unwrap_or_default()),
        ),
        Err(o) => o,
    }
}

fn scoped(ev: &Evidence) -> Outcome {
    let reg = match registration(ev) {
        Ok(r) => r,
        Err(o) => return o,
    };
    let scope = reg
        .var("/input/scope")
        .and_then(|s| s.as_array())
        .map(|a| a.iter().filter(|v| v.as_str().is_some_and(|s| !s.is_empty())).count());
    match scope {
        Some(n) if n > 0 => Outcome::Pass,
        _ => Outcome::fail(
            "a non-empty input.scope",
            format!("input.scope = {}", reg.var("/input/scope").cloned().unwrap_or_default()),
        ),
    }
}

fn authorized(ev: &Evidence) -> Outcome {
    let refused: Vec<String> = ev
        .operations
        .iter()
        .filter(|o| o.error_codes.iter().any(|c| AUTH_ERRORS.contains(&c.as_str())))
        .map(|o| o.describe())
        .collect();
    if ev.operations.is_empty() {
        return Outcome::blocked("the connector made no call");
    }
    if refused.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("no call refused for authorization", verify::sample(&refused, 3))
    }
}

fn pings(ev: &Evidence) -> Outcome {
    if let Err(o) = registration(ev) {
        return o;
    }
    let ok = ev.calls("pingConnector").any(|o| o.var_str("/id") == Some(ev.connector_id.as_str()) && o.succeeded());
    if ok { Outcome::Pass } else { Outcome::fail("a pingConnector call for the connector's id", "none") }
}

fn state_round_trip(ev: &Evidence) -> Outcome {
    if let Err(o) = verify::require_second_run(ev) {
        return o;
    }
    // A run after the gate reset the state legitimately starts with none.
    let judged = verify::runs_before_reset(ev);
    let pings: Vec<_> = ev
        .calls("pingConnector")
        .filter(|o| o.var_str("/id") == Some(ev.connector_id.as_str()))
        .filter(|o| o.run.is_none_or(|r| r < judged))
        .collect();
    let Some(first_saved) =
        pings.iter().position(|p| verify::is_json_object(p.var_str("/state")) && p.var_str("/state") != Some("{}"))
    else {
        let see = if ev.connector_type == "STREAM" { "STREAM-002" } else { "EXT-IMPORT-007" };
        return Outcome::blocked(format!("no ping ever carried a saved state (see {see})"));
    };
    let erasing: Vec<String> = pings[first_saved..]
        .iter()
        .filter(|p| !verify::is_json_object(p.var_str("/state")) || p.var_str("/state") == Some("{}"))
        .map(|p| format!("{} with state {}", p.describe(), p.var("/state").cloned().unwrap_or_default()))
        .collect();
    if erasing.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("every ping after the state was saved carries a non-empty state", verify::sample(&erasing, 3))
    }
}

fn no_crash(ev: &Evidence) -> Outcome {
    if ev.runs.is_empty() {
        return Outcome::blocked("the connector never ran");
    }
    let crashed: Vec<String> = ev
        .runs
        .iter()
        .filter(|r| r.end == crate::evidence::RunEnd::Exited && r.exit_code != Some(0) && !r.platform_stopped)
        .map(|r| {
            // What the crash said: its error lines when it logged some, else its last lines.
            let errors: Vec<&str> =
                r.output_tail.lines().filter(|l| l.contains("ERROR") || l.contains("Error") || l.contains("Traceback")).collect();
            let last: Vec<&str> = if errors.is_empty() {
                r.output_tail.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect()
            } else {
                errors.into_iter().rev().take(2).collect::<Vec<_>>().into_iter().rev().collect()
            };
            format!(
                "run {} exited with {} after {:.1} s: {}",
                r.index + 1,
                match (r.exit_code, r.signal) {
                    (Some(c), _) => format!("code {c}"),
                    (None, Some(s)) => format!("signal {s}"),
                    (None, None) => "a signal".to_string(),
                },
                r.seconds,
                last.join(" | ")
            )
        })
        .collect();
    if crashed.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("every run ending with exit status 0 or stopped", verify::sample(&crashed, 2))
    }
}

fn no_open_work(ev: &Evidence) -> Outcome {
    if ev.runs.is_empty() {
        return Outcome::blocked("the connector never ran");
    }
    let open: Vec<String> = verify::opened_works(ev)
        .into_iter()
        .filter(|w| w.status != "complete")
        .map(|w| format!("{} ({})", w.id, w.status))
        .collect();
    if open.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("every work it opened complete once it stopped", format!("still open: {}", verify::sample(&open, 3)))
    }
}

fn stays_registered(ev: &Evidence) -> Outcome {
    if let Err(o) = registration(ev) {
        return o;
    }
    let deletions: Vec<String> = ev
        .calls("deleteConnector")
        .filter(|o| o.var_str("/id") == Some(ev.connector_id.as_str()))
        .map(|o| o.describe())
        .collect();
    if deletions.is_empty() && ev.connector.is_some() {
        Outcome::Pass
    } else {
        Outcome::fail(
            "the connector still registered after it stopped",
            format!("unregistered by {}", verify::sample(&deletions, 2)),
        )
    }
}
