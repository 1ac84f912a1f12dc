//! What an expectation counts: GraphQL operations, bundles, works, refusals.
//!
//! A connector test asserts on more than the requests a connector made: the bundles it
//! sent, the works it left behind, what the platform refused. Each of those is a
//! [`Subject`], a value type the test already reads (`received_bundles()`, `works()`…),
//! so one [`Expect`](super::Expect) and one [`Matcher`](super::Matcher) trait serve them
//! all, and a closure over the value type is a matcher too.
//!
//! Each subject knows how to collect what arrived *after* an expectation was mounted:
//! transcript entries past the sequence number seen at mount time (operations, bundles,
//! refusals) or works whose id did not exist then. The trait is sealed: the collection
//! reads the platform's internal state.

use std::collections::HashSet;

use crate::store::State;
use crate::store::transcript::{EntryKind, ReceivedBundle, ReceivedOperation, Refusal};
use crate::store::works::Work;

/// A kind of thing an expectation counts: [`ReceivedOperation`], [`ReceivedBundle`],
/// [`Work`] or [`Refusal`].
///
/// ```
/// use opencti_mock::{Expect, ReceivedBundle};
/// // Any closure over the subject is a matcher.
/// let expect = Expect::given(|bundle: &ReceivedBundle| bundle.objects >= 10).expect(1..);
/// # let _ = expect;
/// ```
pub trait Subject: sealed::Collect + Clone + Send + Sync + 'static {}

impl Subject for ReceivedOperation {}
impl Subject for ReceivedBundle {}
impl Subject for Work {}
impl Subject for Refusal {}

pub(crate) mod sealed {
    use super::*;

    /// Where the platform stood when an expectation was mounted.
    #[derive(Debug, Clone, Default)]
    pub struct Mark {
        /// The transcript's last sequence number: later entries count.
        pub since: u64,
        /// The works that existed: the others count.
        pub works: HashSet<String>,
        /// The platform's resets: a later reset forgot what came before it.
        pub resets: u64,
    }

    impl Mark {
        /// The mark of `state` now.
        pub fn of(state: &State) -> Mark {
            Mark {
                since: state.transcript.last_seq(),
                works: state.works.all().map(|w| w.id.clone()).collect(),
                resets: state.resets,
            }
        }
    }

    /// How a subject is collected and described (sealed: reads internal state).
    pub trait Collect: Sized {
        /// Noun for reports (`operation`, `bundle`…).
        const NOUN: &'static str;
        /// Title of the list of everything received, in failure reports.
        const TITLE: &'static str;
        /// Everything of this kind that arrived after `mark`, in order.
        fn collect(state: &State, mark: &Mark) -> Vec<Self>;
        /// One line for failure reports.
        fn describe(&self) -> String;
    }

    fn entries<'a, T>(state: &'a State, mark: &Mark, pick: impl Fn(&'a EntryKind) -> Option<T> + 'a) -> Vec<T> {
        state.transcript.since(mark.since).iter().filter_map(|e| pick(&e.kind)).collect()
    }

    impl Collect for ReceivedOperation {
        const NOUN: &'static str = "operation";
        const TITLE: &'static str = "Received operations";
        fn collect(state: &State, mark: &Mark) -> Vec<Self> {
            entries(state, mark, |k| match k {
                EntryKind::Operation(op) => Some(op.clone()),
                _ => None,
            })
        }
        fn describe(&self) -> String {
            let name = self.operation_name.as_deref().unwrap_or("(anonymous)");
            let errors = if self.error_codes.is_empty() { String::new() } else { format!(" -> {}", self.error_codes.join(", ")) };
            format!("{name} ({}) {}{errors}", self.root_fields.join(", "), self.variables)
        }
    }

    impl Collect for ReceivedBundle {
        const NOUN: &'static str = "bundle";
        const TITLE: &'static str = "Received bundles";
        fn collect(state: &State, mark: &Mark) -> Vec<Self> {
            entries(state, mark, |k| match k {
                EntryKind::Bundle(b) => Some(b.clone()),
                _ => None,
            })
        }
        fn describe(&self) -> String {
            let work = self.work_id.as_deref().unwrap_or("no work");
            format!("{} objects, {} bytes, from {} over {} ({work})", self.objects, self.bytes, self.connector_id, self.transport)
        }
    }

    impl Collect for Work {
        const NOUN: &'static str = "work";
        const TITLE: &'static str = "Works";
        fn collect(state: &State, mark: &Mark) -> Vec<Self> {
            let mut works: Vec<Work> = state.works.all().filter(|w| !mark.works.contains(&w.id)).cloned().collect();
            works.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.id.cmp(&b.id)));
            works
        }
        fn describe(&self) -> String {
            describe_work(self)
        }
    }

    impl Collect for Refusal {
        const NOUN: &'static str = "refusal";
        const TITLE: &'static str = "Received refusals";
        fn collect(state: &State, mark: &Mark) -> Vec<Self> {
            entries(state, mark, |k| match k {
                EntryKind::Refused(r) => Some(r.clone()),
                _ => None,
            })
        }
        fn describe(&self) -> String {
            self.to_string()
        }
    }
}

/// A work in one line: what a timed-out wait and a failed expectation show of it.
pub(crate) fn describe_work(w: &Work) -> String {
    let errors = match w.errors.first() {
        None => String::new(),
        Some(e) => format!(", {} error(s), first: {}", w.errors.len(), e.message),
    };
    format!(
        "work {} of connector {}: {}, processed {} of {} expected{}{errors}",
        w.id,
        w.connector_id,
        w.status.as_str(),
        w.import_processed_number,
        w.import_expected_number,
        if w.alive { "" } else { ", no longer alive" },
    )
}
