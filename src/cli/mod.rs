//! The command line: `opencti-mock serve`, `status`, `validate`, `conform` and `scenario`.
//!
//! Flags are a third configuration source, over the config file and the environment
//! (`APP__PORT`…); each flag lists its environment variable in `--help`.

mod conform;
mod scenario;
mod validate;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value as Json, json};

use crate::config::{DEFAULT_PORT, Settings};
use crate::platform::{Platform, local_url};
use crate::store::Clock;

/// A mock OpenCTI platform for connector tests.
#[derive(Debug, Parser)]
#[command(name = "opencti-mock", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the mock platform until Ctrl-C / SIGTERM.
    Serve(ServeArgs),
    /// Show the connectors, works and queues of a running mock.
    Status(StatusArgs),
    /// Check STIX bundle files: what the platform would refuse (errors) and where the
    /// objects depart from STIX 2.1 (findings). Exit 0: no error; 1: errors (or findings
    /// with --strict); 2: a file is not a readable JSON bundle.
    Validate(ValidateArgs),
    /// Run a connector against a fresh platform and report which platform behaviour it gets
    /// wrong: every check has an ID, a MUST/SHOULD level, the requirement and its source (a
    /// CI gate). Exit 0: no MUST check failed or blocked (no SHOULD either with --strict);
    /// 1: the connector does not conform (a requirement broken, or nothing passed); 2: the
    /// gate could not judge every requirement (blocked checks, nothing failed), or the
    /// connector could not be run.
    Conform(ConformArgs),
    /// Scenarios that reproduce field issues: list and show them, save a run's transcript,
    /// write a scenario from a transcript.
    Scenario(scenario::ScenarioArgs),
}

pub use conform::{ConformArgs, ConformType, ListFormat, ListenProtocol, QueueProtocol, conform};
pub use scenario::run as scenario;

