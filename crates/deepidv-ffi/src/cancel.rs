//! `deepidv_cancel` (`deepidv_cancel_*`): a cancellation handle for the `*_ex` calls.

use std::ptr;

use deepidv_ureq::CancelHandle;

use crate::boundary::{free_box, guard};

/// A cancellation handle for the `*_ex` calls: `deepidv_cancel_cancel` from any thread ends the calls
/// using it at once with `DEEPIDV_TIMEOUT`: a wait between polls, and a request in flight too (its
/// connection is shut down; only a TCP connect in progress finishes first, within the connect timeout).
#[derive(Debug, Default)]
pub struct deepidv_cancel {
    handle: CancelHandle,
}

/// The handle behind an optional `deepidv_cancel` argument (NULL: none).
///
/// # Safety
/// `cancel` is NULL or a live handle that outlives `'a`.
pub(crate) unsafe fn cancel_arg<'a>(cancel: *const deepidv_cancel) -> Option<&'a CancelHandle> {
    // SAFETY: per the contract.
    unsafe { cancel.as_ref() }.map(|c| &c.handle)
}

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
