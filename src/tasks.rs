//! The tasks of one platform: one cancellation token, one tracker.
//!
//! Every task a platform starts — the worker's queue loops, the job lanes and publishes,
//! the automatic enrichment, the broker's supervisor, consumers and settlements, the HTTP
//! connections — is spawned through its [`Tasks`], and every one of them ends when the
//! token is cancelled. Stopping a platform is then one sequence (`Platform::serve`):
//! cancel, [`close_and_wait`](Tasks::close_and_wait), and nothing it started is left
//! running. A cancelled token stays cancelled and a dropped one cancels nothing, so no
//! task can mistake a stop for "running" or spin on a closed channel.
//!
//! Each task carries a kind ("worker queue loop", "job lane", …) so that a stop that does
//! not finish in time says which tasks are still there.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;

/// The cancellation token and the task tracker of one platform. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub struct Tasks {
    token: CancellationToken,
    tracker: TaskTracker,
    live: Arc<Mutex<BTreeMap<&'static str, usize>>>,
}

/// Counts a task of its kind as live until dropped (with the task's future: it ran to its
/// end, was aborted, or its runtime went away).
struct Live {
    kind: &'static str,
    live: Arc<Mutex<BTreeMap<&'static str, usize>>>,
}

impl Live {
    fn new(kind: &'static str, live: &Arc<Mutex<BTreeMap<&'static str, usize>>>) -> Live {
        *live.lock().expect("live tasks lock").entry(kind).or_default() += 1;
        Live { kind, live: live.clone() }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut live = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = live.get_mut(self.kind) {
            *n -= 1;
            if *n == 0 {
                live.remove(self.kind);
            }
        }
    }
}

impl Tasks {
    /// A fresh token and an empty tracker.
    pub fn new() -> Tasks {
        Tasks::default()
    }

    /// Spawns `future` on the current runtime, tracked, as a task of `kind`.
    pub fn spawn<F>(&self, kind: &'static str, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let live = Live::new(kind, &self.live);
        self.tracker.spawn(async move {
            let _live = live;
            future.await
        })
    }

    /// Spawns `future` on `runtime`, tracked, as a task of `kind`.
    pub fn spawn_on<F>(&self, kind: &'static str, future: F, runtime: &tokio::runtime::Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let live = Live::new(kind, &self.live);
        self.tracker.spawn_on(
            async move {
                let _live = live;
                future.await
            },
            runtime,
        )
    }

    /// Runs `f` on the blocking pool, tracked, as a task of `kind`.
    pub fn spawn_blocking<F, T>(&self, kind: &'static str, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let live = Live::new(kind, &self.live);
        self.tracker.spawn_blocking(move || {
            let _live = live;
            f()
        })
    }

    /// Tells every task to stop. Idempotent.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether the platform is stopping.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes once the platform is stopping (at once if it already is).
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// The platform's token, for a part that needs its own handle on it (or a child).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// How many tracked tasks have not ended yet.
    #[cfg(feature = "internals")]
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether every tracked task has ended.
    #[cfg(feature = "internals")]
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// The tasks that have not ended, by kind.
    pub fn live(&self) -> Vec<(&'static str, usize)> {
        self.live.lock().expect("live tasks lock").iter().map(|(k, n)| (*k, *n)).collect()
    }

    /// Cancels the token, closes the tracker and waits, at most `bound`, until every
    /// tracked task has ended. `Err` lists, by kind, the tasks still running then.
    pub async fn close_and_wait(&self, bound: Duration) -> Result<(), Vec<(&'static str, usize)>> {
        self.cancel();
        self.tracker.close();
        match tokio::time::timeout(bound, self.tracker.wait()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.live()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_and_wait_returns_once_every_task_saw_the_cancellation() {
        let tasks = Tasks::new();
        for _ in 0..3 {
            let t = tasks.clone();
            tasks.spawn("waiter", async move { t.cancelled().await });
        }
        assert_eq!(tasks.len(), 3);
        assert_eq!(tasks.live(), vec![("waiter", 3)]);
        assert_eq!(tasks.close_and_wait(Duration::from_secs(10)).await, Ok(()));
        assert!(tasks.is_empty());
        assert!(tasks.live().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_ignores_the_cancellation_is_named() {
        let tasks = Tasks::new();
        tasks.spawn("stubborn", std::future::pending::<()>());
        assert_eq!(tasks.close_and_wait(Duration::from_secs(1)).await, Err(vec![("stubborn", 1)]));
    }

    #[tokio::test]
    async fn an_aborted_task_is_no_longer_live() {
        let tasks = Tasks::new();
        let handle = tasks.spawn("aborted", std::future::pending::<()>());
        handle.abort();
        let _ = handle.await;
        assert_eq!(tasks.close_and_wait(Duration::from_secs(10)).await, Ok(()));
        assert!(tasks.live().is_empty());
    }
}
