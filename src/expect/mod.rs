//! Expectations on received operations, verified on drop (in the spirit of wiremock-rs).
//!
//! ```no_run
//! # async fn demo() {
//! use opencti_mock::{Expect, MockPlatform, matchers::{operation, variable}};
//! let platform = MockPlatform::start().await;
//! Expect::given(operation("RegisterConnector"))
//!     .and(variable("input.type", "EXTERNAL_IMPORT"))
//!     .expect(1)
//!     .named("connector registers exactly once")
//!     .mount(&platform);
//! // ... run the connector against platform.url() ...
//! // dropping `platform` panics with a report if the expectation is not met
//! # }
//! ```
//!
//! An expectation counts the operations received *after* it was mounted that satisfy
//! all of its matchers. Verification reads the transcript under the state's synchronous
//! lock, so it runs in `Drop` without an executor; when the thread is already panicking
//! the report is logged instead of causing a double panic.

pub mod matchers;

use std::fmt;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::time::Duration;

pub use matchers::Matcher;

use crate::store::Store;
use crate::store::transcript::{EntryKind, ReceivedOperation};

/// How many matching operations are expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    min: u64,
    max: Option<u64>,
}

impl Times {
    fn contains(&self, n: u64) -> bool {
        n >= self.min && self.max.is_none_or(|m| n <= m)
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(m) if m == self.min => write!(f, "exactly {m}"),
            Some(m) => write!(f, "between {} and {m}", self.min),
            None => write!(f, "at least {}", self.min),
        }
    }
}

impl From<u64> for Times {
    fn from(n: u64) -> Self {
        Times { min: n, max: Some(n) }
    }
}

impl From<i32> for Times {
    fn from(n: i32) -> Self {
        Times::from(n.max(0) as u64)
    }
}

macro_rules! times_from_range {
    ($($t:ty),*) => {$(
        impl From<$t> for Times {
            fn from(r: $t) -> Self {
                let min = match r.start_bound() {
                    Bound::Included(n) => *n as u64,
                    Bound::Excluded(n) => *n as u64 + 1,
                    Bound::Unbounded => 0,
                };
                let max = match r.end_bound() {
                    Bound::Included(n) => Some(*n as u64),
                    Bound::Excluded(n) => Some((*n as u64).saturating_sub(1)),
                    Bound::Unbounded => None,
                };
                Times { min, max }
            }
        }
    )*};
}
times_from_range!(std::ops::Range<u64>, std::ops::RangeInclusive<u64>, std::ops::RangeFrom<u64>, std::ops::RangeTo<u64>);
times_from_range!(std::ops::Range<i32>, std::ops::RangeInclusive<i32>, std::ops::RangeFrom<i32>, std::ops::RangeTo<i32>);

/// An expectation being built.
#[must_use = "an `Expect` has to be mounted on a `MockPlatform` (`.mount(&platform)`) to be verified"]
#[derive(Clone)]
pub struct Expect {
    matchers: Vec<Arc<dyn Matcher>>,
    times: Times,
    name: Option<String>,
}

impl fmt::Debug for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expect").field("matchers", &self.matchers).field("times", &self.times).field("name", &self.name).finish()
    }
}

impl Expect {
    /// An expectation with a first matcher (by default: at least one matching operation).
    pub fn given(matcher: impl Matcher + 'static) -> Self {
        Expect { matchers: vec![Arc::new(matcher)], times: Times { min: 1, max: None }, name: None }
    }

    /// Adds a matcher (all must match).
    pub fn and(mut self, matcher: impl Matcher + 'static) -> Self {
        self.matchers.push(Arc::new(matcher));
        self
    }

    /// How many matching operations are expected: a number or a range (`1..`, `..=3`).
    pub fn expect(mut self, times: impl Into<Times>) -> Self {
        self.times = times.into();
        self
    }

