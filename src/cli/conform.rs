//! `opencti-mock conform`: its options, and running a connector's suite with live progress,
//! the report, JUnit and the exit code (the CI gate).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::scenario;

/// Connector types with a conformance suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConformType {
    /// A connector that imports data on a schedule.
    ExternalImport,
    /// A connector the platform sends entities to enrich (jobs).
    InternalEnrichment,
    /// A connector the platform sends files to import (jobs).
    InternalImportFile,
    /// A connector the platform asks for files of its knowledge (jobs).
    InternalExportFile,
    /// A connector that reads the platform's live stream.
    Stream,
}

impl ConformType {
    /// The platform's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            ConformType::ExternalImport => "EXTERNAL_IMPORT",
            ConformType::InternalEnrichment => "INTERNAL_ENRICHMENT",
            ConformType::InternalImportFile => "INTERNAL_IMPORT_FILE",
            ConformType::InternalExportFile => "INTERNAL_EXPORT_FILE",
            ConformType::Stream => "STREAM",
        }
    }
}

/// How the connector sends bundles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueProtocol {
    /// `stixBundlePush` over HTTP (`CONNECTOR_QUEUE_PROTOCOL=api`).
    Api,
    /// RabbitMQ (`CONNECTOR_QUEUE_PROTOCOL=amqp`, pycti's default): the platform runs on
    /// a broker (see `--broker`).
    Amqp,
}

/// How a job connector gets its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListenProtocol {
    /// `CONNECTOR_LISTEN_PROTOCOL=API`: the platform's worker POSTs each job, with a signed
    /// JWT, to the connector's HTTP listener (on a free port: `CONNECTOR_LISTEN_PROTOCOL_API_PORT`
    /// and `_URI`).
    Api,
    /// `CONNECTOR_LISTEN_PROTOCOL=AMQP` (pycti's default): the jobs are published to the
    /// connector's `listen_<id>` queue on the broker (see `--broker`).
    Amqp,
}

/// What `--list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// One line per check.
    Text,
    /// `conformance/CHECKS.md`.
    Markdown,
}

