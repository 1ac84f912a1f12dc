//! `multipart_upload`: see `harness::multipart_upload` (`fuzz/harness.rs`) and `fuzz/README.md`.

#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::multipart_upload(data));
