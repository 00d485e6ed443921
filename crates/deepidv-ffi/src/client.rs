//! `deepidv_client` (`deepidv_client_*`): the blocking client over `deepidv-ureq`.

use std::ffi::{CString, c_char};
use std::ptr;

use deepidv_core::{AdverseMediaRequest, IdempotencyKey, JobId};
use deepidv_ureq::Client;

use crate::boundary::{
    call, clear_out, cstring, free_box, guard, opt_str_arg, out_arg, read, ref_arg, str_arg,
    write_out,
};
use crate::cancel::{cancel_arg, deepidv_cancel};
use crate::error::{deepidv_error, deepidv_result};
use crate::job::deepidv_job;
use crate::options::{build_config, deepidv_client_options, ms};

/// A blocking client. Create it with `deepidv_client_new` (or `_new_with_options`), share it between
/// threads freely, free it with `deepidv_client_free` once no call is using it.
#[derive(Debug)]
pub struct deepidv_client {
    client: Client,
    /// The proxy the client decided on, full URL, for `deepidv_client_get_proxy`.
    proxy: Option<CString>,
}

impl deepidv_client {
    fn new(client: Client) -> Self {
        let proxy = client.proxy().map(|p| cstring(p.expose()));
        Self { client, proxy }
    }
}

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
        let mut client = Client::new(build_config(key, url, opts)?)?;
        if let Some(log) = opts.and_then(|o| o.log) {
            client = client.with_event_hook(std::sync::Arc::new(move |e| log.emit(e)));
        }
        // SAFETY: checked by `out_arg`.
        unsafe { write_out(out, deepidv_client::new(client)) };
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

/// The proxy the client's requests go through, as the library decided when the client was made: the
/// options' proxy (`deepidv_client_options_set_proxy`), else `DEEPIDV_PROXY`, `HTTPS_PROXY` or
/// `HTTP_PROXY` (by the base URL's scheme), `ALL_PROXY`, unless `NO_PROXY` exempts the host; never one
/// for a loopback base URL. The full URL, credentials included (you gave them; do not print it), or
/// NULL for direct connections and for a NULL client. For programs that send the sans-IO poller's
/// requests themselves and must take the same route as the client. Lives as long as the client.
///
/// # Safety
/// `client` is NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn deepidv_client_get_proxy(client: *const deepidv_client) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read(client, ptr::null(), |c| {
            c.proxy.as_ref().map_or(ptr::null(), |p| p.as_ptr())
        })
    }
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
        let cancel = unsafe { cancel_arg(cancel) };
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
        let cancel = unsafe { cancel_arg(cancel) };
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
    // SAFETY: forwarded, with no cancellation handle.
    unsafe {
        deepidv_client_create_adverse_media_ex(
            client,
            first_name,
            last_name,
            email,
            date_of_birth,
            country,
            idempotency_key,
            ptr::null(),
            job_id_out,
            err_out,
        )
    }
}

/// `deepidv_client_create_adverse_media`, cancellable: `deepidv_cancel_cancel` from another thread
/// ends it at once (the request in flight included) with `DEEPIDV_TIMEOUT`. The server may have
/// started the job by then: create again with the same `idempotency_key` to get its id without
/// starting a second one (so pass your own key when you may cancel).
///
/// # Safety
/// As `deepidv_client_create_adverse_media`; `cancel` is NULL or a live handle.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // flat arguments are the point of a C (and cgo) signature
pub unsafe extern "C" fn deepidv_client_create_adverse_media_ex(
    client: *const deepidv_client,
    first_name: *const c_char,
    last_name: *const c_char,
    email: *const c_char,
    date_of_birth: *const c_char,
    country: *const c_char,
    idempotency_key: *const c_char,
    cancel: *const deepidv_cancel,
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
        // SAFETY: per the contract.
        let cancel = unsafe { cancel_arg(cancel) };
        let created = c.drive(&mut c.create_call(&request, key)?, &mut |_| {}, cancel)?;
        let id = created.id()?;
        // SAFETY: checked by `out_arg`.
        unsafe { *out = cstring(id.as_str()).into_raw() };
        Ok(())
    })
}