/// `conform` options.
#[derive(Debug, Args)]
pub struct ConformArgs {
    /// The connector's type.
    #[arg(long = "type", value_enum, default_value_t = ConformType::ExternalImport)]
    pub connector_type: ConformType,
    /// How the connector pushes bundles.
    #[arg(long, value_enum, default_value_t = QueueProtocol::Api)]
    pub queue_protocol: QueueProtocol,
    /// How a job connector (INTERNAL_ENRICHMENT, INTERNAL_IMPORT_FILE, INTERNAL_EXPORT_FILE) gets its jobs.
    #[arg(long, value_enum, default_value_t = ListenProtocol::Api)]
    pub listen_protocol: ListenProtocol,
    /// The broker for AMQP sessions: auto (the RabbitMQ of OPENCTI_MOCK_AMQP_URL, else the
    /// local RabbitMQ when it answers, else the embedded broker), rabbitmq, embedded or
    /// container.
    #[arg(long, value_name = "BROKER")]
    pub broker: Option<String>,
    /// Longest a job connector may take to close a job's work, in seconds.
    /// Run the connector under a scenario (a file or a built-in name): a connector that
    /// survives its faults passes, one that does not fails with the scenario named.
    #[arg(long, value_name = "FILE|NAME")]
    pub scenario: Option<String>,
    #[arg(long, default_value_t = 60)]
    pub job_timeout: u64,
    /// Only the checks whose ID starts with this (repeatable), e.g. `EXT-IMPORT` or `REG-001`.
    #[arg(long = "only", value_name = "PREFIX")]
    pub only: Vec<String>,
    /// SHOULD checks fail the gate too.
    #[arg(long)]
    pub strict: bool,
    /// Write a JUnit report (one test case per check).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// List the checks and exit.
    #[arg(long)]
    pub list: bool,
    /// Format of --list.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    /// How many times the connector is launched (the second run is judged too) [default: 2;
    /// 1 for job connectors, which keep running and are sent every job].
    #[arg(long)]
    pub runs: Option<usize>,
    /// Longest a run may take, in seconds, before the connector is stopped.
    #[arg(long, default_value_t = 180)]
    pub run_timeout: u64,
    /// Seconds without a call (pings aside) after which a connector that keeps running is
    /// stopped.
    #[arg(long, default_value_t = 5)]
    pub settle: u64,
    /// The platform's JSON body limit, e.g. 1mb (default: the platform's 50mb).
    #[arg(long)]
    pub max_payload_body_size: Option<String>,
    /// `CONNECTOR_SCOPE` handed to the connector (default: its own; the jobs sent to a job
    /// connector follow the scope it registers). The last one given wins.
    #[arg(long, overrides_with = "scope")]
    pub scope: Option<String>,
    /// More environment for the connector: KEY=VALUE (repeatable). The connector's own run
    /// mode, scope and settings are otherwise left as they are.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Which of the connector's own settings holds what a check needs: `max_tlp=VAR`
    /// (e.g. `max_tlp=ISMALICIOUS_MAX_TLP`: the gate sets it to TLP:AMBER, or keeps the
    /// value given with `--env VAR=TLP:…` and judges against that one, and sends an entity
    /// marked TLP:RED; without it, ENRICH-004 does not apply; `max_tlp=` forgets an earlier
    /// one). Repeatable.
    #[arg(long = "setting", value_name = "NAME=VAR")]
    pub setting: Vec<String>,
    /// A sample file of a format the gate cannot make, for an import connector:
    /// MIME=PATH (e.g. `application/json=misp-event.json`). Repeatable.
    #[arg(long = "sample-file", value_name = "MIME=PATH")]
    pub sample_file: Vec<String>,
    /// The command that starts the connector, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// `opencti-mock conform`: runs the session, prints live progress and the report on `out`,
/// writes JUnit if asked; returns the exit code (0 conforms, 1 does not, 2 could not judge
/// every requirement or could not run).
pub async fn conform(args: ConformArgs, out: &mut (impl Write + Send)) -> anyhow::Result<u8> {
    use opencti_conformance::{registry, report};
    let connector_type = args.connector_type.as_str();
    let checks = registry::select(connector_type, &args.only);
    if args.list {
        match args.format {
            ListFormat::Markdown => write!(out, "{}", registry::checks_markdown())?,
            ListFormat::Text => {
                for c in &checks {
                    let pycti = if c.enforced_by_pycti { " [pycti]" } else { "" };
                    writeln!(out, "{} {:<6} {}{pycti}", c.id, c.level.as_str(), c.title)?;
                }
            }
        }
        return Ok(0);
    }
    if args.command.is_empty() {
        anyhow::bail!("no connector command: give it after `--`, e.g. `opencti-mock conform -- python main.py`");
    }
    if checks.is_empty() {
        anyhow::bail!("no check matches --only {:?} for {connector_type}", args.only);
    }
    let mut session = crate::conform::Session::new(connector_type, args.command.clone());
    if let Some(runs) = args.runs {
        session.runs = runs.max(1);
    }
    session.listen_protocol = match args.listen_protocol {
        ListenProtocol::Api => "api".into(),
        ListenProtocol::Amqp => "amqp".into(),
    };
    session.job_timeout = std::time::Duration::from_secs(args.job_timeout);
    session.queue_protocol = match args.queue_protocol {
        QueueProtocol::Api => "api".into(),
        QueueProtocol::Amqp => "amqp".into(),
    };
    session.broker = match args.broker.as_deref() {
        None | Some("auto") => None,
        Some(b) => Some(b.parse::<crate::config::BrokerMode>().map_err(|e| anyhow::anyhow!("--broker: {e}"))?),
    };
    session.run_timeout = std::time::Duration::from_secs(args.run_timeout);
    session.settle = std::time::Duration::from_secs(args.settle);
    if let Some(size) = &args.max_payload_body_size {
        session.max_payload_body_size = size.clone();
    }
    session.scope = args.scope.clone();
    session.scenario = args.scenario.as_deref().map(scenario::resolve).transpose()?;
    for kv in &args.setting {
        let (name, var) = kv.split_once('=').ok_or_else(|| anyhow::anyhow!("--setting {kv:?} is not NAME=VAR"))?;
        if name != "max_tlp" {
            anyhow::bail!("--setting {name}: unknown setting (known: max_tlp)");
        }
        if var.is_empty() {
            session.job.settings.remove(name);
        } else {
            session.job.settings.insert(name.to_string(), var.to_string());
        }
    }
    for kv in &args.sample_file {
        let (mime, path) = kv.split_once('=').ok_or_else(|| anyhow::anyhow!("--sample-file {kv:?} is not MIME=PATH"))?;
        let content = std::fs::read(path).map_err(|e| anyhow::anyhow!("--sample-file {path}: {e}"))?;
        let name = std::path::Path::new(path).file_name().map_or("sample".into(), |n| n.to_string_lossy().into_owned());
        session.job.samples.push((mime.to_string(), name, content));
    }
    for kv in &args.env {
        let (k, v) = kv.split_once('=').ok_or_else(|| anyhow::anyhow!("--env {kv:?} is not KEY=VALUE"))?;
        session.env.push((k.to_string(), v.to_string()));
    }
    // A max TLP the user gives the connector's own setting is the one it runs with, and the
    // one it is judged against.
    if let Some(var) = session.job.settings.get("max_tlp")
        && let Some((_, value)) = session.env.iter().rev().find(|(k, _)| k == var)
    {
        let known = crate::conform::jobs::TLP_LEVELS.iter().find(|t| t.eq_ignore_ascii_case(value.trim()));
        let Some(tlp) = known else {
            anyhow::bail!("--env {var}={value}: not a max TLP pycti knows ({})", crate::conform::jobs::TLP_LEVELS.join(", "));
        };
        session.job.max_tlp_given = Some((*tlp).to_string());
    }
    let mut log = String::new();
    let mut say = |line: String, out: &mut dyn Write| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        log.push_str(&line);
        log.push('\n');
    };
    say(format!("opencti-mock conform: {connector_type}, {} checks, command {:?}", checks.len(), args.command), out);
    let under = session.scenario.as_ref().map(|s| {
        let issue = s.issue.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
        format!("scenario {}{issue}: {}", s.name, s.title)
    });
    if let Some(under) = &under {
        say(format!("under {under}"), out);
    }
    let evidence = crate::conform::run(&session, |p| match p {
        crate::conform::Progress::PlatformUp { url, broker } => {
            let broker = broker.map(|b| format!(", broker: {b}")).unwrap_or_else(|| ", HTTP only".into());
            say(format!("platform up at {url}{broker}"), out)
        }
        crate::conform::Progress::RunStarted { index } => say(format!("run {}: started", index + 1), out),
        crate::conform::Progress::RunEnded(r) => {
            let how = match (&r.end, r.exit_code) {
                (opencti_conformance::evidence::RunEnd::Exited, Some(c)) => format!("exited with code {c}"),
                (end, _) => end.describe().to_string(),
            };
            let calls = r.last_seq.saturating_sub(r.first_seq) + 1;
            say(format!("run {}: {how} after {:.1} s ({calls} transcript entries)", r.index + 1, r.seconds), out);
            let failed = !(r.end == opencti_conformance::evidence::RunEnd::Exited && r.exit_code == Some(0))
                && r.end != opencti_conformance::evidence::RunEnd::Stopped;
            if failed && !r.output_tail.is_empty() {
                say(format!("run {} output (last lines):\n{}", r.index + 1, indent(&r.output_tail)), out);
            }
        }
    })
    .await;
    let evidence = match evidence {
        Ok(e) => e,
        Err(e) => {
            writeln!(out, "opencti-mock conform: the session could not run: {e}")?;
            return Ok(2);
        }
    };
    if evidence.runs.iter().all(|r| r.end == opencti_conformance::evidence::RunEnd::NotStarted) {
        let why = evidence.runs.first().map(|r| r.output_tail.clone()).unwrap_or_default();
        writeln!(out, "opencti-mock conform: the connector could not be started: {why}")?;
        return Ok(2);
    }
    let results = report::judge(&checks, &evidence);
    let verdict = report::verdict(connector_type, &results, args.strict);
    let mut text = String::new();
    if let Some(under) = &under {
        let outcome = if verdict.exit_code == 0 { "survived" } else { "did not survive" };
        text.push_str(&format!("the connector {outcome} {under}\n"));
    }
    text.push_str(&report::console(connector_type, &results, args.strict));
    write!(out, "{text}")?;
    log.push_str(&text);
    if let Some(path) = &args.junit {
        std::fs::write(path, report::junit(connector_type, &results, args.strict, &log))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    Ok(verdict.exit_code as u8)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}