/// `serve` options. Each overrides the config file and the environment.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// JSON config file with the platform's structure ({"app": {"port": 4000}, ...}).
    #[arg(long, short = 'c', env = "OPENCTI_MOCK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Port to listen on [config: app.port, env: APP__PORT, default: 4000].
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to bind [config: app.bind_address, env: APP__BIND_ADDRESS, default: 127.0.0.1].
    #[arg(long)]
    pub bind: Option<std::net::IpAddr>,
    /// URL connectors should use, e.g. `http://host.docker.internal:4000` [env: APP__BASE_URL].
    #[arg(long)]
    pub public_url: Option<String>,
    /// Admin token [env: APP__ADMIN__TOKEN; default: random, printed at start].
    #[arg(long)]
    pub admin_token: Option<String>,
    /// JSON body limit, e.g. 50mb [env: APP__MAX_PAYLOAD_BODY_SIZE].
    #[arg(long)]
    pub max_payload_body_size: Option<String>,
    /// Platform profile: 7 or 6.9 [env: MOCK__PROFILE].
    #[arg(long)]
    pub profile: Option<String>,
    /// Create a connector user: NAME or NAME=TOKEN (repeatable) [env: MOCK__CONNECTOR_USERS].
    #[arg(long = "connector-user")]
    pub connector_users: Vec<String>,
    /// Delay before each queued message is ingested, in ms [env: MOCK__INGEST_DELAY_MS].
    #[arg(long)]
    pub ingest_delay_ms: Option<u64>,
    /// Refuse GraphQL introspection, as a production platform does.
    #[arg(long)]
    pub no_introspection: bool,
    /// RabbitMQ broker host (the platform connects to it and hands it to connectors)
    /// [env: RABBITMQ__HOSTNAME, default: localhost].
    #[arg(long)]
    pub rabbitmq_hostname: Option<String>,
    /// RabbitMQ broker as a URL, e.g. amqp://guest:guest@localhost:5672/%2F (host, port,
    /// vhost, credentials; amqps:// sets use_ssl).
    #[arg(long, env = "OPENCTI_MOCK_AMQP_URL")]
    pub amqp_url: Option<String>,
    /// Which broker: auto (the configured RabbitMQ when it answers, else the embedded
    /// broker), rabbitmq (the configured RabbitMQ or no start; `required` is the same),
    /// embedded (the AMQP broker inside the mock), container (a throwaway RabbitMQ, needs
    /// Docker), off (HTTP only) [env: MOCK__BROKER, default: auto].
    #[arg(long, value_name = "BROKER")]
    pub broker: Option<String>,
    /// Where the embedded broker listens [env: MOCK__EMBEDDED_BROKER_ADDRESS, default:
    /// 127.0.0.1:0, a free loopback port].
    #[arg(long, value_name = "HOST:PORT")]
    pub embedded_broker_address: Option<String>,
    /// Broker host handed to connectors instead of the real one, to reproduce a platform
    /// that advertises an unreachable host (connectors#972) [env: MOCK__AMQP_ADVERTISED_HOST].
    #[arg(long, value_name = "HOST")]
    pub amqp_advertised_host: Option<String>,
    /// Queue and exchange name prefix (rabbitmq:queue_prefix); default: a random one per
    /// platform when a broker may be used, so platforms sharing a broker never collide
    /// [env: RABBITMQ__QUEUE_PREFIX].
    #[arg(long, value_name = "PREFIX")]
    pub queue_prefix: Option<String>,
    /// Keep the queues and exchanges this platform declared when it stops
    /// [env: MOCK__KEEP_BROKER_OBJECTS].
    #[arg(long)]
    pub keep_broker_objects: bool,
    /// The worker's WORKER_OBJECTS_MAX_REFS: objects with at least this many references go
    /// to the dead-letter queue; 0 is off [env: MOCK__OBJECTS_MAX_REFS, default: 0].
    #[arg(long, value_name = "N")]
    pub objects_max_refs: Option<u64>,
    /// What the worker's job callbacks carry as bearer: `profile` (7.x: a signed JWT; 6.9:
    /// the connector user's token), `foreign-key` (a JWT signed by another key) or
    /// `user-token` — the last two are refused by pycti 7 [env: MOCK__CALLBACK_AUTH].
    #[arg(long, value_name = "AUTH")]
    pub callback_auth: Option<crate::config::CallbackAuth>,
    /// Wait before a failed job callback is retried, drawn between MIN and MAX milliseconds
    /// (the worker: 10000-30000) [env: WORKER__LISTEN_API_RETRY_MIN_MS, …_MAX_MS].
    #[arg(long, value_name = "MIN-MAX", value_parser = parse_range)]
    pub callback_retry_ms: Option<(u64, u64)>,
    /// Run a scenario: a file or a built-in name (`opencti-mock scenario list`). Its profile
    /// and limits win over the other settings; its faults fire at their points.
    #[arg(long, value_name = "FILE|NAME")]
    pub scenario: Option<String>,
    /// Store the objects of a STIX bundle file before serving, as the administrator
    /// (repeatable); objects the platform would refuse are listed and left out.
    #[arg(long = "seed", value_name = "FILE")]
    pub seeds: Vec<PathBuf>,
}

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// URL of the running mock.
    #[arg(long, env = "OPENCTI_URL", default_value = "http://127.0.0.1:4000")]
    pub url: String,
    /// Admin token of the running mock.
    #[arg(long, env = "OPENCTI_TOKEN")]
    pub token: String,
    /// Print the raw JSON.
    #[arg(long)]
    pub json: bool,
}

/// `validate` options.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Fail on STIX findings too, not only on what the platform would refuse.
    #[arg(long)]
    pub strict: bool,
    /// Bundle files (JSON).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for people, one per error and finding, then a summary line.
    Text,
    /// One JSON document for machines.
    Json,
}

impl ServeArgs {
    /// The flags as a partial settings tree.
    pub fn overrides(&self) -> Json {
        let mut app = serde_json::Map::new();
        let mut mock = serde_json::Map::new();
        let mut rabbit = serde_json::Map::new();
        if let Some(p) = self.port {
            app.insert("port".into(), json!(p));
        }
        if let Some(b) = self.bind {
            app.insert("bind_address".into(), json!(b));
        }
        if let Some(u) = &self.public_url {
            app.insert("base_url".into(), json!(u));
        }
        if let Some(t) = &self.admin_token {
            app.insert("admin".into(), json!({"token": t}));
        }
        if let Some(s) = &self.max_payload_body_size {
            app.insert("max_payload_body_size".into(), json!(s));
        }
        if self.no_introspection {
            app.insert("graphql".into(), json!({"playground": {"force_disabled_introspection": true}}));
        }
        if let Some(p) = &self.profile {
            mock.insert("profile".into(), json!(p));
        }
        if !self.connector_users.is_empty() {
            mock.insert("connector_users".into(), json!(self.connector_users));
        }
        if let Some(d) = self.ingest_delay_ms {
            mock.insert("ingest_delay_ms".into(), json!(d));
        }
        if let Some(h) = &self.rabbitmq_hostname {
            rabbit.insert("hostname".into(), json!(h));
        }
        if let Some(p) = &self.queue_prefix {
            rabbit.insert("queue_prefix".into(), json!(p));
        }
        if let Some(b) = &self.broker {
            mock.insert("broker".into(), json!(b.to_ascii_lowercase()));
        }
        if let Some(a) = &self.embedded_broker_address {
            mock.insert("embedded_broker_address".into(), json!(a));
        }
        if let Some(h) = &self.amqp_advertised_host {
            mock.insert("amqp_advertised_host".into(), json!(h));
        }
        if self.keep_broker_objects {
            mock.insert("keep_broker_objects".into(), json!(true));
        }
        if let Some(n) = self.objects_max_refs {
            mock.insert("objects_max_refs".into(), json!(n));
        }
        if let Some(a) = self.callback_auth {
            mock.insert("callback_auth".into(), json!(a));
        }
        let mut worker = serde_json::Map::new();
        if let Some((min, max)) = self.callback_retry_ms {
            worker.insert("listen_api_retry_min_ms".into(), json!(min));
            worker.insert("listen_api_retry_max_ms".into(), json!(max));
        }
        json!({"app": app, "mock": mock, "rabbitmq": rabbit, "worker": worker})
    }
}

