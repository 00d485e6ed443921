//! `deepidv_action` (`deepidv_action_*`): one step a poller asks for, and its `deepidv_action_kind`.
//! Made only by the poller, through [`deepidv_action::send`], [`deepidv_action::wait`] and
//! [`deepidv_action::done`].

use std::ffi::{CString, c_char};
use std::ptr;
use std::time::Duration;

use deepidv_core::http;

use crate::boundary::{cstring, guard, read};
use crate::error::deepidv_result;

/// What a poller wants next.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum deepidv_action_kind {
    /// Send the request the action describes, then call `deepidv_poller_handle_response` (or
    /// `deepidv_poller_handle_transport_error`).
    DEEPIDV_ACTION_SEND = 0,
    /// Nothing to do for `deepidv_action_get_wait_ms` milliseconds; then poll again.
    DEEPIDV_ACTION_WAIT = 1,
    /// Finished: `deepidv_poller_take_job` hands out the outcome.
    DEEPIDV_ACTION_DONE = 2,
}

/// One step a poller asks for. Owned by its poller: valid until the next `deepidv_poller_poll` on
/// that poller, or until the poller is freed.
#[derive(Debug)]
pub struct deepidv_action {
    kind: deepidv_action_kind,
    wait_ms: u64,
    wait_until_ms: u64,
    timeout_ms: u64,
    max_body_bytes: u64,
    method: CString,
    url: CString,
    scheme: CString,
    host: CString,
    port: u16,
    path: CString,
    headers: Vec<(CString, CString)>,
    body: Vec<u8>,
    result: deepidv_result,
}

impl deepidv_action {
    fn blank(kind: deepidv_action_kind) -> Self {
        Self {
            kind,
            wait_ms: 0,
            wait_until_ms: 0,
            timeout_ms: 0,
            max_body_bytes: 0,
            method: CString::default(),
            url: CString::default(),
            scheme: CString::default(),
            host: CString::default(),
            port: 0,
            path: CString::default(),
            headers: Vec::new(),
            body: Vec::new(),
            result: deepidv_result::DEEPIDV_OK,
        }
    }

    /// SEND: the request to send, and how long it may take.
    pub(crate) fn send(
        request: http::Request<Vec<u8>>,
        timeout: Duration,
        max_body_bytes: usize,
    ) -> Self {
        let (parts, body) = request.into_parts();
        let uri = &parts.uri;
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let text = |b: &[u8]| cstring(&String::from_utf8_lossy(b));
        Self {
            timeout_ms: ceil_ms(timeout),
            max_body_bytes: u64::try_from(max_body_bytes).unwrap_or(u64::MAX),
            method: cstring(parts.method.as_str()),
            url: cstring(&uri.to_string()),
            scheme: cstring(uri.scheme_str().unwrap_or("")),
            host: cstring(uri.host().unwrap_or("")),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            path: cstring(uri.path_and_query().map_or("/", |p| p.as_str())),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (cstring(n.as_str()), text(v.as_bytes())))
                .collect(),
            body,
            ..Self::blank(deepidv_action_kind::DEEPIDV_ACTION_SEND)
        }
    }

    /// WAIT: until `at`, from `now` (both on the caller's clock).
    pub(crate) fn wait(now: Duration, at: Duration) -> Self {
        Self {
            wait_ms: ceil_ms(at.saturating_sub(now)),
            wait_until_ms: ceil_ms(at),
            ..Self::blank(deepidv_action_kind::DEEPIDV_ACTION_WAIT)
        }
    }

    /// DONE, with the outcome's result code.
    pub(crate) fn done(result: deepidv_result) -> Self {
        Self {
            result,
            ..Self::blank(deepidv_action_kind::DEEPIDV_ACTION_DONE)
        }
    }
}

/// Milliseconds, rounded up (so that waiting that long always reaches the instant).
pub(crate) fn ceil_ms(d: Duration) -> u64 {
    let ms = d.as_millis() + u128::from(!d.subsec_nanos().is_multiple_of(1_000_000));
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// The action's kind; `DEEPIDV_ACTION_DONE` for NULL.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_kind(
    action: *const deepidv_action,
) -> deepidv_action_kind {
    // SAFETY: forwarded.
    unsafe { read(action, deepidv_action_kind::DEEPIDV_ACTION_DONE, |a| a.kind) }
}

