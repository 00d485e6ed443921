//! The blocking client, its options, jobs, and cancellation.

use std::ffi::{CString, c_char};
use std::ptr;
use std::time::Duration;

use deepidv_core::{
    AdverseMediaRequest, ApiKey, BaseUrl, Config, Error, IdempotencyKey, Job, JobId, JobStatus,
};
use deepidv_ureq::{CancelHandle, Client};

use crate::{
    call, clear_out, cstring, deepidv_error, deepidv_result, free_box, guard, invalid, mut_arg,
    opt_str_arg, out_arg, read, ref_arg, str_arg, write_out,
};

/// A job's status. `DEEPIDV_STATUS_UNKNOWN` is a status this library does not know (not terminal);
/// `deepidv_job_get_status_text` has its spelling.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum deepidv_job_status {
    /// Queued, not picked up yet.
    DEEPIDV_STATUS_PENDING = 0,
    /// Running.
    DEEPIDV_STATUS_PROCESSING = 1,
    /// Done: the job has a result (`deepidv_job_get_result_json`).
    DEEPIDV_STATUS_READY = 2,
    /// Failed: the job has an error (`deepidv_job_get_error`).
    DEEPIDV_STATUS_FAILED = 3,
    /// A status this library does not know (or a NULL job).
    DEEPIDV_STATUS_UNKNOWN = 4,
}

impl deepidv_job_status {
    pub(crate) fn from_status(s: &JobStatus) -> Self {
        match s {
            JobStatus::Pending => Self::DEEPIDV_STATUS_PENDING,
            JobStatus::Processing => Self::DEEPIDV_STATUS_PROCESSING,
            JobStatus::Ready => Self::DEEPIDV_STATUS_READY,
            JobStatus::Failed => Self::DEEPIDV_STATUS_FAILED,
            _ => Self::DEEPIDV_STATUS_UNKNOWN, // Unknown, and statuses added later
        }
    }
}

/// A blocking client. Create it with `deepidv_client_new` (or `_new_with_options`), share it between
/// threads freely, free it with `deepidv_client_free` once no call is using it.
#[derive(Debug)]
pub struct deepidv_client {
    client: Client,
}

/// Options for a client or a poller: timeouts, polling and retry policy. Create it with
/// `deepidv_client_options_new`, set what you need, pass it to `deepidv_client_new_with_options`
/// (which copies it), free it with `deepidv_client_options_free`.
#[derive(Debug, Default, Clone)]
pub struct deepidv_client_options {
    request_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    poll_interval: Option<Duration>,
    max_poll_interval: Option<Duration>,
    wait_timeout: Option<Duration>,
    retry_backoff: Option<Duration>,
    max_retry_backoff: Option<Duration>,
    max_retries: Option<u32>,
    wait_max_failures: Option<u32>,
    max_body_bytes: Option<usize>,
    allow_insecure_http: bool,
}

/// A snapshot of a job. Every string it hands out lives as long as the job.
#[derive(Debug)]
pub struct deepidv_job {
    status: deepidv_job_status,
    id: CString,
    status_text: CString,
    created_at_ms: i64,
    updated_at: Option<CString>,
    result_json: Option<CString>,
    error: Option<CString>,
    json: CString,
}

impl deepidv_job {
    pub(crate) fn new(job: &Job) -> Self {
        Self {
            status: deepidv_job_status::from_status(&job.status()),
            id: cstring(&job.job_id),
            status_text: cstring(job.status_str()),
            created_at_ms: job.created_at.unix_millis().unwrap_or(0),
            updated_at: job.updated_at.as_deref().map(cstring),
            result_json: job.result().map(|r| cstring(r.raw_json())),
            error: job.error().map(cstring),
            json: cstring(&job.to_json()),
        }
    }
}

/// A cancellation handle for the `*_ex` calls: `deepidv_cancel_cancel` from any thread ends the calls
/// using it at their next step (a wait between polls ends at once) with `DEEPIDV_TIMEOUT`.
#[derive(Debug, Default)]
pub struct deepidv_cancel {
    handle: CancelHandle,
}

