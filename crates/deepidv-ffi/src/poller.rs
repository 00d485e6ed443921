//! The sans-IO poller over the ABI, for programs with their own HTTP and event loop.
//!
//! ```c
//! deepidv_poller *p; const deepidv_action *a; deepidv_job *job;
//! deepidv_poller_new_wait(key, url, id, now_ms(), seed, 0, NULL, &p, NULL);
//! for (;;) {
//!     deepidv_poller_poll(p, now_ms(), &a);
//!     switch (deepidv_action_get_kind(a)) {
//!     case DEEPIDV_ACTION_SEND: /* send it; then */ deepidv_poller_handle_response(p, now_ms(), ...); break;
//!     case DEEPIDV_ACTION_WAIT: sleep_ms(deepidv_action_get_wait_ms(a)); break;
//!     case DEEPIDV_ACTION_DONE: rc = deepidv_poller_take_job(p, &job, NULL); goto done;
//!     }
//! }
//! ```
//!
//! A wait's state is data: `deepidv_poller_save` hands it out as JSON at any step, and
//! `deepidv_poller_resume` makes a poller of it again (in another process, with another clock origin)
//! that keeps the original wall-clock deadline.

use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;
use std::time::SystemTime;

use deepidv_core::http::{self, HeaderName, HeaderValue};
use deepidv_core::sanitize::terminal_safe;
use deepidv_core::{
    Action, Error, ErrorKind, Job, JobId, Machine, Poller, PollerState, TransportError,
    TransportErrorKind,
};

use crate::action::{ceil_ms, deepidv_action};
use crate::boundary::{
    call, clear_out, cstring, free_box, guard, invalid, mut_arg, opt_str_arg, out_arg, ref_arg,
    str_arg, write_out,
};
use crate::error::{deepidv_error, deepidv_result};
use crate::job::{deepidv_job, deepidv_job_status};
use crate::options::{build_config, deepidv_client_options, ms};

/// How a request failed to produce an HTTP answer, for `deepidv_poller_handle_transport_error`
/// (which takes it as a `uint32_t`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum deepidv_transport_error {
    /// Could not connect (refused, DNS, unreachable). Retried.
    DEEPIDV_TRANSPORT_CONNECT = 0,
    /// The request took longer than the action's timeout. Retried.
    DEEPIDV_TRANSPORT_TIMEOUT = 1,
    /// The connection broke (reset, closed early, truncated body). Retried.
    DEEPIDV_TRANSPORT_IO = 2,
    /// Anything retrying cannot fix (an invalid request, a TLS failure that is none of the two below).
    /// Not retried.
    DEEPIDV_TRANSPORT_OTHER = 3,
    /// The server's certificate does not chain to a root your TLS trusts (a private CA, a TLS-inspecting
    /// proxy, a self-signed, expired or otherwise invalid certificate): use it when your TLS library's
    /// verification fails for any reason but the host name. Not retried; the error says how to trust
    /// the CA.
    DEEPIDV_TRANSPORT_UNTRUSTED_CERTIFICATE = 4,
    /// The server's certificate is valid but for another host name: use it when your TLS library's
    /// host name check fails. Not retried; the error says to check the base URL.
    DEEPIDV_TRANSPORT_HOSTNAME_MISMATCH = 5,
}

/// A sans-IO wait (or get) of one job. It never does I/O and never reads a clock: `now_ms` is a reading
/// of *your* monotonic clock in milliseconds, from any origin, the same clock for the poller's whole life.
/// Not safe to use from two threads at once.
#[derive(Debug)]
pub struct deepidv_poller {
    poller: Poller,
    /// A wait (saveable), not a get.
    wait: bool,
    action: Option<deepidv_action>,
    in_flight: bool,
    outcome: Option<Result<Job, Error>>,
    done: Option<deepidv_result>,
    taken: bool,
}

