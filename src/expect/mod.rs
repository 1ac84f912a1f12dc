//! Expectations on what a platform receives, verified on drop (in the spirit of wiremock-rs).
//!
//! ```should_panic
//! # #[tokio::main] async fn main() {
//! use opencti_mock::{Expect, MockPlatform, matchers::{operation, variable}};
//! let platform = MockPlatform::start().await;
//! Expect::given(operation("RegisterConnector"))
//!     .and(variable("input.type", "EXTERNAL_IMPORT"))
//!     .expect(1)
//!     .named("connector registers exactly once")
//!     .mount(&platform);
//! // ... run the connector against platform.url() ...
//! // dropping `platform` panics with a report if the expectation is not met (as here:
//! // no connector ran)
//! # }
//! ```
//!
//! An expectation counts what arrived *after* it was mounted and satisfies all of its
//! matchers: GraphQL operations (the default), bundles, works or refusals — each a
//! [`Subject`]; any closure over the subject is a matcher:
//!
//! ```
//! # #[tokio::main] async fn main() {
//! use opencti_mock::{Expect, MockPlatform, ReceivedBundle, Refusal, Work, matchers::any};
//! let platform = MockPlatform::start().await;
//! Expect::given(|b: &ReceivedBundle| b.objects == 0).expect(0).named("no empty bundle").mount(&platform);
//! Expect::given(|w: &Work| !w.errors.is_empty()).expect(0).named("no work in error").mount(&platform);
//! Expect::<Refusal>::given(any()).expect(0).named("nothing refused").mount(&platform);
//! // … run the connector; dropping the platform verifies the three
//! # }
//! ```
//!
//! Counting starts at the transcript's sequence number seen at mount time (works: the
//! works that did not exist then), never at a position, so retention and resets cannot
//! shift it. Verification reads the transcript under the state's synchronous
//! lock, so it runs in `Drop` without an executor; when the thread is already panicking
//! the report is logged instead of causing a double panic.

pub mod matchers;
mod subject;

use std::fmt;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::time::Duration;

pub use matchers::Matcher;
pub use subject::Subject;
pub(crate) use subject::describe_work;

use crate::store::Store;
use crate::store::transcript::ReceivedOperation;
use subject::sealed::{Collect, Mark};

/// How many matching operations are expected.
///
/// ```
/// use opencti_mock::{Expect, matchers::operation};
/// let _ = Expect::given(operation("PingConnector")).expect(2..); // at least two
/// let _ = Expect::given(operation("RegisterConnector")).expect(1); // exactly one
/// let _ = Expect::given(operation("workAdd")).expect(..=3); // at most three
/// ```
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
times_from_range!(
    std::ops::Range<u64>,
    std::ops::RangeInclusive<u64>,
    std::ops::RangeFrom<u64>,
    std::ops::RangeTo<u64>,
    std::ops::RangeToInclusive<u64>
);
times_from_range!(
    std::ops::Range<i32>,
    std::ops::RangeInclusive<i32>,
    std::ops::RangeFrom<i32>,
    std::ops::RangeTo<i32>,
    std::ops::RangeToInclusive<i32>
);

/// An expectation being built: matchers on a [`Subject`] (GraphQL operations unless the
/// matchers say otherwise) and how many matching ones are expected.
///
/// ```
/// use opencti_mock::{Expect, matchers::{operation, variable}};
/// let registers = Expect::given(operation("RegisterConnector"))
///     .and(variable("input.type", "EXTERNAL_IMPORT"))
///     .expect(1)
///     .named("registers once");
/// # let _ = registers;
/// ```
#[must_use = "an `Expect` has to be mounted on a `MockPlatform` (`.mount(&platform)`) to be verified"]
pub struct Expect<T: Subject = ReceivedOperation> {
    matchers: Vec<Arc<dyn Matcher<T>>>,
    times: Times,
    name: Option<String>,
}

impl<T: Subject> Clone for Expect<T> {
    fn clone(&self) -> Self {
        Expect { matchers: self.matchers.clone(), times: self.times, name: self.name.clone() }
    }
}

impl<T: Subject> fmt::Debug for Expect<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expect")
            .field("subject", &T::NOUN)
            .field("matchers", &self.matchers.len())
            .field("times", &self.times)
            .field("name", &self.name)
            .finish()
    }
}

