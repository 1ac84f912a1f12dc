//! Conformance checks for OpenCTI connectors.
//!
//! A connector author runs one command (`opencti-mock conform --type TYPE -- <command>`)
//! and learns which platform behaviour the connector gets wrong; CI can refuse a connector
//! that would break in the field. This crate is the judging half, and nothing else:
//!
//! - [`Check`]s are data: a stable ID (`REG-001`, `EXT-IMPORT-004`; never renumbered or
//!   reused, retired IDs listed in [`registry::RETIRED`]), a title (the stimulus), a
//!   [`Level`] (MUST or SHOULD), the requirement, a citation (the pycti 7.261026.0 function,
//!   the platform behaviour or the deployment documentation), and a verifier;
//! - verifiers read only the [`Evidence`] — what the platform observed while the
//!   connector ran, in the words of the wire (GraphQL operations and variables, bundles,
//!   works, refused requests, STIX findings) — through the small vocabulary of [`verify`];
//! - [`report`] turns outcomes into the gate's verdict, the console report and JUnit.
//!
//! Running a connector and collecting the evidence is the mock platform's job
//! (`opencti-mock`'s `conform` module); `CHECKS.md` is generated from the registry.

pub mod check;
pub mod evidence;
pub mod registry;
pub mod report;
pub mod suites;
pub mod verify;

pub use check::{Check, CheckResult, Level, Outcome};
pub use evidence::Evidence;