pub(crate) fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// The configuration for a key, a base URL (NULL: the default) and options.
pub(crate) fn build_config(
    api_key: &str,
    base_url: Option<&str>,
    opts: Option<&deepidv_client_options>,
) -> Result<Config, Error> {
    let default = deepidv_client_options::default();
    let o = opts.unwrap_or(&default);
    let mut config = Config::new(ApiKey::new(api_key)?).with_frontend("ffi");
    if let Some(url) = base_url {
        let url = if o.allow_insecure_http {
            BaseUrl::parse_allowing_http(url)?
        } else {
            BaseUrl::parse(url)?
        };
        config = config.with_base_url(url);
    }
    if let Some(v) = o.request_timeout {
        config.request_timeout = v;
    }
    if let Some(v) = o.connect_timeout {
        config.connect_timeout = v;
    }
    // A cap below the first delay never shortens it: the core's rule, not ours.
    if let Some(v) = o.poll_interval {
        config.poll.interval = v;
    }
    if let Some(v) = o.max_poll_interval {
        config.poll.max_interval = v;
    }
    if let Some(v) = o.wait_timeout {
        config.poll.timeout = v;
    }
    if let Some(v) = o.retry_backoff {
        config.retry.initial_backoff = v;
    }
    if let Some(v) = o.max_retry_backoff {
        config.retry.max_backoff = v;
    }
    if let Some(v) = o.max_retries {
        config.retry.call_max_retries = v;
    }
    if let Some(v) = o.wait_max_failures {
        config.retry.wait_max_failures = v;
    }
    if let Some(v) = o.max_body_bytes {
        config.max_body_bytes = v;
    }
    Ok(config)
}

// ---------------------------------------------------------------------------------------------------------
// Options

/// New options, all defaults (request timeout 30 s, connect 10 s, polls every 2 s growing to 5 s,
/// wait deadline 10 min, retries from 500 ms). Never NULL. Free with `deepidv_client_options_free`.
#[unsafe(no_mangle)]
pub extern "C" fn deepidv_client_options_new() -> *mut deepidv_client_options {
    guard(
        |_| ptr::null_mut(),
        || Box::into_raw(Box::<deepidv_client_options>::default()),
    )
}

/// Frees options. NULL is a no-op.
///
/// # Safety
/// `opts` is NULL or options from `deepidv_client_options_new`, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_free(opts: *mut deepidv_client_options) {
    // SAFETY: per the contract.
    guard(|_| (), || unsafe { free_box(opts) })
}

/// Sets one option. `what` names it in messages; `check` refuses bad values.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
unsafe fn set_option(
    opts: *mut deepidv_client_options,
    what: &str,
    value: u64,
    positive: bool,
    set: impl FnOnce(&mut deepidv_client_options, u64),
) -> deepidv_result {
    call(ptr::null_mut(), || {
        // SAFETY: per the contract.
        let o = unsafe { mut_arg(opts, "opts") }?;
        if positive && value == 0 {
            return Err(invalid(format!("{what} must be greater than 0")));
        }
        set(o, value);
        Ok(())
    })
}

/// Per-request timeout in milliseconds, all included (default 30000). Must be > 0.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_request_timeout_ms(
    opts: *mut deepidv_client_options,
    value: u64,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "request timeout", value, true, |o, v| {
            o.request_timeout = Some(ms(v))
        })
    }
}

/// Connect timeout in milliseconds (default 10000). Must be > 0.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_connect_timeout_ms(
    opts: *mut deepidv_client_options,
    value: u64,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "connect timeout", value, true, |o, v| {
            o.connect_timeout = Some(ms(v))
        })
    }
}

