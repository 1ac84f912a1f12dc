//! `POST /graphql`: body limit, parsing, caller, faults, execution, transcript.
//!
//! The order follows the platform's Express stack: the JSON body parser (limit, syntax
//! errors answered `500 {"status":"error","error":…}` by the platform's error handler),
//! the multipart upload parser, the authenticated context (including the work-alive
//! check of 7.x), then Apollo (parse, validate, execute; GraphQL errors always with
//! HTTP 200 and the top-level `name`).

use std::collections::HashSet;
use std::time::Duration;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection};
use async_graphql::{Request, Variables};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value as Json, json};

use crate::buffer::BodyBuf;
use crate::graphql::context::{Blobs, Caller};
use crate::graphql::errors::{self, Code, GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, INTERNAL_SERVER_ERROR, error_object};
use crate::graphql::limits::{self, DocumentLimits};
use crate::http::AppState;
use crate::http::auth::{caller, header};
use crate::http::body::{BodyError, read_limited};
use crate::http::multipart;
use crate::store::faults::FaultAction;
use crate::store::transcript::{EntryKind, ReceivedOperation, RejectedRequest, abbreviate};

/// The platform's answer to an over-limit body (its Express error handler ignores the
/// parser's 413 and answers 500).
pub fn too_large() -> Response {
    platform_error(StatusCode::INTERNAL_SERVER_ERROR, "request entity too large")
}

/// `{"status":"error","error":…}` with a status: the platform's Express error shape.
pub fn platform_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"status": "error", "error": message}))).into_response()
}

/// Apollo's code for a request that is not a GraphQL request.
const BAD_REQUEST: Code = Code { name: "BAD_REQUEST", message: "Bad request", http_status: 400, genre: None };

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequest<'a> {
    #[serde(default)]
    query: Option<String>,
    #[serde(default, borrow)]
    variables: Option<&'a RawValue>,
    #[serde(default)]
    operation_name: Option<String>,
}

/// A large string variable, decoded once the body is no longer borrowed.
struct PendingBlob {
    slot: usize,
    range: std::ops::Range<usize>,
}

/// Variables of a JSON request. Large string values (a `stixBundlePush` bundle) never
/// become GraphQL values: they get a [`Blobs`] slot, filled by [`fill_blobs`].
fn json_variables(
    raw: Option<&RawValue>,
    body: &[u8],
    blobs: &mut Blobs,
    pending: &mut Vec<PendingBlob>,
) -> Result<Variables, String> {
    let Some(raw) = raw.filter(|r| r.get().trim() != "null") else { return Ok(Variables::default()) };
    let entries: Vec<(String, &RawValue)> = serde_json::from_str::<IndexMap<String, &RawValue>>(raw.get())
        .map_err(|e| format!("Invalid GraphQL request: variables must be an object ({e})"))?
        .into_iter()
        .collect();
    let mut map = IndexMap::with_capacity(entries.len());
    for (name, value) in entries {
        let text = value.get();
        let v = if text.len() >= Blobs::THRESHOLD && text.starts_with('"') {
            let start = text.as_ptr() as usize - body.as_ptr() as usize;
            let (slot, placeholder) = blobs.reserve();
            pending.push(PendingBlob { slot, range: start..start + text.len() });
            async_graphql::Value::String(placeholder)
        } else {
            serde_json::from_str(text).map_err(|e| format!("Invalid GraphQL request: {e}"))?
        };
        map.insert(async_graphql::Name::new(name), v);
    }
    Ok(Variables::from_value(async_graphql::Value::Object(map)))
}

/// Decodes the pending large strings: the largest in place, in the body's own buffer
/// (the body is consumed), the others by copy.
fn fill_blobs(body: BodyBuf, mut pending: Vec<PendingBlob>, blobs: &mut Blobs) -> Result<(), String> {
    pending.sort_by_key(|p| p.range.len());
    let Some(largest) = pending.pop() else { return Ok(()) };
    for p in pending {
        let text = std::str::from_utf8(&body.as_slice()[p.range]).map_err(|e| format!("Invalid GraphQL request: {e}"))?;
        let s =
            crate::buffer::unescape::json_string(text).ok_or("Invalid GraphQL request: a variable is not a valid JSON string")?;
        blobs.fill(p.slot, s);
    }
    let s = crate::buffer::take_string_in_place(body, largest.range)
        .ok_or("Invalid GraphQL request: a variable is not a valid JSON string")?;
    blobs.fill(largest.slot, s);
    Ok(())
}

/// What the transcript and fault rules need to know about an operation.
struct OperationInfo {
    name: Option<String>,
    kind: String,
    root_fields: Vec<String>,
    edits: Vec<String>,
    introspection: bool,
}

