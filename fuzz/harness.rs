//! What each fuzz target does with the fuzzer's bytes — one function per target.
//!
//! This file is compiled twice: by every `fuzz/fuzz_targets/*.rs` (`#[path = "../harness.rs"]
//! mod harness;`) and by the stable `tests/fuzz_regressions.rs`, which replays the committed
//! corpus and every regression input through exactly these functions. It uses only the
//! library's public API, so the library needs nothing for fuzzing.
//!
//! Each function panics when the platform breaks a promise (a panic of its own, or an
//! invariant written here); returning means the input was handled. State that outlives one
//! input (a Tokio runtime, one router) lives in process-wide statics: acceptable in a fuzz
//! or test binary, never in the library. Every input starts from a fresh platform state,
//! so an input replays the same way in the regression test as it ran under the fuzzer.

#![allow(dead_code)] // each includer calls some of the functions

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use opencti_mock::Platform;
use opencti_mock::config::{BrokerMode, Settings};
use opencti_mock::http::{AppState, multipart, router};
use opencti_mock::ingest::push::{ApiPush, api_push};
use opencti_mock::profile::Profile;
use opencti_mock::stix::BundleEnvelope;
use opencti_mock::store::connectors::Registration;
use opencti_mock::store::knowledge::Knowledge;
use opencti_mock::store::queues::{Content, PushMessage};
use opencti_mock::store::{Clock, State, Store};
use serde_json::Value as Json;
use tower::ServiceExt;

/// A target: the name of its directory under `fuzz/corpus/` and `fuzz/regressions/`, and
/// what it does with its bytes.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("graphql_request", graphql_request),
    ("bundle_push", bundle_push),
    ("stix_pattern", stix_pattern),
    ("multipart_upload", multipart_upload),
    ("amqp_message", amqp_message),
    ("amqp_frame", amqp_frame),
];

/// The admin token of the fuzzed platforms.
pub const ADMIN_TOKEN: &str = "fuzz-admin-token";
/// The connector user's token.
pub const CONNECTOR_TOKEN: &str = "fuzz-connector-token";
/// The connector registered in every fresh state (the seeds' `connectorId`).
pub const CONNECTOR_ID: &str = "8a0b2c9e-3f1d-4e5a-9b7c-6d2e1f0a4b3c";
/// The time every fuzzed platform lives at (a manual clock that never moves): ids and
/// timestamps derived from it are the same in every run.
pub const NOW: &str = "2026-01-01T00:00:00Z";
/// The id of the work of [`CONNECTOR_ID`] every fresh state holds (`work_<connector>_<now>`).
pub const WORK_ID: &str = "work_8a0b2c9e-3f1d-4e5a-9b7c-6d2e1f0a4b3c_2026-01-01T00:00:00.000Z";
/// How many queued messages one input may make the worker process.
const MAX_WORKER_STEPS: usize = 20_000;

/// One current-thread runtime for the whole process: background tasks (the worker's loops)
/// run only while an input is being handled, never between inputs.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime"))
}

/// The platform's settings for fuzzing: fixed tokens, no broker, the worker's queues paused
/// (the harness runs the worker itself, in order, see [`drain`]), retries without waiting,
/// and callbacks to connectors that give up quickly.
fn settings(profile: Profile) -> Settings {
    let mut s = Settings::default();
    s.app.admin.token = Some(ADMIN_TOKEN.into());
    s.mock.connector_users = vec![format!("fuzz-connector={CONNECTOR_TOKEN}")];
    s.mock.broker = BrokerMode::Off;
    s.mock.profile = profile;
    s.mock.ingest_paused = true;
    s.mock.missing_ref_retry_min_ms = 0;
    s.mock.missing_ref_retry_max_ms = 0;
    s.worker.listen_api_timeout_ms = 50;
    s
}

fn now() -> chrono::DateTime<chrono::Utc> {
    NOW.parse().expect("a timestamp")
}

/// What every input finds besides what the platform creates itself: [`CONNECTOR_ID`]
/// registered as an external-import connector of the connector user, and one work of it.
fn add_connector_and_work(s: &mut State) {
    let now = now();
    let user = s.users.by_token(CONNECTOR_TOKEN).expect("the connector user").id.clone();
    let reg = Registration {
        id: CONNECTOR_ID.into(),
        name: "Fuzz connector".into(),
        connector_type: "EXTERNAL_IMPORT".into(),
        ..Registration::default()
    };
    s.connectors.register(reg, &user, now);
    let work = opencti_mock::store::works::NewWork {
        connector_id: CONNECTOR_ID.into(),
        connector_type: "EXTERNAL_IMPORT".into(),
        name: Some("fuzz work".into()),
        user_id: user,
        source_id: Some(CONNECTOR_ID.into()),
        received: true,
        multipart: false,
    };
    assert_eq!(s.works.create(work, now).id, WORK_ID);
}

