//! The C ABI of the deepidv SDK: `libdeepidv.a` / `libdeepidv.so` and `include/deepidv.h`.
//!
//! Two ways in:
//!
//! - a **blocking client** (`deepidv_client_*`), a thin layer over `deepidv-ureq`: create a client once,
//!   share it between threads, call `deepidv_client_get_job` / `deepidv_client_wait_job`;
//! - the **sans-IO poller** (`deepidv_poller_*`), for programs that bring their own HTTP and event loop:
//!   the poller says what to send and how long to wait, you do it and hand back what came. A wait can be
//!   saved as JSON and resumed later, even in another process (`deepidv_poller_save` / `_resume`).
//!
//! # Conventions (after rustls-ffi's)
//!
//! - Everything is prefixed `deepidv_` (types, functions) or `DEEPIDV_` (constants).
//! - Objects are opaque, created and freed only by this library; every `_free(NULL)` is a no-op.
//!   Strings this library allocates for you (`char *`) are freed with `deepidv_string_free`, never `free`.
//! - Inputs come before outputs. Outputs are written only on success: out-parameters are cleared to
//!   `NULL` first and the value is written last, so every non-OK result leaves them `NULL`, except
//!   `DEEPIDV_JOB_FAILED` from a wait, which still hands out the failed job.
//! - Fallible functions return a `deepidv_result` whose numbers are the outcome codes shared with the
//!   Rust crates and the CLI's exit codes. `NULL` where a pointer is required, and strings that are not
//!   UTF-8, are `DEEPIDV_INVALID_ARGUMENT`.
//! - Errors: `deepidv_last_error()` is this thread's last failure message. Functions named `*_ex` (and
//!   every function taking a `deepidv_error **err_out`) also hand out the error as an object that does not
//!   depend on thread-local state: use those from Go and other runtimes that move work between threads.
//!   Messages never contain the API key.
//! - No panic crosses the boundary: every `extern "C"` body runs inside the one `catch_unwind` of
//!   `boundary::guard`, and a bug is reported as `DEEPIDV_INTERNAL`.
//! - A `deepidv_client` is safe to share between threads. Other objects may be moved between threads but
//!   not used from two at once (a `deepidv_cancel` may be cancelled from any thread at any time).
//!
//! # Layout
//!
//! One file per C object, each holding its type, its functions and its tests:
//!
//! | module | C names |
//! |---|---|
//! | `error` | `deepidv_result`, `deepidv_error` / `deepidv_error_*`, `deepidv_last_error`, `deepidv_result_name` |
//! | `options` | `deepidv_client_options` / `deepidv_client_options_*` |
//! | `client` | `deepidv_client` / `deepidv_client_*` |
//! | `job` | `deepidv_job`, `deepidv_job_status` / `deepidv_job_*` |
//! | `cancel` | `deepidv_cancel` / `deepidv_cancel_*` |
//! | `poller` | `deepidv_poller`, `deepidv_transport_error` / `deepidv_poller_*` |
//! | `action` | `deepidv_action`, `deepidv_action_kind` / `deepidv_action_*` |
//! | `boundary` | no C names: the panic boundary and the argument / out-pointer helpers |
//!
//! This file keeps what belongs to no object: `deepidv_version` and `deepidv_string_free`.
//!
//! # Linking
//!
//! `cc prog.c -Iinclude target/release/libdeepidv.a -lpthread -ldl -lm`
//! (or `-Ltarget/release -ldeepidv -lpthread -ldl -lm`; `deepidv.pc.in` is a pkg-config template).
#![deny(missing_docs)]
// The ABI's names are C names (`deepidv_client`, `DEEPIDV_OK`), like rustls-ffi's `rustls_result`.
#![allow(non_camel_case_types)]

use std::ffi::{CStr, CString, c_char};

use crate::boundary::guard;

// One module per C object, plus `boundary` (crate-internal). Keep the list sorted.
mod action;
mod boundary;
mod cancel;
mod client;
mod error;
mod job;
mod options;
mod poller;
mod version;

pub use action::*;
pub use cancel::*;
pub use client::*;
pub use error::*;
pub use job::*;
pub use options::*;
pub use poller::*;

/// Frees a string this library handed out (like a created job's id). NULL is a no-op.
/// Never pass it to `free()`, and never pass strings that did not come from this library.
///
/// # Safety
/// `s` is NULL or a `char *` this library handed out, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_string_free(s: *mut c_char) {
    guard(
        |_| (),
        || {
            if !s.is_null() {
                // SAFETY: it came from `CString::into_raw` per the contract.
                drop(unsafe { CString::from_raw(s) });
            }
        },
    )
}

/// The library's version, like `"0.1.0"`. Static; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn deepidv_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    guard(|_| VERSION.as_ptr(), || VERSION.as_ptr())
}
