//! `opencti-mock`: parses flags and hands over to the library (`opencti_mock::cli`).

use clap::Parser;

/// mimalloc: the platform allocates and frees millions of small objects while ingesting a
/// large bundle; glibc's allocator spends more time in consolidation than the ingest does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use opencti_mock::cli::{Cli, Command, serve, status};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OPENCTI_MOCK_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Status(args) => status(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opencti-mock: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
