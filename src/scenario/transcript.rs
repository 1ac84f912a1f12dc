//! From a run's transcript back to a scenario: "it broke in the field with these logs" made
//! into a file others can replay.
//!
//! A transcript (`GET /_mock/transcript`, or `opencti-mock scenario transcript`, which adds
//! the platform's version and profile) lists every operation a connector made and what the
//! platform answered. Each answer that was an error becomes a fault on the same call of the
//! same operation: a GraphQL error with its code, a bare HTTP status, or — for an
//! `AUTH_REQUIRED` after the same user had been let in — a revoked token. Replaying the
//! scenario against the connector gives it the same answers at the same points.

use serde_json::Value as Json;

use super::file::{Action, Fault, Scenario, When};
use crate::profile::Profile;

impl Scenario {
    /// Builds a scenario from a transcript: either the entries (a JSON array, as
    /// `GET /_mock/transcript` answers) or the export object
    /// `{"platform": {"version", "profile"}, "entries": [...]}`.
    ///
    /// ```
    /// use opencti_mock::{Scenario, ScenarioAction};
    /// let run = serde_json::json!([
    ///     {"seq": 1, "kind": "operation", "operation_name": "PingConnector", "root_fields": ["pingConnector"], "http_status": 200, "error_codes": []},
    ///     {"seq": 2, "kind": "operation", "operation_name": "PingConnector", "root_fields": ["pingConnector"], "http_status": 200, "error_codes": ["DATABASE_ERROR"]},
    /// ]);
    /// let scenario = Scenario::from_transcript(&run, "field-run").unwrap();
    /// assert_eq!(scenario.faults.len(), 1);
    /// assert!(matches!(&scenario.faults[0].action, ScenarioAction::Error { code, .. } if code == "DATABASE_ERROR"));
    /// ```
    pub fn from_transcript(transcript: &Json, name: &str) -> Result<Scenario, String> {
        build(transcript, name)
    }
}

fn build(transcript: &Json, name: &str) -> Result<Scenario, String> {
    let (entries, profile, version) = match transcript {
        Json::Array(entries) => (entries, None, None),
        Json::Object(o) => {
            let entries = o.get("entries").and_then(Json::as_array).ok_or("the transcript object has no `entries` array")?;
            let platform = o.get("platform");
            let profile = platform.and_then(|p| p.get("profile")).and_then(Json::as_str).map(str::parse::<Profile>).transpose()?;
            let version = platform.and_then(|p| p.get("version")).and_then(Json::as_str).map(str::to_string);
            (entries, profile, version)
        }
        _ => return Err("a transcript is a JSON array of entries or an object with `entries`".into()),
    };
    let mut calls: std::collections::HashMap<String, u32> = Default::default();
    let mut users_let_in: std::collections::HashSet<String> = Default::default();
    let mut faults = Vec::new();
    let mut operations = 0;
    for entry in entries {
        if entry.get("kind").and_then(Json::as_str) != Some("operation") {
            continue;
        }
        operations += 1;
        let root = entry.get("root_fields").and_then(Json::as_array).and_then(|r| r.first()).and_then(Json::as_str);
        let Some(op) = entry.get("operation_name").and_then(Json::as_str).or(root) else { continue };
        let call = {
            let n = calls.entry(op.to_string()).or_default();
            *n += 1;
            *n
        };
        let status = entry.get("http_status").and_then(Json::as_u64).unwrap_or(200) as u16;
        let codes: Vec<&str> =
            entry.get("error_codes").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str).collect();
        let user = entry.get("user_id").and_then(Json::as_str);
        let action = match codes.first() {
            None if status == 200 => {
                users_let_in.extend(user.map(str::to_string));
                continue;
            }
            None => Action::HttpStatus { status, body: String::new() },
            Some(&"AUTH_REQUIRED") if !users_let_in.is_empty() => Action::RevokeToken { token: None },
            Some(code) => Action::Error {
                code: code.to_string(),
                message: format!("replayed from a transcript: the platform answered {code} to call {call} of {op}"),
            },
        };
        faults.push(Fault { when: When::Operation { name: op.to_string(), call, times: Some(1) }, action });
    }
    if operations == 0 {
        return Err("the transcript has no GraphQL operation to replay".into());
    }
    Ok(Scenario {
        name: name.to_string(),
        issue: None,
        title: format!("replay of a run: {} of {operations} operations answered with an error", faults.len()),
        description: format!(
            "Written from a transcript{}: each error the platform answered is answered again on the same call of the same operation.",
            version.map(|v| format!(" of a {v} platform")).unwrap_or_default()
        ),
        symptom: None,
        pycti: None,
        fixed_in: None,
        profile,
        limits: Default::default(),
        streams: Vec::new(),
        faults,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(name: &str, status: u16, codes: &[&str], user: Option<&str>) -> Json {
        json!({"kind": "operation", "operation_name": name, "root_fields": [], "http_status": status, "error_codes": codes, "user_id": user})
    }

    #[test]
    fn each_failed_call_becomes_a_fault_on_the_same_call() {
        let run = json!({"platform": {"version": "6.9.17", "profile": "6.9"}, "entries": [
            op("RegisterConnector", 200, &[], Some("u")),
            op("PingConnector", 200, &[], Some("u")),
            op("PingConnector", 502, &[], None),
            {"kind": "bundle"},
            op("PingConnector", 200, &["AUTH_REQUIRED"], None),
            op("WorkAdd", 500, &["WORK_NOT_ALIVE"], Some("u")),
        ]});
        let s = Scenario::from_transcript(&run, "field").unwrap();
        assert_eq!(s.profile, Some(Profile::V6_9));
        let got: Vec<(String, u32, &Action)> = s
            .faults
            .iter()
            .map(|f| match &f.when {
                When::Operation { name, call, .. } => (name.clone(), *call, &f.action),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].0.as_str(), got[0].1), ("PingConnector", 2));
        assert_eq!(got[0].2, &Action::HttpStatus { status: 502, body: String::new() });
        assert_eq!((got[1].1, got[1].2), (3, &Action::RevokeToken { token: None }));
        assert!(matches!(got[2].2, Action::Error { code, .. } if code == "WORK_NOT_ALIVE"));
        // the scenario reads back from its own YAML
        assert_eq!(Scenario::from_yaml(&s.to_yaml(), "round-trip").unwrap(), s);
    }

    #[test]
    fn an_auth_error_before_anyone_was_let_in_stays_an_error() {
        let s = Scenario::from_transcript(&json!([op("Me", 200, &["AUTH_REQUIRED"], None)]), "t").unwrap();
        assert!(matches!(&s.faults[0].action, Action::Error { code, .. } if code == "AUTH_REQUIRED"));
    }

    #[test]
    fn what_is_not_a_transcript_is_refused() {
        assert!(Scenario::from_transcript(&json!({"x": 1}), "t").is_err());
        assert!(Scenario::from_transcript(&json!([{"kind": "note"}]), "t").is_err());
        assert!(Scenario::from_transcript(&json!({"platform": {"profile": "8"}, "entries": []}), "t").unwrap_err().contains("8"));
    }
}
