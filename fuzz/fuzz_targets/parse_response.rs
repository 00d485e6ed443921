//! Fuzz target `parse_response`: the logic is `checks::parse_response` in `fuzz/checks.rs`, shared with the
//! corpus replay test in `crates/deepidv-core/tests/fuzz_corpus.rs`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::parse_response(data));