/// WAIT: how long to wait, in milliseconds from the `now_ms` given to the poll (rounded up). 0 otherwise.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_wait_ms(action: *const deepidv_action) -> u64 {
    // SAFETY: forwarded.
    unsafe { read(action, 0, |a| a.wait_ms) }
}

/// WAIT: the instant to wait for, on the caller's clock (same origin as `now_ms`). 0 otherwise.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_wait_until_ms(action: *const deepidv_action) -> u64 {
    // SAFETY: forwarded.
    unsafe { read(action, 0, |a| a.wait_until_ms) }
}

/// SEND: how long the request may take, all included, in milliseconds. 0 otherwise.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_timeout_ms(action: *const deepidv_action) -> u64 {
    // SAFETY: forwarded.
    unsafe { read(action, 0, |a| a.timeout_ms) }
}

/// SEND: the largest response body the poller accepts, in bytes. Read at most one byte past it
/// (so the poller sees that the answer was too large), and hand over what was read. 0 otherwise.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_max_body_bytes(action: *const deepidv_action) -> u64 {
    // SAFETY: forwarded.
    unsafe { read(action, 0, |a| a.max_body_bytes) }
}

/// SEND: the method (`"GET"`, `"POST"`). `""` otherwise; NULL for NULL.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_method(action: *const deepidv_action) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { read(action, ptr::null(), |a| a.method.as_ptr()) }
}

/// SEND: the full URL. `""` otherwise; NULL for NULL.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_url(action: *const deepidv_action) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { read(action, ptr::null(), |a| a.url.as_ptr()) }
}

/// SEND: the URL's scheme (`"https"`, or `"http"` for loopback). `""` otherwise; NULL for NULL.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_scheme(action: *const deepidv_action) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { read(action, ptr::null(), |a| a.scheme.as_ptr()) }
}

/// SEND: the host to connect to (an IPv6 address keeps its brackets). `""` otherwise; NULL for NULL.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_host(action: *const deepidv_action) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { read(action, ptr::null(), |a| a.host.as_ptr()) }
}

/// SEND: the port to connect to (the scheme's default if the URL has none). 0 otherwise.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_port(action: *const deepidv_action) -> u16 {
    // SAFETY: forwarded.
    unsafe { read(action, 0, |a| a.port) }
}

/// SEND: the request target (path and query) for the request line. `""` otherwise; NULL for NULL.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_path(action: *const deepidv_action) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { read(action, ptr::null(), |a| a.path.as_ptr()) }
}

/// SEND: how many headers to send (besides `Host`, `Content-Length` and `Connection`, which your
/// HTTP layer adds). 0 otherwise.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_header_count(action: *const deepidv_action) -> usize {
    // SAFETY: forwarded.
    unsafe { read(action, 0, |a| a.headers.len()) }
}

/// SEND: the name of header `i` (lower case); NULL if `i` is out of range.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_header_name(
    action: *const deepidv_action,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read(action, ptr::null(), |a| {
            a.headers.get(i).map_or(ptr::null(), |(n, _)| n.as_ptr())
        })
    }
}

/// SEND: the value of header `i` (it includes `x-api-key`: do not log it); NULL if `i` is out of range.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_header_value(
    action: *const deepidv_action,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read(action, ptr::null(), |a| {
            a.headers.get(i).map_or(ptr::null(), |(_, v)| v.as_ptr())
        })
    }
}

/// SEND: the body to send (`*len_out` bytes, possibly 0; the pointer may then be NULL).
/// `len_out` may be NULL.
///
/// # Safety
/// `action` is NULL or a live action; `len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_body(
    action: *const deepidv_action,
    len_out: *mut usize,
) -> *const u8 {
    guard(
        |_| ptr::null(),
        || {
            // SAFETY: per the contract.
            let (p, len) = unsafe { action.as_ref() }.map_or((ptr::null(), 0), |a| {
                if a.body.is_empty() {
                    (ptr::null(), 0)
                } else {
                    (a.body.as_ptr(), a.body.len())
                }
            });
            if !len_out.is_null() {
                // SAFETY: per the contract.
                unsafe { *len_out = len };
            }
            p
        },
    )
}

/// DONE: the outcome's result code (what `deepidv_poller_take_job` returns). `DEEPIDV_OK` otherwise.
///
/// # Safety
/// `action` is NULL or a live action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_action_get_result(
    action: *const deepidv_action,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        read(action, deepidv_result::DEEPIDV_INVALID_ARGUMENT, |a| {
            a.result
        })
    }
}