/// Nominal delay between polls in milliseconds (default 2000; grows ×1.5 up to the maximum; a
/// maximum below it never shortens it).
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_poll_interval_ms(
    opts: *mut deepidv_client_options,
    value: u64,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "poll interval", value, false, |o, v| {
            o.poll_interval = Some(ms(v))
        })
    }
}

/// Largest nominal delay between polls in milliseconds (default 5000).
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_max_poll_interval_ms(
    opts: *mut deepidv_client_options,
    value: u64,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "max poll interval", value, false, |o, v| {
            o.max_poll_interval = Some(ms(v))
        })
    }
}

/// Default deadline of a wait in milliseconds (default 600000), used when a wait is given 0.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_wait_timeout_ms(
    opts: *mut deepidv_client_options,
    value: u64,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "wait timeout", value, true, |o, v| {
            o.wait_timeout = Some(ms(v))
        })
    }
}

/// First backoff ceiling after a transient failure, in milliseconds (default 500; doubles per failure).
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_retry_backoff_ms(
    opts: *mut deepidv_client_options,
    value: u64,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "retry backoff", value, false, |o, v| {
            o.retry_backoff = Some(ms(v))
        })
    }
}

/// Largest backoff ceiling in milliseconds (default 30000).
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_max_retry_backoff_ms(
    opts: *mut deepidv_client_options,
    value: u64,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "max retry backoff", value, false, |o, v| {
            o.max_retry_backoff = Some(ms(v))
        })
    }
}

/// Retries of a single call (get, create) on transient failures (default 3).
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_max_retries(
    opts: *mut deepidv_client_options,
    value: u32,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "max retries", u64::from(value), false, |o, v| {
            o.max_retries = Some(u32::try_from(v).unwrap_or(u32::MAX))
        })
    }
}

/// A wait gives up after this many consecutive transient failures (default 5). Must be > 0.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_wait_max_failures(
    opts: *mut deepidv_client_options,
    value: u32,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "wait max failures", u64::from(value), true, |o, v| {
            o.wait_max_failures = Some(u32::try_from(v).unwrap_or(u32::MAX))
        })
    }
}

/// Largest response body accepted, in bytes (default 16 MiB). Must be > 0.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_max_body_bytes(
    opts: *mut deepidv_client_options,
    value: u64,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "max body bytes", value, true, |o, v| {
            o.max_body_bytes = Some(usize::try_from(v).unwrap_or(usize::MAX))
        })
    }
}

/// Allows plain `http` to hosts that are not loopback (default false). Only for networks you trust.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_allow_insecure_http(
    opts: *mut deepidv_client_options,
    allow: bool,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        set_option(opts, "allow insecure http", 0, false, |o, _| {
            o.allow_insecure_http = allow
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Client

/// # Safety
/// Pointers per the public functions' contracts.
unsafe fn client_new(
    api_key: *const c_char,
    base_url: *const c_char,
    opts: *const deepidv_client_options,
    out: *mut *mut deepidv_client,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    call(err_out, || {
        // SAFETY: per the contract.
        unsafe { clear_out(out) };
        // SAFETY: per the contract.
        let out = unsafe { out_arg(out, "out") }?;
        // SAFETY: per the contract.
        let key = unsafe { str_arg(api_key, "api_key") }?;
        // SAFETY: per the contract.
        let url = unsafe { opt_str_arg(base_url, "base_url") }?;
        // SAFETY: per the contract.
        let opts = unsafe { opts.as_ref() };
        let client = Client::new(build_config(key, url, opts)?)?;
        // SAFETY: checked by `out_arg`.
        unsafe { write_out(out, deepidv_client { client }) };
        Ok(())
    })
}

/// Creates a client for `api_key`, talking to `base_url` (NULL: `https://api.deepidv.com`). Plain
/// `http` is allowed only to loopback hosts. On success `*out` is the client; otherwise NULL.
///
/// # Safety
/// `api_key` and `base_url` are NULL or NUL-terminated strings; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_new(
    api_key: *const c_char,
    base_url: *const c_char,
    out: *mut *mut deepidv_client,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe { client_new(api_key, base_url, ptr::null(), out, ptr::null_mut()) }
}

/// `deepidv_client_new` with options (NULL: defaults; copied, so free them whenever you like) and an
/// error object in `*err_out` on failure (`err_out` may be NULL).
///
/// # Safety
/// String arguments are NULL or NUL-terminated; `opts` is NULL or live options; `out` and `err_out`
/// are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_new_with_options(
    api_key: *const c_char,
    base_url: *const c_char,
    opts: *const deepidv_client_options,
    out: *mut *mut deepidv_client,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe { client_new(api_key, base_url, opts, out, err_out) }
}

