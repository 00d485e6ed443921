//! The create call: one `POST` of an adverse-media screening.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::Response;

use crate::adverse_media::{AdverseMediaRequest, CreatedJob, IdempotencyKey};
use crate::config::Config;
use crate::engine::Engine;
use crate::error::ErrorKind;
use crate::machine::{Action, Event, Machine, TransportError};

/// Creates an adverse-media screening: one `POST`, retried on transient failures
/// with the same `Idempotency-Key`, so a retry never starts (or bills) a second job.
#[derive(Debug)]
pub struct CreateScreening {
    engine: Engine<CreatedJob>,
    body: AdverseMediaRequest,
    key: IdempotencyKey,
}

impl CreateScreening {
    /// A create call. Make `key` with [`IdempotencyKey::from_random`] when the
    /// caller gave none.
    pub fn new(
        config: Arc<Config>,
        body: AdverseMediaRequest,
        key: IdempotencyKey,
        now: Duration,
        wall: SystemTime,
        seed: u64,
    ) -> Self {
        let max = config.retry.call_max_retries.saturating_add(1);
        Self {
            engine: Engine::new(config, now, wall, seed, max),
            body,
            key,
        }
    }

    /// The idempotency key every attempt carries.
    pub fn idempotency_key(&self) -> &IdempotencyKey {
        &self.key
    }
}

impl Machine for CreateScreening {
    type Output = CreatedJob;

    fn poll(&mut self, now: Duration) -> Action<CreatedJob> {
        let (body, key) = (&self.body, &self.key);
        self.engine
            .poll(now, |c| c.create_adverse_media_request(body, key))
    }

    fn handle_response<B: AsRef<[u8]>>(&mut self, now: Duration, response: &Response<B>) {
        let Some(parsed) = self.engine.answer(now, response, Config::created_body) else {
            return;
        };
        match parsed {
            Ok(created) => self.engine.outcome = Some(Ok(created)),
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                self.engine.transient(now, e, Clone::clone)
            }
            Err(e) => self.engine.outcome = Some(Err(e)),
        }
    }

    fn handle_transport_error(&mut self, now: Duration, error: TransportError) {
        if let Some(e) = self.engine.transport_failure(error) {
            self.engine.transient(now, e, Clone::clone);
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.engine.events.pop_front()
    }
}
