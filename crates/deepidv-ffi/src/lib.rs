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
//! - Inputs come before outputs. Out-parameters are written `NULL` on every non-OK result, except
//!   `DEEPIDV_JOB_FAILED` from a wait, which still hands out the failed job.
//! - Fallible functions return a `deepidv_result` whose numbers are the outcome codes shared with the
//!   Rust crates and the CLI's exit codes. `NULL` where a pointer is required, and strings that are not
//!   UTF-8, are `DEEPIDV_INVALID_ARGUMENT`.
//! - Errors: `deepidv_last_error()` is this thread's last failure message. Functions named `*_ex` (and
//!   every function taking a `deepidv_error **err_out`) also hand out the error as an object that does not
//!   depend on thread-local state: use those from Go and other runtimes that move work between threads.
//!   Messages never contain the API key.
//! - No panic crosses the boundary: a bug is reported as `DEEPIDV_INTERNAL`.
//! - A `deepidv_client` is safe to share between threads. Other objects may be moved between threads but
//!   not used from two at once (a `deepidv_cancel` may be cancelled from any thread at any time).
//!
//! # Linking
//!
//! `cc prog.c -Iinclude target/release/libdeepidv.a -lpthread -ldl -lm`
//! (or `-Ltarget/release -ldeepidv -lpthread -ldl -lm`; `deepidv.pc.in` is a pkg-config template).
#![deny(missing_docs)]
// The ABI's names are C names (`deepidv_client`, `DEEPIDV_OK`), like rustls-ffi's `rustls_result`.
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use deepidv_core::{Error, ErrorKind};

mod client;
mod poller;
mod version;

pub use client::*;
pub use poller::*;

/// The outcome of a call. The numbers are a contract shared with the Rust crates
/// (`deepidv_core::ErrorKind::code`) and the CLI's exit codes.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum deepidv_result {
    /// The call did what was asked (for a wait: the job is `ready`).
    DEEPIDV_OK = 0,
    /// A wait ended because the job is `failed`; the failed job is still handed out.
    DEEPIDV_JOB_FAILED = 1,
    /// Caught before any request: bad job id, bad URL, plain `http` to a remote host, no API key,
    /// a NULL pointer, a string that is not UTF-8.
    DEEPIDV_INVALID_ARGUMENT = 2,
    /// The wait's deadline passed before the job finished (or the call was cancelled).
    DEEPIDV_TIMEOUT = 3,
    /// HTTP 404: unknown job, or expired (the message says which).
    DEEPIDV_NOT_FOUND = 4,
    /// HTTP 401 or 403.
    DEEPIDV_UNAUTHORIZED = 5,
    /// HTTP 400 or another 4xx that retrying cannot fix.
    DEEPIDV_REJECTED = 6,
    /// 5xx, 429, network failure or per-request timeout, after the retries ran out.
    DEEPIDV_UNAVAILABLE = 7,
    /// An answer that breaks the contract: not JSON, wrong shape, too large.
    DEEPIDV_INVALID_RESPONSE = 8,
    /// A bug (a panic caught at the boundary).
    DEEPIDV_INTERNAL = 9,
}

