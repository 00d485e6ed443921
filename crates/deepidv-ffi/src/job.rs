//! `deepidv_job` (`deepidv_job_*`): a snapshot of a job, and its `deepidv_job_status`.

use std::ffi::{CString, c_char};
use std::ptr;

use deepidv_core::{Job, JobStatus};

use crate::boundary::{cstring, free_box, guard, read};

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
