//! Matchers for [`Expect`](super::Expect): operation name, variables, caller, outcome.

use std::fmt::Debug;

use serde_json::Value;

use crate::store::transcript::ReceivedOperation;

/// A condition on a received operation.
pub trait Matcher: Send + Sync + Debug {
    /// Whether the operation satisfies the condition.
    fn matches(&self, op: &ReceivedOperation) -> bool;
}

/// Operation name (`RegisterConnector`) or root field (`registerConnector`).
#[derive(Debug, Clone)]
pub struct Operation(String);

/// Matches operations by name or root field.
pub fn operation(name: impl Into<String>) -> Operation {
    Operation(name.into())
}

impl Matcher for Operation {
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
pub fn variable(path: impl Into<String>, value: impl Into<Value>) -> Variable {
    Variable { path: path.into(), value: value.into() }
}

impl Matcher for Variable {
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
pub fn user(name: impl Into<String>) -> UserName {
    UserName(name.into())
}

impl Matcher for UserName {
    fn matches(&self, op: &ReceivedOperation) -> bool {
        op.user_name.as_deref() == Some(self.0.as_str())
    }
}

/// Operations answered with an error code (`AUTH_REQUIRED`…).
#[derive(Debug, Clone)]
pub struct ErrorCode(String);

/// Matches operations answered with this error code.
pub fn error_code(code: impl Into<String>) -> ErrorCode {
    ErrorCode(code.into())
}

impl Matcher for ErrorCode {
    fn matches(&self, op: &ReceivedOperation) -> bool {
        op.error_codes.iter().any(|c| c == &self.0)
    }
}

/// Operations answered without any error.
#[derive(Debug, Clone, Copy)]
pub struct Succeeded;

/// Matches operations answered without errors.
pub fn succeeded() -> Succeeded {
    Succeeded
}

impl Matcher for Succeeded {
    fn matches(&self, op: &ReceivedOperation) -> bool {
        op.error_codes.is_empty() && op.http_status == 200
    }
}