    /// A name for failure reports.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    fn matches(&self, op: &ReceivedOperation) -> bool {
        self.matchers.iter().all(|m| m.matches(op))
    }

    /// The expectation as mounted now on the platform whose state is `store`: it counts
    /// the operations received from this point on. (`mount` and `mount_as_scoped` are
    /// defined with the platform, which holds the mounted list.)
    pub(crate) fn mounted_on(self, store: &Store) -> Mounted {
        let (since, resets) = store.read(|s| (s.transcript.last_seq(), s.resets));
        Mounted { since, resets, expect: self }
    }

    /// A guard verifying the expectation, mounted on `store`'s platform, when dropped.
    pub(crate) fn scoped_on(self, store: &Store) -> ExpectGuard {
        ExpectGuard { mounted: self.mounted_on(store), store: store.clone() }
    }
}

/// A mounted expectation.
#[derive(Debug, Clone)]
pub struct Mounted {
    expect: Expect,
    /// The transcript's last sequence number when mounted: it counts what comes after.
    since: u64,
    /// The platform's resets when mounted: a later reset forgets what it had received.
    resets: u64,
}

impl Mounted {
    fn received(&self, store: &Store) -> Vec<ReceivedOperation> {
        store.read(|s| {
            s.transcript
                .since(self.since)
                .iter()
                .filter_map(|e| match &e.kind {
                    EntryKind::Operation(op) if self.expect.matches(op) => Some(op.clone()),
                    _ => None,
                })
                .collect()
        })
    }
}

/// Checks every mounted expectation; `Err` carries the report: each failed expectation
/// (by name, or `Expectation #i`), expected versus actual count, then every operation
/// the platform received, numbered.
pub fn verify_all(store: &Store, mounted: &[Mounted]) -> Result<(), String> {
    let mut failures = Vec::new();
    for (i, m) in mounted.iter().enumerate() {
        let n = m.received(store).len() as u64;
        if !m.expect.times.contains(n) {
            let label = m.expect.name.clone().unwrap_or_else(|| format!("Expectation #{}", i + 1));
            let reset = store.read(|s| s.resets) > m.resets;
            let note = if reset {
                " (the platform was reset after it was mounted: what it received before the reset is forgotten)"
            } else {
                ""
            };
            failures.push(format!("- {label}: expected {} matching operation(s), received {n}{note}", m.expect.times));
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(format!("Verifications failed:\n{}\n{}", failures.join("\n"), received_report(store)))
}

/// Every received operation, numbered, for failure reports.
pub fn received_report(store: &Store) -> String {
    let ops: Vec<ReceivedOperation> = store.read(|s| {
        s.transcript
            .entries()
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Operation(op) => Some(op.clone()),
                _ => None,
            })
            .collect()
    });
    if ops.is_empty() {
        return "Received operations: none".to_string();
    }
    let lines: Vec<String> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let name = op.operation_name.clone().unwrap_or_else(|| "(anonymous)".into());
            let errors = if op.error_codes.is_empty() { String::new() } else { format!(" -> {}", op.error_codes.join(", ")) };
            format!("{}. {} ({}) {}{}", i + 1, name, op.root_fields.join(", "), op.variables, errors)
        })
        .collect();
    format!("Received operations:\n{}", lines.join("\n"))
}

/// A scoped expectation: verified when dropped.
#[must_use = "a scoped expectation is verified when the guard is dropped; bind it to a variable"]
pub struct ExpectGuard {
    mounted: Mounted,
    store: Store,
}

impl ExpectGuard {
    /// Operations matched so far.
    pub fn received(&self) -> Vec<ReceivedOperation> {
        self.mounted.received(&self.store)
    }

    /// Waits until the expectation is satisfied (or `timeout` elapses); returns whether it is.
    pub async fn wait_until_satisfied(&self, timeout: Duration) -> bool {
        let m = self.mounted.clone();
        let since = m.since;
        self.store
            .wait_until(timeout, |s| {
                let n = s
                    .transcript
                    .since(since)
                    .iter()
                    .filter(|e| matches!(&e.kind, EntryKind::Operation(op) if m.expect.matches(op)))
                    .count() as u64;
                m.expect.times.contains(n)
            })
            .await
    }
}

impl Drop for ExpectGuard {
    fn drop(&mut self) {
        if let Err(report) = verify_all(&self.store, std::slice::from_ref(&self.mounted)) {
            if std::thread::panicking() {
                tracing::error!("{report}");
            } else {
                panic!("{report}");
            }
        }
    }
}