fn operation_info(doc: &ExecutableDocument, wanted: Option<&str>) -> Option<OperationInfo> {
    let (name, op) = match &doc.operations {
        DocumentOperations::Single(op) => (None, op),
        DocumentOperations::Multiple(ops) => match wanted {
            Some(w) => ops.iter().find(|(n, _)| n.as_str() == w).map(|(n, op)| (Some(n.to_string()), op))?,
            None if ops.len() == 1 => ops.iter().next().map(|(n, op)| (Some(n.to_string()), op))?,
            None => return None,
        },
    };
    let mut root_fields = Vec::new();
    collect_root_fields(doc, &op.node.selection_set.node.items, &mut root_fields);
    let mut edits = Vec::new();
    collect_edits(doc, &op.node.selection_set.node.items, &mut edits);
    let introspection = root_fields.iter().any(|f| f == "__schema" || f == "__type");
    let kind = match op.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    Some(OperationInfo { name, kind: kind.into(), root_fields, edits, introspection })
}

/// The operations asked of `…Edit` root fields, as `workEdit.toProcessed`: the platform's
/// edit mutations are sub-fields, and what a client did is in them.
fn collect_edits(doc: &ExecutableDocument, items: &[async_graphql::Positioned<Selection>], out: &mut Vec<String>) {
    for_each_field(doc, items, |f| {
        if f.name.node.ends_with("Edit") {
            let mut subs = Vec::new();
            collect_root_fields(doc, &f.selection_set.node.items, &mut subs);
            for sub in subs {
                let name = format!("{}.{sub}", f.name.node);
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    });
}

/// The names of the fields of a selection set, through its fragments.
fn collect_root_fields(doc: &ExecutableDocument, items: &[async_graphql::Positioned<Selection>], out: &mut Vec<String>) {
    for_each_field(doc, items, |f| {
        let n = f.name.node.to_string();
        if n != "__typename" && !out.contains(&n) {
            out.push(n);
        }
    });
}

/// Calls `visit` on each field of a selection set, its inline fragments and the fragments
/// it spreads — each fragment once, without recursion: this runs before the document's
/// limits are checked (`graphql::limits`), so cycles and long chains must be harmless.
fn for_each_field<'a>(
    doc: &'a ExecutableDocument,
    items: &'a [async_graphql::Positioned<Selection>],
    mut visit: impl FnMut(&'a async_graphql::parser::types::Field),
) {
    let mut seen: HashSet<&async_graphql::Name> = HashSet::new();
    let mut stack = vec![items.iter()];
    while let Some(iter) = stack.last_mut() {
        let Some(item) = iter.next() else {
            stack.pop();
            continue;
        };
        match &item.node {
            Selection::Field(f) => visit(&f.node),
            Selection::FragmentSpread(s) => {
                if let Some(frag) = doc.fragments.get(&s.node.fragment_name.node)
                    && seen.insert(&s.node.fragment_name.node)
                {
                    stack.push(frag.node.selection_set.node.items.iter());
                }
            }
            Selection::InlineFragment(f) => stack.push(f.node.selection_set.node.items.iter()),
        }
    }
}

fn variables_json(v: &Variables, blobs: &mut Blobs) -> Json {
    let mut map = serde_json::Map::new();
    for (k, v) in v.iter() {
        let j = match v {
            async_graphql::Value::String(s) if blobs.len_of(s) > 4096 => {
                Json::String(format!("<string of {} bytes>", blobs.len_of(s)))
            }
            other => abbreviate(&other.clone().into_json().unwrap_or(Json::Null)),
        };
        map.insert(k.to_string(), j);
    }
    Json::Object(map)
}

/// Completes error objects the way the platform's `formatError` does: every error gets an
/// `extensions.code` (validation and parse errors get Apollo's codes) and a top-level
/// `name` equal to it.
fn platform_errors(errors: &mut [Json]) -> Vec<String> {
    let mut codes = Vec::new();
    for e in errors.iter_mut() {
        let Some(obj) = e.as_object_mut() else { continue };
        let has_path = obj.get("path").is_some();
        let message = obj.get("message").and_then(Json::as_str).unwrap_or_default().to_string();
        let ext = obj.entry("extensions").or_insert_with(|| json!({}));
        let code = match ext.get("code").and_then(Json::as_str) {
            Some(c) => c.to_string(),
            None => {
                let code: Code = if has_path {
                    INTERNAL_SERVER_ERROR
                } else if message.starts_with("Syntax Error") || message.contains("expected") && message.contains("-->") {
                    GRAPHQL_PARSE_FAILED
                } else if message.starts_with("Variable") || message.starts_with("Invalid value for argument") {
                    errors::BAD_USER_INPUT
                } else {
                    GRAPHQL_VALIDATION_FAILED
                };
                if let Some(m) = ext.as_object_mut() {
                    m.insert("code".into(), json!(code.name));
                }
                code.name.to_string()
            }
        };
        obj.insert("name".into(), json!(code));
        codes.push(code);
    }
    codes
}

fn graphql_error_response(status: StatusCode, code: Code, message: &str) -> Response {
    (status, axum::Json(json!({"errors": [error_object(code, message)], "data": null}))).into_response()
}

struct Recorder<'a> {
    state: &'a AppState,
    info: Option<&'a OperationInfo>,
    variables: Json,
    caller: Caller,
    applicant: Option<String>,
}

impl Recorder<'_> {
    fn record(self, status: u16, error_codes: Vec<String>) {
        let now = self.state.core.store.clock().now();
        let op = ReceivedOperation {
            operation_name: self.info.and_then(|i| i.name.clone()),
            root_fields: self.info.map(|i| i.root_fields.clone()).unwrap_or_default(),
            edits: self.info.map(|i| i.edits.clone()).unwrap_or_default(),
            operation_type: self.info.map(|i| i.kind.clone()).unwrap_or_default(),
            variables: self.variables,
            user_id: self.caller.user.as_ref().map(|u| u.id.clone()),
            user_name: self.caller.user.as_ref().map(|u| u.name.clone()),
            applicant_id: self.applicant,
            http_status: status,
            error_codes,
        };
        self.state.core.store.write(|s| s.transcript.push(now, EntryKind::Operation(op)));
    }
}

