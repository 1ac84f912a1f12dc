//! The auth matrix: every GraphQL root field (and every operation of the edit mutations
//! under them), every control route and stored files × every kind of caller (no token,
//! malformed headers, an unknown token, the Connector role, a user without capabilities, a
//! user limited to TLP:CLEAR, the administrator).
//!
//! Why: access control is where a mock that "mostly works" silently lies — a connector
//! tested against a mock that lets its token through where the platform answers
//! `FORBIDDEN_ACCESS` breaks on the first real deployment. So each cell's expectation is
//! the platform's rule computed here from the SDL's `@auth` directives and the caller's
//! capabilities (`auth_matrix/rules.rs`), not a snapshot of today's answers; the fields
//! are read from the schema text at test time (`auth_matrix/documents.rs`), so a new field
//! cannot escape; and the control routes are the README's table, so the two cannot drift.

#[path = "auth_matrix/documents.rs"]
mod documents;
#[path = "auth_matrix/rules.rs"]
mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures_util::StreamExt;
use opencti_mock::MockPlatform;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value as Json, json};

use documents::{FieldDocument, Operation, Sdl};
use rules::{
    AUTH_REQUIRED, ControlExpected, Expected, FORBIDDEN_ACCESS, FileFacts, Identity, Markings, Principal, TLP_CLEAR, TLP_RED,
};

/// Requests in flight at once (the CI box has two cores).
const CONCURRENCY: usize = 8;

/// The callers of every matrix, created on `platform`.
fn principals(platform: &MockPlatform) -> Vec<Principal> {
    let connector = platform.add_connector_user("matrix connector");
    let no_capability = platform.add_user("matrix no capability", &[]);
    let limited = platform.add_connector_user("matrix TLP:CLEAR only");
    assert!(platform.limit_to_markings(&limited, &[TLP_CLEAR]), "the limited user exists");
    // The matrix takes `add_connector_user` for the platform's Connector role: check the
    // user it made holds exactly the reference's capabilities.
    let held: BTreeSet<String> =
        platform.read(|s| s.users.by_token(&connector).map(|u| u.capabilities.clone())).unwrap().into_iter().collect();
    let reference: BTreeSet<String> = rules::CONNECTOR_ROLE.iter().map(|c| c.to_string()).collect();
    assert_eq!(held, reference, "add_connector_user grants the platform's Connector role (reference §11)");

    let admin = platform.token().to_string();
    let bearer = |t: &str| Some(format!("Bearer {t}"));
    let principal = |label, authorization, identity| Principal { label, authorization, identity };
    vec![
        principal("no token", None, Identity::Nobody),
        principal("empty bearer", Some("Bearer ".into()), Identity::Nobody),
        principal("Basic garbage", Some("Basic !!not-base64!!".into()), Identity::Nobody),
        // The platform reads `Bearer ` only (`startsWith('Bearer ')`), so the admin's own
        // token without it, or under another spelling of the scheme, authenticates nobody.
        principal("scheme-less admin token", Some(admin.clone()), Identity::Nobody),
        principal("lowercase bearer admin", Some(format!("bearer {admin}")), Identity::Nobody),
        principal("unknown token", bearer(&uuid::Uuid::new_v4().to_string()), Identity::Nobody),
        principal("connector", bearer(&connector), Identity::connector(Markings::All)),
        principal("no capability", bearer(&no_capability), Identity::User { capabilities: vec![], markings: Markings::All }),
        principal("TLP:CLEAR only", bearer(&limited), Identity::connector(Markings::Only(vec![TLP_CLEAR]))),
        principal("admin", bearer(&admin), Identity::admin()),
    ]
}

/// One client for every request (building one per request costs more than the request).
fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

fn with_auth(request: reqwest::RequestBuilder, who: &Principal) -> reqwest::RequestBuilder {
    match &who.authorization {
        Some(value) => request.header(AUTHORIZATION, value),
        None => request,
    }
}

/// The server still answers the administrator.
async fn still_serving(platform: &MockPlatform) {
    let body: Json = client()
        .post(format!("{}/graphql", platform.url()))
        .bearer_auth(platform.token())
        .json(&json!({"query": "query { about { version } }"}))
        .send()
        .await
        .expect("the server is still up")
        .json()
        .await
        .expect("a JSON answer");
    assert!(body["data"]["about"]["version"].is_string(), "about {{ version }} after the matrix: {body}");
}

