//! `opencti-mock scenario list|show|transcript|from-transcript`: the scenario files, and a
//! run's transcript to attach to a bug report and to turn back into a scenario.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value as Json, json};

use crate::scenario::Scenario;

/// `scenario` options.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ScenarioCommand,
}

/// `scenario` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// List the built-in scenarios (the public issues they reproduce), or the files of a
    /// directory.
    List {
        /// A directory of scenario files (`*.yaml`) instead of the built-in ones.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print a scenario (a built-in name or a file) with what it does.
    Show {
        /// A built-in scenario's name or a file.
        scenario: String,
    },
    /// Save a running mock's transcript as JSON (the platform's version and profile, the
    /// scenario it runs, every operation and what it was answered), to attach to a bug
    /// report.
    Transcript {
        /// The mock's URL.
        #[arg(long, env = "OPENCTI_URL", default_value = "http://127.0.0.1:4000")]
        url: String,
        /// Its admin token.
        #[arg(long, env = "OPENCTI_TOKEN")]
        token: String,
        /// Where to write it (standard output when absent).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write a scenario from a transcript (as `scenario transcript` or `GET
    /// /_mock/transcript` saves it): every error the platform answered, answered again on
    /// the same call of the same operation.
    FromTranscript {
        /// The transcript file.
        file: PathBuf,
        /// The scenario's name (default: the file's stem).
        #[arg(long)]
        name: Option<String>,
        /// Where to write it (standard output when absent).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Reads a scenario given as a file path or a built-in name.
pub fn resolve(spec: &str) -> anyhow::Result<Scenario> {
    let path = Path::new(spec);
    if path.exists() {
        return Ok(Scenario::load(path)?);
    }
    match Scenario::built_in(spec) {
        Some(s) => Ok(s?),
        None => anyhow::bail!(
            "no scenario file {spec} and no built-in scenario of that name (`opencti-mock scenario list` lists them)"
        ),
    }
}

/// Runs a `scenario` subcommand.
pub async fn run(args: ScenarioArgs, out: &mut impl Write) -> anyhow::Result<()> {
    match args.command {
        ScenarioCommand::List { dir } => {
            let scenarios: Vec<Scenario> = match dir {
                Some(dir) => {
                    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                        .collect();
                    files.sort();
                    files.iter().map(|f| Scenario::load(f)).collect::<Result<_, _>>()?
                }
                None => Scenario::built_ins().into_iter().collect::<Result<_, _>>()?,
            };
            let width = |f: &dyn Fn(&Scenario) -> usize| scenarios.iter().map(f).max().unwrap_or(0);
            let (names, issues) = (width(&|s| s.name.len()), width(&|s| s.issue.as_deref().map_or(1, str::len)));
            for s in &scenarios {
                let issue = s.issue.as_deref().unwrap_or("-");
                writeln!(out, "{:<names$}  {:<issues$}  {}", s.name, issue, s.title)?;
            }
        }
        ScenarioCommand::Show { scenario } => {
            let s = resolve(&scenario)?;
            write!(out, "{}", s.to_yaml())?;
            if s.touches_whole_broker() {
                writeln!(out, "# changes the broker for every client: run it alone")?;
            }
        }
        ScenarioCommand::Transcript { url, token, output } => {
            let client = reqwest::Client::new();
            let base = url.trim_end_matches('/');
            let get = |path: &str| {
                let req = client.get(format!("{base}/_mock/{path}")).bearer_auth(&token);
                async move {
                    let resp = req.send().await.map_err(|e| anyhow::anyhow!("cannot reach the mock at {base}: {e}"))?;
                    if !resp.status().is_success() {
                        anyhow::bail!("{base}/_mock answered {}", resp.status());
                    }
                    Ok::<Json, anyhow::Error>(resp.json().await?)
                }
            };
            let health = get("health").await?;
            let entries = get("transcript").await?;
            let export = json!({
                "platform": {"version": health["version"], "profile": health["profile"], "url": base},
                "entries": entries.get("entries").cloned().unwrap_or(entries),
            });
            write_out(output.as_deref(), &serde_json::to_string_pretty(&export)?, out)?;
        }
        ScenarioCommand::FromTranscript { file, name, output } => {
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let transcript: Json =
                serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", file.display()))?;
            let name = name.unwrap_or_else(|| file.file_stem().map_or("replay".into(), |s| s.to_string_lossy().into_owned()));
            let scenario =
                Scenario::from_transcript(&transcript, &name).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            write_out(output.as_deref(), &scenario.to_yaml(), out)?;
        }
    }
    Ok(())
}

fn write_out(path: Option<&Path>, text: &str, out: &mut impl Write) -> anyhow::Result<()> {
    match path {
        Some(p) => std::fs::write(p, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display())),
        None => Ok(writeln!(out, "{text}")?),
    }
}