/// `MIN-MAX` (or a single value) in milliseconds.
fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let parse = |v: &str| v.trim().parse::<u64>().map_err(|e| format!("{v:?} is not a number of milliseconds: {e}"));
    let (min, max) = (parse(a)?, parse(b)?);
    if min > max {
        return Err(format!("{min} is more than {max}"));
    }
    Ok((min, max))
}

/// `opencti-mock serve`. `settled` runs once the platform listens and the checks' tables
/// are built: the binary hands the start-up's garbage back to the system there, since an
/// idle process frees nothing by itself.
pub async fn serve(args: ServeArgs, settled: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    let mut settings = Settings::load(args.config.as_deref(), args.overrides())?;
    if let Some(url) = &args.amqp_url {
        settings.rabbitmq.apply_amqp_url(url)?;
    }
    let scenario = args.scenario.as_deref().map(scenario::resolve).transpose()?;
    if let Some(s) = &scenario {
        s.apply(&mut settings);
    }
    let addr = SocketAddr::new(settings.app.bind_address, settings.app.port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = if settings.app.port == DEFAULT_PORT { " (is another platform running? use --port or APP__PORT)" } else { "" };
        anyhow::anyhow!("cannot listen on {addr}: {e}{hint}")
    })?;
    let bound = listener.local_addr()?;
    let url = settings.app.base_url.clone().unwrap_or_else(|| local_url(bound));
    let profile = settings.mock.profile;
    let users = settings.mock.connector_users.clone();
    let platform = Platform::new(settings, Clock::system(), url.clone())?;
    platform.connect_broker().await?;
    if let Some(s) = &scenario {
        crate::platform::scenario::install(platform.core(), s).await;
    }
    let mut out = std::io::stdout().lock();
    for file in &args.seeds {
        let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read seed {}: {e}", file.display()))?;
        let report = crate::ingest::seed::seed_bundle(&platform.core().store, &text)
            .map_err(|e| anyhow::anyhow!("seed {}: {e}", file.display()))?;
        writeln!(
            out,
            "seeded {}: {} object(s), {} created, {} updated, {} refused",
            file.display(),
            report.objects,
            report.created,
            report.updated,
            report.refused.len()
        )?;
        for r in &report.refused {
            writeln!(out, "  refused {}: {}", r.id.as_deref().unwrap_or("(no id)"), r.error)?;
        }
    }
    writeln!(
        out,
        "opencti-mock {} listening on {bound} (platform profile {profile}, version {})",
        env!("CARGO_PKG_VERSION"),
        profile.version()
    )?;
    writeln!(out, "  OPENCTI_URL={url}")?;
    writeln!(out, "  admin token (OPENCTI_TOKEN): {}", platform.admin_token())?;
    for u in users {
        writeln!(out, "  connector user: {u}")?;
    }
    match (platform.core().amqp.broker(), platform.core().amqp.http_only_reason()) {
        (Some(b), _) => writeln!(
            out,
            "  transport: {} {} ({}), queue prefix '{}', and HTTP (CONNECTOR_QUEUE_PROTOCOL=api)",
            if b.kind() == crate::amqp::BrokerKind::Embedded { "AMQP, embedded broker," } else { "RabbitMQ" },
            b.endpoint().display(),
            b.source(),
            b.names().prefix()
        )?,
        (None, reason) => writeln!(
            out,
            "  transport: HTTP only ({}) — connectors need CONNECTOR_QUEUE_PROTOCOL=api",
            reason.unwrap_or("no broker")
        )?,
    }
    if let Some(s) = &scenario {
        let issue = s.issue.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
        writeln!(out, "  scenario: {}{issue}: {} — {} fault(s)", s.name, s.title, s.faults.len())?;
        if s.touches_whole_broker() {
            writeln!(
                out,
                "  note: the scenario sets the broker's max_message_size, a whole-broker setting this platform does not change: apply it to the broker yourself (rabbitmqctl)"
            )?;
        }
    }
    writeln!(out, "  control API: {url}/_mock/ (admin token)")?;
    drop(out);
    // `warm_up` is idempotent and waits for the build the platform started off the
    // start-up path. `settled` runs in this task, on the thread that built the schema, whose
    // heap holds most of the start-up's garbage.
    let settle = async move {
        let _ = tokio::task::spawn_blocking(crate::ingest::rules::warm_up).await;
        settled();
    };
    let (served, ()) = tokio::join!(platform.serve(listener, shutdown_signal()), settle);
    served?;
    println!("opencti-mock stopped");
    Ok(())
}

