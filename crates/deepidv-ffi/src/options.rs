//! `deepidv_client_options` (`deepidv_client_options_*`): timeouts, polling and retry policy for a
//! client or a poller, and [`build_config`], which turns them into the core's `Config`.

use std::ffi::{c_char, c_void};
use std::ptr;
use std::time::Duration;

use deepidv_core::{ApiKey, BaseUrl, Config, Error, Event, EventLevel, ProxySetting};

use crate::boundary::{call, cstring, free_box, guard, invalid, mut_arg, opt_str_arg, str_arg};
use crate::error::deepidv_result;

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
    ca_certs: Vec<deepidv_core::CaSource>,
    proxy: Option<ProxySetting>,
    /// Already checked by the core (`Config::check_user_agent_suffix`).
    user_agent_suffix: Option<String>,
    pub(crate) log: Option<LogCallback>,
}

/// How loud a log message is; see `deepidv_client_options_set_log_callback`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum deepidv_log_level {
    /// Each answer: method, path, HTTP status, request id, latency.
    DEEPIDV_LOG_DEBUG = 0,
    /// A status change of the job.
    DEEPIDV_LOG_INFO = 1,
    /// A retry: failures so far, delay, reason.
    DEEPIDV_LOG_WARN = 2,
}

/// A log callback: `level`, a one-line NUL-terminated `message` (valid only during the call; it never
/// holds the API key) and the `user_data` given with it.
pub type deepidv_log_callback = Option<
    unsafe extern "C" fn(level: deepidv_log_level, message: *const c_char, user_data: *mut c_void),
>;

/// A callback and its user data, as set on the options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogCallback {
    cb: unsafe extern "C" fn(deepidv_log_level, *const c_char, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the C contract of `deepidv_client_options_set_log_callback`: a client shared between
// threads calls the callback from each of them, with the same `user_data`; the caller makes both safe
// for that.
unsafe impl Send for LogCallback {}
// SAFETY: as above.
unsafe impl Sync for LogCallback {}

impl LogCallback {
    /// Hands one event to the callback as a one-line message.
    pub(crate) fn emit(&self, event: &Event) {
        let level = match event.level() {
            EventLevel::Debug => deepidv_log_level::DEEPIDV_LOG_DEBUG,
            EventLevel::Info => deepidv_log_level::DEEPIDV_LOG_INFO,
            EventLevel::Warn => deepidv_log_level::DEEPIDV_LOG_WARN,
        };
        let message = cstring(&event.to_string());
        // SAFETY: the callback and user data are what the caller set, valid per its contract; the
        // message outlives the call.
        unsafe { (self.cb)(level, message.as_ptr(), self.user_data) }
    }
}

/// Calls `callback` with every event of every call a client made with these options makes: each
/// answer (`DEEPIDV_LOG_DEBUG`), each status change (`DEEPIDV_LOG_INFO`), each retry
/// (`DEEPIDV_LOG_WARN`), as one-line messages that never hold the API key. It runs on the thread
/// making the call, inside it: keep it quick, and make it (and `user_data`) safe to call from every
/// thread sharing the client. `callback` NULL removes it. `message` is valid only during the call.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else; `callback` is NULL or a function that stays
/// callable, with `user_data`, for as long as any client made with these options lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_log_callback(
    opts: *mut deepidv_client_options,
    callback: deepidv_log_callback,
    user_data: *mut c_void,
) -> deepidv_result {
    call(ptr::null_mut(), || {
        // SAFETY: per the contract.
        let o = unsafe { mut_arg(opts, "opts") }?;
        o.log = callback.map(|cb| LogCallback { cb, user_data });
        Ok(())
    })
}

/// Milliseconds from C as a `Duration`.
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
    config.ca_certs.extend(o.ca_certs.iter().cloned());
    if let Some(proxy) = &o.proxy {
        config.proxy = proxy.clone();
    }
    if let Some(suffix) = &o.user_agent_suffix {
        config = config.with_user_agent_suffix(suffix)?;
    }
    Ok(config)
}

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