impl deepidv_result {
    /// The result for an error kind (same number).
    pub fn from_kind(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::JobFailed => Self::DEEPIDV_JOB_FAILED,
            ErrorKind::InvalidArgument => Self::DEEPIDV_INVALID_ARGUMENT,
            ErrorKind::Timeout => Self::DEEPIDV_TIMEOUT,
            ErrorKind::NotFound => Self::DEEPIDV_NOT_FOUND,
            ErrorKind::Unauthorized => Self::DEEPIDV_UNAUTHORIZED,
            ErrorKind::Rejected => Self::DEEPIDV_REJECTED,
            ErrorKind::Unavailable => Self::DEEPIDV_UNAVAILABLE,
            ErrorKind::InvalidResponse => Self::DEEPIDV_INVALID_RESPONSE,
            _ => Self::DEEPIDV_INTERNAL,
        }
    }

    /// The result with this number, if there is one.
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => Self::DEEPIDV_OK,
            1 => Self::DEEPIDV_JOB_FAILED,
            2 => Self::DEEPIDV_INVALID_ARGUMENT,
            3 => Self::DEEPIDV_TIMEOUT,
            4 => Self::DEEPIDV_NOT_FOUND,
            5 => Self::DEEPIDV_UNAUTHORIZED,
            6 => Self::DEEPIDV_REJECTED,
            7 => Self::DEEPIDV_UNAVAILABLE,
            8 => Self::DEEPIDV_INVALID_RESPONSE,
            9 => Self::DEEPIDV_INTERNAL,
            _ => return None,
        })
    }

    fn name(self) -> &'static CStr {
        match self {
            Self::DEEPIDV_OK => c"DEEPIDV_OK",
            Self::DEEPIDV_JOB_FAILED => c"DEEPIDV_JOB_FAILED",
            Self::DEEPIDV_INVALID_ARGUMENT => c"DEEPIDV_INVALID_ARGUMENT",
            Self::DEEPIDV_TIMEOUT => c"DEEPIDV_TIMEOUT",
            Self::DEEPIDV_NOT_FOUND => c"DEEPIDV_NOT_FOUND",
            Self::DEEPIDV_UNAUTHORIZED => c"DEEPIDV_UNAUTHORIZED",
            Self::DEEPIDV_REJECTED => c"DEEPIDV_REJECTED",
            Self::DEEPIDV_UNAVAILABLE => c"DEEPIDV_UNAVAILABLE",
            Self::DEEPIDV_INVALID_RESPONSE => c"DEEPIDV_INVALID_RESPONSE",
            Self::DEEPIDV_INTERNAL => c"DEEPIDV_INTERNAL",
        }
    }
}

/// A failure, as an object: its code, its one-line message, and the HTTP details where there were some.
/// Handed out through `deepidv_error **err_out` parameters; free it with `deepidv_error_free`.
/// Unlike `deepidv_last_error`, it does not depend on which thread made the call.
#[derive(Debug)]
pub struct deepidv_error {
    code: deepidv_result,
    message: CString,
    http_status: u16,
    request_id: Option<CString>,
    expired: bool,
}

impl deepidv_error {
    fn new(e: &Error) -> Self {
        Self {
            code: deepidv_result::from_kind(e.kind()),
            message: cstring(e.message()),
            http_status: e.status().map_or(0, |s| s.as_u16()),
            request_id: e.request_id().map(cstring),
            expired: e.is_expired(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The boundary

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &CStr) {
    // `try_with`: during thread teardown the slot may be gone; losing the message is fine then.
    let _ = LAST_ERROR.try_with(|slot| {
        *slot.borrow_mut() = message.to_owned();
    });
}

/// The one `catch_unwind` boundary: every `extern "C"` body runs inside it. A panic becomes
/// `on_panic(message)` (and this thread's last error), never an unwind into C.
pub(crate) fn guard<T>(on_panic: impl FnOnce(Error) -> T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            let what = deepidv_core::sanitize::terminal_safe(&what, None);
            let e = Error::new(
                ErrorKind::Internal,
                format!("internal error in libdeepidv (a bug; please report it): {what}"),
            );
            set_last_error(&cstring(e.message()));
            on_panic(e)
        }
    }
}

/// Reads a field of one of this library's objects (a job, an action, an error), or
/// `default` for NULL (and for a panic, which reading a field cannot cause): the one
/// shape of every accessor.
///
/// # Safety
/// `object` is NULL or a live object of its type from this library.
pub(crate) unsafe fn read<O, T: Copy>(object: *const O, default: T, f: impl FnOnce(&O) -> T) -> T {
    guard(
        |_| default,
        || {
            // SAFETY: per the contract.
            unsafe { object.as_ref() }.map_or(default, f)
        },
    )
}

/// [`guard`] for the functions that return a `deepidv_result`: clears `*err_out`, runs `body`,
/// and reports its error (this thread's last error, and `*err_out` when it is not NULL).
/// `body` writes its own outputs, last, so a failure leaves them NULL.
pub(crate) fn call(
    err_out: *mut *mut deepidv_error,
    body: impl FnOnce() -> Result<(), Error>,
) -> deepidv_result {
    let report = move |e: Error| {
        set_last_error(&cstring(e.message()));
        if !err_out.is_null() {
            let boxed = Box::into_raw(Box::new(deepidv_error::new(&e)));
            // SAFETY: the caller passed a writable `deepidv_error **` (or NULL, checked above).
            unsafe { *err_out = boxed };
        }
        deepidv_result::from_kind(e.kind())
    };
    guard(report, || {
        if !err_out.is_null() {
            // SAFETY: as above.
            unsafe { *err_out = ptr::null_mut() };
        }
        match body() {
            Ok(()) => deepidv_result::DEEPIDV_OK,
            Err(e) => report(e),
        }
    })
}

// ---------------------------------------------------------------------------------------------------------
// Helpers for arguments and results

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// A C string for a Rust one; an interior NUL (possible in server-sent text) becomes U+FFFD.
pub(crate) fn cstring(s: &str) -> CString {
    CString::new(s)
        .or_else(|_| CString::new(s.replace('\0', "\u{FFFD}")))
        .unwrap_or_default()
}

/// A required C string argument, as UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| invalid(format!("{what} is not valid UTF-8")))
}

