//! The panic boundary and the argument helpers: no C names here, only what every `extern "C"` function
//! is built from. Every body runs inside [`guard`] (the one `catch_unwind`); functions returning a
//! `deepidv_result` go through [`call`], which reports errors; arguments are read with [`str_arg`],
//! [`ref_arg`], [`mut_arg`], outputs cleared with [`out_arg`] / [`clear_out`] and written last with
//! [`write_out`]; accessors are [`read`].

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use deepidv_core::{Error, ErrorKind};

use crate::error::{deepidv_error, deepidv_result, set_last_error};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{
        deepidv_error_code, deepidv_error_free, deepidv_error_message, deepidv_last_error,
    };

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