fn reject(state: &AppState, status: u16, reason: &str, bytes: u64) {
    let now = state.core.store.clock().now();
    let entry = RejectedRequest { path: "/graphql".into(), http_status: status, reason: reason.into(), bytes };
    state.core.store.write(|s| s.transcript.push(now, EntryKind::Rejected(entry)));
}

/// `POST /graphql`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut blobs = Blobs::default();
    let parsed = if content_type.starts_with("multipart/form-data") {
        multipart::parse(&content_type, body).await
    } else {
        let content_length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let bytes = match read_limited(body, state.limit, content_length).await {
            Ok(b) => b,
            Err(BodyError::TooLarge { received }) => {
                reject(&state, 500, "request entity too large", received);
                return too_large();
            }
            Err(BodyError::Io(e)) => {
                reject(&state, 400, &format!("body could not be read: {e}"), 0);
                return platform_error(StatusCode::BAD_REQUEST, &e);
            }
        };
        let mut pending = Vec::new();
        let parsed = match serde_json::from_slice::<RawRequest>(bytes.as_slice()) {
            Ok(raw) => json_variables(raw.variables, bytes.as_slice(), &mut blobs, &mut pending)
                .map_err(multipart::ParseError::Graphql)
                .map(|variables| multipart::Parsed {
                    query: raw.query,
                    variables,
                    operation_name: raw.operation_name,
                    uploads: Vec::new(),
                }),
            Err(e) => Err(match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    multipart::ParseError::Body(format!("Unexpected JSON in request body: {e}"))
                }
                _ => multipart::ParseError::Graphql(format!("Invalid GraphQL request: {e}")),
            }),
        };
        match parsed {
            Ok(p) => fill_blobs(bytes, pending, &mut blobs).map(|()| p).map_err(multipart::ParseError::Graphql),
            Err(e) => Err(e),
        }
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(multipart::ParseError::Body(msg)) => {
            reject(&state, 500, &msg, 0);
            return platform_error(StatusCode::INTERNAL_SERVER_ERROR, &msg);
        }
        Err(multipart::ParseError::Graphql(msg)) => {
            reject(&state, 200, &msg, 0);
            return graphql_error_response(StatusCode::OK, BAD_REQUEST, &msg);
        }
    };
    let Some(query) = parsed.query.filter(|q| !q.trim().is_empty()) else {
        let msg = "GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.";
        reject(&state, 200, msg, 0);
        return graphql_error_response(StatusCode::OK, BAD_REQUEST, msg);
    };

    // The executor checks the document's limits itself (`graphql::limits`); this early parse,
    // for the transcript and the fault rules, must not be the one a hostile text breaks.
    let limits = DocumentLimits::of(&state.core.settings);
    let doc = limits::check_source(&query, &limits).ok().and_then(|()| async_graphql::parser::parse_query(&query).ok());
    let info = doc.as_ref().and_then(|d| operation_info(d, parsed.operation_name.as_deref()));
    let mut caller = caller(&state.core.store, &headers);
    let mut variables = parsed.variables;
    blobs.extract(&mut variables);
    let variables_record = variables_json(&variables, &mut blobs);
    let recorder = |caller: &Caller| Recorder {
        state: &state,
        info: info.as_ref(),
        variables: variables_record.clone(),
        caller: caller.clone(),
        applicant: header(&headers, "opencti-applicant-id"),
    };

    // 7.x: a request in the context of a work that is no longer alive is refused.
    if let Some(work_id) = header(&headers, "opencti-work-id")
        && !state.core.store.read(|s| s.works.is_alive(&work_id))
    {
        recorder(&caller).record(500, vec![errors::WORK_NOT_ALIVE.name.into()]);
        return graphql_error_response(StatusCode::INTERNAL_SERVER_ERROR, errors::WORK_NOT_ALIVE, errors::WORK_NOT_ALIVE.message);
    }

    // The platform's `checkDraftInContext`, also part of the context: a request in a draft
    // that does not exist is refused whole (nothing it carries is stored anywhere).
    if let Some(draft_id) = &caller.draft_id
        && !state.core.store.read(|s| s.drafts.get(draft_id).is_some())
    {
        let (code, message) = match caller.user {
            Some(_) => (errors::DRAFT_LOCKED, "Could not find draft workspace"),
            None => (errors::FUNCTIONAL_ERROR, "User cannot be found"),
        };
        recorder(&caller).record(500, vec![code.name.into()]);
        return graphql_error_response(StatusCode::INTERNAL_SERVER_ERROR, code, message);
    }

    // Fault rules.
    let mut names: Vec<&str> = Vec::new();
    if let Some(i) = &info {
        names.extend(i.name.as_deref());
        names.extend(i.root_fields.iter().map(String::as_str));
    }
    let fired = state.core.store.write(|s| s.faults.on_request(&names));
    let mut stale_state = false;
    let op_label = info.as_ref().and_then(|i| i.name.clone().or_else(|| i.root_fields.first().cloned())).unwrap_or_default();
    for (rule, action) in fired {
        let now = state.core.store.clock().now();
        let label = format!("{action:?}");
        state.core.store.write(|s| s.transcript.push(now, EntryKind::Fault { rule, operation: op_label.clone(), action: label }));
        match action {
            FaultAction::Delay { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            FaultAction::RevokeToken { token } => {
                let token = token.or_else(|| crate::http::auth::bearer(&headers)).unwrap_or_default();
                state.core.store.write(|s| s.users.revoke_token(&token));
                caller = crate::http::auth::caller(&state.core.store, &headers);
            }
            FaultAction::Error { code, message } => {
                let mut error = error_object(Code::by_name(&code), &message);
                error["extensions"]["code"] = json!(code);
                error["name"] = json!(code);
                recorder(&caller).record(200, vec![code]);
                return (StatusCode::OK, axum::Json(json!({"errors": [error], "data": null}))).into_response();
            }
            FaultAction::HttpStatus { status, body } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                recorder(&caller).record(status.as_u16(), Vec::new());
                return (status, body).into_response();
            }
            FaultAction::StaleState => stale_state = true,
        }
    }

    // Introspection: only for authenticated users, and only when enabled.
    let introspection_allowed = state.introspection && caller.user.is_some();
    if info.as_ref().is_some_and(|i| i.introspection) && !introspection_allowed {
        recorder(&caller).record(200, vec![errors::RESOURCE_NOT_FOUND.name.into()]);
        return graphql_error_response(StatusCode::OK, errors::RESOURCE_NOT_FOUND, "GraphQL introspection not authorized!");
    }

    let rec = recorder(&caller);
    let mut request = Request::new(query).variables(variables).data(caller).data(blobs).data(limits).data(state.core.clone());
    if let Some(op) = parsed.operation_name {
        request = request.operation_name(op);
    }
    if stale_state {
        request = request.data(crate::graphql::connector::StaleStateEcho);
    }
    // Parsed once: the executor takes this document instead of parsing the text again.
    if let Some(doc) = doc {
        request.set_parsed_query(doc);
    }
    for (var_path, upload) in parsed.uploads {
        request.set_upload(&var_path, upload);
    }
    if !introspection_allowed {
        request = request.disable_introspection();
    }
    let response = state.schema.execute(request).await;
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({"data": null}));
    let codes = match body.get_mut("errors").and_then(Json::as_array_mut) {
        Some(errors) => platform_errors(errors),
        None => Vec::new(),
    };
    rec.record(200, codes);
    (StatusCode::OK, axum::Json(body)).into_response()
}
