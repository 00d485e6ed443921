//! The event hook both clients take (`with_event_hook`): one user function shown
//! every [`Event`] of every call, written once here so the clients share it.

use std::fmt;
use std::sync::Arc;

use crate::Event;

/// A function shown every [`Event`] of every call a client makes; see the
/// clients' `Client::with_event_hook`.
pub type EventHookFn = dyn Fn(&Event) + Send + Sync;

/// An [`EventHookFn`] as a client holds it: cheap to clone, `Send + Sync`, with
/// a `Debug` that does not try to print a closure.
#[derive(Clone)]
pub struct EventHook(Arc<EventHookFn>);

impl EventHook {
    /// Wraps `hook`.
    pub fn new(hook: Arc<EventHookFn>) -> Self {
        Self(hook)
    }

    /// Shows `event` to the hook.
    pub fn call(&self, event: &Event) {
        (self.0)(event);
    }
}

impl From<Arc<EventHookFn>> for EventHook {
    fn from(hook: Arc<EventHookFn>) -> Self {
        Self(hook)
    }
}

impl fmt::Debug for EventHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventHook")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn calls_the_function_and_debug_names_no_closure() {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = seen.clone();
        let hook = EventHook::new(Arc::new(move |e: &Event| {
            sink.lock().unwrap().push(e.to_string());
        }));
        let event = Event::Retrying {
            failures: 1,
            delay: std::time::Duration::from_millis(5),
            error: crate::Error::new(crate::ErrorKind::Unavailable, "HTTP 503"),
        };
        hook.clone().call(&event);
        assert_eq!(*seen.lock().unwrap(), [event.to_string()]);
        assert_eq!(format!("{hook:?}"), "EventHook");
    }
}
