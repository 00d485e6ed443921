//! [`WatchFeed`]: how a watch turns a wait into items, and how it ends.

use crate::error::{Error, ErrorKind};
use crate::job::Job;
use crate::machine::{Event, Machine};
use crate::poller::Poller;

/// What a watch does next; see [`WatchFeed::next`].
#[derive(Debug)]
pub enum WatchNext {
    /// Yield this item.
    Yield(Result<Job, Error>),
    /// Nothing to yield yet: take one step of the poller (send, or wait), then
    /// ask again; when the step ends the poller, pass its outcome to
    /// [`WatchFeed::finish`].
    Step,
    /// The watch is over: end the iterator or stream.
    Ended,
}

/// The items of a watch, decided once for every adapter: `Ok(job)` for the first
/// snapshot and each status change, the terminal one included (a `failed` job is
/// `Ok` here too), then the end. A failure (timeout, expiry, unavailable,
/// cancelled…) is yielded as one `Err`, then the end.
#[derive(Debug, Default)]
pub struct WatchFeed {
    finished: bool,
    error: Option<Error>,
    outcome: Option<Result<Job, Error>>,
}

impl WatchFeed {
    /// A watch that has not started.
    pub fn new() -> Self {
        Self::default()
    }

    /// What to do next, given the poller's pending events.
    pub fn next(&mut self, poller: &mut Poller) -> WatchNext {
        self.next_observed(poller, |_| {})
    }

    /// [`WatchFeed::next`], showing each pending event to `observe` first (every
    /// event, not only the status changes that become items), so an adapter can
    /// log a watch the way it logs a wait.
    pub fn next_observed(
        &mut self,
        poller: &mut Poller,
        mut observe: impl FnMut(&Event),
    ) -> WatchNext {
        while let Some(event) = poller.poll_event() {
            observe(&event);
            if let Event::Status(job) = event {
                return WatchNext::Yield(Ok(job));
            }
        }
        if let Some(e) = self.error.take() {
            return WatchNext::Yield(Err(e));
        }
        if self.finished {
            WatchNext::Ended
        } else {
            WatchNext::Step
        }
    }

    /// The poller's outcome (or a cancel): the watch ends once its pending items
    /// are yielded.
    pub fn finish(&mut self, done: Result<Job, Error>) {
        self.finished = true;
        // A failed job was already yielded as its terminal status.
        self.error = done
            .as_ref()
            .err()
            .filter(|e| e.kind() != ErrorKind::JobFailed)
            .cloned();
        self.outcome = Some(done);
    }

    /// How the watch ended, once it has: `Ok(job)` when the job is `ready`, an
    /// error of kind [`ErrorKind::JobFailed`] (carrying the job) when it `failed`,
    /// or the error yielded. `None` while it runs.
    pub fn outcome(&self) -> Option<&Result<Job, Error>> {
        self.outcome.as_ref()
    }

    /// [`WatchFeed::outcome`], moved out.
    pub fn take_outcome(&mut self) -> Option<Result<Job, Error>> {
        self.outcome.take()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::config::{ApiKey, Config};
    use crate::job::JobId;
    use crate::machine::Action;
    use crate::start::Start;

    fn poller() -> Poller {
        let config = Arc::new(Config::new(ApiKey::new("sk_test_x").unwrap()));
        let start = Start {
            now: Duration::ZERO,
            wall: SystemTime::UNIX_EPOCH,
            seed: 1,
        };
        start.get(config, JobId::new("job_1").unwrap())
    }

    fn answer(p: &mut Poller, status: &str) -> Result<Job, Error> {
        assert!(matches!(p.poll(Duration::ZERO), Action::Send { .. }));
        let body = format!(r#"{{"jobId":"job_1","status":"{status}","createdAt":1717593600000}}"#);
        p.handle_response(Duration::ZERO, &http::Response::new(body.into_bytes()));
        match p.poll(Duration::ZERO) {
            Action::Done(done) => done,
            other => panic!("expected the outcome, got {other:?}"),
        }
    }

    #[test]
    fn a_status_is_yielded_then_the_watch_ends_with_the_outcome() {
        let mut p = poller();
        let mut feed = WatchFeed::new();
        assert!(matches!(feed.next(&mut p), WatchNext::Step));
        let done = answer(&mut p, "processing");
        assert!(feed.outcome().is_none());
        feed.finish(done);
        assert!(matches!(feed.next(&mut p), WatchNext::Yield(Ok(ref j)) if j.job_id == "job_1"));
        assert!(matches!(feed.next(&mut p), WatchNext::Ended));
        assert!(matches!(feed.outcome(), Some(Ok(_))));
    }

    #[test]
    fn a_failure_is_yielded_once_but_a_failed_job_is_not_yielded_twice() {
        let mut p = poller();
        let mut feed = WatchFeed::new();
        feed.finish(Err(Error::cancelled()));
        assert!(
            matches!(feed.next(&mut p), WatchNext::Yield(Err(ref e)) if e.kind() == ErrorKind::Timeout)
        );
        assert!(matches!(feed.next(&mut p), WatchNext::Ended));

        let mut p = poller();
        let mut feed = WatchFeed::new();
        let job = answer(&mut p, "failed").unwrap();
        feed.finish(Err(Error::job_failed(job)));
        assert!(matches!(feed.next(&mut p), WatchNext::Yield(Ok(_))));
        assert!(matches!(feed.next(&mut p), WatchNext::Ended));
        let kind = feed.take_outcome().unwrap().unwrap_err().kind();
        assert_eq!(kind, ErrorKind::JobFailed);
    }
}
