//! `opencti-mock`: parses flags and hands over to the library (`opencti_mock::cli`).

use clap::Parser;

/// mimalloc: the platform allocates and frees millions of small objects while ingesting a
/// large bundle; glibc's allocator spends more time in consolidation than the ingest does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use opencti_mock::cli::{Cli, Command, conform, scenario, serve, status, validate};

/// mimalloc's `mi_option_purge_delay` in v3's `mi_option_t` (`include/mimalloc.h` of the
/// libmimalloc-sys locked in Cargo.lock), which libmimalloc-sys does not name; that
/// version's default is 1,000 ms (`MIMALLOC_VERBOSE=1` prints the options).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_DELAY_DEFAULT: std::ffi::c_long = 1000;

/// Freed memory goes back to the system at once. mimalloc purges a freed page only after a
/// delay and on later allocator activity, which an idle platform does not have: the
/// garbage of the last burst of work (or of start-up) would stay resident for good, 3 to
/// 4 MB of an idle `serve`'s ~30. Measured cost: none on start-up, about 2% on the ~45 MB
/// push. Set only when the option holds that default, so an enum that moves in a later
/// mimalloc, or a `MIMALLOC_PURGE_DELAY` the user set, is left alone.
fn purge_at_once() {
    // SAFETY: the option calls take no pointers; they read and write the allocator's own
    // options and may be called from any thread at any time.
    unsafe {
        if libmimalloc_sys::mi_option_get(PURGE_DELAY) == PURGE_DELAY_DEFAULT {
            libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
        }
    }
}

/// Returns the pages the allocator holds but no longer uses to the system: start-up builds
/// and drops large transient structures (the GraphQL schema's parse, the checks' tables).
/// Called once the platform serves, from the thread that built the schema (whose heap
/// holds that garbage).
fn release_free_memory() {
    // SAFETY: `mi_collect` takes no pointers; it only walks the allocator's own heaps and
    // arenas, and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

fn main() -> std::process::ExitCode {
    purge_at_once();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OPENCTI_MOCK_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // `validate` is plain computation: it starts no runtime, so a small file costs what
    // checking it costs.
    let command = match cli.command {
        Command::Validate(args) => {
            return match validate(&args, &mut std::io::stdout().lock()) {
                Ok(code) => std::process::ExitCode::from(code),
                Err(e) => {
                    eprintln!("opencti-mock: cannot write the report: {e}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("opencti-mock: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let result = match command {
            Command::Serve(args) => serve(args, release_free_memory).await,
            Command::Status(args) => status(args).await,
            Command::Scenario(args) => scenario(args, &mut std::io::stdout()).await,
            Command::Conform(args) => {
                return match conform(args, &mut std::io::stdout()).await {
                    Ok(code) => std::process::ExitCode::from(code),
                    Err(e) => {
                        eprintln!("opencti-mock conform: {e:#}");
                        std::process::ExitCode::from(2)
                    }
                };
            }
            Command::Validate(_) => unreachable!("validate returned above"),
        };
        match result {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("opencti-mock: {e:#}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}
