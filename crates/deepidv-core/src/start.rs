//! [`Start`]: the one input every machine is built from.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::adverse_media::{AdverseMediaRequest, IdempotencyKey};
use crate::config::Config;
use crate::create::CreateScreening;
use crate::job::JobId;
use crate::poller::{Poller, PollerState};

/// When and with what seed a machine starts: the caller's readings of its clocks
/// and a random number. Every machine is built from one, so an adapter has a single
/// place where it reads its clocks and draws randomness.
///
/// ```
/// use std::{sync::Arc, time::{Duration, SystemTime}};
/// use deepidv_core::{ApiKey, Config, JobId, Start};
///
/// let config = Arc::new(Config::new(ApiKey::new("sk_test_123")?));
/// let start = Start { now: Duration::ZERO, wall: SystemTime::UNIX_EPOCH, seed: 42 };
/// let poller = start.wait(config, JobId::new("job_1")?);
/// assert_eq!(poller.deadline(), Some(Duration::from_secs(600)));
/// # Ok::<(), deepidv_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The caller's monotonic clock, as time since any origin it chose.
    pub now: Duration,
    /// The wall clock (for `Retry-After` dates and a saved wait's deadline).
    pub wall: SystemTime,
    /// Any random number: the seed of the jitter.
    pub seed: u64,
}

impl Start {
    /// A single `GET` of the job; see [`Poller::get`].
    pub fn get(self, config: Arc<Config>, job_id: JobId) -> Poller {
        Poller::get(config, job_id, self.now, self.wall, self.seed)
    }

    /// A wait until the job is terminal; see [`Poller::wait`].
    pub fn wait(self, config: Arc<Config>, job_id: JobId) -> Poller {
        Poller::wait(config, job_id, self.now, self.wall, self.seed)
    }

    /// A saved wait, resumed; see [`Poller::resume`]. The jitter continues from
    /// the saved state, so the seed is not used.
    pub fn resume(self, config: Arc<Config>, state: PollerState) -> Poller {
        Poller::resume(config, state, self.now, self.wall)
    }

    /// A create call; see [`CreateScreening::new`].
    pub fn create(
        self,
        config: Arc<Config>,
        body: AdverseMediaRequest,
        key: IdempotencyKey,
    ) -> CreateScreening {
        CreateScreening::new(config, body, key, self.now, self.wall, self.seed)
    }
}