/// # Safety
/// Pointers per the public functions' contracts.
#[allow(clippy::too_many_arguments)] // mirrors the flat C signatures
unsafe fn poller_new(
    wait: bool,
    api_key: *const c_char,
    base_url: *const c_char,
    job_id: *const c_char,
    now_ms: u64,
    seed: u64,
    timeout_ms: u64,
    opts: *const deepidv_client_options,
    out: *mut *mut deepidv_poller,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    call(err_out, || {
        // SAFETY: per the contract.
        unsafe { clear_out(out) };
        // SAFETY: per the contract (all the reads below).
        let out = unsafe { out_arg(out, "out") }?;
        let key = unsafe { str_arg(api_key, "api_key") }?;
        let url = unsafe { opt_str_arg(base_url, "base_url") }?;
        let id = JobId::new(unsafe { str_arg(job_id, "job_id") }?)?;
        let opts = unsafe { opts.as_ref() };
        let mut config = build_config(key, url, opts)?;
        if timeout_ms > 0 {
            config.poll.timeout = ms(timeout_ms);
        }
        let (config, now, wall) = (Arc::new(config), ms(now_ms), SystemTime::now());
        let poller = if wait {
            Poller::wait(config, id, now, wall, seed)
        } else {
            Poller::get(config, id, now, wall, seed)
        };
        // SAFETY: checked by `out_arg`.
        unsafe { write_out(out, deepidv_poller::new(poller, wait)) };
        Ok(())
    })
}

impl deepidv_poller {
    fn new(poller: Poller, wait: bool) -> Self {
        Self {
            poller,
            wait,
            action: None,
            in_flight: false,
            outcome: None,
            done: None,
            taken: false,
        }
    }
}

/// A poller that waits for the job to be `ready` or `failed`, polling with backoff and jitter, until
/// `timeout_ms` from `now_ms` (0: the options' wait timeout, 10 minutes by default). `base_url` NULL
/// means the default; `seed` is any random number (for jitter); `opts` may be NULL. The poller reads
/// the wall clock once, here, to interpret `Retry-After` dates.
///
/// # Safety
/// Strings are NULL or NUL-terminated; `opts` is NULL or live options; `out` and `err_out` are NULL or
/// writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // flat arguments are the point of a C (and cgo) signature
pub unsafe extern "C" fn deepidv_poller_new_wait(
    api_key: *const c_char,
    base_url: *const c_char,
    job_id: *const c_char,
    now_ms: u64,
    seed: u64,
    timeout_ms: u64,
    opts: *const deepidv_client_options,
    out: *mut *mut deepidv_poller,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        poller_new(
            true, api_key, base_url, job_id, now_ms, seed, timeout_ms, opts, out, err_out,
        )
    }
}

/// A poller for one snapshot of the job (retried on transient failures a few times); a `failed`
/// job is `DEEPIDV_OK` here. Arguments as `deepidv_poller_new_wait`.
///
/// # Safety
/// As `deepidv_poller_new_wait`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // flat arguments are the point of a C (and cgo) signature
pub unsafe extern "C" fn deepidv_poller_new_get(
    api_key: *const c_char,
    base_url: *const c_char,
    job_id: *const c_char,
    now_ms: u64,
    seed: u64,
    opts: *const deepidv_client_options,
    out: *mut *mut deepidv_poller,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        poller_new(
            false, api_key, base_url, job_id, now_ms, seed, 0, opts, out, err_out,
        )
    }
}

/// Largest `state_json` `deepidv_poller_resume` reads (a saved state is a few hundred bytes).
const MAX_STATE_JSON_BYTES: usize = 64 * 1024;

/// Saves a wait's progress as JSON (a `PollerState`: the job id, the wall-clock start, the budget, the
/// attempt count, the last status seen...), for `deepidv_poller_resume` later, in this process or another
/// one. `*state_json_out` is a NUL-terminated string to free with `deepidv_string_free`; keep it as an
/// opaque blob (it holds no secret: the API key is not in it).
///
/// Any time is fine, even while a request is in flight (that request is not part of the state: its
/// answer is simply lost, and the resumed wait sends it again) or once done (the resumed wait then polls
/// once more, if its deadline has not passed). Returns `DEEPIDV_OK`, or `DEEPIDV_INVALID_ARGUMENT` for NULL pointers and for a poller from
/// `deepidv_poller_new_get` (only waits resume: start a get again instead).
///
/// # Safety
/// `poller` is NULL or a live poller not being used by another thread; `state_json_out` and `err_out`
/// are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_poller_save(
    poller: *const deepidv_poller,
    state_json_out: *mut *mut c_char,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    call(err_out, || {
        // SAFETY: per the contract.
        unsafe { clear_out(state_json_out) };
        // SAFETY: per the contract.
        let out = unsafe { out_arg(state_json_out, "state_json_out") }?;
        // SAFETY: per the contract.
        let p = unsafe { ref_arg(poller, "poller") }?;
        if !p.wait {
            return Err(invalid(
                "only a wait can be saved and resumed: this poller is a get (deepidv_poller_new_get); start the get again instead",
            ));
        }
        let json = serde_json::to_string(&p.poller.state()).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("could not serialize the poller state: {e}"),
            )
        })?;
        // SAFETY: checked by `out_arg`.
        unsafe { *out = cstring(&json).into_raw() };
        Ok(())
    })
}