/// An optional C string argument (NULL is `None`).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded.
        unsafe { str_arg(p, what) }.map(Some)
    }
}

/// A required object argument.
///
/// # Safety
/// `p` is NULL or points to a live `T` that outlives `'a`.
pub(crate) unsafe fn ref_arg<'a, T>(p: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: per the contract.
    unsafe { p.as_ref() }.ok_or_else(|| invalid(format!("{what} is NULL")))
}

/// A required mutable object argument.
///
/// # Safety
/// `p` is NULL or points to a live `T`, used by nobody else, that outlives `'a`.
pub(crate) unsafe fn mut_arg<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: per the contract.
    unsafe { p.as_mut() }.ok_or_else(|| invalid(format!("{what} is NULL")))
}

/// Checks an out-parameter and writes NULL into it; the body writes the real value last.
///
/// # Safety
/// `out` is NULL or writable.
pub(crate) unsafe fn out_arg<T>(out: *mut *mut T, what: &str) -> Result<*mut *mut T, Error> {
    if out.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and writable per the contract.
    unsafe { *out = ptr::null_mut() };
    Ok(out)
}

/// Writes NULL into an out-parameter if it is not NULL itself (before any check that may fail).
///
/// # Safety
/// `out` is NULL or writable.
pub(crate) unsafe fn clear_out<T>(out: *mut *mut T) {
    if !out.is_null() {
        // SAFETY: per the contract.
        unsafe { *out = ptr::null_mut() };
    }
}

/// Moves `value` to the heap and writes it into `out` (already checked by [`out_arg`]).
///
/// # Safety
/// `out` is writable.
pub(crate) unsafe fn write_out<T>(out: *mut *mut T, value: T) {
    // SAFETY: per the contract.
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

/// Frees an object made by [`write_out`]; NULL is a no-op.
///
/// # Safety
/// `p` is NULL or came from [`write_out`] for the same `T` and was not freed yet.
pub(crate) unsafe fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: per the contract.
        drop(unsafe { Box::from_raw(p) });
    }
}

// ---------------------------------------------------------------------------------------------------------
// Errors, strings, version

/// This thread's last failure message, one line; `""` if there was none. Never NULL.
///
/// The pointer stays valid until the next failing call into this library on this thread.
/// It is thread-local: from Go (goroutines move between threads), use the `deepidv_error **err_out`
/// variants instead.
#[unsafe(no_mangle)]
pub extern "C" fn deepidv_last_error() -> *const c_char {
    guard(
        |_| c"internal error in libdeepidv".as_ptr(),
        || {
            LAST_ERROR
                .try_with(|slot| slot.borrow().as_ptr())
                .unwrap_or(c"".as_ptr())
        },
    )
}

/// The code of an error; `DEEPIDV_INVALID_ARGUMENT` for NULL.
///
/// # Safety
/// `err` is NULL or a live error from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_error_code(err: *const deepidv_error) -> deepidv_result {
    guard(
        |_| deepidv_result::DEEPIDV_INTERNAL,
        || {
            // SAFETY: per the contract.
            unsafe { err.as_ref() }.map_or(deepidv_result::DEEPIDV_INVALID_ARGUMENT, |e| e.code)
        },
    )
}

