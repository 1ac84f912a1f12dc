//! [`MockPlatform`]: the handle a Rust test holds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::core::Core;
use crate::error::{Error, Result};
use crate::expect::{Expect, ExpectGuard, Subject, Verify, verify_all};
use crate::platform::{MockPlatformBuilder, Platform};
use crate::store::State;
use crate::store::connectors::Connector;
use crate::store::faults::FaultSpec;
use crate::store::files::StoredFile;
use crate::store::jobs::Job;
use crate::store::knowledge::StoredObject;
use crate::store::transcript::{EntryKind, ReceivedBundle, ReceivedOperation};
use crate::store::works::Work;

/// Longest `close` waits for the platform to stop (its own bounds are shorter).
const CLOSE_BOUND: Duration = Duration::from_secs(30);

/// A running platform, isolated from every other one. [`close`](Self::close) stops it and
/// returns once nothing it started is running; dropping it stops the server, cancels every
/// task (each ends on its own) and verifies every mounted expectation.
///
/// ```
/// # #[tokio::main] async fn main() -> opencti_mock::Result<()> {
/// use std::time::Duration;
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::builder().connector_user("importer", "tok-1").start().await;
/// let env = platform.connector_env("EXTERNAL_IMPORT", "tok-1");
/// // … run the connector with `env` …
/// platform.wait_idle(Duration::from_secs(30)).await?;
/// assert!(platform.refusals().is_empty());
/// platform.close().await;
/// # Ok(()) }
/// ```
pub struct MockPlatform {
    core: Core,
    url: String,
    admin_token: String,
    stop: Option<oneshot::Sender<()>>,
    /// The task running `Platform::serve`: the one task not on the platform's tracker, as
    /// it is the one waiting for the tracker; `close` waits for it.
    served: Option<tokio::task::JoinHandle<()>>,
    pub(crate) expectations: Arc<Mutex<Vec<Box<dyn Verify>>>>,
}

impl std::fmt::Debug for MockPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockPlatform").field("url", &self.url).finish_non_exhaustive()
    }
}

