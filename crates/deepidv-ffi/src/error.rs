//! Outcomes: the `deepidv_result` codes, the `deepidv_error` object (`deepidv_error_*`), this thread's
//! last error (`deepidv_last_error`) and `deepidv_result_name`.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::ptr;

use deepidv_core::{Error, ErrorKind};

use crate::boundary::{cstring, free_box, guard, read};

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
    pub(crate) fn new(e: &Error) -> Self {
        Self {
            code: deepidv_result::from_kind(e.kind()),
            message: cstring(e.message()),
            http_status: e.status().map_or(0, |s| s.as_u16()),
            request_id: e.request_id().map(cstring),
            expired: e.is_expired(),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records this thread's last error (read back by `deepidv_last_error`).
pub(crate) fn set_last_error(message: &CStr) {
    // `try_with`: during thread teardown the slot may be gone; losing the message is fine then.
    let _ = LAST_ERROR.try_with(|slot| {
        *slot.borrow_mut() = message.to_owned();
    });
}

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
}
