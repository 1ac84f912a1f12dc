//! The platform's GraphQL errors (`config/errors.ts`): code, default message, and the
//! `extensions.data` every error carries (`http_status`, `genre`).
//!
//! On the wire an error looks like
//! `{"message": "...", "extensions": {"code": "AUTH_REQUIRED", "data": {"http_status": 401,
//! "genre": "TECHNICAL"}}, "name": "AUTH_REQUIRED"}` with HTTP 200; the top-level `name`
//! (a copy of the code, kept by the platform for old clients) is added when the response
//! is serialised (`crate::http::graphql`).

use async_graphql::{Error, ErrorExtensions};
use serde_json::{Map, Value, json};

/// A platform error code with its HTTP status and genre.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// `extensions.code`.
    pub name: &'static str,
    /// Default message.
    pub message: &'static str,
    /// `extensions.data.http_status`.
    pub http_status: u16,
    /// `extensions.data.genre` (`None` for codes the platform gives none).
    pub genre: Option<&'static str>,
}

/// `AUTH_REQUIRED`: no user (no token and a bad token are indistinguishable).
pub const AUTH_REQUIRED: Code =
    Code { name: "AUTH_REQUIRED", message: "You must be logged in to do this.", http_status: 401, genre: Some("TECHNICAL") };
/// `FORBIDDEN_ACCESS`: the user lacks the capability.
pub const FORBIDDEN_ACCESS: Code =
    Code { name: "FORBIDDEN_ACCESS", message: "You are not allowed to do this.", http_status: 403, genre: Some("TECHNICAL") };
/// `FUNCTIONAL_ERROR`.
pub const FUNCTIONAL_ERROR: Code =
    Code { name: "FUNCTIONAL_ERROR", message: "Business validation", http_status: 400, genre: Some("BUSINESS") };
/// `UNSUPPORTED_ERROR`.
pub const UNSUPPORTED_ERROR: Code =
    Code { name: "UNSUPPORTED_ERROR", message: "Unsupported operation", http_status: 500, genre: Some("BUSINESS") };
/// `DATABASE_ERROR`.
pub const DATABASE_ERROR: Code =
    Code { name: "DATABASE_ERROR", message: "A database error has occurred", http_status: 500, genre: Some("TECHNICAL") };
/// `ALREADY_DELETED_ERROR`.
pub const ALREADY_DELETED_ERROR: Code =
    Code { name: "ALREADY_DELETED_ERROR", message: "Already deleted elements", http_status: 400, genre: Some("BUSINESS") };
/// `MISSING_REFERENCE_ERROR`.
pub const MISSING_REFERENCE_ERROR: Code =
    Code { name: "MISSING_REFERENCE_ERROR", message: "Element(s) not found", http_status: 404, genre: Some("BUSINESS") };
/// `VALIDATION_ERROR`.
pub const VALIDATION_ERROR: Code =
    Code { name: "VALIDATION_ERROR", message: "Validation error", http_status: 500, genre: Some("BUSINESS") };
/// `RESOURCE_NOT_FOUND`.
pub const RESOURCE_NOT_FOUND: Code =
    Code { name: "RESOURCE_NOT_FOUND", message: "Resource not found", http_status: 404, genre: None };
/// `WORK_NOT_ALIVE`: a request in the context of a dead work (`opencti-work-id` header).
pub const WORK_NOT_ALIVE: Code = Code {
    name: "WORK_NOT_ALIVE",
    message: "Work is no longer alive, no request can be done within the context of this work",
    http_status: 400,
    genre: Some("BUSINESS"),
};
/// `DRAFT_LOCKED`: a request in a draft that does not exist or is not open.
pub const DRAFT_LOCKED: Code = Code {
    name: "DRAFT_LOCKED",
    message: "Draft is in a locked state, no request can be done within this draft",
    http_status: 400,
    genre: Some("BUSINESS"),
};
/// `UNKNOWN_ERROR`.
pub const UNKNOWN_ERROR: Code =
    Code { name: "UNKNOWN_ERROR", message: "An unknown error has occurred", http_status: 500, genre: Some("TECHNICAL") };
