//! `stix_pattern`: see `harness::stix_pattern` (`fuzz/harness.rs`) and `fuzz/README.md`.

#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::stix_pattern(data));