/// How a cell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// As the rule says, and the call went through.
    LetThrough,
    /// As the rule says, and the call was refused.
    Refused,
    /// Not what the rule says.
    Differs,
}

/// Cells checked per principal, in the order principals were listed.
#[derive(Default)]
struct Tally {
    order: Vec<&'static str>,
    /// Per principal: let through, refused, differing from the rule.
    cells: BTreeMap<&'static str, [usize; 3]>,
}

impl Tally {
    fn count(&mut self, who: &'static str, cell: Cell) {
        if !self.order.contains(&who) {
            self.order.push(who);
        }
        self.cells.entry(who).or_default()[cell as usize] += 1;
    }

    fn print(&self, title: &str, started: Instant) {
        let total: usize = self.cells.values().flatten().sum();
        println!("{title}: {total} cells in {:.2?}", started.elapsed());
        for who in &self.order {
            let [through, refused, differ] = self.cells[who];
            println!(
                "  {who:<24} {:>4} cells: {through:>4} let through, {refused:>4} refused, {differ:>4} differ from the rule",
                through + refused + differ
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// GraphQL
// ---------------------------------------------------------------------------------------

/// A row of the GraphQL matrix: a document and the rule that judges it.
struct Row {
    kind: RowKind,
    /// The response path (`stixCoreObjectEdit`, `delete`).
    path: Vec<String>,
    query: String,
    variables: Json,
    uploads: Vec<String>,
    rule: RowRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Root(Operation),
    EditOperation,
    Meta,
}

enum RowRule {
    /// The `@auth` of each field of the path (none: never refused).
    Directives(Vec<Option<rules::Auth>>),
    /// `__schema` / `__type`.
    Introspection,
}

impl Row {
    fn label(&self) -> String {
        self.path.join(".")
    }

    fn of(kind: RowKind, f: FieldDocument) -> Row {
        Row { kind, path: f.path, query: f.query, variables: f.variables, uploads: f.uploads, rule: RowRule::Directives(f.auth) }
    }
}

/// Every root field, every edit operation, and the meta fields.
fn rows() -> Vec<Row> {
    let sdl = Sdl::parse(&opencti_mock::graphql::TEXTS.join("\n"));
    let mut rows: Vec<Row> = sdl.root_fields().into_iter().map(|f| Row::of(RowKind::Root(f.operation), f)).collect();
    rows.extend(sdl.edit_operations().into_iter().map(|f| Row::of(RowKind::EditOperation, f)));
    let meta = |field: &str, query: &str, rule| Row {
        kind: RowKind::Meta,
        path: vec![field.into()],
        query: query.into(),
        variables: json!({}),
        uploads: vec![],
        rule,
    };
    rows.push(meta("__typename", "query AuthMatrix { __typename }", RowRule::Directives(vec![None])));
    rows.push(meta("__schema", "query AuthMatrix { __schema { queryType { name } } }", RowRule::Introspection));
    rows.push(meta("__type", "query AuthMatrix { __type(name: \"Query\") { name } }", RowRule::Introspection));
    rows
}

async fn post_graphql(url: &str, who: &Principal, row: &Row) -> Result<(u16, Json), String> {
    let request = with_auth(client().post(format!("{url}/graphql")), who);
    let operations = json!({"query": row.query, "variables": row.variables});
    let request = if row.uploads.is_empty() {
        request.json(&operations)
    } else {
        // The GraphQL multipart request: operations, map, then one tiny file per upload.
        let map: serde_json::Map<String, Json> =
            row.uploads.iter().enumerate().map(|(i, path)| (i.to_string(), json!([path]))).collect();
        let mut form =
            reqwest::multipart::Form::new().text("operations", operations.to_string()).text("map", Json::Object(map).to_string());
        for i in 0..row.uploads.len() {
            let part = reqwest::multipart::Part::bytes(b"auth matrix\n".to_vec())
                .file_name("auth-matrix.txt")
                .mime_str("text/plain")
                .unwrap();
            form = form.part(i.to_string(), part);
        }
        request.multipart(form)
    };
    let response = request.send().await.map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| format!("body unreadable: {e}"))?;
    let body = serde_json::from_str(&text).map_err(|_| format!("HTTP {status}, not JSON: {text}"))?;
    Ok((status, body))
}

/// The error codes of an answer (`extensions.code`, which must agree with `name`).
fn codes(body: &Json) -> Result<Vec<String>, String> {
    let errors = body["errors"].as_array().map(Vec::as_slice).unwrap_or_default();
    errors
        .iter()
        .map(|e| {
            let code = e["extensions"]["code"].as_str();
            let name = e["name"].as_str();
            match (code, name) {
                (Some(c), Some(n)) if c == n => Ok(c.to_string()),
                (Some(c), None) | (None, Some(c)) => Ok(c.to_string()),
                _ => Err(format!("an error without an agreeing code and name: {e}")),
            }
        })
        .collect()
}

/// Judges one answer; when it is the rule's, whether it was refused and its error codes.
fn judge_graphql(expected: &Expected, path: &[String], status: u16, body: &Json) -> Result<(bool, Vec<String>), String> {
    if status != 200 {
        return Err(format!("HTTP {status} (every GraphQL answer is 200)"));
    }
    let codes = codes(body)?;
    // The data at the path; `null` as soon as a level is (a refused parent is not entered).
    let field_data =
        path.iter().try_fold(&body["data"], |data, key| (!data.is_null()).then(|| &data[key.as_str()])).unwrap_or(&Json::Null);
    match expected {
        Expected::Through => {
            if let Some(c) = codes.iter().find(|c| *c == AUTH_REQUIRED || *c == FORBIDDEN_ACCESS) {
                return Err(format!("refused with {c}, the rule lets it through"));
            }
            if let Some(c) =
                codes.iter().find(|c| ["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "BAD_REQUEST"].contains(&c.as_str()))
            {
                return Err(format!("the matrix's document is refused as invalid ({c}): fix the generator"));
            }
            Ok((false, codes))
        }
        Expected::Refused(code) => {
            if codes.is_empty() || codes.iter().any(|c| c != code) {
                return Err(format!("expected {code} only, got {codes:?}"));
            }
            if !field_data.is_null() {
                return Err(format!("refused with {code} but answered data {field_data}"));
            }
            Ok((true, codes))
        }
        Expected::IntrospectionRefused => {
            let refused = body["errors"][0]["message"] == "GraphQL introspection not authorized!";
            if !refused || !field_data.is_null() || codes.iter().any(|c| c == AUTH_REQUIRED || c == FORBIDDEN_ACCESS) {
                return Err("introspection without a user must be refused with \"GraphQL introspection not authorized!\"".into());
            }
            Ok((true, codes))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_graphql_root_field_answers_each_caller_as_the_platform_auth_directive_decides() {
    let started = Instant::now();
    let platform = MockPlatform::builder().start().await;
    let principals = principals(&platform);
    let rows = rows();
    let count = |kind: RowKind| rows.iter().filter(|r| r.kind == kind).count();
    let (queries, mutations, edits) =
        (count(RowKind::Root(Operation::Query)), count(RowKind::Root(Operation::Mutation)), count(RowKind::EditOperation));
    let fields = queries + mutations;
    assert!(fields > 100, "the SDL's root fields are found ({fields})");
    assert!(rows.iter().any(|r| !r.uploads.is_empty()), "fields taking an Upload are exercised through multipart requests");

    let cells: Vec<(&Principal, &Row)> = principals.iter().flat_map(|p| rows.iter().map(move |r| (p, r))).collect();
    let url = platform.url().to_string();
    let answers: Vec<_> = futures_util::stream::iter(cells)
        .map(|(who, row)| {
            let url = url.clone();
            async move {
                let expected = match &row.rule {
                    RowRule::Directives(auth) => rules::graphql_path(auth, &who.identity),
                    RowRule::Introspection => rules::introspection(&who.identity),
                };
                let verdict = match post_graphql(&url, who, row).await {
                    Ok((status, body)) => {
                        judge_graphql(&expected, &row.path, status, &body).map_err(|e| format!("{e}\n    answer: {body}"))
                    }
                    Err(e) => Err(e),
                };
                (who, row, expected, verdict)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut tally = Tally::default();
    let mut failures = Vec::new();
    // What the resolvers answered to the calls the rule lets through (dummy ids: mostly
    // "not found"), for the summary.
    let mut through_errors: BTreeMap<String, usize> = BTreeMap::new();
    for who in &principals {
        for (w, row, expected, verdict) in answers.iter().filter(|(w, ..)| w.label == who.label) {
            match verdict {
                Ok((refused, codes)) => {
                    tally.count(w.label, if *refused { Cell::Refused } else { Cell::LetThrough });
                    if !refused {
                        for code in codes {
                            *through_errors.entry(code.clone()).or_default() += 1;
                        }
                    }
                }
                Err(e) => {
                    tally.count(w.label, Cell::Differs);
                    failures.push(format!(
                        "[{}] {} — expected {expected:?}: {e}\n    document: {} variables: {}",
                        w.label,
                        row.label(),
                        row.query,
                        row.variables
                    ));
                }
            }
        }
    }
    still_serving(&platform).await;
    tally.print(
        &format!(
            "GraphQL: {fields} root fields ({queries} queries, {mutations} mutations) + {edits} edit operations + 3 meta fields × {} principals",
            principals.len()
        ),
        started,
    );
    println!("  errors in let-through answers: {through_errors:?}");
    assert!(failures.is_empty(), "{} cells differ from the platform's rule:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Control API
// ---------------------------------------------------------------------------------------

/// Every control route: method, path as the README writes it, a valid-shaped path.
const CONTROL_ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/_mock/health", "/_mock/health"),
    ("GET", "/_mock/connectors", "/_mock/connectors"),
    ("GET", "/_mock/connectors/{id}", "/_mock/connectors/x"),
    ("PUT", "/_mock/connectors/{id}/state", "/_mock/connectors/x/state"),
    ("POST", "/_mock/connectors/{id}/reset-state", "/_mock/connectors/x/reset-state"),
    ("GET", "/_mock/works", "/_mock/works"),
    ("GET", "/_mock/works/{id}", "/_mock/works/x"),
    ("GET", "/_mock/bundles", "/_mock/bundles"),
    ("GET", "/_mock/bundles/{seq}", "/_mock/bundles/999"),
    ("GET", "/_mock/objects", "/_mock/objects"),
    ("GET", "/_mock/objects/{id}", "/_mock/objects/x"),
    ("GET", "/_mock/findings", "/_mock/findings"),
    ("POST", "/_mock/seed", "/_mock/seed"),
    ("GET", "/_mock/users", "/_mock/users"),
    ("POST", "/_mock/users", "/_mock/users"),
    ("DELETE", "/_mock/tokens/{token}", "/_mock/tokens/no-such-token"),
    ("GET", "/_mock/faults", "/_mock/faults"),
    ("POST", "/_mock/faults", "/_mock/faults"),
    ("DELETE", "/_mock/faults", "/_mock/faults"),
    ("DELETE", "/_mock/faults/{id}", "/_mock/faults/999"),
    ("GET", "/_mock/ingest", "/_mock/ingest"),
    ("PUT", "/_mock/ingest", "/_mock/ingest"),
    ("GET", "/_mock/transcript", "/_mock/transcript"),
    ("GET", "/_mock/activity", "/_mock/activity"),
    ("GET", "/_mock/refusals", "/_mock/refusals"),
    ("GET", "/_mock/jobs", "/_mock/jobs"),
    ("GET", "/_mock/jobs/{seq}", "/_mock/jobs/999"),
    ("POST", "/_mock/enrichments", "/_mock/enrichments"),
    ("POST", "/_mock/files", "/_mock/files"),
    ("POST", "/_mock/imports", "/_mock/imports"),
    ("POST", "/_mock/exports", "/_mock/exports"),
    ("POST", "/_mock/playbook-steps", "/_mock/playbook-steps"),
    ("GET", "/_mock/playbook-steps", "/_mock/playbook-steps"),
    ("GET", "/_mock/files", "/_mock/files"),
    ("GET", "/_mock/files/{id}", "/_mock/files/import/global/x.json"),
    ("GET", "/_mock/drafts", "/_mock/drafts"),
    ("GET", "/_mock/streams", "/_mock/streams"),
    ("POST", "/_mock/streams", "/_mock/streams"),
    ("PUT", "/_mock/streams/{id}/live", "/_mock/streams/no-such-stream/live"),
    ("GET", "/_mock/stream/connections", "/_mock/stream/connections"),
    ("POST", "/_mock/stream/close", "/_mock/stream/close"),
    ("POST", "/_mock/stream/events", "/_mock/stream/events"),
    // Last: it forgets what the others created.
    ("POST", "/_mock/reset", "/_mock/reset"),
];

/// The routes of the README's "Control API" table, as (method, path without its query).
fn readme_control_routes() -> BTreeSet<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md is readable");
    let section = readme.split("\n## Control API\n").nth(1).expect("the README has a Control API section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut routes = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = row.split('|').nth(1).unwrap_or_default();
        for span in first_cell.split('`').skip(1).step_by(2) {
            let (methods, path) = span.split_once(' ').unwrap_or_else(|| panic!("`{span}` is METHOD /path"));
            let path = path.split('[').next().unwrap_or(path);
            assert!(path.starts_with("/_mock/"), "`{span}` in the Control API table is not a control route");
            for method in methods.split('/') {
                routes.insert((method.to_string(), path.to_string()));
            }
        }
    }
    routes
}

#[test]
fn the_control_routes_of_the_matrix_are_exactly_the_readme_table() {
    let readme = readme_control_routes();
    let matrix: BTreeSet<(String, String)> = CONTROL_ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let only_readme: Vec<_> = readme.difference(&matrix).collect();
    let only_matrix: Vec<_> = matrix.difference(&readme).collect();
    assert!(
        only_readme.is_empty() && only_matrix.is_empty(),
        "the README's Control API table and the auth matrix differ:\n  only in the README: {only_readme:?}\n  only in the matrix: {only_matrix:?}"
    );
    assert_eq!(CONTROL_ROUTES.len(), matrix.len(), "no route is listed twice");
}

async fn call_control(url: &str, who: &Principal, method: &str, path: &str) -> Result<(u16, String), String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let has_body = method == reqwest::Method::POST || method == reqwest::Method::PUT;
    let mut request = with_auth(client().request(method, format!("{url}{path}")), who);
    if has_body {
        request = request.header("content-type", "application/json").body("{}");
    }
    let response = request.send().await.map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.map_err(|e| format!("body unreadable: {e}"))?))
}

fn judge_control(expected: ControlExpected, status: u16, text: &str) -> Result<(), String> {
    let body: Option<Json> = serde_json::from_str(text).ok();
    match expected {
        ControlExpected::Ok if status == 200 => Ok(()),
        ControlExpected::Unauthorized
            if status == 401 && body.as_ref().is_some_and(|b| b["status"] == "error" && b["error"].is_string()) =>
        {
            Ok(())
        }
        ControlExpected::Admitted => {
            let router_not_found = status == 404 && body.as_ref().is_some_and(|b| b["error"] == "Not found");
            if status == 401 || status == 405 || router_not_found { Err(format!("HTTP {status}: {text}")) } else { Ok(()) }
        }
        _ => Err(format!("HTTP {status}: {text}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_control_route_but_health_answers_401_to_anyone_but_the_admin() {
    let started = Instant::now();
    let platform = MockPlatform::builder().start().await;
    let principals = principals(&platform);
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    // The admin last, and its routes in order: `reset` must come after the others.
    for who in &principals {
        for (method, route, path) in CONTROL_ROUTES {
            let expected = rules::control_route(*route == "/_mock/health", &who.identity);
            let verdict = match call_control(platform.url(), who, method, path).await {
                Ok((status, text)) => judge_control(expected, status, &text),
                Err(e) => Err(e),
            };
            match verdict {
                Ok(()) => tally
                    .count(who.label, if expected == ControlExpected::Unauthorized { Cell::Refused } else { Cell::LetThrough }),
                Err(e) => {
                    tally.count(who.label, Cell::Differs);
                    failures.push(format!("[{}] {method} {path} — expected {expected:?}: {e}", who.label));
                }
            }
        }
    }
    still_serving(&platform).await;
    tally.print(&format!("control API: {} routes × {} principals", CONTROL_ROUTES.len(), principals.len()), started);
    assert!(failures.is_empty(), "{} cells differ from the control API's rule:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------

const RED_MALWARE: &str = "malware--2f0e6a55-1c8b-4d3e-9f7a-5b6c7d8e9f01";
const OPEN_MALWARE: &str = "malware--2f0e6a55-1c8b-4d3e-9f7a-5b6c7d8e9f02";
const CONTENT: &[u8] = b"{\"auth\": \"matrix\"}";

/// Stores the files of the storage matrix; returns what the test knows of each.
fn store_files(platform: &MockPlatform) -> Vec<FileFacts> {
    let bundle = json!({"type": "bundle", "id": "bundle--2f0e6a55-1c8b-4d3e-9f7a-5b6c7d8e9f00", "objects": [
        {"type": "malware", "spec_version": "2.1", "id": RED_MALWARE, "name": "Matrix red", "is_family": true,
         "object_marking_refs": [TLP_RED]},
        {"type": "malware", "spec_version": "2.1", "id": OPEN_MALWARE, "name": "Matrix open", "is_family": true}
    ]});
    platform.seed(&bundle.to_string()).expect("the entities are seeded");
    let store = |name: &str, markings: &[&'static str], entity: Option<&str>, pending: bool| {
        let upload = opencti_mock::jobs::Upload {
            filename: name.into(),
            mime_type: "application/json".into(),
            content: bytes::Bytes::from_static(CONTENT),
            markings: markings.iter().map(|m| m.to_string()).collect(),
            entity_id: entity.map(str::to_string),
            pending,
            no_trigger_import: true,
        };
        platform.upload(upload).expect("the file is stored").0.id
    };
    let facts = |label, path: String, markings: Vec<&'static str>, entity_markings: Option<Vec<&'static str>>| FileFacts {
        label,
        path,
        exists: true,
        markings,
        entity_markings,
    };
    let global = store("matrix-global.json", &[], None, false);
    let red = store("matrix-red.json", &[TLP_RED], None, false);
    let of_red_entity = store("matrix-red-entity.json", &[], Some(RED_MALWARE), false);
    let of_open_entity = store("matrix-open-entity.json", &[], Some(OPEN_MALWARE), false);
    let workbench = store("matrix-workbench.json", &[], None, true);
    assert!(global.starts_with("import/global/") && red.starts_with("import/global/"), "{global}, {red}");
    for entity_file in [&of_red_entity, &of_open_entity] {
        assert!(entity_file.starts_with("import/Malware/"), "an entity's file is stored under its entity: {entity_file}");
    }
    assert!(workbench.starts_with("import/pending/"), "{workbench}");
    vec![
        facts("global import", global, vec![], None),
        facts("global, TLP:RED", red, vec![TLP_RED], None),
        facts("of a TLP:RED entity", of_red_entity, vec![], Some(vec![TLP_RED])),
        facts("of an unmarked entity", of_open_entity, vec![], Some(vec![])),
        facts("workbench", workbench, vec![], None),
        FileFacts {
            label: "missing",
            path: "import/global/matrix-missing.json".into(),
            exists: false,
            markings: vec![],
            entity_markings: None,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_files_are_served_by_the_platform_load_file_rules() {
    let started = Instant::now();
    let platform = MockPlatform::builder().start().await;
    let principals = principals(&platform);
    let files = store_files(&platform);
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for who in &principals {
        for file in &files {
            let expected = rules::storage(file, &who.identity);
            // Both spellings of an id the platform accepts: path segments and URL-encoded.
            for id in [file.path.clone(), file.path.replace('/', "%2F")] {
                let request = with_auth(client().get(format!("{}/storage/get/{id}", platform.url())), who);
                let response = request.send().await.expect("the server answers");
                let status = response.status().as_u16();
                let body = response.bytes().await.expect("a body");
                let json: Option<Json> = serde_json::from_slice(&body).ok();
                let right = status == expected
                    && match status {
                        200 => body.as_ref() == CONTENT,
                        503 => json
                            .as_ref()
                            .is_some_and(|b| b == &json!({"status": "error", "error": "File not found or restricted"})),
                        _ => json.as_ref().is_some_and(|b| b["status"] == "error"),
                    };
                tally.count(
                    who.label,
                    match (right, status) {
                        (false, _) => Cell::Differs,
                        (true, 200) => Cell::LetThrough,
                        (true, _) => Cell::Refused,
                    },
                );
                if !right {
                    failures.push(format!(
                        "[{}] GET /storage/get/{id} ({}) — expected {expected}: HTTP {status} {}",
                        who.label,
                        file.label,
                        String::from_utf8_lossy(&body)
                    ));
                }
            }
        }
    }
    still_serving(&platform).await;
    tally.print(&format!("storage: {} files (2 spellings each) × {} principals", files.len(), principals.len()), started);
    assert!(failures.is_empty(), "{} cells differ from the platform's loadFile rules:\n{}", failures.len(), failures.join("\n"));
}