/// Frees a client. NULL is a no-op. No call may be using it.
///
/// # Safety
/// `client` is NULL or a client from this library, not freed yet, not in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_free(client: *mut deepidv_client) {
    // SAFETY: per the contract.
    guard(|_| (), || unsafe { free_box(client) })
}

/// # Safety
/// Pointers per the public functions' contracts.
unsafe fn get_job(
    client: *const deepidv_client,
    job_id: *const c_char,
    cancel: *const deepidv_cancel,
    out: *mut *mut deepidv_job,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    call(err_out, || {
        // SAFETY: per the contract.
        unsafe { clear_out(out) };
        // SAFETY: per the contract.
        let out = unsafe { out_arg(out, "out") }?;
        // SAFETY: per the contract.
        let c = &unsafe { ref_arg(client, "client") }?.client;
        // SAFETY: per the contract.
        let id = JobId::new(unsafe { str_arg(job_id, "job_id") }?)?;
        // SAFETY: per the contract.
        let cancel = unsafe { cancel.as_ref() }.map(|c| &c.handle);
        let job = c.drive(&mut c.get_poller(&id), &mut |_| {}, cancel)?;
        // SAFETY: checked by `out_arg`.
        unsafe { write_out(out, deepidv_job::new(&job)) };
        Ok(())
    })
}

/// One snapshot of the job (retried on transient failures, a few times). A `failed` job is
/// `DEEPIDV_OK` here: look at its status. On success `*out` is the job; otherwise NULL.
///
/// # Safety
/// `client` is NULL or a live client; `job_id` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_get_job(
    client: *const deepidv_client,
    job_id: *const c_char,
    out: *mut *mut deepidv_job,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe { get_job(client, job_id, ptr::null(), out, ptr::null_mut()) }
}

/// `deepidv_client_get_job`, cancellable (`cancel` may be NULL) and with an error object in
/// `*err_out` (`err_out` may be NULL).
///
/// # Safety
/// As `deepidv_client_get_job`; `cancel` is NULL or a live handle; `err_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_get_job_ex(
    client: *const deepidv_client,
    job_id: *const c_char,
    cancel: *const deepidv_cancel,
    out: *mut *mut deepidv_job,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe { get_job(client, job_id, cancel, out, err_out) }
}

/// # Safety
/// Pointers per the public functions' contracts.
unsafe fn wait_job(
    client: *const deepidv_client,
    job_id: *const c_char,
    timeout_ms: u64,
    cancel: *const deepidv_cancel,
    out: *mut *mut deepidv_job,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    call(err_out, || {
        // SAFETY: per the contract.
        unsafe { clear_out(out) };
        // SAFETY: per the contract.
        let out = unsafe { out_arg(out, "out") }?;
        // SAFETY: per the contract.
        let c = &unsafe { ref_arg(client, "client") }?.client;
        // SAFETY: per the contract.
        let id = JobId::new(unsafe { str_arg(job_id, "job_id") }?)?;
        // SAFETY: per the contract.
        let cancel = unsafe { cancel.as_ref() }.map(|c| &c.handle);
        let mut poller = match timeout_ms {
            0 => c.wait_poller(&id),
            t => c.wait_poller(&id).with_timeout(ms(t)),
        };
        match c.drive(&mut poller, &mut |_| {}, cancel) {
            Ok(job) => {
                // SAFETY: checked by `out_arg`.
                unsafe { write_out(out, deepidv_job::new(&job)) };
                Ok(())
            }
            Err(e) => {
                if let Some(job) = e.job() {
                    // SAFETY: checked by `out_arg`. JOB_FAILED still hands out the failed job.
                    unsafe { write_out(out, deepidv_job::new(job)) };
                }
                Err(e)
            }
        }
    })
}

