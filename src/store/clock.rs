//! Where a platform's "now" comes from.
//!
//! Connector liveness (`active` means a heartbeat within 5 minutes) and work
//! timestamps depend on wall-clock time. Tests that need to cross such a boundary use
//! a manual clock and advance it, instead of sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// The platform clock: the system clock, or a manual one for tests.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use std::time::Duration;
/// use opencti_mock::{Clock, MockPlatform};
/// let clock = Clock::manual("2026-01-01T00:00:00Z".parse().unwrap());
/// let platform = MockPlatform::builder().clock(clock.clone()).start().await;
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now().to_rfc3339(), "2026-01-01T01:00:00+00:00");
/// # drop(platform);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that only moves when [`Clock::advance`] is called.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock { manual: Some(Arc::new(Mutex::new(start))) }
    }

    /// Current time, truncated to milliseconds as the platform stores it.
    pub fn now(&self) -> DateTime<Utc> {
        let now = match &self.manual {
            Some(m) => *m.lock().expect("clock lock poisoned"),
            None => Utc::now(),
        };
        truncate_ms(now)
    }

    /// Moves a manual clock forward. A no-op (with a warning) on the system clock.
    pub fn advance(&self, by: std::time::Duration) {
        match &self.manual {
            Some(m) => {
                let mut t = m.lock().expect("clock lock poisoned");
                *t += TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
            }
            None => tracing::warn!("Clock::advance called on the system clock; ignored"),
        }
    }
}

fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// The platform's date format (JavaScript `toISOString()`): `2026-11-26T03:59:50.123Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