/// `opencti-mock status`.
pub async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let base = args.url.trim_end_matches('/');
    let get = |path: &str| {
        let req = client.get(format!("{base}/_mock/{path}")).bearer_auth(&args.token);
        async move {
            let resp = req.send().await.map_err(|e| anyhow::anyhow!("cannot reach the mock at {base}: {e}"))?;
            let status = resp.status();
            let body: Json = resp.json().await?;
            if !status.is_success() {
                anyhow::bail!("{} answered {status}: {}", base, body["error"].as_str().unwrap_or(""));
            }
            Ok::<Json, anyhow::Error>(body)
        }
    };
    let health = get("health").await?;
    let connectors = get("connectors").await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({"health": health, "connectors": connectors}))?);
        return Ok(());
    }
    println!(
        "{} — platform {} (profile {}), {} connector(s), {} work(s), {} object(s)",
        base,
        health["version"].as_str().unwrap_or("?"),
        health["profile"].as_str().unwrap_or("?"),
        health["connectors"],
        health["works"],
        health["objects"]
    );
    for c in connectors.as_array().into_iter().flatten() {
        println!(
            "\n{} [{}] {}  {}\n  id {}\n  last seen {}  registrations {}  pings {}\n  state {}\n  queue {} message(s), {} byte(s)  buffering {}\n  works: {} total, {} in progress, {} complete, {} with errors",
            c["name"].as_str().unwrap_or("?"),
            c["type"].as_str().unwrap_or("?"),
            if c["active"].as_bool() == Some(true) { "ACTIVE" } else { "INACTIVE" },
            c["scope"],
            c["id"].as_str().unwrap_or("?"),
            c["last_seen_at"].as_str().unwrap_or("never"),
            c["registrations"],
            c["pings"],
            c["state"].as_str().unwrap_or("(none)"),
            c["queue"]["messages"],
            c["queue"]["bytes"],
            c["connector_info"]["buffering"].as_bool().map(|b| b.to_string()).unwrap_or_else(|| "unknown".into()),
            c["works"]["total"],
            c["works"]["progress"],
            c["works"]["complete"],
            c["works"]["with_errors"],
        );
        if c["jobs"]["total"].as_u64().unwrap_or(0) > 0 {
            println!("  jobs: {} sent, {} not delivered", c["jobs"]["total"], c["jobs"]["undelivered"]);
        }
        if let Some(uri) = c["listen_callback_uri"].as_str() {
            match c["listen_callback_error"].as_str() {
                Some(e) => println!("  callback {uri}: FAILING — {e}"),
                None => println!("  callback {uri}"),
            }
        }
    }
    Ok(())
}

/// `opencti-mock validate`: checks every file, prints the report on `out`, returns the
/// exit code (0, 1 or 2; see `src/cli/validate.rs`).
pub fn validate(args: &ValidateArgs, out: &mut impl Write) -> std::io::Result<u8> {
    use validate::{Summary, check_file, render_json, render_text};
    let reports: Vec<_> = args.files.iter().map(|f| check_file(f)).collect();
    match args.format {
        Format::Text => out.write_all(render_text(&reports, args.strict).as_bytes())?,
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&render_json(&reports, args.strict))?)?,
    }
    out.flush()?;
    Ok(Summary::of(&reports, args.strict).exit_code)
}

/// Resolves when the process gets Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
