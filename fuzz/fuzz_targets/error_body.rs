//! Fuzz target `error_body`: the logic is `checks::error_body` in `fuzz/checks.rs`, shared with the
//! corpus replay test in `crates/deepidv-core/tests/fuzz_corpus.rs`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::error_body(data));
