//! Activity: what a platform still has to do on its own, and waiting until it is idle.
//!
//! A connector test that has sent its bundles wants to assert on the knowledge once the
//! platform has *finished* with them: the worker's queues drained, the messages it took
//! applied, the broker's push queues empty, every job delivered. Sleeping for a while is
//! either slow or flaky; [`wait_idle`] waits exactly as long as needed and, when it gives
//! up, says what was still going on ([`Activity`]'s `Display`).
//!
//! Idle is judged twice, [`QUIET`] apart, with no new message queued in between: a
//! message the broker has handed to the platform's consumer but that the consumer has not
//! queued yet is invisible for that instant (the broker counts it as unacknowledged, not
//! ready), and this closes that window.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::core::Core;
use crate::store::State;

/// How long idle must hold, with nothing new queued, before [`wait_idle`] says so.
pub const QUIET: Duration = Duration::from_millis(100);

/// What a platform has in progress: all zero when idle.
///
/// ```
/// # #[tokio::main] async fn main() {
/// let platform = opencti_mock::MockPlatform::start().await;
/// let activity = platform.activity().await;
/// assert!(activity.is_idle(), "{activity}");
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Messages waiting in the worker's queues (retries of objects with missing
    /// references included).
    pub queued_messages: u64,
    /// Messages the worker took and is still processing.
    pub messages_in_flight: u64,
    /// Messages ready on the broker's push queues, not yet handed to the worker.
    pub broker_messages: u64,
    /// Jobs (enrichment, import) queued, being delivered or waiting to retry.
    pub pending_jobs: u64,
    /// Entities created that the automatic-enrichment pass has not looked at yet.
    pub awaiting_enrichment: u64,
}

impl Activity {
    /// Whether nothing is in progress.
    ///
    /// ```
    /// use opencti_mock::Activity;
    /// assert!(Activity::default().is_idle());
    /// // one job not yet delivered is enough to be busy
    /// assert!(!Activity { pending_jobs: 1, ..Activity::default() }.is_idle());
    /// ```
    pub fn is_idle(&self) -> bool {
        *self == Activity::default()
    }

    /// What the state shows (the broker's figure is the caller's to add).
    pub(crate) fn of(state: &State) -> Activity {
        Activity {
            queued_messages: state.queues.total_pending(),
            messages_in_flight: state.queues.in_flight(),
            broker_messages: 0,
            pending_jobs: state.jobs.pending(),
            awaiting_enrichment: state.jobs.awaiting_enrichment(),
        }
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_idle() {
            return f.write_str("idle: no message queued or in flight, no job pending");
        }
        let parts = [
            (self.queued_messages, "message(s) queued for the worker"),
            (self.messages_in_flight, "message(s) being processed"),
            (self.broker_messages, "message(s) waiting on the broker's push queues"),
            (self.pending_jobs, "job(s) not yet delivered"),
            (self.awaiting_enrichment, "entity(ies) awaiting automatic enrichment"),
        ];
        let busy: Vec<String> = parts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
        write!(f, "busy: {}", busy.join(", "))
    }
}

/// The platform's activity now, the broker's push queues included.
pub async fn activity(core: &Core) -> Activity {
    let mut activity = core.store.read(Activity::of);
    if let Some(broker) = core.amqp.broker() {
        let connectors: Vec<String> = core.store.read(|s| s.connectors.all().map(|c| c.id().to_string()).collect());
        // No connection (reconnecting): the queues are re-declared and consumed once it is
        // back, and the messages they hold are counted then.
        activity.broker_messages += broker.push_ready(&connectors).await.unwrap_or(0);
    }
    activity
}

/// Waits until the platform is idle ([`Activity::is_idle`], held for [`QUIET`] with no
/// new message queued); on timeout, returns what was still in progress.
pub async fn wait_idle(core: &Core, timeout: Duration) -> Result<(), Activity> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !core.store.wait_until(left, |s| Activity::of(s).is_idle()).await {
            return Err(activity(core).await);
        }
        let pushed = core.store.read(|s| s.queues.pushed());
        last = activity(core).await;
        if last.is_idle() {
            tokio::time::sleep(QUIET.min(deadline.saturating_duration_since(tokio::time::Instant::now()))).await;
            let again = activity(core).await;
            if again.is_idle() && core.store.read(|s| s.queues.pushed()) == pushed {
                return Ok(());
            }
            last = again;
        } else {
            // Messages on the broker: the consumers are taking them.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(last);
        }
    }
}