/// Runs the worker over every message queued on `store` until the queues are empty (or
/// [`MAX_WORKER_STEPS`]), in order, as the worker loop does: split bundles come back as
/// pieces, objects with missing references come back as retries.
fn drain(store: &Store) {
    let mut queue: VecDeque<(String, PushMessage)> = VecDeque::new();
    for _ in 0..MAX_WORKER_STEPS {
        if queue.is_empty() {
            store.write(|s| {
                for c in s.queues.busy_connectors() {
                    while let Some(q) = s.queues.pop(&c) {
                        queue.push_back((c.clone(), q.message));
                    }
                }
            });
        }
        let Some((connector, message)) = queue.pop_front() else { return };
        let (_, pieces) = opencti_mock::ingest::process(store, &connector, message);
        queue.extend(pieces.into_iter().map(|p| (connector.clone(), p)));
    }
}

/// A platform built once per profile and process (by `Platform::new`, as the CLI and
/// `MockPlatform` build theirs), with its router. Reusing it keeps the worker's loop tasks
/// (one per connector, spawned on first use) from piling up in the runtime.
struct Live {
    platform: Platform,
    router: axum::Router,
    /// The knowledge `Platform::new` seeded (the built-in markings), for fresh states.
    built_ins: Knowledge,
}

fn live(profile: Profile) -> &'static Live {
    static V7: OnceLock<Live> = OnceLock::new();
    static V6_9: OnceLock<Live> = OnceLock::new();
    let cell = if profile == Profile::V7 { &V7 } else { &V6_9 };
    cell.get_or_init(|| {
        let platform =
            Platform::new(settings(profile), Clock::manual(now()), "http://127.0.0.1:4000".into()).expect("a platform");
        runtime().block_on(platform.connect_broker()).expect("HTTP-only platform");
        let built_ins = platform.core().store.read(|s| s.knowledge.clone());
        let settings = &platform.core().settings;
        let state = AppState {
            core: platform.core().clone(),
            schema: opencti_mock::graphql::shared_schema().expect("the schema builds"),
            limit: settings.max_payload_bytes().expect("payload limit"),
            introspection: true,
            playground: false,
        };
        let router = router(state);
        Live { platform, router, built_ins }
    })
}

/// Puts the live platform of `profile` back in the state every input starts from: a new
/// `State` set up as `Platform::new` sets up its own (the same settings, the built-in
/// markings it seeded) plus [`add_connector_and_work`], swapped in under the platform's
/// router and worker. Building it costs far less than a `Platform::new` (no thread, no key
/// pair, no second ingest of the built-ins), which would otherwise dominate every input.
fn reset(profile: Profile) -> &'static Live {
    let live = live(profile);
    let settings = &live.platform.core().settings;
    let retention = settings.transcript_retention().expect("transcript retention");
    let fresh = Store::new(profile, ADMIN_TOKEN, Clock::manual(now()), retention);
    fresh.write(|s| {
        s.queues.throttle.delay = Duration::from_millis(settings.mock.ingest_delay_ms);
        s.queues.throttle.paused = settings.mock.ingest_paused;
        let retry = Duration::from_millis(settings.mock.missing_ref_retry_min_ms);
        s.queues.retry_delay = (retry, retry);
        s.users.add_connector_user("fuzz-connector", Some(CONNECTOR_TOKEN), now());
        s.knowledge = live.built_ins.clone();
        s.queues.objects_max_refs = settings.mock.objects_max_refs;
        add_connector_and_work(s);
    });
    live.platform.core().store.write(|old| fresh.write(|new| std::mem::swap(old, new)));
    live
}

// --- 1. GraphQL requests -------------------------------------------------------------------