impl<T: Subject> Expect<T> {
    /// An expectation with a first matcher (by default: at least one match). A closure
    /// taking a reference to a subject is a matcher of that subject.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{Expect, MockPlatform, Work};
    /// let platform = MockPlatform::start().await;
    /// Expect::given(|w: &Work| w.connector_id == "never-registered").expect(0).mount(&platform);
    /// assert_eq!(platform.verify(), Ok(()));
    /// # }
    /// ```
    pub fn given(matcher: impl Matcher<T> + 'static) -> Self {
        Expect { matchers: vec![Arc::new(matcher)], times: Times { min: 1, max: None }, name: None }
    }

    /// Adds a matcher (all must match).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{Expect, MockPlatform, matchers::{operation, succeeded}};
    /// let platform = MockPlatform::start().await;
    /// Expect::given(operation("Health")).and(succeeded()).expect(1).mount(&platform);
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
    /// assert_eq!(platform.verify(), Ok(()));
    /// # }
    /// ```
    pub fn and(mut self, matcher: impl Matcher<T> + 'static) -> Self {
        self.matchers.push(Arc::new(matcher));
        self
    }

    /// How many matches are expected: a number or a range (`1..`, `..=3`).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{Expect, MockPlatform, matchers::operation};
    /// let platform = MockPlatform::start().await;
    /// Expect::given(operation("PingConnector")).expect(..=3).mount(&platform);
    /// assert_eq!(platform.verify(), Ok(()), "none is at most three");
    /// # }
    /// ```
    pub fn expect(mut self, times: impl Into<Times>) -> Self {
        self.times = times.into();
        self
    }

    /// A name for failure reports.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{Expect, MockPlatform, matchers::operation};
    /// let platform = MockPlatform::start().await;
    /// Expect::given(operation("Health")).expect(1).named("asks for health").mount(&platform);
    /// let report = platform.verify().unwrap_err();
    /// assert!(report.contains("- asks for health: expected exactly 1 matching operation(s), received 0"), "{report}");
    /// // met before the platform is dropped (a drop verifies every mounted expectation)
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
    /// # }
    /// ```
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    fn matches(&self, item: &T) -> bool {
        self.matchers.iter().all(|m| m.matches(item))
    }

    /// The expectation as mounted now on the platform whose state is `store`: it counts
    /// what arrives from this point on. (`mount` and `mount_as_scoped` are defined with
    /// the platform, which holds the mounted list.)
    pub(crate) fn mounted_on(self, store: &Store) -> Mounted<T> {
        Mounted { mark: store.read(Mark::of), expect: self }
    }

    /// A guard verifying the expectation, mounted on `store`'s platform, when dropped.
    pub(crate) fn scoped_on(self, store: &Store) -> ExpectGuard<T> {
        ExpectGuard { mounted: self.mounted_on(store), store: store.clone() }
    }
}

/// A mounted expectation.
#[derive(Debug, Clone)]
pub(crate) struct Mounted<T: Subject> {
    expect: Expect<T>,
    mark: Mark,
}

impl<T: Subject> Mounted<T> {
    fn received(&self, state: &crate::store::State) -> Vec<T> {
        T::collect(state, &self.mark).into_iter().filter(|item| self.expect.matches(item)).collect()
    }
}

/// A mounted expectation of any subject, as the platform keeps them.
pub(crate) trait Verify: Send + Sync {
    /// `None` when met; else the failure line (labelled with `index` when unnamed).
    fn failure(&self, store: &Store, index: usize) -> Option<String>;
    /// The subject's noun: failed expectations of one subject share one report.
    fn noun(&self) -> &'static str;
    /// Everything of the subject the platform holds, numbered, for failure reports.
    fn received_report(&self, store: &Store) -> String;
}

impl<T: Subject> Verify for Mounted<T> {
    fn failure(&self, store: &Store, index: usize) -> Option<String> {
        let (n, reset) = store.read(|s| (self.received(s).len() as u64, s.resets > self.mark.resets));
        if self.expect.times.contains(n) {
            return None;
        }
        let label = self.expect.name.clone().unwrap_or_else(|| format!("Expectation #{}", index + 1));
        let note = if reset {
            " (the platform was reset after it was mounted: what it received before the reset is forgotten)"
        } else {
            ""
        };
        Some(format!("- {label}: expected {} matching {}(s), received {n}{note}", self.expect.times, T::NOUN))
    }

