//! `opencti-mock`: parses flags and hands over to the library (`opencti_mock::cli`).

use clap::Parser;

/// mimalloc: the platform allocates and frees millions of small objects while ingesting a
/// large bundle; glibc's allocator spends more time in consolidation than the ingest does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use opencti_mock::cli::{Cli, Command, conform, serve, status, validate};

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
        Command::Conform(args) => {
            return match conform(args, &mut std::io::stdout()).await {
                Ok(code) => std::process::ExitCode::from(code),
                Err(e) => {
                    eprintln!("opencti-mock conform: {e:#}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Command::Validate(args) => {
            return match validate(&args, &mut std::io::stdout().lock()) {
                Ok(code) => std::process::ExitCode::from(code),
                Err(e) => {
                    eprintln!("opencti-mock: cannot write the report: {e}");
                    std::process::ExitCode::from(2)
                }
            };
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opencti-mock: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
