//! The scenarios shipped in the binary: `fixtures/scenarios/*.yaml`, so that
//! `opencti-mock scenario list` and `serve --scenario <name>` work without a checkout. A test
//! (`tests/scenarios.rs`) fails when a file of the directory is missing here.

use super::file::Scenario;
use super::read::ScenarioError;

macro_rules! built_ins {
    ($($name:literal),* $(,)?) => {
        /// Every built-in scenario: its name and its text.
        const BUILT_IN: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../fixtures/scenarios/", $name, ".yaml"))),)*
        ];
    };
}

built_ins![
    "client-python-307-stream-state-reset-crash",
    "client-python-732-blocked-connection-timeout",
    "connectors-1789-auth-required-at-start",
    "connectors-2649-stream-replays-history",
    "connectors-3175-stream-stopped-410",
    "connectors-3528-amqp-message-too-large",
    "connectors-4173-stream-heartbeat-45s",
    "connectors-6302-work-completed-early",
    "connectors-972-broker-host-unresolvable",
    "docs-deployment-connectors-listen-protocol-port",
    "opencti-10453-listen-callback-requeue-loop",
    "opencti-1332-stream-500-at-start",
    "opencti-13763-push-queue-lost",
    "opencti-16612-ping-state-wiped",
    "opencti-17472-stale-ping-state",
    "opencti-8224-work-complete-too-early",
];

impl Scenario {
    /// Every built-in scenario (the files of `fixtures/scenarios/`, shipped in the crate),
    /// read.
    ///
    /// ```
    /// use opencti_mock::Scenario;
    /// let all = Scenario::built_ins();
    /// assert!(all.iter().all(|s| s.as_ref().is_ok_and(|s| s.issue.is_some())));
    /// ```
    pub fn built_ins() -> Vec<Result<Scenario, ScenarioError>> {
        BUILT_IN.iter().map(|(name, text)| Scenario::from_yaml(text, &format!("{name}.yaml"))).collect()
    }

    /// The built-in scenario of that name (its file's stem), read.
    ///
    /// ```
    /// use opencti_mock::Scenario;
    /// let s = Scenario::built_in("connectors-1789-auth-required-at-start").unwrap().unwrap();
    /// assert_eq!(s.issue.as_deref(), Some("OpenCTI-Platform/connectors#1789"));
    /// assert!(Scenario::built_in("no-such-scenario").is_none());
    /// ```
    pub fn built_in(name: &str) -> Option<Result<Scenario, ScenarioError>> {
        let name = name.strip_suffix(".yaml").unwrap_or(name);
        BUILT_IN.iter().find(|(n, _)| *n == name).map(|(n, text)| Scenario::from_yaml(text, &format!("{n}.yaml")))
    }
}
