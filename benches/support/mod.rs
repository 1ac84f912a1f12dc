//! What every bench binary shares: the quick mode and the figures it reports.
//!
//! A figure is printed for people, and appended as one JSON line to the file named by
//! `BENCH_FIGURES` when it is set; `scripts/bench.sh` collects those lines into
//! `BENCHMARKS.md`. Each line carries the figure, the comparison measured in the same run,
//! the target and a verdict computed here, so the table never judges a figure differently
//! from the bench that measured it.
//!
//! `BENCH_QUICK=1` shrinks every bench (tiny sizes, seconds instead of minutes) so the test
//! command can run them all and they cannot rot: correctness is still asserted (no error,
//! nothing lost), speed is not judged (verdict `quick`).

#![allow(dead_code)]

pub mod amqp;
/// The black-box tests' helpers: pycti's documents, the pinned venv, `serve` as a process.
#[path = "../../tests/common/mod.rs"]
pub mod common;
mod figures;
pub mod sim;

pub use figures::*;
