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
///
/// ```
/// use opencti_mock::{Expect, Matcher, ReceivedBundle};
///
/// // bundles that came over the broker
/// struct OverAmqp;
/// impl Matcher<ReceivedBundle> for OverAmqp {
///     fn matches(&self, bundle: &ReceivedBundle) -> bool {
///         bundle.transport == "amqp"
///     }
/// }
///
/// let pushed = ReceivedBundle { connector_id: "feed-1".into(), work_id: None, transport: "api".into(), bytes: 64, objects: 1, content: None };
/// assert!(!OverAmqp.matches(&pushed));
/// let none_over_amqp = Expect::given(OverAmqp).expect(0);
/// # let _ = none_over_amqp;
/// ```
pub trait Matcher<T: Subject = ReceivedOperation>: Send + Sync {
    /// Whether `item` satisfies the condition.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{Matcher, MockPlatform, ReceivedOperation, matchers::operation};
    /// let platform = MockPlatform::start().await;
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
    /// let health = &platform.received_operations()[0];
    /// // a matcher tried on what was received, before it is mounted; a closure is one too
    /// let answered = |op: &ReceivedOperation| op.http_status == 200;
    /// assert!(operation("Health").matches(health) && answered.matches(health));
    /// # }
    /// ```
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
///
/// ```
/// use opencti_mock::{Matcher, ReceivedBundle, matchers::any};
/// let empty = ReceivedBundle { connector_id: String::new(), work_id: None, transport: "api".into(), bytes: 0, objects: 0, content: None };
/// // even an empty bundle of no connector
/// assert!(any().matches(&empty));
/// ```
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
///
/// ```
/// use opencti_mock::{Matcher, ReceivedBundle, matchers::connector};
/// let bundle = ReceivedBundle { connector_id: "feed-1".into(), work_id: None, transport: "api".into(), bytes: 64, objects: 1, content: None };
/// assert!(connector("feed-1").matches(&bundle) && !connector("feed-2").matches(&bundle));
/// ```
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
///
/// ```
/// use opencti_mock::{Matcher, ReceivedBundle, matchers::objects};
/// let bundle = |objects| ReceivedBundle {
///     connector_id: "feed-1".into(), work_id: None, transport: "api".into(), bytes: 64, objects, content: None,
/// };
/// let range = objects(1..=100);
/// // both ends included, nothing outside
/// assert!(range.matches(&bundle(1)) && range.matches(&bundle(100)) && !range.matches(&bundle(0)) && !range.matches(&bundle(101)));
/// ```
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
///
/// ```
/// # #[tokio::main] async fn main() {
/// use serde_json::json;
/// use opencti_mock::{Expect, MockPlatform, Work, matchers::completed};
/// let platform = MockPlatform::start().await;
/// let done = Expect::<Work>::given(completed()).expect(1).mount_as_scoped(&platform);
/// let graphql = |query: &str, variables: serde_json::Value| reqwest::Client::new().post(format!("{}/graphql", platform.url()))
///     .bearer_auth(platform.token()).json(&json!({"query": query, "variables": variables})).send();
/// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
/// graphql("mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///     json!({"input": {"id": id, "name": "feed", "type": "EXTERNAL_IMPORT"}})).await.unwrap();
/// graphql("mutation WorkAdd($connectorId: String!) { workAdd(connectorId: $connectorId) { id } }", json!({"connectorId": id})).await.unwrap();
/// // a work counts once it is complete, whenever it was created
/// assert!(done.received().is_empty());
/// graphql("mutation WorkToProcessed($id: ID!) { workEdit(id: $id) { toProcessed } }", json!({"id": platform.works()[0].id})).await.unwrap();
/// assert_eq!(done.received().len(), 1);
/// # }
/// ```
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
///
/// ```
/// # #[tokio::main] async fn main() {
/// use serde_json::json;
/// use opencti_mock::{Matcher, MockPlatform, matchers::{completed, without_errors}};
/// let platform = MockPlatform::start().await;
/// let graphql = |query: &str, variables: serde_json::Value| reqwest::Client::new().post(format!("{}/graphql", platform.url()))
///     .bearer_auth(platform.token()).json(&json!({"query": query, "variables": variables})).send();
/// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
/// graphql("mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///     json!({"input": {"id": id, "name": "feed", "type": "EXTERNAL_IMPORT"}})).await.unwrap();
/// graphql("mutation WorkAdd($connectorId: String!) { workAdd(connectorId: $connectorId) { id } }", json!({"connectorId": id})).await.unwrap();
/// // the connector closes its work in error
/// graphql(
///     "mutation WorkToProcessed($id: ID!, $message: String) { workEdit(id: $id) { toProcessed(message: $message, inError: true) } }",
///     json!({"id": platform.works()[0].id, "message": "feed unreachable"}),
/// ).await.unwrap();
/// let work = platform.works().remove(0);
/// assert!(completed().matches(&work) && !without_errors().matches(&work));
/// # }
/// ```
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
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{Matcher, MockPlatform, matchers::operation};
/// let platform = MockPlatform::start().await;
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
/// let health = &platform.received_operations()[0];
/// // by operation name or by root field
/// assert!(operation("Health").matches(health) && operation("about").matches(health) && !operation("workAdd").matches(health));
/// # }
/// ```
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
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{Matcher, MockPlatform, matchers::variable};
/// let platform = MockPlatform::start().await;
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({
///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///         "variables": {"input": {"id": "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b", "name": "feed", "type": "EXTERNAL_IMPORT",
///             "scope": ["ipv4-addr"]}},
///     }))
///     .send().await.unwrap();
/// let register = &platform.received_operations()[0];
/// // an array index is a segment of the path too
/// assert!(variable("input.type", "EXTERNAL_IMPORT").matches(register) && variable("input.scope.0", "ipv4-addr").matches(register));
/// assert!(!variable("input.type", "INTERNAL_ENRICHMENT").matches(register));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Variable {
    path: String,
    value: Value,
}

/// Matches a variable value by dotted path; a number in the path indexes a list
/// (`input.scope.0`).
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
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{Matcher, MockPlatform, matchers::user};
/// let platform = MockPlatform::start().await;
/// let token = platform.add_connector_user("importer");
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(&token)
///     .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
/// let health = &platform.received_operations()[0];
/// assert!(user("importer").matches(health) && !user("analyst").matches(health));
/// # }
/// ```
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
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{Matcher, MockPlatform, matchers::error_code};
/// let platform = MockPlatform::start().await;
/// // a token the platform does not know
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth("not-a-token")
///     .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
/// let denied = &platform.received_operations()[0];
/// assert!(error_code("AUTH_REQUIRED").matches(denied) && !error_code("FORBIDDEN_ACCESS").matches(denied));
/// # }
/// ```
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
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{Matcher, MockPlatform, matchers::succeeded};
/// let platform = MockPlatform::start().await;
/// for token in [platform.token(), "not-a-token"] {
///     reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(token)
///         .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
/// }
/// let outcomes: Vec<bool> = platform.received_operations().iter().map(|op| succeeded().matches(op)).collect();
/// assert_eq!(outcomes, [true, false]);
/// # }
/// ```
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