/// `POST /graphql` with the input as body, through the platform's own router. The first
/// byte picks the caller (none, the connector user, the admin) and the context headers (none,
/// a live work, a draft that does not exist, impersonation of the connector user); the rest
/// is the body, sent as `application/json`. Every answer must be the platform's: a GraphQL
/// response, or its Express error `{"status":"error","error":…}`.
pub fn graphql_request(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    let env = reset(Profile::V7);
    let store = &env.platform.core().store;

    let mut request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len().to_string());
    match mode % 3 {
        1 => request = request.header(header::AUTHORIZATION, format!("Bearer {CONNECTOR_TOKEN}")),
        2 => request = request.header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}")),
        _ => {}
    }
    match (mode / 3) % 4 {
        1 => request = request.header("opencti-work-id", WORK_ID),
        2 => request = request.header("opencti-draft-id", "00000000-0000-4000-8000-000000000000"),
        3 => {
            let user = store.read(|s| s.users.by_token(CONNECTOR_TOKEN).map(|u| u.id.clone())).unwrap_or_default();
            request = request.header("opencti-applicant-id", user);
        }
        _ => {}
    }
    let request = request.body(Body::from(body.to_vec())).expect("a request");
    let (status, bytes) = runtime().block_on(async {
        let response = env.router.clone().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("the answer's body").to_bytes();
        (status, bytes)
    });
    check_answer(status, &bytes);
    drain(store);
}

/// The answer is the platform's: JSON, either a GraphQL response (`data` and/or `errors`,
/// each error with a `message` and the platform's `extensions.code` and top-level `name`) or
/// the Express error shape with a 4xx/5xx status.
fn check_answer(status: StatusCode, body: &[u8]) {
    let json: Json = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("HTTP {status}: the answer is not JSON ({e}): {}", String::from_utf8_lossy(body)));
    let obj = json.as_object().unwrap_or_else(|| panic!("HTTP {status}: the answer is not an object: {json}"));
    if obj.get("status").and_then(Json::as_str) == Some("error") {
        assert!(obj.get("error").is_some_and(Json::is_string), "HTTP {status}: an Express error without its text: {json}");
        assert!(status.is_client_error() || status.is_server_error(), "HTTP {status} with an Express error: {json}");
        return;
    }
    assert!(obj.contains_key("data") || obj.contains_key("errors"), "HTTP {status}: neither data nor errors: {json}");
    assert!(status == StatusCode::OK || obj.contains_key("errors"), "HTTP {status} without errors: {json}");
    if let Some(errors) = obj.get("errors") {
        let errors = errors.as_array().unwrap_or_else(|| panic!("errors is not a list: {json}"));
        assert!(!errors.is_empty(), "an empty errors list: {json}");
        for e in errors {
            assert!(e["message"].is_string(), "an error without a message: {json}");
            let code = e["extensions"]["code"].as_str().unwrap_or_else(|| panic!("an error without extensions.code: {json}"));
            assert_eq!(e["name"].as_str(), Some(code), "an error whose name is not its code: {json}");
        }
    }
}

// --- 2. stixBundlePush bundles -------------------------------------------------------------