/// Resumes a wait saved with `deepidv_poller_save`, possibly in another process. Its deadline is the
/// original one, measured on the wall clock (read here, once): time spent stopped counts, and a wait
/// whose deadline has passed ends in `DEEPIDV_TIMEOUT` at its first poll, without a request (one could
/// only outlive the deadline).
/// The resumed poller polls at once, then as a poller from `deepidv_poller_new_wait` does; it remembers
/// whether the job was seen, so a 404 now is reported as expired (`deepidv_error_is_expired`).
///
/// `now_ms` is a reading of *your* monotonic clock, as for `deepidv_poller_new_wait`: any origin (it need
/// not be the saving process's), the same clock for the resumed poller's whole life. `base_url` NULL means
/// the default; `opts` may be NULL (the saved budget replaces its wait timeout). Returns `DEEPIDV_OK`, or
/// `DEEPIDV_INVALID_ARGUMENT` for NULL pointers, a bad key, URL or options, and for a `state_json` that is
/// not a saved state (not JSON, wrong shape, or an invalid job id inside it).
///
/// # Safety
/// Strings are NULL or NUL-terminated; `opts` is NULL or live options; `out` and `err_out` are NULL or
/// writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // flat arguments are the point of a C (and cgo) signature
pub unsafe extern "C" fn deepidv_poller_resume(
    api_key: *const c_char,
    base_url: *const c_char,
    state_json: *const c_char,
    now_ms: u64,
    opts: *const deepidv_client_options,
    out: *mut *mut deepidv_poller,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    call(err_out, || {
        // SAFETY: per the contract.
        unsafe { clear_out(out) };
        // SAFETY: per the contract (all the reads below).
        let out = unsafe { out_arg(out, "out") }?;
        let key = unsafe { str_arg(api_key, "api_key") }?;
        let url = unsafe { opt_str_arg(base_url, "base_url") }?;
        let json = unsafe { str_arg(state_json, "state_json") }?;
        let opts = unsafe { opts.as_ref() };
        let config = build_config(key, url, opts)?;
        let state = parse_state(json, key)?;
        let poller = Poller::resume(Arc::new(config), state, ms(now_ms), SystemTime::now());
        // SAFETY: checked by `out_arg`.
        unsafe { write_out(out, deepidv_poller::new(poller, true)) };
        Ok(())
    })
}

/// Reads a saved state; the error is one line, without `key` (a caller may have mixed up arguments).
fn parse_state(json: &str, key: &str) -> Result<PollerState, Error> {
    if json.len() > MAX_STATE_JSON_BYTES {
        return Err(invalid(format!(
            "state_json is not a saved poller state: {} bytes, more than the {MAX_STATE_JSON_BYTES} a state can take",
            json.len()
        )));
    }
    serde_json::from_str(json).map_err(|e| {
        let why = terminal_safe(&e.to_string(), Some(key));
        invalid(format!(
            "state_json is not a saved poller state (from deepidv_poller_save): {why}"
        ))
    })
}

/// A wait's deadline on your clock (same origin as the `now_ms` it was made or resumed with), in
/// milliseconds rounded up; 0 for a get (or NULL).
///
/// # Safety
/// `poller` is NULL or a live poller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_poller_deadline_ms(poller: *const deepidv_poller) -> u64 {
    guard(
        |_| 0,
        || {
            // SAFETY: per the contract.
            unsafe { ref_arg(poller, "poller") }
                .ok()
                .and_then(|p| p.poller.deadline())
                .map_or(0, ceil_ms)
        },
    )
}

