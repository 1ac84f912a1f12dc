//! Matchers for [`Expect`](super::Expect): on operations (name, variables, caller,
//! outcome), on bundles and works (connector, size, completion), on anything ([`any`]) —
//! and any closure `Fn(&T) -> bool` over a [`Subject`].
//!
//! ```
//! use opencti_mock::{Expect, Work, matchers::{completed, connector}};
//! let done = Expect::<Work>::given(connector("my-connector-id")).and(completed()).expect(1);
//! # let _ = done;
//! ```

use std::ops::RangeBounds;

use serde_json::Value;

use super::Subject;
use crate::store::transcript::{ReceivedBundle, ReceivedOperation};
use crate::store::works::Work;

/// A condition on what an expectation counts (a [`Subject`]: GraphQL operations unless
/// said otherwise).
pub trait Matcher<T: Subject = ReceivedOperation>: Send + Sync {
    /// Whether `item` satisfies the condition.
    fn matches(&self, item: &T) -> bool;
}

/// A closure is a matcher.
///
/// ```
/// use opencti_mock::{Expect, ReceivedOperation};
/// let slow = Expect::given(|op: &ReceivedOperation| op.http_status != 200).expect(0);
/// # let _ = slow;
/// ```
impl<T: Subject, F> Matcher<T> for F
where
    F: Fn(&T) -> bool + Send + Sync,
{
    fn matches(&self, item: &T) -> bool {
        self(item)
    }
}

/// Matches everything of its subject.
#[derive(Debug, Clone, Copy)]
pub struct Any;

/// Matches everything: `Expect::<Refusal>::given(any()).expect(0)` says nothing may be
/// refused.
///
/// ```
/// use opencti_mock::{Expect, Refusal, matchers::any};
/// let nothing_refused = Expect::<Refusal>::given(any()).expect(0);
/// # let _ = nothing_refused;
/// ```
pub fn any() -> Any {
    Any
}

impl<T: Subject> Matcher<T> for Any {
    fn matches(&self, _: &T) -> bool {
        true
    }
}

/// Sent by, or belonging to, a connector (by id).
#[derive(Debug, Clone)]
pub struct ConnectorId(String);

/// Matches bundles a connector sent and works of a connector.
///
/// ```
/// use opencti_mock::{Expect, ReceivedBundle, matchers::connector};
/// let from_it = Expect::<ReceivedBundle>::given(connector("my-connector-id"));
/// # let _ = from_it;
/// ```
pub fn connector(id: impl Into<String>) -> ConnectorId {
    ConnectorId(id.into())
}

impl Matcher<ReceivedBundle> for ConnectorId {
    fn matches(&self, bundle: &ReceivedBundle) -> bool {
        bundle.connector_id == self.0
    }
}

impl Matcher<Work> for ConnectorId {
    fn matches(&self, work: &Work) -> bool {
        work.connector_id == self.0
    }
}

/// A bundle whose object count is in a range.
#[derive(Debug, Clone)]
pub struct ObjectCount {
    min: usize,
    max: Option<usize>,
}

/// Matches bundles holding a number of objects in `range` (`1..`, `..=100`, `5..=5`).
///
/// ```
/// use opencti_mock::{Expect, matchers::objects};
/// let non_empty = Expect::given(objects(1..)).expect(1..);
/// # let _ = non_empty;
/// ```
pub fn objects(range: impl RangeBounds<usize>) -> ObjectCount {
    use std::ops::Bound;
    let min = match range.start_bound() {
        Bound::Included(n) => *n,
        Bound::Excluded(n) => n + 1,
        Bound::Unbounded => 0,
    };
    let max = match range.end_bound() {
        Bound::Included(n) => Some(*n),
        Bound::Excluded(n) => Some(n.saturating_sub(1)),
        Bound::Unbounded => None,
    };
    ObjectCount { min, max }
}

impl Matcher<ReceivedBundle> for ObjectCount {
    fn matches(&self, bundle: &ReceivedBundle) -> bool {
        bundle.objects >= self.min && self.max.is_none_or(|m| bundle.objects <= m)
    }
}

/// A complete work.
#[derive(Debug, Clone, Copy)]
pub struct Completed;

/// Matches works that are complete (when the expectation is verified).
///
/// ```
/// use opencti_mock::{Expect, Work, matchers::completed};
/// let one_done = Expect::<Work>::given(completed()).expect(1);
/// # let _ = one_done;
/// ```
pub fn completed() -> Completed {
    Completed
}

