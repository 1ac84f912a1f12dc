//! Every check of every suite against every reference connector, in every transport its
//! type supports: each must pass. One test per check, connector and transport (a
//! libtest-mimic harness), named `<ID> [<TYPE> queue=… listen=…]`; each connector's session
//! runs once per nextest run and its evidence is shared by the tests that judge it
//! (`target/reference-evidence/`).

mod support;

use std::path::PathBuf;

use libtest_mimic::{Arguments, Failed, Trial};
use opencti_conformance::{Evidence, Outcome, registry};
use support::{CONNECTORS, Transport, describe, output, record, transports};

fn evidence_file(key: &str) -> Option<PathBuf> {
    let run_id = std::env::var("NEXTEST_RUN_ID").ok()?;
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("reference-evidence");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join(format!("{key}-{run_id}.json")))
}

/// The evidence of a connector in a transport: recorded by the first process that needs
/// it, read by the others.
fn evidence(connector_type: &str, transport: Transport) -> Evidence {
    let key = format!("{}-{}-{}", connector_type.to_lowercase(), transport.queue, transport.listen);
    let Some(path) = evidence_file(&key) else { return record(connector_type, transport, None) };
    let lock = std::fs::File::create(path.with_extension("lock")).expect("lock file");
    lock.lock().expect("lock the evidence");
    if let Some(e) = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok()) {
        return e;
    }
    let e = record(connector_type, transport, None);
    std::fs::write(&path, serde_json::to_string(&e).expect("evidence serialises")).expect("evidence written");
    e
}

fn judge(check: &'static opencti_conformance::Check, connector_type: &str, transport: Transport) -> Result<(), Failed> {
    let ev = evidence(connector_type, transport);
    let outcome = (check.verify)(&ev);
    if outcome == Outcome::Pass {
        return Ok(());
    }
    let result = opencti_conformance::CheckResult { check, outcome };
    Err(format!("{}\nRequirement: {}\n{}", describe(&result), check.requirement, output(&ev)).into())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for &(connector_type, _) in CONNECTORS {
        for &transport in transports(connector_type) {
            for check in registry::select(connector_type, &[]) {
                trials.push(Trial::test(
                    format!("{} [{connector_type} queue={} listen={}]", check.id, transport.queue, transport.listen),
                    move || judge(check, connector_type, transport),
                ));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