/// What to do next, given the time. `*action_out` is owned by the poller and stays valid until the
/// next `deepidv_poller_poll` (or `deepidv_poller_free`). Returns `DEEPIDV_OK` with an action, or
/// `DEEPIDV_INVALID_ARGUMENT` (NULL pointers; a poll while a request is in flight: feed its answer
/// first). Once done, every later poll answers `DEEPIDV_ACTION_DONE` again.
///
/// # Safety
/// `poller` is NULL or a live poller used by nobody else; `action_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_poller_poll(
    poller: *mut deepidv_poller,
    now_ms: u64,
    action_out: *mut *const deepidv_action,
) -> deepidv_result {
    call(ptr::null_mut(), || {
        if action_out.is_null() {
            return Err(invalid("action_out is NULL"));
        }
        // SAFETY: per the contract.
        unsafe { *action_out = ptr::null() };
        // SAFETY: per the contract.
        let p = unsafe { mut_arg(poller, "poller") }?;
        if p.in_flight {
            return Err(invalid(
                "a request is in flight: call deepidv_poller_handle_response or _handle_transport_error first",
            ));
        }
        let action = if let Some(result) = p.done {
            deepidv_action::done(result)
        } else {
            let now = ms(now_ms);
            match p.poller.poll(now) {
                Action::Send {
                    request,
                    timeout,
                    max_body_bytes,
                } => {
                    p.in_flight = true;
                    deepidv_action::send(request, timeout, max_body_bytes)
                }
                Action::WaitUntil(at) => deepidv_action::wait(now, at),
                Action::Done(outcome) => {
                    let result = match &outcome {
                        Ok(_) => deepidv_result::DEEPIDV_OK,
                        Err(e) => deepidv_result::from_kind(e.kind()),
                    };
                    p.outcome = Some(outcome);
                    p.done = Some(result);
                    deepidv_action::done(result)
                }
            }
        };
        let action: *const deepidv_action = p.action.insert(action);
        // SAFETY: checked above.
        unsafe { *action_out = action };
        Ok(())
    })
}

/// Marks the request as answered; an error if none was in flight.
fn answered(p: &mut deepidv_poller) -> Result<(), Error> {
    if !std::mem::take(&mut p.in_flight) {
        return Err(invalid(
            "no request is in flight: poll until DEEPIDV_ACTION_SEND, send it, then hand back the answer",
        ));
    }
    Ok(())
}

/// Hands the poller the answer to the request it asked for, with the time it arrived: the status,
/// `n_headers` header names and values (NUL-terminated; values may be any bytes but NUL), and the body
/// (`body` may be NULL when `body_len` is 0). Read at most the configured maximum body size plus one
/// byte (16 MiB + 1 by default): a larger body is refused as `DEEPIDV_INVALID_RESPONSE` at DONE.
/// Returns `DEEPIDV_OK` once fed, or `DEEPIDV_INVALID_ARGUMENT` (NULLs, a bad status or header name,
/// no request in flight).
///
/// # Safety
/// `poller` is NULL or a live poller used by nobody else; the arrays hold `n_headers` valid pointers to
/// NUL-terminated strings (or are NULL when `n_headers` is 0); `body` points to `body_len` bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // flat arguments are the point of a C (and cgo) signature
pub unsafe extern "C" fn deepidv_poller_handle_response(
    poller: *mut deepidv_poller,
    now_ms: u64,
    status: u16,
    header_names: *const *const c_char,
    header_values: *const *const c_char,
    n_headers: usize,
    body: *const u8,
    body_len: usize,
) -> deepidv_result {
    call(ptr::null_mut(), || {
        // SAFETY: per the contract.
        let p = unsafe { mut_arg(poller, "poller") }?;
        let status = http::StatusCode::from_u16(status)
            .map_err(|_| invalid(format!("HTTP status {status} is not a status code")))?;
        let mut builder = http::Response::builder().status(status);
        if n_headers > 0 {
            if header_names.is_null() || header_values.is_null() {
                return Err(invalid("header_names or header_values is NULL"));
            }
            for i in 0..n_headers {
                // SAFETY: the arrays hold `n_headers` pointers per the contract.
                let (n, v) = unsafe { (*header_names.add(i), *header_values.add(i)) };
                if n.is_null() || v.is_null() {
                    return Err(invalid(format!("header {i} has a NULL name or value")));
                }
                // SAFETY: NUL-terminated per the contract.
                let (n, v) = unsafe { (std::ffi::CStr::from_ptr(n), std::ffi::CStr::from_ptr(v)) };
                let name = HeaderName::from_bytes(n.to_bytes())
                    .map_err(|_| invalid(format!("header {i} has an invalid name")))?;
                let value = HeaderValue::from_bytes(v.to_bytes())
                    .map_err(|_| invalid(format!("header {i} has an invalid value")))?;
                builder = builder.header(name, value);
            }
        }
        let body: &[u8] = if body_len == 0 {
            &[]
        } else if body.is_null() {
            return Err(invalid("body is NULL but body_len is not 0"));
        } else {
            // SAFETY: `body` points to `body_len` bytes per the contract.
            unsafe { std::slice::from_raw_parts(body, body_len) }
        };
        let response = builder
            .body(body)
            .map_err(|e| invalid(format!("invalid response: {e}")))?;
        answered(p)?;
        p.poller.handle_response(ms(now_ms), &response);
        Ok(())
    })
}

