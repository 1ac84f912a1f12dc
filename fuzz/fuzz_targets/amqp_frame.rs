//! `amqp_frame`: see `harness::amqp_frame` (`fuzz/harness.rs`) and `fuzz/README.md`.

#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::amqp_frame(data));
