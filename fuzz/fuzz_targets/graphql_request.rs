//! `graphql_request`: see `harness::graphql_request` (`fuzz/harness.rs`) and `fuzz/README.md`.

#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::graphql_request(data));
