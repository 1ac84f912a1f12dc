//! What the reference connectors share: start-up (with the common faults), the exit path,
//! and the STIX they build.
//!
//! Each connector of `src/bin/` is written the way a real connector would be, on the
//! connector kit only; `REFERENCE_FAULT` ([`fault`]) switches on one realistic mistake for
//! the conformance suites' negative controls.

pub mod fault;
pub mod stix;

use connector_kit::{Connector, Job, RegisterOptions, Settings};
pub use fault::Fault;

/// Registers the connector with the platform and starts pinging, the common faults applied
/// to what it registers.
pub async fn start(fault: &Fault, options: RegisterOptions) -> connector_kit::Result<Connector> {
    let mut settings = Settings::load()?.connector()?;
    if fault.is("REG-002") {
        // Its name, slugged, as its id: the platform keys connectors by UUID.
        settings.id = settings.name.to_lowercase().replace(' ', "-");
    }
    if fault.is("REG-003") {
        // A type hard-coded in the connector instead of the one it is deployed as.
        settings.connector_type =
            if settings.connector_type == "INTERNAL_IMPORT_FILE" { "EXTERNAL_IMPORT" } else { "INTERNAL_IMPORT_FILE" }.into();
    }
    if fault.is("REG-004") {
        settings.name = String::new();
    }
    if fault.is("REG-005") {
        settings.scope = Vec::new();
    }
    if fault.is("STREAM-002") {
        // Deployed with run-and-terminate (copied from an import connector's settings): no
        // ping loop, the state is sent only when it stops.
        settings.run_and_terminate = true;
    }
    if fault.is("PING-001") {
        // Run-and-terminate forced on a connector that keeps running: no ping loop.
        settings.run_and_terminate = true;
    }
    let connector = Connector::start(settings, options).await?;
    Ok(connector)
}

/// The job faults of a connector type: the check broken by not reporting a job received,
/// the one broken by leaving some jobs unanswered, and which jobs it leaves open.
pub struct JobFaults {
    /// Its work is never reported received (`<SUITE>-…` "reported received").
    pub no_received: &'static str,
    /// Some jobs' works are never closed (`<SUITE>-001`).
    pub unanswered: &'static str,
    /// Which jobs the `unanswered` fault leaves open, from the job and its outcome.
    pub leaves_open: fn(&Job, &Result<String, String>) -> bool,
}

/// Answers jobs as [`Connector::listen`] does — the work reported received, the handler,
/// the work closed with its message or in error — unless one of the type's job faults is on.
pub async fn answer_jobs<F>(connector: &Connector, fault: &Fault, faults: JobFaults, mut handler: F) -> connector_kit::Result<()>
where
    F: AsyncFnMut(&Job) -> Result<String, String>,
{
    if !fault.is(faults.no_received) && !fault.is(faults.unanswered) {
        return connector.listen(handler).await;
    }
    connector
        .listen_unmanaged(async |job: Job| {
            let Some(work) = job.work_id.clone() else { return };
            if !fault.is(faults.no_received) {
                let _ = connector.to_received(&work, "Connector ready to process the operation").await;
            }
            let outcome = handler(&job).await;
            if fault.is(faults.unanswered) && (faults.leaves_open)(&job, &outcome) {
                return;
            }
            let (message, in_error) = match outcome {
                Ok(m) => (m, false),
                Err(e) => (e, true),
            };
            let _ = connector.to_processed(&work, &message, in_error).await;
        })
        .await
}

/// Runs a connector's main future on a runtime: logs, and exits 1 on an error.
pub fn main(run: impl AsyncFnOnce(Fault) -> connector_kit::Result<()>) -> std::process::ExitCode {
    connector_kit::init_logging();
    let fault = Fault::from_env();
    if let Some(id) = fault.id() {
        tracing::warn!("running with the fault that breaks {id} (REFERENCE_FAULT)");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        if fault.is("REG-001") {
            // Reads its configuration, finds nothing to do, and never registers.
            tracing::info!("nothing configured to do; exiting");
            return Ok(());
        }

        run(fault).await
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
