//! Cancelling a blocking call from another thread, the request in flight included.
//!
//! A sleeping wait is woken through a condition variable. A request in flight is
//! blocked in a socket read or write on the calling thread, where nothing but the
//! socket can wake it: so every socket this client opens is made by
//! [`InterruptibleTcp`], which keeps a handle that can shut it down from another
//! thread, and every transport built on one arms the calling thread's
//! [`CancelHandle`] (if the call has one) with that handle before each read or
//! write. [`CancelHandle::cancel`] then shuts the socket down: the blocked read
//! returns at once, ureq drops the connection, and the driver reports the cancel.
//!
//! Not interruptible: name resolution and a TCP connect in progress (bounded by
//! `connect_timeout`). A TLS handshake or proxy `CONNECT` in progress is.
//!
//! The handle is disarmed when the request's body has been read, but ureq hands
//! the connection back to its pool a moment before that: a cancel landing in
//! that moment shuts down a pooled connection, and the next call to use it sees
//! a connection failure, which its core retries like any other.

use std::cell::RefCell;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, ShutdownHandle, TcpConnector,
    Transport,
};

/// Cancels a blocking call from another thread: a sleeping wait is woken at once,
/// and a request in flight is interrupted by shutting its connection down (a
/// TCP connect in progress finishes first, bounded by `connect_timeout`). The
/// call then ends with an error of kind
/// [`ErrorKind::Timeout`](deepidv_core::ErrorKind::Timeout) whose message starts
/// with "cancelled"; nothing is retried.
#[derive(Clone, Debug, Default)]
pub struct CancelHandle {
    state: Arc<(Mutex<State>, Condvar)>,
}

#[derive(Debug, Default)]
struct State {
    cancelled: bool,
    /// The socket of the request in flight, while one is.
    armed: Option<Socket>,
}

/// A weak handle that shuts one socket down.
#[derive(Clone)]
struct Socket(Weak<dyn ShutdownHandle>);

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Socket")
    }
}

impl CancelHandle {
    /// A fresh handle, not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cancels every call using this handle, interrupting the request in flight.
    pub fn cancel(&self) {
        let armed = {
            let mut state = self.lock();
            state.cancelled = true;
            state.armed.take()
        };
        self.state.1.notify_all();
        if let Some(handle) = armed.and_then(|s| s.0.upgrade()) {
            handle.shutdown();
        }
    }

    /// Whether [`CancelHandle::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.lock().cancelled
    }

    /// Sleeps up to `d`; `true` if cancelled meanwhile.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let guard = self.lock();
        let (guard, _) = self
            .state
            .1
            .wait_timeout_while(guard, d, |s| !s.cancelled)
            .unwrap_or_else(|p| p.into_inner());
        guard.cancelled
    }

    /// Points a cancel at `socket`, which the calling thread is about to use;
    /// an error if the call was cancelled already.
    fn arm(&self, socket: &Socket) -> Result<(), ureq::Error> {
        let mut state = self.lock();
        if state.cancelled {
            return Err(cancelled());
        }
        if !state
            .armed
            .as_ref()
            .is_some_and(|s| Weak::ptr_eq(&s.0, &socket.0))
        {
            state.armed = Some(socket.clone());
        }
        Ok(())
    }

    /// Runs `f` (one request, its body read to the end) with this handle armed
    /// by whatever socket it uses on this thread; disarmed afterwards, so that a
    /// later cancel cannot reach a connection that went back to the pool.
    pub(crate) fn around<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Reset<'a>(&'a CancelHandle, Option<CancelHandle>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                ACTIVE.with(|a| *a.borrow_mut() = self.1.take());
                self.0.lock().armed = None;
            }
        }
        let previous = ACTIVE.with(|a| a.borrow_mut().replace(self.clone()));
        let _reset = Reset(self, previous);
        f()
    }
}

thread_local! {
    /// The cancel handle of the call running on this thread, if it has one.
    static ACTIVE: RefCell<Option<CancelHandle>> = const { RefCell::new(None) };
}

fn cancelled() -> ureq::Error {
    ureq::Error::Io(std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        "cancelled",
    ))
}

/// ureq's TCP connector, keeping a handle to each socket it opens so that a
/// [`CancelHandle`] can shut it down. Everything else (addresses, timeouts,
/// the agent's own shutdown) is ureq's.
#[derive(Debug, Default)]
pub(crate) struct InterruptibleTcp(TcpConnector);

/// The signature of [`ConnectionDetails::register_shutdown`].
type Register = dyn Fn(Weak<dyn ShutdownHandle>) -> Result<(), ureq::Error> + Send + Sync;

impl<In: Transport> Connector<In> for InterruptibleTcp {
    type Out = Either<In, Interruptible>;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let socket: Arc<Mutex<Option<Socket>>> = Arc::default();
        let agent_register = details.register_shutdown.clone();
        let slot = socket.clone();
        let register: Arc<Register> = Arc::new(move |handle| {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Socket(handle.clone()));
            agent_register(handle)
        });
        let ours = ConnectionDetails {
            uri: details.uri,
            addrs: details.addrs.clone(),
            config: details.config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: register,
        };
        // With nothing chained, TcpConnector opens a socket or fails.
        let Some(transport) = self.0.connect(&ours, None::<In>)? else {
            return Ok(None);
        };
        let socket = socket.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(Some(Either::B(Interruptible {
            transport: Box::new(transport),
            socket,
        })))
    }
}

/// A TCP transport that arms the calling thread's [`CancelHandle`] before each
/// read or write.
#[derive(Debug)]
pub(crate) struct Interruptible {
    transport: Box<dyn Transport>,
    socket: Option<Socket>,
}

impl Interruptible {
    fn arm(&self) -> Result<(), ureq::Error> {
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        ACTIVE.with(|a| match &*a.borrow() {
            Some(cancel) => cancel.arm(socket),
            None => Ok(()),
        })
    }
}

impl Transport for Interruptible {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.transport.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.arm()?;
        self.transport.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.arm()?;
        self.transport.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.transport.is_open()
    }
}
