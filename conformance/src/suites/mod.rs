//! The suites: one file per connector type, plus the checks common to every type. A
//! parent module only collects them.

pub mod common;
pub mod enrichment;
pub mod export_file;
pub mod external_import;
pub mod import_file;
pub mod stream;

use crate::check::Check;

/// Every suite's checks, in report order.
pub fn all() -> Vec<Check> {
    let mut checks = common::checks();
    checks.extend(external_import::checks());
    checks.extend(enrichment::checks());
    checks.extend(import_file::checks());
    checks.extend(export_file::checks());
    checks.extend(stream::checks());
    checks
}