/// A bundle pushed as `stixBundlePush` does (`ingest::push::api_push`: parse, split in 7.x,
/// work and expectations, queue), then ingested by the worker until its queue is empty. The
/// first byte picks the profile (7.x splits in the mutation, 6.9 in the worker), the
/// `cleanup_inconsistent_bundle` argument and whether the push names the existing work;
/// the rest is the bundle text. Once the queue is empty, the work must have processed
/// exactly what it expected — a work that never completes is what connectors report — with
/// the one difference 6.9 has on purpose: a one-object bundle pushed with a work adds no
/// expectation there (the worker does not split it, and the mutation only counts it for a
/// work it creates), so that work processes one more object than it expected.
pub fn bundle_push(data: &[u8]) {
    let Some((&mode, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    json_string_agrees_with_serde(text);
    let profile = if mode & 1 == 0 { Profile::V7 } else { Profile::V6_9 };
    let with_work = mode & 4 != 0;
    let core = reset(profile).platform.core();
    let user = core.store.read(|s| s.users.by_token(CONNECTOR_TOKEN).expect("the connector user").id.clone());
    let _guard = runtime().enter();
    let push = ApiPush {
        connector_id: CONNECTOR_ID,
        bundle: text.to_string().into(),
        work_id: with_work.then_some(WORK_ID),
        user_id: &user,
        cleanup_inconsistent: mode & 2 != 0,
        draft_id: None,
    };
    let Ok(work_id) = api_push(&core.worker, push) else { return };
    drain(&core.store);
    let (pending, work) = core.store.read(|s| (s.queues.pending(CONNECTOR_ID), s.works.get(&work_id).cloned()));
    let work = work.expect("the pushed bundle's work exists");
    let uncounted = i64::from(profile == Profile::V6_9 && with_work && BundleEnvelope::count_objects(text) == 1);
    if pending == 0 {
        assert_eq!(
            work.import_processed_number,
            work.import_expected_number + uncounted,
            "work {} processed {} objects and expected {} with nothing left in its queue",
            work.id,
            work.import_processed_number,
            work.import_expected_number
        );
    }
}

/// The bundle variable of a large `stixBundlePush` is decoded from its JSON string literal
/// by the platform's own unescaper (`buffer::unescape`), in place. Both of its functions must
/// agree with serde_json on the text as a literal and on the text escaped by serde_json.
fn json_string_agrees_with_serde(text: &str) {
    use opencti_mock::buffer::unescape::{decode_in_place, json_string};
    let escaped = serde_json::to_string(text).expect("a string serialises");
    for literal in [format!("\"{text}\""), escaped] {
        let expected = serde_json::from_str::<String>(&literal).ok();
        assert_eq!(json_string(&literal), expected, "json_string disagrees with serde_json on {literal:?}");
        let mut bytes = literal.clone().into_bytes();
        let in_place = decode_in_place(&mut bytes).map(|n| bytes[..n].to_vec());
        match (&in_place, &expected) {
            (Some(got), Some(want)) => assert_eq!(got, want.as_bytes(), "decode_in_place disagrees on {literal:?}"),
            (None, None) => {}
            // A literal whose escapes decode to invalid UTF-8 (a lone surrogate) is bytes to
            // decode_in_place; the caller checks UTF-8 afterwards.
            (Some(got), None) => assert!(std::str::from_utf8(got).is_err(), "decode_in_place accepts {literal:?}"),
            (None, Some(_)) => panic!("decode_in_place refuses {literal:?}, which serde_json reads"),
        }
    }
}

// --- 3. STIX patterns ----------------------------------------------------------------------

/// The pattern checker on any text: what the platform refuses (`parse_pattern`) and what the
/// specification refuses (`check_pattern`, stricter), and the validator's shortcut
/// (`is_plain_pattern`, which may only accept patterns the full check accepts).
pub fn stix_pattern(data: &[u8]) {
    use opencti_mock::stix::pattern::{check_pattern, parse_pattern};
    let Ok(pattern) = std::str::from_utf8(data) else { return };
    let lenient = parse_pattern(pattern);
    let strict = check_pattern(pattern);
    for e in [&lenient, &strict].into_iter().filter_map(|r| r.as_ref().err()) {
        assert!(e.position <= pattern.len() && pattern.is_char_boundary(e.position), "error position {e:?} in {pattern:?}");
        assert!(!e.message.is_empty(), "an error without a message for {pattern:?}");
        let _ = e.to_string();
    }
    if strict.is_ok() {
        assert!(lenient.is_ok(), "check_pattern accepts what parse_pattern refuses: {pattern:?}: {lenient:?}");
    }
    if opencti_mock::stix::plain_pattern::is_plain_pattern(pattern) {
        assert!(strict.is_ok(), "is_plain_pattern accepts what check_pattern refuses: {pattern:?}: {strict:?}");
    }
}

// --- 4. multipart uploads ------------------------------------------------------------------

/// The multipart reader of `POST /graphql` uploads on any body. Layout: a byte `n`, then `n`
/// bytes of the `boundary` parameter, then a byte that picks how the body is cut into the
/// chunks the reader receives, then the body. The body must be read the same way whatever
/// the chunks: the same request, or an error either way.
pub fn multipart_upload(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n).min(rest.len());
    let (boundary, rest) = rest.split_at(n);
    let Ok(boundary) = std::str::from_utf8(boundary) else { return };
    let Some((&cut, body)) = rest.split_first() else { return };
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let whole = read_multipart(&content_type, body, 0);
    let chunked = read_multipart(&content_type, body, cut);
    assert_eq!(whole, chunked, "the body reads differently in chunks (cut {cut}): {:?}", String::from_utf8_lossy(body));
}

/// What a multipart read produced: the request, or that it failed (and how).
#[derive(Debug, PartialEq)]
enum MultipartRead {
    Parsed { query: Option<String>, operation_name: Option<String>, uploads: Vec<(String, String, Option<String>, Vec<u8>)> },
    BodyError,
    GraphqlError,
}

fn read_multipart(content_type: &str, body: &[u8], cut: u8) -> MultipartRead {
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = if cut == 0 {
        vec![Ok(bytes::Bytes::copy_from_slice(body))]
    } else {
        // Chunk sizes cycle from 1 byte up to `cut`, so boundaries fall everywhere.
        let mut out = Vec::new();
        let (mut at, mut size) = (0, 1usize);
        while at < body.len() {
            let end = (at + size).min(body.len());
            out.push(Ok(bytes::Bytes::copy_from_slice(&body[at..end])));
            at = end;
            size = size % usize::from(cut) + 1;
        }
        out
    };
    let stream = futures_util::stream::iter(chunks);
    match runtime().block_on(multipart::parse(content_type, Body::from_stream(stream))) {
        Ok(p) => {
            let mut uploads: Vec<_> =
                p.uploads.into_iter().map(|(path, u)| (path, u.filename, u.content_type, u.content.to_vec())).collect();
            uploads.sort();
            MultipartRead::Parsed { query: p.query, operation_name: p.operation_name, uploads }
        }
        Err(multipart::ParseError::Body(msg)) => {
            assert!(!msg.is_empty(), "an empty multipart error");
            MultipartRead::BodyError
        }
        Err(multipart::ParseError::Graphql(msg)) => {
            assert!(!msg.is_empty(), "an empty multipart error");
            MultipartRead::GraphqlError
        }
    }
}

// --- 5. AMQP push-queue messages -----------------------------------------------------------

/// A push-queue message body as the RabbitMQ consumer receives it: decoded
/// (`ingest::message::decode`, pycti's `QUEUE_BUNDLE` or the platform's own `bundle`/`event`
/// messages, base64 content), then, when the worker accepts it, queued and processed by the
/// worker as the consumer does. A decoded message re-encoded as the platform writes it
/// decodes to the same message.
pub fn amqp_message(data: &[u8]) {
    use opencti_mock::ingest::message::{decode, platform_bundle_message};
    let decoded = match decode(data) {
        Ok(d) => d,
        Err(reason) => {
            assert!(!reason.is_empty(), "a refusal without a reason");
            return;
        }
    };
    let Content::Bundle { text, no_split } = &decoded.content else { panic!("decode returns bundle content") };
    assert_eq!(decoded.content_bytes, text.len());
    let again = decode(&platform_bundle_message(&decoded.meta, text, *no_split)).expect("a re-encoded message decodes");
    assert_eq!(
        (&again.meta.kind, &again.meta.applicant_id, &again.meta.work_id, again.meta.update, &again.meta.draft_id),
        (&decoded.meta.kind, &decoded.meta.applicant_id, &decoded.meta.work_id, decoded.meta.update, &decoded.meta.draft_id),
    );
    assert!(
        matches!(&again.content, Content::Bundle { text: t, no_split: n } if t == text && n == no_split),
        "the re-encoded content differs"
    );
    let core = reset(Profile::V7).platform.core();
    let _guard = runtime().enter();
    core.worker.enqueue(CONNECTOR_ID, PushMessage::new(Arc::new(decoded.meta), decoded.content));
    drain(&core.store);
}

// --- 6. AMQP frames, as the embedded broker reads them ---------------------------------------

/// Bytes as a client sends them to the embedded broker after the protocol header: decoded
/// frame after frame (`embedded_broker::wire::decode`, the `amq-protocol` codec behind the
/// broker's own frame-size check), with a `frame_max` the first byte chooses (none, the
/// protocol's least 4096, RabbitMQ's 131072). A decoded frame takes at least a frame's
/// header and end and at most the bytes given, re-encodes, and decodes back to itself; what
/// is not a frame is refused with a reason, never a panic.
pub fn amqp_frame(data: &[u8]) {
    use opencti_mock::embedded_broker::wire::{Decoded, FRAME_OVERHEAD, decode, encode};
    let Some((&choice, mut rest)) = data.split_first() else { return };
    let frame_max = [0, 4096, 131_072][usize::from(choice) % 3];
    while !rest.is_empty() {
        match decode(rest, frame_max) {
            Decoded::Frame(frame, used) => {
                assert!(used >= FRAME_OVERHEAD && used <= rest.len(), "a frame of {used} bytes out of {}", rest.len());
                let mut bytes = Vec::new();
                encode(&frame, &mut bytes).expect("a decoded frame encodes");
                match decode(&bytes, 0) {
                    Decoded::Frame(again, n) => {
                        assert_eq!(again, frame, "a frame decodes back to itself");
                        assert_eq!(n, bytes.len(), "a re-encoded frame is read whole");
                    }
                    other => panic!("a re-encoded frame does not decode: {other:?}"),
                }
                rest = &rest[used..];
            }
            Decoded::Incomplete => return,
            Decoded::Invalid(reason) => {
                assert!(!reason.is_empty(), "a refusal without a reason");
                return;
            }
        }
    }
}