    fn noun(&self) -> &'static str {
        T::NOUN
    }

    fn received_report(&self, store: &Store) -> String {
        let lines: Vec<String> = store.read(|s| T::collect(s, &Mark::default()).iter().map(Collect::describe).collect());
        if lines.is_empty() {
            return format!("{}: none", T::TITLE);
        }
        let numbered: Vec<String> = lines.iter().enumerate().map(|(i, l)| format!("{}. {l}", i + 1)).collect();
        format!("{}:\n{}", T::TITLE, numbered.join("\n"))
    }
}

/// Checks every mounted expectation; `Err` carries the report: each failed expectation
/// (by name, or `Expectation #i`), expected versus actual count, then everything of the
/// failed expectations' subjects the platform received, numbered.
pub(crate) fn verify_all(store: &Store, mounted: &[Box<dyn Verify>]) -> Result<(), String> {
    let mut failures = Vec::new();
    let mut reports: Vec<(&'static str, String)> = Vec::new();
    for (i, m) in mounted.iter().enumerate() {
        if let Some(line) = m.failure(store, i) {
            failures.push(line);
            if !reports.iter().any(|(noun, _)| *noun == m.noun()) {
                reports.push((m.noun(), m.received_report(store)));
            }
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    let reports: Vec<String> = reports.into_iter().map(|(_, report)| report).collect();
    Err(format!("Verifications failed:\n{}\n{}", failures.join("\n"), reports.join("\n")))
}

/// A scoped expectation: verified when dropped.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use std::time::Duration;
/// use opencti_mock::{Expect, MockPlatform, matchers::error_code};
/// let platform = MockPlatform::start().await;
/// let denied = Expect::given(error_code("AUTH_REQUIRED")).expect(1).mount_as_scoped(&platform);
/// // a request with a token the platform does not know
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth("not-a-token")
///     .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
/// assert!(denied.wait_until_satisfied(Duration::from_secs(10)).await);
/// assert_eq!(denied.received()[0].operation_name.as_deref(), Some("Health"));
/// # }
/// ```
#[must_use = "a scoped expectation is verified when the guard is dropped; bind it to a variable"]
pub struct ExpectGuard<T: Subject = ReceivedOperation> {
    mounted: Mounted<T>,
    store: Store,
}

impl<T: Subject> fmt::Debug for ExpectGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpectGuard").field("expect", &self.mounted.expect).finish_non_exhaustive()
    }
}

impl<T: Subject> ExpectGuard<T> {
    /// What matched so far.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{Expect, MockPlatform, ReceivedOperation};
    /// let platform = MockPlatform::start().await;
    /// let all = Expect::given(|_: &ReceivedOperation| true).expect(0..).mount_as_scoped(&platform);
    /// assert!(all.received().is_empty());
    /// # }
    /// ```
    pub fn received(&self) -> Vec<T> {
        self.store.read(|s| self.mounted.received(s))
    }

    /// Waits until the expectation is satisfied (or `timeout` elapses); returns whether it is.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::{Expect, MockPlatform, matchers::operation};
    /// let platform = MockPlatform::start().await;
    /// let health = Expect::given(operation("Health")).expect(1).mount_as_scoped(&platform);
    /// assert!(!health.wait_until_satisfied(Duration::from_millis(10)).await, "nothing asked yet");
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
    /// assert!(health.wait_until_satisfied(Duration::from_secs(10)).await);
    /// # }
    /// ```
    pub async fn wait_until_satisfied(&self, timeout: Duration) -> bool {
        let m = &self.mounted;
        self.store.wait_until(timeout, |s| m.expect.times.contains(m.received(s).len() as u64)).await
    }
}

impl<T: Subject> Drop for ExpectGuard<T> {
    fn drop(&mut self) {
        if let Some(line) = self.mounted.failure(&self.store, 0) {
            let report = format!("Verifications failed:\n{line}\n{}", self.mounted.received_report(&self.store));
            if std::thread::panicking() {
                tracing::error!("{report}");
            } else {
                panic!("{report}");
            }
        }
    }
}