/// The one-line message of an error (never contains the API key); `""` for NULL. Lives as long as `err`.
///
/// # Safety
/// `err` is NULL or a live error from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_error_message(err: *const deepidv_error) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { read(err, c"".as_ptr(), |e| e.message.as_ptr()) }
}

/// The HTTP status of the answer that caused the error; 0 if there was none (or for NULL).
///
/// # Safety
/// `err` is NULL or a live error from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_error_http_status(err: *const deepidv_error) -> u16 {
    // SAFETY: forwarded.
    unsafe { read(err, 0, |e| e.http_status) }
}

/// The server's request id (`x-request-id`) of the answer that caused the error; NULL if none.
/// Lives as long as `err`.
///
/// # Safety
/// `err` is NULL or a live error from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_error_request_id(err: *const deepidv_error) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read(err, ptr::null(), |e| {
            e.request_id.as_ref().map_or(ptr::null(), |r| r.as_ptr())
        })
    }
}

/// `true` for a `DEEPIDV_NOT_FOUND` about a job this wait had seen earlier: it expired
/// through the server's TTL rather than never existing.
///
/// # Safety
/// `err` is NULL or a live error from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_error_is_expired(err: *const deepidv_error) -> bool {
    // SAFETY: forwarded.
    unsafe { read(err, false, |e| e.expired) }
}

/// Frees an error. NULL is a no-op.
///
/// # Safety
/// `err` is NULL or an error from this library, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_error_free(err: *mut deepidv_error) {
    // SAFETY: per the contract.
    guard(|_| (), || unsafe { free_box(err) })
}

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

/// The name of a result code, like `"DEEPIDV_NOT_FOUND"`; `"DEEPIDV_UNKNOWN_RESULT"` for a number
/// that is not one. Static; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn deepidv_result_name(code: u32) -> *const c_char {
    guard(
        |_| c"DEEPIDV_UNKNOWN_RESULT".as_ptr(),
        || {
            deepidv_result::from_code(code)
                .map_or(c"DEEPIDV_UNKNOWN_RESULT", deepidv_result::name)
                .as_ptr()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_numbers_match_the_core() {
        for kind in ErrorKind::ALL {
            let r = deepidv_result::from_kind(kind);
            assert_eq!(r as u32, u32::from(kind.code()), "{kind}");
            assert_eq!(
                r.name().to_str().unwrap(),
                format!("DEEPIDV_{}", kind.name())
            );
            assert_eq!(deepidv_result::from_code(r as u32), Some(r));
        }
        assert_eq!(deepidv_result::from_code(10), None);
    }

    #[test]
    fn panics_stop_at_the_boundary() {
        let mut err: *mut deepidv_error = ptr::null_mut();
        let r = call(&mut err, || panic!("boom {}", 42));
        assert_eq!(r, deepidv_result::DEEPIDV_INTERNAL);
        assert!(!err.is_null());
        // SAFETY: `err` was just handed out.
        unsafe {
            assert_eq!(deepidv_error_code(err), deepidv_result::DEEPIDV_INTERNAL);
            let msg = CStr::from_ptr(deepidv_error_message(err)).to_str().unwrap();
            assert!(msg.contains("boom 42"), "{msg}");
            assert!(!msg.contains('\n'));
            deepidv_error_free(err);
            let last = CStr::from_ptr(deepidv_last_error()).to_str().unwrap();
            assert!(last.contains("boom 42"), "{last}");
        }
        let v: *const c_char = guard(|_| c"fallback".as_ptr(), || panic!("x"));
        // SAFETY: static string.
        assert_eq!(unsafe { CStr::from_ptr(v) }, c"fallback");
    }

    #[test]
    fn interior_nul_is_replaced() {
        assert_eq!(cstring("a\0b").to_str().unwrap(), "a\u{FFFD}b");
        assert_eq!(cstring("plain").to_str().unwrap(), "plain");
    }
}
