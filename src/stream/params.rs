//! What a stream request asks: where to start, what to recover, which events to leave out.
//!
//! As the platform reads them (`sseMiddleware.js`, facts in `stream.md` §2): each parameter
//! comes from the query string or a header of the same name, the query first; the first
//! value of a repeated query parameter counts; an empty value falls through to the next
//! source. pycti sends `recover` as a query parameter, `Last-Event-ID` as a header and the
//! three flags as headers; it never sends `from`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::store::events::EventId;

/// A stream request's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamParams {
    /// Where to start (strictly after): `from`, else `Last-Event-ID`; `None`: live only.
    pub start: Option<EventId>,
    /// The start position as sent.
    pub start_raw: Option<String>,
    /// Recover objects changed up to this position (`recover`, `recover-date`).
    pub recover: Option<EventId>,
    /// The recovery position as sent.
    pub recover_raw: Option<String>,
    /// `no-dependencies` (or `no-relationships`) is `true`: no core relationships are sent
    /// with an element (its missing references still are).
    pub no_dependencies: bool,
    /// `listen-delete` is `false`: deletions are not sent.
    pub no_deletes: bool,
    /// `with-inferences` is `true`: inferred data is sent.
    pub with_inferences: bool,
    /// The flags as sent, for the connection's record.
    pub flags: Vec<(String, String)>,
}

/// A recovery asked without a start position: the platform's 500, reason
/// `Error in stream <id>: Recovery mode is only possible with a start date.`
pub const RECOVERY_WITHOUT_START: &str = "Recovery mode is only possible with a start date.";

impl StreamParams {
    /// Reads the parameters from the query pairs (in order) and a header lookup
    /// (lower-case names).
    pub fn read(query: &[(String, String)], header: &dyn Fn(&str) -> Option<String>) -> StreamParams {
        let q = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
        let either = |name: &str| q(name).or_else(|| header(name).filter(|v| !v.is_empty()));
        let start_raw = either("from").or_else(|| header("last-event-id").filter(|v| !v.is_empty()));
        let recover_raw = either("recover").or_else(|| header("recover-date").filter(|v| !v.is_empty()));
        let no_deps = either("no-dependencies").or_else(|| either("no-relationships"));
        let listen_delete = either("listen-delete");
        let inferences = either("with-inferences");
        let mut flags = Vec::new();
        for (name, value) in
            [("listen-delete", &listen_delete), ("no-dependencies", &no_deps), ("with-inferences", &inferences)]
        {
            if let Some(v) = value {
                flags.push((name.to_string(), v.clone()));
            }
        }
        StreamParams {
            start: start_raw.as_deref().and_then(position),
            start_raw,
            recover: recover_raw.as_deref().and_then(position),
            recover_raw,
            no_dependencies: no_deps.as_deref() == Some("true"),
            no_deletes: listen_delete.as_deref() == Some("false"),
            with_inferences: inferences.as_deref() == Some("true"),
            flags,
        }
    }

    /// The recovery window `(from, until)` when recovery is on: a recovery position after
    /// the start. `Err` when a recovery is asked without a start.
    pub fn recovery(&self) -> Result<Option<(EventId, EventId)>, &'static str> {
        match (self.start, self.recover) {
            (None, Some(_)) => Err(RECOVERY_WITHOUT_START),
            (Some(start), Some(until)) if until.date() > start.date() => Ok(Some((start, until))),
            _ => Ok(None),
        }
    }
}

/// The platform's position conversion: `0` or `0-0` → the beginning; `<a>-<b>` with one
/// hyphen → as is; otherwise a date → `<epoch ms>-0`; anything else → none.
pub fn position(value: &str) -> Option<EventId> {
    let v = value.trim();
    if v == "0" || v == "0-0" {
        return Some(EventId::ZERO);
    }
    if v.matches('-').count() == 1
        && let Ok(id) = v.parse::<EventId>()
    {
        return Some(id);
    }
    date(v).map(EventId::at)
}

/// A date as the platform's `moment` reads the forms connectors send: RFC 3339 (pycti's
/// `YYYY-MM-DDTHH:MM:SSZ` among them), a date and time without zone (UTC), or a date.
pub fn date(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(v, format) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(query: &[(&str, &str)], headers: &[(&str, &str)]) -> StreamParams {
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        StreamParams::read(&query, &|name| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn pycti_first_run_recovers_from_the_beginning() {
        let p = read(
            &[("recover", "2026-01-01T00:00:00Z")],
            &[("last-event-id", "0-0"), ("listen-delete", "true"), ("no-dependencies", "true"), ("with-inferences", "false")],
        );
        assert_eq!(p.start, Some(EventId::ZERO));
        assert!(p.no_dependencies && !p.no_deletes && !p.with_inferences);
        let (from, until) = p.recovery().unwrap().expect("recovery on");
        assert_eq!((from, until.to_string().as_str()), (EventId::ZERO, "1767225600000-0"));
    }

    #[test]
    fn a_saved_position_after_the_recovery_date_turns_recovery_off() {
        let p = read(&[("recover", "2026-01-01T00:00:00Z")], &[("last-event-id", "1767225700000-4")]);
        assert_eq!(p.recovery(), Ok(None));
    }

    #[test]
    fn the_query_wins_over_headers_and_from_over_last_event_id() {
        let p = read(&[("from", "5-1"), ("listen-delete", "false")], &[("from", "6-0"), ("last-event-id", "7-0")]);
        assert_eq!(p.start.map(|s| s.to_string()).as_deref(), Some("5-1"));
        assert!(p.no_deletes);
        let p = read(&[("from", "")], &[("last-event-id", "7-0")]);
        assert_eq!(p.start.map(|s| s.to_string()).as_deref(), Some("7-0"), "an empty value falls through");
    }

    #[test]
    fn recovery_without_a_start_is_the_platform_error() {
        let p = read(&[("recover", "2026-01-01")], &[]);
        assert_eq!(p.recovery(), Err(RECOVERY_WITHOUT_START));
    }

    #[test]
    fn only_the_exact_strings_count_as_flags() {
        let p = read(&[], &[("no-dependencies", "True"), ("listen-delete", "no"), ("with-inferences", "1")]);
        assert!(!p.no_dependencies && !p.no_deletes && !p.with_inferences);
        let p = read(&[("no-relationships", "true")], &[]);
        assert!(p.no_dependencies);
    }

    #[test]
    fn positions() {
        assert_eq!(position("0"), Some(EventId::ZERO));
        assert_eq!(position("12-3"), Some(EventId { ms: 12, seq: 3 }));
        assert_eq!(position("2026-01-01"), Some(EventId::at_ms(1_767_225_600_000)));
        assert_eq!(position("x-y"), None);
    }
}
