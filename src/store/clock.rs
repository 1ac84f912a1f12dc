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
    ///
    /// ```
    /// use std::time::Duration;
    /// use opencti_mock::Clock;
    /// let clock = Clock::system();
    /// let before = clock.now();
    /// // the system clock cannot be moved: this is ignored
    /// clock.advance(Duration::from_secs(3600));
    /// assert!((clock.now() - before).num_minutes() < 1);
    /// ```
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that only moves when [`Clock::advance`] is called.
    ///
    /// ```
    /// use opencti_mock::Clock;
    /// let start = "2026-01-01T00:00:00Z".parse().unwrap();
    /// let clock = Clock::manual(start);
    /// std::thread::sleep(std::time::Duration::from_millis(5));
    /// // time stands still
    /// assert_eq!(clock.now(), start);
    /// ```
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock { manual: Some(Arc::new(Mutex::new(start))) }
    }

    /// Current time, truncated to milliseconds as the platform stores it.
    ///
    /// ```
    /// use opencti_mock::Clock;
    /// let clock = Clock::manual("2026-01-01T00:00:00.123456Z".parse().unwrap());
    /// assert_eq!(clock.now().to_rfc3339(), "2026-01-01T00:00:00.123+00:00");
    /// ```
    pub fn now(&self) -> DateTime<Utc> {
        let now = match &self.manual {
            Some(m) => *m.lock().expect("clock lock poisoned"),
            None => Utc::now(),
        };
        truncate_ms(now)
    }

    /// Moves a manual clock forward. A no-op (with a warning) on the system clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use opencti_mock::Clock;
    /// let clock = Clock::manual("2026-01-01T00:00:00Z".parse().unwrap());
    /// // clones share the time: the one a platform was built with moves too
    /// let platforms = clock.clone();
    /// clock.advance(Duration::from_secs(90));
    /// assert_eq!(platforms.now().to_rfc3339(), "2026-01-01T00:01:30+00:00");
    /// ```
    pub fn advance(&self, by: std::time::Duration) {
        match &self.manual {
            Some(m) => {
                let mut t = m.lock().expect("clock lock poisoned");
                let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
                // Saturates at the latest date chrono represents.
                *t = t.checked_add_signed(by).unwrap_or(DateTime::<Utc>::MAX_UTC);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_a_manual_clock_beyond_the_last_date_saturates() {
        let clock = Clock::manual(DateTime::from_timestamp(0, 0).expect("the epoch"));

        clock.advance(std::time::Duration::MAX);
        clock.advance(std::time::Duration::from_secs(1));

        assert_eq!(clock.now(), truncate_ms(DateTime::<Utc>::MAX_UTC));
    }
}