impl MockPlatform {
    /// Starts a platform with default options on a random port.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.url().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    pub async fn start() -> MockPlatform {
        MockPlatform::builder().start().await
    }

    /// Options for a platform.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::builder().connector_user("importer", "tok-1").start().await;
    /// assert!(platform.connector_env("EXTERNAL_IMPORT", "tok-1").get("OPENCTI_TOKEN") == Some("tok-1"));
    /// # }
    /// ```
    pub fn builder() -> MockPlatformBuilder {
        MockPlatformBuilder::default()
    }

    pub(crate) fn launch(platform: Platform, listener: tokio::net::TcpListener, url: String) -> MockPlatform {
        let core = platform.core().clone();
        let admin_token = platform.admin_token();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = platform.serve(listener, shutdown).await {
                tracing::error!("mock platform stopped with an error: {e}");
            }
        });
        MockPlatform { core, url, admin_token, stop: Some(stop), served: Some(served), expectations: Arc::default() }
    }

    /// Base URL (`OPENCTI_URL`).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let graphql = format!("{}/graphql", platform.url());
    /// # let _ = graphql;
    /// # }
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin token (BYPASS).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// // the admin token reads the control API
    /// let answer = reqwest::Client::new().get(format!("{}/_mock/works", platform.url())).bearer_auth(platform.token()).send().await.unwrap();
    /// assert_eq!(answer.status(), 200);
    /// # }
    /// ```
    pub fn token(&self) -> &str {
        &self.admin_token
    }

    internal! {
        /// The platform's services (store, worker, settings), for the crate and this
        /// workspace's own tests (public with the `internals` feature).
        fn core(&self) -> &Core {
            &self.core
        }
    }

    /// The environment a connector process needs to run against this platform, with
    /// `token` (from [`add_connector_user`](Self::add_connector_user), or the admin's):
    /// `OPENCTI_URL`, `OPENCTI_TOKEN`, a fresh `CONNECTOR_ID`, `CONNECTOR_TYPE`, and the
    /// queue protocol this platform serves. See [`ConnectorEnv`](crate::ConnectorEnv).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("INTERNAL_ENRICHMENT", platform.token());
    /// // no broker: the connector pushes with stixBundlePush (and, not `auto`, gets jobs only when asked)
    /// assert_eq!((env.get("CONNECTOR_QUEUE_PROTOCOL"), env.get("CONNECTOR_AUTO")), (Some("api"), Some("false")));
    /// # }
    /// ```
    pub fn connector_env(&self, connector_type: &str, token: &str) -> crate::ConnectorEnv {
        crate::platform::ConnectorEnv::new(&self.url, token, connector_type, self.core.amqp.broker().is_some())
    }

    /// Creates a connector user (Connectors group, Connector role) and returns its token.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let token = platform.add_connector_user("importer");
    /// let env = platform.connector_env("EXTERNAL_IMPORT", &token);
    /// # let _ = env;
    /// # }
    /// ```
    pub fn add_connector_user(&self, name: &str) -> String {
        let now = self.core.store.clock().now();
        self.core.store.write(|s| s.users.add_connector_user(name, None, now)).1
    }

    /// Creates a user with exactly these capabilities and returns its token.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// // a user who may read the knowledge but not write it
    /// let token = platform.add_user("analyst", &["KNOWLEDGE"]);
    /// assert!(!token.is_empty());
    /// # }
    /// ```
    pub fn add_user(&self, name: &str, capabilities: &[&str]) -> String {
        let now = self.core.store.clock().now();
        self.core.store.write(|s| s.users.add_user(name, None, capabilities, now)).1
    }

    /// Limits the user holding `token` to these markings (any id of each marking
    /// definition): data with another marking is invisible to it, and writing such data is
    /// refused. Returns whether the token belongs to a user.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let token = platform.add_connector_user("importer");
    /// // TLP:GREEN only
    /// assert!(platform.limit_to_markings(&token, &["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]));
    /// # }
    /// ```
    pub fn limit_to_markings(&self, token: &str, markings: &[&str]) -> bool {
        let markings: Vec<String> = markings.iter().map(|m| m.to_string()).collect();
        self.core.store.write(|s| match s.users.by_token(token).map(|u| u.id.clone()) {
            Some(id) => s.users.set_allowed_markings(&id, Some(markings)),
            None => false,
        })
    }

    internal! {
        /// Reads the state, for the crate and this workspace's own tests (public with the
        /// `internals` feature).
        fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
            self.core.store.read(f)
        }
    }

    /// Every GraphQL operation received, in order.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let pings = platform.received_operations().iter().filter(|op| op.root_fields.iter().any(|f| f == "pingConnector")).count();
    /// assert_eq!(pings, 0);
    /// # }
    /// ```
    pub fn received_operations(&self) -> Vec<ReceivedOperation> {
        self.read(|s| {
            s.transcript
                .entries()
                .iter()
                .filter_map(|e| match &e.kind {
                    EntryKind::Operation(op) => Some(op.clone()),
                    _ => None,
                })
                .collect()
        })
    }

    /// Stores every object of a STIX bundle (JSON text) as the administrator, through the
    /// ingest path, before returning; objects the platform would refuse are in the report.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let report = platform.seed(r#"{"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
    ///   {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883", "value": "198.51.100.7"},
    ///   {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697884", "value": "not an address"}]}"#)
    ///     .expect("a bundle");
    /// // stored at once; the invalid address is refused, with the error a work would record
    /// assert_eq!((report.created, report.refused.len(), platform.objects().len()), (1, 1, 1));
    /// # }
    /// ```
    pub fn seed(&self, bundle: &str) -> std::result::Result<crate::ingest::seed::SeedReport, crate::ingest::seed::SeedError> {
        crate::ingest::seed::seed_bundle(&self.core.store, bundle)
    }

    /// The STIX 2.1 findings on the objects received so far (advisory: they never change a
    /// work's status), oldest first.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.findings().is_empty());
    /// # }
    /// ```
    pub fn findings(&self) -> Vec<crate::store::findings::RecordedFinding> {
        self.read(|s| s.findings.all().to_vec())
    }

    /// Every bundle received, in order.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.received_bundles().iter().all(|b| b.objects > 0));
    /// # }
    /// ```
    pub fn received_bundles(&self) -> Vec<ReceivedBundle> {
        self.read(|s| {
            s.transcript
                .entries()
                .iter()
                .filter_map(|e| match &e.kind {
                    EntryKind::Bundle(b) => Some(b.clone()),
                    _ => None,
                })
                .collect()
        })
    }

    /// What the platform refused of the connectors' data so far (messages rejected,
    /// objects refused or dead-lettered), in order.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.refusals().is_empty(), "{:?}", platform.refusals());
    /// # }
    /// ```
    pub fn refusals(&self) -> Vec<crate::Refusal> {
        self.read(|s| s.transcript.refusals().cloned().collect())
    }

    /// A registered connector.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.connector("5b2a1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d").is_none());
    /// # }
    /// ```
    pub fn connector(&self, id: &str) -> Option<Connector> {
        self.read(|s| s.connectors.get(id).cloned())
    }

    /// A work.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.work("work_5b2a1c3d").is_none());
    /// # }
    /// ```
    pub fn work(&self, id: &str) -> Option<Work> {
        self.read(|s| s.works.get(id).cloned())
    }

    /// Every work, in creation order.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.works().iter().all(|w| w.errors.is_empty()));
    /// # }
    /// ```
    pub fn works(&self) -> Vec<Work> {
        self.read(|s| s.works.all().cloned().collect())
    }

    /// Every stored object but the built-in markings, in creation order: what the platform
    /// received (and the labels, external references and kill chain phases made of it).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let indicators = platform.objects().into_iter().filter(|o| &*o.entity_type == "Indicator").count();
    /// assert_eq!(indicators, 0);
    /// # }
    /// ```
    pub fn objects(&self) -> Vec<StoredObject> {
        self.core.store.read(|s| s.knowledge.received().cloned().collect())
    }

    /// A stored object by internal id, standard id or any STIX id it was received under.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// // TLP:RED, a built-in marking, by its STIX id
    /// assert!(platform.object("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed").is_some());
    /// # }
    /// ```
    pub fn object(&self, id: &str) -> Option<StoredObject> {
        self.read(|s| s.knowledge.get(id).cloned())
    }

    /// Sends a manual enrichment job for an entity (any id) to an enrichment connector, as
    /// `askEnrichment` does (asked by the admin); returns the job's work.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// // a registered INTERNAL_ENRICHMENT connector and a stored entity get a job and a work
    /// assert!(platform.ask_enrichment("no-such-connector", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed").is_err());
    /// # }
    /// ```
    pub fn ask_enrichment(&self, connector_id: &str, entity_id: &str) -> std::result::Result<Work, crate::jobs::JobError> {
        let works = crate::jobs::ask_enrichment(&self.core.jobs, &[connector_id.to_string()], entity_id, &Default::default())?;
        Ok(works.into_iter().next().expect("one work per named connector"))
    }

    /// Stores a file as `uploadImport` does (`import/global/<name>`) and starts its automatic
    /// import; returns the file and the works of the jobs sent.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let (file, works) = platform.upload_file("iocs.txt", "text/plain", "198.51.100.7");
    /// // no import connector is registered: no work
    /// assert!(works.is_empty() && file.id.starts_with("import/global/"));
    /// # }
    /// ```
    pub fn upload_file(&self, name: &str, mime_type: &str, content: impl Into<bytes::Bytes>) -> (StoredFile, Vec<Work>) {
        let upload = crate::jobs::Upload::new(name, mime_type, content);
        crate::jobs::upload_file(&self.core.jobs, upload, &Default::default()).expect("a global upload names no entity")
    }

    /// Stores a file with every option (entity, markings, workbench, no automatic import).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{MockPlatform, Upload};
    /// let bundle = r#"{"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
    ///   {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883", "value": "198.51.100.7"}]}"#;
    /// let platform = MockPlatform::builder().seed(bundle).start().await;
    /// // a file of an entity, marked TLP:GREEN
    /// let upload = Upload {
    ///     entity_id: Some("ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883".into()),
    ///     markings: vec!["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da".into()],
    ///     ..Upload::new("whois.txt", "text/plain", "NetRange: 198.51.100.0 - 198.51.100.255")
    /// };
    /// let (file, _) = platform.upload(upload).expect("the entity is stored");
    /// assert!(file.id.starts_with("import/IPv4-Addr/") && file.id.ends_with("/whois.txt"), "{}", file.id);
    /// # }
    /// ```
    pub fn upload(&self, upload: crate::jobs::Upload) -> std::result::Result<(StoredFile, Vec<Work>), crate::jobs::JobError> {
        crate::jobs::upload_file(&self.core.jobs, upload, &Default::default())
    }

    /// Sends import jobs for a stored file, as `askJobImport` does: to `connector_id`, or to
    /// every active import connector whose scope holds the file's MIME type.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// // an import connector for text files registers (not `auto`: uploads start no import)
    /// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({
    ///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
    ///         "variables": {"input": {"id": id, "name": "importer", "type": "INTERNAL_IMPORT_FILE", "scope": ["text/plain"]}},
    ///     }))
    ///     .send().await.unwrap();
    /// let (file, _) = platform.upload_file("iocs.txt", "text/plain", "198.51.100.7");
    /// let works = platform.ask_import(&file.id, None, &Default::default()).expect("the file is stored");
    /// assert_eq!(works.iter().map(|w| w.connector_id.as_str()).collect::<Vec<_>>(), [id]);
    /// # }
    /// ```
    pub fn ask_import(
        &self,
        file_id: &str,
        connector_id: Option<&str>,
        options: &crate::jobs::ImportOptions,
    ) -> std::result::Result<Vec<Work>, crate::jobs::JobError> {
        crate::jobs::ask_import(&self.core.jobs, file_id, connector_id, true, options, &Default::default())
    }

    /// Asks for an export as the administrator, as `exportAsk` and the list asks do: a
    /// work and a job for every active export connector whose scope holds the format; the
    /// works, in `wait` (none when no connector takes the format).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{ExportAsk, MockPlatform};
    /// let platform = MockPlatform::start().await;
    /// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({
    ///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
    ///         "variables": {"input": {"id": id, "name": "csv", "type": "INTERNAL_EXPORT_FILE", "scope": ["text/csv"]}},
    ///     }))
    ///     .send().await.unwrap();
    /// let works = platform.ask_export(&ExportAsk::list("text/csv", "Malware")).expect("a valid ask");
    /// assert_eq!(works.len(), 1);
    /// assert!(works[0].name.as_deref().is_some_and(|n| n.ends_with("_TLP:ALL_(csv)_Malware_simple.csv")));
    /// // the job's message, as the platform builds it
    /// let message: serde_json::Value = serde_json::from_str(&platform.jobs()[0].message).unwrap();
    /// assert_eq!((message["event"]["export_scope"].as_str(), message["event"]["entity_name"].as_str()), (Some("query"), Some("global")));
    /// // no connector takes PDF
    /// assert!(platform.ask_export(&ExportAsk::list("application/pdf", "Malware")).expect("valid").is_empty());
    /// # }
    /// ```
    pub fn ask_export(&self, ask: &crate::jobs::export_ask::ExportAsk) -> std::result::Result<Vec<Work>, crate::jobs::JobError> {
        crate::jobs::export_ask::ask_export(&self.core.jobs, ask, &Default::default())
    }

    /// Asks for an export as the user holding `token` (the job's `applicant_id`: a
    /// connector that impersonates reads the knowledge as that user). See
    /// [`MockPlatform::ask_export`].
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{ExportAsk, JobError, MockPlatform};
    /// let platform = MockPlatform::start().await;
    /// let err = platform.ask_export_as("no-such-token", &ExportAsk::list("text/csv", "Malware")).expect_err("no user");
    /// assert_eq!(err, JobError::Invalid("No user holds this token".into()));
    /// let analyst = platform.add_user("analyst", &["KNOWLEDGE", "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT"]);
    /// let err = platform.ask_export_as(&analyst, &ExportAsk::list("text/csv", "")).expect_err("no type");
    /// assert_eq!(err, JobError::Invalid("entity_type is missing from askListExport".into()));
    /// # }
    /// ```
    pub fn ask_export_as(
        &self,
        token: &str,
        ask: &crate::jobs::export_ask::ExportAsk,
    ) -> std::result::Result<Vec<Work>, crate::jobs::JobError> {
        let user_id = self
            .core
            .store
            .read(|s| s.users.by_token(token).map(|u| u.id.clone()))
            .ok_or_else(|| crate::jobs::JobError::Invalid("No user holds this token".into()))?;
        let asker = crate::jobs::Asker { user_id: Some(user_id), draft_id: None };
        crate::jobs::export_ask::ask_export(&self.core.jobs, ask, &asker)
    }

    /// Asks for an analysis as the administrator, as `askAnalysis` does: of an element's
    /// fields (`content_type` `fields`, `content_source` `content_mapping`) or of one of
    /// its files (`file`, the file id), by the first active analysis connector in scope or
    /// `connector_id`; the work.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{JobError, MockPlatform};
    /// let platform = MockPlatform::start().await;
    /// let tlp_red = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
    /// let err = platform.ask_analysis(tlp_red, "fields", "content_mapping", None).expect_err("no analysis connector");
    /// assert_eq!(err, JobError::NoConnector("No connector found for analysis".into()));
    /// # }
    /// ```
    pub fn ask_analysis(
        &self,
        entity_id: &str,
        content_type: &str,
        content_source: &str,
        connector_id: Option<&str>,
    ) -> std::result::Result<Work, crate::jobs::JobError> {
        crate::jobs::analysis::ask_analysis(
            &self.core.jobs,
            entity_id,
            content_source,
            content_type,
            connector_id,
            &Default::default(),
        )
    }

    /// Sends a playbook step to a playbook-compatible enrichment connector, as the
    /// platform's playbook engine does: no work, the playbook's ids, the entity's bundle
    /// (`trigger: update`). The connector's answer (`playbookStepExecution`) shows in
    /// [`MockPlatform::playbook_steps`].
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{JobError, MockPlatform};
    /// let platform = MockPlatform::start().await;
    /// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({
    ///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
    ///         "variables": {"input": {"id": id, "name": "enricher", "type": "INTERNAL_ENRICHMENT", "scope": ["IPv4-Addr"]}},
    ///     }))
    ///     .send().await.unwrap();
    /// // registered without playbook_compatible: the platform offers it to no playbook
    /// let err = platform.run_playbook_step(id, "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed").expect_err("not compatible");
    /// assert!(matches!(err, JobError::Invalid(_)));
    /// # }
    /// ```
    pub fn run_playbook_step(
        &self,
        connector_id: &str,
        entity_id: &str,
    ) -> std::result::Result<crate::store::playbooks::PlaybookStep, crate::jobs::JobError> {
        crate::jobs::playbook::run_step(&self.core.jobs, connector_id, entity_id, "update")
    }

    /// The playbook steps sent, each with the connector's answers.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.playbook_steps().is_empty());
    /// # }
    /// ```
    pub fn playbook_steps(&self) -> Vec<crate::store::playbooks::PlaybookStep> {
        self.core.store.read(|s| s.playbooks.all().to_vec())
    }

    /// A stored file by id (`import/global/feed.json`).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let (file, _) = platform.upload_file("iocs.txt", "text/plain", "198.51.100.7");
    /// assert_eq!(platform.file(&file.id).map(|f| f.size), Some(12));
    /// # }
    /// ```
    pub fn file(&self, id: &str) -> Option<StoredFile> {
        self.read(|s| s.files.get(id).cloned())
    }

    /// Every stored file, by id.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// platform.upload_file("iocs.txt", "text/plain", "198.51.100.7");
    /// assert_eq!(platform.files().len(), 1);
    /// # }
    /// ```
    pub fn files(&self) -> Vec<StoredFile> {
        self.read(|s| s.files.all().cloned().collect())
    }

    /// Every job sent to connectors, in order.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.jobs().is_empty());
    /// # }
    /// ```
    pub fn jobs(&self) -> Vec<Job> {
        self.read(|s| s.jobs.all().to_vec())
    }

    /// Draft workspaces (without their knowledge; see [`MockPlatform::draft_object`]).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.drafts().is_empty());
    /// # }
    /// ```
    pub fn drafts(&self) -> Vec<crate::store::drafts::Draft> {
        self.read(|s| s.drafts.all().iter().map(crate::store::drafts::Draft::summary).collect())
    }

    /// An object as the draft sees it.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.draft_object("no-such-draft", "malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697882").is_none());
    /// # }
    /// ```
    pub fn draft_object(&self, draft_id: &str, id: &str) -> Option<StoredObject> {
        self.read(|s| s.drafts.get(draft_id).and_then(|d| d.knowledge.get(id).cloned()))
    }

    /// Adds a fault rule; returns its id.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// use opencti_mock::{FaultAction, FaultSpec};
    /// let rule = platform.add_fault(FaultSpec::on_call("workAdd", 1, FaultAction::Error { code: "DATABASE_ERROR".into(), message: "down".into() }));
    /// assert!(rule > 0);
    /// # }
    /// ```
    pub fn add_fault(&self, spec: FaultSpec) -> u64 {
        self.core.store.write(|s| s.faults.add(spec))
    }

    /// Pauses or resumes ingestion.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// platform.set_ingest_paused(true);
    /// // … the connector pushes; the queue fills, pycti buffers …
    /// platform.set_ingest_paused(false);
    /// # }
    /// ```
    pub fn set_ingest_paused(&self, paused: bool) {
        self.core.store.write(|s| s.queues.throttle.paused = paused);
    }

    /// Waits until `predicate` holds on the state, for this workspace's own tests (the
    /// `internals` feature).
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub async fn wait_until(&self, what: &str, timeout: Duration, predicate: impl FnMut(&State) -> bool) -> Result<()> {
        if self.core.store.wait_until(timeout, predicate).await {
            Ok(())
        } else {
            Err(Error::Timeout { what: what.to_string(), after: timeout, state: self.idle_report() })
        }
    }

    /// What the platform still has in progress: messages queued for the worker or being
    /// processed, messages ready on the broker's push queues, jobs not yet delivered.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use serde_json::json;
    /// let platform = opencti_mock::MockPlatform::builder().ingest_paused(true).start().await;
    /// let graphql = |query: &str, variables: serde_json::Value| reqwest::Client::new().post(format!("{}/graphql", platform.url()))
    ///     .bearer_auth(platform.token()).json(&json!({"query": query, "variables": variables})).send();
    /// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
    /// graphql("mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
    ///     json!({"input": {"id": id, "name": "feed", "type": "EXTERNAL_IMPORT"}})).await.unwrap();
    /// let bundle = json!({"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
    ///     {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883", "value": "198.51.100.7"}]});
    /// graphql("mutation Push($connectorId: String!, $bundle: String!) { stixBundlePush(connectorId: $connectorId, bundle: $bundle) }",
    ///     json!({"connectorId": id, "bundle": bundle.to_string()})).await.unwrap();
    /// // ingestion is paused: the pushed object waits in the worker's queue
    /// assert_eq!(platform.activity().await.queued_messages, 1);
    /// # }
    /// ```
    pub async fn activity(&self) -> crate::activity::Activity {
        crate::activity::activity(&self.core).await
    }

    /// Waits until the platform has nothing left to do of its own: no message queued, in
    /// flight or ready on the broker, no job waiting for delivery (see
    /// [`Activity`](crate::Activity)). Call it after the connector has sent what it sends,
    /// then assert on the knowledge. A timeout says what was still in progress.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> opencti_mock::Result<()> {
    /// use std::time::Duration;
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// // … run the connector …
    /// platform.wait_idle(Duration::from_secs(30)).await?;
    /// assert!(platform.works().iter().all(|w| w.errors.is_empty()));
    /// # Ok(()) }
    /// ```
    pub async fn wait_idle(&self, timeout: Duration) -> Result<()> {
        crate::activity::wait_idle(&self.core, timeout).await.map_err(|busy| Error::Timeout {
            what: "the platform to be idle".to_string(),
            after: timeout,
            state: busy.to_string(),
        })
    }

    /// What the state shows of the platform's activity (for timeout errors).
    #[cfg(feature = "internals")]
    fn idle_report(&self) -> String {
        self.core.store.read(crate::activity::Activity::of).to_string()
    }

    /// Waits until a work is complete and returns it. A timeout says what the work looked
    /// like then (status, processed and expected counts, first error).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// use std::time::Duration;
    /// let err = platform.wait_for_work_complete("work_1", Duration::from_millis(10)).await.unwrap_err();
    /// assert!(err.to_string().contains("it does not exist"));
    /// # }
    /// ```
    pub async fn wait_for_work_complete(&self, work_id: &str, timeout: Duration) -> Result<Work> {
        let id = work_id.to_string();
        if !self.core.store.wait_until(timeout, |s| s.works.get(&id).is_some_and(Work::is_complete)).await {
            let state = self.work(work_id).map_or_else(|| "it does not exist".to_string(), |w| crate::expect::describe_work(&w));
            return Err(Error::Timeout { what: format!("work {id} to complete"), after: timeout, state });
        }
        self.work(work_id).ok_or_else(|| Error::NotFound(format!("work '{work_id}' was deleted")))
    }

    /// Verifies every mounted expectation now; `Err` carries the report.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// use opencti_mock::{Expect, matchers::operation};
    /// Expect::given(operation("RegisterConnector")).expect(0).mount(&platform);
    /// assert!(platform.verify().is_ok());
    /// # }
    /// ```
    pub fn verify(&self) -> std::result::Result<(), String> {
        let mounted = self.expectations.lock().expect("expectations lock poisoned");
        verify_all(&self.core.store, &mounted)
    }

    /// The broker this platform uses (RabbitMQ or the embedded one), if any, for this workspace's own tests (the
    /// `internals` feature).
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn broker(&self) -> Option<&crate::amqp::Broker> {
        self.core.amqp.broker()
    }

    /// Stops the platform and waits until it has stopped: the server is down, what it
    /// declared on its broker is removed, and every task it started (worker loops, job
    /// lanes, automatic enrichment, broker consumers, HTTP connections) has ended.
    /// Expectations are then verified, as on drop. (Dropping the handle stops it too, but
    /// cannot wait.)
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let url = platform.url().to_string();
    /// platform.close().await;
    /// assert!(reqwest::get(format!("{url}/_mock/health")).await.is_err(), "nothing listens any more");
    /// # }
    /// ```
    pub async fn close(mut self) {
        self.shutdown();
        if let Some(served) = self.served.take() {
            // The stop bounds itself (the HTTP grace, then the tasks' bound): this only
            // keeps a test from hanging if the serve task itself is stuck.
            if tokio::time::timeout(CLOSE_BOUND, served).await.is_err() {
                tracing::error!("the platform did not stop within {CLOSE_BOUND:?}; tasks left: {:?}", self.core.tasks.live());
            }
        }
    }

    /// How many tasks the platform started are still running (0 once [`close`](Self::close)
    /// has returned). For tests of the platform's own shutdown (the `internals` feature).
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn tasks_running(&self) -> usize {
        self.core.tasks.len()
    }

    /// Stops the server, after which the platform stops its tasks (expectations are
    /// verified when the handle is dropped).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let mut platform = opencti_mock::MockPlatform::start().await;
    /// platform.shutdown();
    /// // what it received can still be read
    /// assert!(platform.works().is_empty());
    /// # }
    /// ```
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for MockPlatform {
    fn drop(&mut self) {
        self.shutdown();
        // Not closed: nothing can be awaited here, and the runtime may stop before the
        // server task gets to stop the platform. Every task ends on its own once cancelled.
        self.core.tasks.cancel();
        // Nor can the server task be counted on to clean the broker up.
        if self.served.is_some()
            && let Some(broker) = self.core.amqp.broker()
        {
            broker.shutdown_blocking();
        }
        if let Err(report) = self.verify() {
            if std::thread::panicking() {
                tracing::error!("{report}");
            } else {
                panic!("{report}");
            }
        }
    }
}

impl<T: Subject> Expect<T> {
    /// Mounts the expectation for the platform's lifetime (verified when it is dropped).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// use opencti_mock::{Expect, matchers::operation};
    /// Expect::given(operation("RegisterConnector")).expect(..=1).mount(&platform);
    /// # }
    /// ```
    pub fn mount(self, platform: &MockPlatform) {
        let mounted = self.mounted_on(&platform.core().store);
        platform.expectations.lock().expect("expectations lock poisoned").push(Box::new(mounted));
    }

    /// Mounts the expectation until the returned guard is dropped (verified then).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// use opencti_mock::{Expect, matchers::operation};
    /// {
    ///     let _none = Expect::given(operation("workAdd")).expect(0).mount_as_scoped(&platform);
    /// } // verified here
    /// # }
    /// ```
    pub fn mount_as_scoped(self, platform: &MockPlatform) -> ExpectGuard<T> {
        self.scoped_on(&platform.core().store)
    }
}
