//! The command line: `opencti-mock serve` and `opencti-mock status`.
//!
//! Flags are a third configuration source, over the config file and the environment
//! (`APP__PORT`…); each flag lists its environment variable in `--help`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value as Json, json};

use crate::config::{DEFAULT_PORT, Settings};
use crate::platform::{Platform, local_url, shutdown_signal};
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
}

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
    /// RabbitMQ host handed to connectors in registrations [env: RABBITMQ__HOSTNAME].
    #[arg(long)]
    pub rabbitmq_hostname: Option<String>,
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
        json!({"app": app, "mock": mock, "rabbitmq": rabbit})
    }
}

/// `opencti-mock serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::load(args.config.as_deref(), args.overrides())?;
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
    let mut out = std::io::stdout().lock();
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
    writeln!(out, "  transport: HTTP only — connectors need CONNECTOR_QUEUE_PROTOCOL=api")?;
    writeln!(out, "  control API: {url}/_mock/ (admin token)")?;
    drop(out);
    platform.serve(listener, shutdown_signal()).await?;
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
    }
    Ok(())
}