/// Polls the job until it is `ready` (`DEEPIDV_OK`) or `failed` (`DEEPIDV_JOB_FAILED`: `*out` is still
/// the failed job), or `timeout_ms` passes (`DEEPIDV_TIMEOUT`; 0 means the client's wait timeout,
/// 10 minutes by default). Backoff, jitter and retries follow the client's options. On any other
/// result `*out` is NULL.
///
/// # Safety
/// `client` is NULL or a live client; `job_id` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_wait_job(
    client: *const deepidv_client,
    job_id: *const c_char,
    timeout_ms: u64,
    out: *mut *mut deepidv_job,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe {
        wait_job(
            client,
            job_id,
            timeout_ms,
            ptr::null(),
            out,
            ptr::null_mut(),
        )
    }
}

/// `deepidv_client_wait_job`, cancellable (`cancel` may be NULL: a cancel ends the wait with
/// `DEEPIDV_TIMEOUT`) and with an error object in `*err_out` (`err_out` may be NULL).
///
/// # Safety
/// As `deepidv_client_wait_job`; `cancel` is NULL or a live handle; `err_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_wait_job_ex(
    client: *const deepidv_client,
    job_id: *const c_char,
    timeout_ms: u64,
    cancel: *const deepidv_cancel,
    out: *mut *mut deepidv_job,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    // SAFETY: forwarded.
    unsafe { wait_job(client, job_id, timeout_ms, cancel, out, err_out) }
}

/// Starts an adverse-media screening (`POST /v1/screening/adverse-media`). `country` (two letters)
/// and `idempotency_key` may be NULL; with no key a random one is made, and every retry of this call
/// reuses it, so a retry never starts a second job. On success `*job_id_out` is the new job's id
/// (free it with `deepidv_string_free`); otherwise NULL.
///
/// # Safety
/// `client` is NULL or a live client; strings are NULL or NUL-terminated; `job_id_out` and `err_out`
/// are NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // flat arguments are the point of a C (and cgo) signature
pub unsafe extern "C" fn deepidv_client_create_adverse_media(
    client: *const deepidv_client,
    first_name: *const c_char,
    last_name: *const c_char,
    email: *const c_char,
    date_of_birth: *const c_char,
    country: *const c_char,
    idempotency_key: *const c_char,
    job_id_out: *mut *mut c_char,
    err_out: *mut *mut deepidv_error,
) -> deepidv_result {
    call(err_out, || {
        // SAFETY: per the contract.
        unsafe { clear_out(job_id_out) };
        // SAFETY: per the contract.
        let out = unsafe { out_arg(job_id_out, "job_id_out") }?;
        // SAFETY: per the contract (all the string reads below).
        let c = &unsafe { ref_arg(client, "client") }?.client;
        let request = unsafe {
            AdverseMediaRequest::new(
                str_arg(first_name, "first_name")?,
                str_arg(last_name, "last_name")?,
                str_arg(email, "email")?,
                str_arg(date_of_birth, "date_of_birth")?,
                opt_str_arg(country, "country")?,
            )
        }?;
        // SAFETY: per the contract.
        let key = unsafe { opt_str_arg(idempotency_key, "idempotency_key") }?
            .map(IdempotencyKey::new)
            .transpose()?;
        let created = c.create_adverse_media(&request, key)?;
        let id = created.id()?;
        // SAFETY: checked by `out_arg`.
        unsafe { *out = cstring(id.as_str()).into_raw() };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------------------
// Jobs

/// The job's status; `DEEPIDV_STATUS_UNKNOWN` for NULL.
///
/// # Safety
/// `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_job_get_status(job: *const deepidv_job) -> deepidv_job_status {
    // SAFETY: forwarded.
    unsafe {
        read(job, deepidv_job_status::DEEPIDV_STATUS_UNKNOWN, |j| {
            j.status
        })
    }
}

/// The status as the server spelled it (`"ready"`, or an unknown one like `"on_hold"`); NULL for NULL.
///
/// # Safety
/// `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_job_get_status_text(job: *const deepidv_job) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { read(job, ptr::null(), |j| j.status_text.as_ptr()) }
}

/// The job's id; NULL for NULL. Lives as long as the job.
///
/// # Safety
/// `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_job_get_id(job: *const deepidv_job) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { read(job, ptr::null(), |j| j.id.as_ptr()) }
}