/// Tells the poller the request it asked for failed below HTTP, with the time it happened. `kind` is a
/// `deepidv_transport_error`; `detail` (may be NULL) describes it for the error message. Returns
/// `DEEPIDV_OK` once fed, or `DEEPIDV_INVALID_ARGUMENT` (NULL poller, unknown kind, no request in flight).
///
/// # Safety
/// `poller` is NULL or a live poller used by nobody else; `detail` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_poller_handle_transport_error(
    poller: *mut deepidv_poller,
    now_ms: u64,
    kind: u32,
    detail: *const c_char,
) -> deepidv_result {
    call(ptr::null_mut(), || {
        // SAFETY: per the contract.
        let p = unsafe { mut_arg(poller, "poller") }?;
        let kind = match kind {
            0 => TransportErrorKind::Connect,
            1 => TransportErrorKind::Timeout,
            2 => TransportErrorKind::Io,
            3 => TransportErrorKind::Other,
            4 => TransportErrorKind::UntrustedCertificate,
            5 => TransportErrorKind::HostnameMismatch,
            other => return Err(invalid(format!("unknown transport error kind {other}"))),
        };
        // SAFETY: per the contract.
        let detail = unsafe { opt_str_arg(detail, "detail") }?.unwrap_or("no detail");
        answered(p)?;
        p.poller
            .handle_transport_error(ms(now_ms), TransportError::new(kind, detail));
        Ok(())
    })
}

/// Takes the outcome once the poller answered `DEEPIDV_ACTION_DONE`. Returns the outcome's code: with
/// `DEEPIDV_OK` (and `DEEPIDV_JOB_FAILED`, for a wait) `*out` is the job, to free with
/// `deepidv_job_free`; otherwise `*out` is NULL and `*err_out` (if `err_out` is not NULL) the error.
/// `DEEPIDV_INVALID_ARGUMENT` if the poller is not done yet or the outcome was already taken.
///
/// # Safety
/// `poller` is NULL or a live poller used by nobody else; `out` and `err_out` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_poller_take_job(
    poller: *mut deepidv_poller,
    out: *mut *mut deepidv_job,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    call(err_out, || {
        // SAFETY: per the contract.
        unsafe { clear_out(out) };
        // SAFETY: per the contract.
        let out = unsafe { out_arg(out, "out") }?;
        // SAFETY: per the contract.
        let p = unsafe { mut_arg(poller, "poller") }?;
        let outcome = match p.outcome.take() {
            Some(o) => o,
            None if p.taken => return Err(invalid("the outcome was already taken")),
            None => {
                return Err(invalid(
                    "the poller is not done: poll until DEEPIDV_ACTION_DONE first",
                ));
            }
        };
        p.taken = true;
        match outcome {
            Ok(job) => {
                // SAFETY: checked by `out_arg`.
                unsafe { write_out(out, deepidv_job::new(&job)) };
                Ok(())
            }
            Err(e) => {
                if let Some(job) = e.job() {
                    // SAFETY: checked by `out_arg`.
                    unsafe { write_out(out, deepidv_job::new(job)) };
                }
                Err(e)
            }
        }
    })
}

/// The last status the poller saw; `DEEPIDV_STATUS_UNKNOWN` before the first answer (or for NULL).
///
/// # Safety
/// `poller` is NULL or a live poller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_poller_last_status(
    poller: *const deepidv_poller,
) -> deepidv_job_status {
    guard(
        |_| deepidv_job_status::DEEPIDV_STATUS_UNKNOWN,
        || {
            // SAFETY: per the contract.
            unsafe { ref_arg(poller, "poller") }
                .ok()
                .and_then(|p| p.poller.last_status())
                .map_or(
                    deepidv_job_status::DEEPIDV_STATUS_UNKNOWN,
                    deepidv_job_status::from_status,
                )
        },
    )
}

/// Frees a poller (and its current action). NULL is a no-op.
///
/// # Safety
/// `poller` is NULL or a poller from this library, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_poller_free(poller: *mut deepidv_poller) {
    // SAFETY: per the contract.
    guard(|_| (), || unsafe { free_box(poller) })
}
