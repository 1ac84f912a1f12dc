//! `amqp_message`: see `harness::amqp_message` (`fuzz/harness.rs`) and `fuzz/README.md`.

#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::amqp_message(data));