/// `LOCK_ERROR`.
pub const LOCK_ERROR: Code = Code {
    name: "LOCK_ERROR",
    message: "Execution timeout, too many concurrent call on the same entities",
    http_status: 500,
    genre: Some("BUSINESS"),
};

/// `BAD_USER_INPUT`: a variable does not satisfy an input constraint.
pub const BAD_USER_INPUT: Code = Code { name: "BAD_USER_INPUT", message: "Bad user input", http_status: 400, genre: None };
/// `GRAPHQL_VALIDATION_FAILED`: the document does not validate against the schema.
pub const GRAPHQL_VALIDATION_FAILED: Code =
    Code { name: "GRAPHQL_VALIDATION_FAILED", message: "Validation failed", http_status: 400, genre: None };
/// `GRAPHQL_PARSE_FAILED`: the document does not parse.
pub const GRAPHQL_PARSE_FAILED: Code =
    Code { name: "GRAPHQL_PARSE_FAILED", message: "Syntax error", http_status: 400, genre: None };
/// `INTERNAL_SERVER_ERROR`: an unexpected execution failure.
pub const INTERNAL_SERVER_ERROR: Code =
    Code { name: "INTERNAL_SERVER_ERROR", message: "Internal server error", http_status: 500, genre: None };

/// Every code the mock can answer, for fault rules given by name.
pub const ALL: &[Code] = &[
    AUTH_REQUIRED,
    FORBIDDEN_ACCESS,
    FUNCTIONAL_ERROR,
    UNSUPPORTED_ERROR,
    DATABASE_ERROR,
    ALREADY_DELETED_ERROR,
    MISSING_REFERENCE_ERROR,
    VALIDATION_ERROR,
    RESOURCE_NOT_FOUND,
    WORK_NOT_ALIVE,
    DRAFT_LOCKED,
    UNKNOWN_ERROR,
    LOCK_ERROR,
    BAD_USER_INPUT,
    GRAPHQL_VALIDATION_FAILED,
    GRAPHQL_PARSE_FAILED,
    INTERNAL_SERVER_ERROR,
];

impl Code {
    /// A code by name; unknown names get `http_status` 500 and no genre.
    pub fn by_name(name: &str) -> Code {
        ALL.iter().copied().find(|c| c.name == name).unwrap_or(Code {
            name: "UNKNOWN_ERROR",
            message: "An unknown error has occurred",
            http_status: 500,
            genre: Some("TECHNICAL"),
        })
    }

    /// `extensions.data` for this code plus extra keys.
    pub fn data(&self, extra: Map<String, Value>) -> Value {
        let mut data = Map::new();
        data.insert("http_status".into(), json!(self.http_status));
        if let Some(g) = self.genre {
            data.insert("genre".into(), json!(g));
        }
        data.extend(extra);
        Value::Object(data)
    }

    /// The error with the default message.
    pub fn err(&self) -> Error {
        self.with(self.message, Map::new())
    }

    /// The error with a message and extra `data` keys.
    pub fn with(&self, message: impl Into<String>, extra: Map<String, Value>) -> Error {
        let code = self.name;
        let data = async_graphql::Value::from_json(self.data(extra)).unwrap_or_default();
        Error::new(message).extend_with(move |_, e| {
            e.set("code", code);
            e.set("data", data.clone());
        })
    }
}

/// `FUNCTIONAL_ERROR` with a message and data.
pub fn functional(message: impl Into<String>, data: Value) -> Error {
    FUNCTIONAL_ERROR.with(message, data.as_object().cloned().unwrap_or_default())
}

/// `UNSUPPORTED_ERROR` with a message and data.
pub fn unsupported(message: impl Into<String>, data: Value) -> Error {
    UNSUPPORTED_ERROR.with(message, data.as_object().cloned().unwrap_or_default())
}

/// A raw error object (for responses produced outside execution), platform-shaped.
pub fn error_object(code: Code, message: &str) -> Value {
    json!({
        "message": message,
        "extensions": {"code": code.name, "data": code.data(Map::new())},
        "name": code.name,
    })
}