/// `createdAt` in milliseconds since the Unix epoch (values under 10^11 are read as seconds and
/// converted); 0 if it cannot be read as a time, or for NULL.
///
/// # Safety
/// `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_job_get_created_at_ms(job: *const deepidv_job) -> i64 {
    // SAFETY: forwarded.
    unsafe { read(job, 0, |j| j.created_at_ms) }
}

/// `updatedAt` as sent (an RFC 3339 timestamp); NULL if absent, or for NULL.
///
/// # Safety
/// `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_job_get_updated_at(job: *const deepidv_job) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read(job, ptr::null(), |j| {
            j.updated_at.as_ref().map_or(ptr::null(), |s| s.as_ptr())
        })
    }
}

/// The result exactly as the server sent it (JSON); NULL unless the job is ready.
///
/// # Safety
/// `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_job_get_result_json(job: *const deepidv_job) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read(job, ptr::null(), |j| {
            j.result_json.as_ref().map_or(ptr::null(), |s| s.as_ptr())
        })
    }
}

/// The server's reason; NULL unless the job failed.
///
/// # Safety
/// `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_job_get_error(job: *const deepidv_job) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read(job, ptr::null(), |j| {
            j.error.as_ref().map_or(ptr::null(), |s| s.as_ptr())
        })
    }
}

/// The whole job as the API's JSON (`jobId`, `status`, `createdAt`, `updatedAt`, `result`/`error`);
/// NULL for NULL.
///
/// # Safety
/// `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_job_get_json(job: *const deepidv_job) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { read(job, ptr::null(), |j| j.json.as_ptr()) }
}

/// Frees a job (and every string it handed out). NULL is a no-op.
///
/// # Safety
/// `job` is NULL or a job from this library, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_job_free(job: *mut deepidv_job) {
    // SAFETY: per the contract.
    guard(|_| (), || unsafe { free_box(job) })
}

// ---------------------------------------------------------------------------------------------------------
// Cancellation

/// A new cancellation handle, not cancelled. Never NULL. Free with `deepidv_cancel_free` once no
/// call uses it.
#[unsafe(no_mangle)]
pub extern "C" fn deepidv_cancel_new() -> *mut deepidv_cancel {
    guard(
        |_| ptr::null_mut(),
        || Box::into_raw(Box::<deepidv_cancel>::default()),
    )
}

/// Cancels every call using this handle (now and later). Safe from any thread. NULL is a no-op.
///
/// # Safety
/// `cancel` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_cancel_cancel(cancel: *const deepidv_cancel) {
    guard(
        |_| (),
        || {
            // SAFETY: per the contract.
            if let Some(c) = unsafe { cancel.as_ref() } {
                c.handle.cancel();
            }
        },
    )
}

/// Frees a cancellation handle. NULL is a no-op. No call may be using it.
///
/// # Safety
/// `cancel` is NULL or a handle from this library, not freed yet, not in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_cancel_free(cancel: *mut deepidv_cancel) {
    // SAFETY: per the contract.
    guard(|_| (), || unsafe { free_box(cancel) })
}