impl Matcher<Work> for Completed {
    fn matches(&self, work: &Work) -> bool {
        work.is_complete()
    }
}

/// A work with no error recorded.
#[derive(Debug, Clone, Copy)]
pub struct WithoutErrors;

/// Matches works with no error recorded.
///
/// ```
/// use opencti_mock::{Expect, Work, matchers::{completed, without_errors}};
/// let clean = Expect::<Work>::given(completed()).and(without_errors()).expect(1..);
/// # let _ = clean;
/// ```
pub fn without_errors() -> WithoutErrors {
    WithoutErrors
}

impl Matcher<Work> for WithoutErrors {
    fn matches(&self, work: &Work) -> bool {
        work.errors.is_empty()
    }
}

/// Operation name (`RegisterConnector`) or root field (`registerConnector`).
#[derive(Debug, Clone)]
pub struct Operation(String);

/// Matches operations by name or root field.
///
/// ```
/// use opencti_mock::{Expect, matchers::operation};
/// let e = Expect::given(operation("RegisterConnector")).expect(1);
/// # let _ = e;
/// ```
pub fn operation(name: impl Into<String>) -> Operation {
    Operation(name.into())
}

impl Matcher<ReceivedOperation> for Operation {
    fn matches(&self, op: &ReceivedOperation) -> bool {
        op.operation_name.as_deref() == Some(self.0.as_str()) || op.root_fields.iter().any(|f| f == &self.0)
    }
}

/// A variable at a dotted path (`input.type`, `connectorInfo.run_and_terminate`) equal to a
/// JSON value.
#[derive(Debug, Clone)]
pub struct Variable {
    path: String,
    value: Value,
}

/// Matches a variable value by dotted path.
///
/// ```
/// use opencti_mock::{Expect, matchers::variable};
/// let e = Expect::given(variable("input.type", "EXTERNAL_IMPORT"));
/// # let _ = e;
/// ```
pub fn variable(path: impl Into<String>, value: impl Into<Value>) -> Variable {
    Variable { path: path.into(), value: value.into() }
}

impl Matcher<ReceivedOperation> for Variable {
    fn matches(&self, op: &ReceivedOperation) -> bool {
        let mut cur = &op.variables;
        for part in self.path.split('.') {
            cur = match cur {
                Value::Object(m) => match m.get(part) {
                    Some(v) => v,
                    None => return false,
                },
                Value::Array(a) => match part.parse::<usize>().ok().and_then(|i| a.get(i)) {
                    Some(v) => v,
                    None => return false,
                },
                _ => return false,
            };
        }
        *cur == self.value
    }
}

/// The authenticated user's name.
#[derive(Debug, Clone)]
pub struct UserName(String);

/// Matches operations made by a user (by name).
///
/// ```
/// use opencti_mock::{Expect, matchers::user};
/// let e = Expect::given(user("importer")).expect(1..);
/// # let _ = e;
/// ```
pub fn user(name: impl Into<String>) -> UserName {
    UserName(name.into())
}

impl Matcher<ReceivedOperation> for UserName {
    fn matches(&self, op: &ReceivedOperation) -> bool {
        op.user_name.as_deref() == Some(self.0.as_str())
    }
}

/// Operations answered with an error code (`AUTH_REQUIRED`…).
#[derive(Debug, Clone)]
pub struct ErrorCode(String);

/// Matches operations answered with this error code.
///
/// ```
/// use opencti_mock::{Expect, matchers::error_code};
/// let e = Expect::given(error_code("AUTH_REQUIRED")).expect(0);
/// # let _ = e;
/// ```
pub fn error_code(code: impl Into<String>) -> ErrorCode {
    ErrorCode(code.into())
}

impl Matcher<ReceivedOperation> for ErrorCode {
    fn matches(&self, op: &ReceivedOperation) -> bool {
        op.error_codes.iter().any(|c| c == &self.0)
    }
}

/// Operations answered without any error.
#[derive(Debug, Clone, Copy)]
pub struct Succeeded;

/// Matches operations answered without errors.
///
/// ```
/// use opencti_mock::{Expect, matchers::succeeded};
/// let e = Expect::given(succeeded()).expect(1..);
/// # let _ = e;
/// ```
pub fn succeeded() -> Succeeded {
    Succeeded
}

impl Matcher<ReceivedOperation> for Succeeded {
    fn matches(&self, op: &ReceivedOperation) -> bool {
        op.error_codes.is_empty() && op.http_status == 200
    }
}