/// Adds the CA certificates of a PEM file to the trusted roots (the OS store, or the bundled
/// Mozilla roots where it is empty); repeatable. The file is read when the client is made: a
/// missing, unreadable or non-PEM file makes `deepidv_client_new_with_options` return
/// `DEEPIDV_INVALID_ARGUMENT` naming it. `path` is UTF-8; NULL is `DEEPIDV_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_ca_file(
    opts: *mut deepidv_client_options,
    path: *const std::ffi::c_char,
) -> deepidv_result {
    call(ptr::null_mut(), || {
        // SAFETY: per the contract.
        let o = unsafe { mut_arg(opts, "opts") }?;
        // SAFETY: per the contract.
        let path = unsafe { str_arg(path, "path") }?;
        o.ca_certs.push(deepidv_core::CaSource::File(path.into()));
        Ok(())
    })
}

/// Adds the CA certificates of this PEM text (one or more `-----BEGIN CERTIFICATE-----` blocks) to
/// the trusted roots, like `deepidv_client_options_set_ca_file` but from memory (a CA embedded in the
/// program, or read from a secret store); repeatable. Text that holds no certificate makes
/// `deepidv_client_new_with_options` return `DEEPIDV_INVALID_ARGUMENT`. NULL is
/// `DEEPIDV_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else; `pem` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_ca_pem(
    opts: *mut deepidv_client_options,
    pem: *const std::ffi::c_char,
) -> deepidv_result {
    call(ptr::null_mut(), || {
        // SAFETY: per the contract.
        let o = unsafe { mut_arg(opts, "opts") }?;
        // SAFETY: per the contract.
        let pem = unsafe { str_arg(pem, "pem") }?;
        o.ca_certs
            .push(deepidv_core::CaSource::Pem(pem.as_bytes().to_vec()));
        Ok(())
    })
}

/// Uses this proxy (`http://[user:password@]host:port`), whatever `HTTPS_PROXY` and the like say;
/// NULL or `""` means no proxy at all. Loopback base URLs never use a proxy. A bad URL is
/// `DEEPIDV_INVALID_ARGUMENT` (the message never shows the password). Without this call, the
/// proxy comes from `DEEPIDV_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`.
/// `deepidv_client_get_proxy` says which proxy a client made with these options uses.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else; `url` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_proxy(
    opts: *mut deepidv_client_options,
    url: *const std::ffi::c_char,
) -> deepidv_result {
    call(ptr::null_mut(), || {
        // SAFETY: per the contract.
        let o = unsafe { mut_arg(opts, "opts") }?;
        // SAFETY: per the contract.
        let url = unsafe { opt_str_arg(url, "url") }?.unwrap_or_default();
        o.proxy = Some(ProxySetting::explicit(url)?);
        Ok(())
    })
}

/// Names your application after the SDK in the `User-Agent` of every request:
/// `deepidv-rust/<version> (ffi) <suffix>`, e.g. `myapp/1.2`. The suffix is 1 to 128 visible ASCII
/// characters or spaces (leading and trailing spaces are dropped); anything else (a control
/// character, non-ASCII, empty, too long) is `DEEPIDV_INVALID_ARGUMENT` with a one-line message,
/// and the options keep their previous suffix. NULL removes the suffix. `suffix` is UTF-8.
///
/// # Safety
/// `opts` is NULL or live options used by nobody else; `suffix` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_options_set_user_agent_suffix(
    opts: *mut deepidv_client_options,
    suffix: *const std::ffi::c_char,
) -> deepidv_result {
    call(ptr::null_mut(), || {
        // SAFETY: per the contract.
        let o = unsafe { mut_arg(opts, "opts") }?;
        // SAFETY: per the contract.
        let suffix = unsafe { opt_str_arg(suffix, "suffix") }?;
        o.user_agent_suffix = suffix
            .map(|s| Config::check_user_agent_suffix(s).map(str::to_owned))
            .transpose()?;
        Ok(())
    })
}
