//! A virtual clock and a scripted server: drives machines without a network or sleeps.
#![allow(dead_code)] // each test file uses a different part of this module

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deepidv_core::http::{Request, Response};
use deepidv_core::{
    Action, ApiKey, BaseUrl, Config, Error, Event, Machine, TransportError, TransportErrorKind,
};

pub const KEY: &str = "sk_test_virtualclock";

pub fn config() -> Config {
    Config::new(ApiKey::new(KEY).unwrap())
        .with_base_url(BaseUrl::parse("http://127.0.0.1:1").unwrap())
        .with_frontend("test")
}

pub fn arc(c: Config) -> Arc<Config> {
    Arc::new(c)
}

/// A fixed wall clock, so `Retry-After` dates are reproducible.
pub fn wall() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// What the scripted server answers.
#[derive(Debug, Clone)]
pub enum Answer {
    Http(u16, Vec<(&'static str, String)>, String),
    Transport(TransportErrorKind),
}

pub fn job_body(id: &str, status: &str) -> String {
    match status {
        "ready" => format!(
            r#"{{"jobId":"{id}","status":"ready","createdAt":1717593600000,"updatedAt":"2026-06-05T12:00:00.000Z","result":{{"totalHits":0,"riskLevel":"LOW","riskScore":3,"summary":"none","findings":[],"exposuresByCategory":{{}}}}}}"#
        ),
        "failed" => format!(
            r#"{{"jobId":"{id}","status":"failed","createdAt":1717593600000,"updatedAt":"2026-06-05T12:00:00.000Z","error":"provider unavailable"}}"#
        ),
        s => format!(
            r#"{{"jobId":"{id}","status":"{s}","createdAt":1717593600000,"updatedAt":"2026-06-05T12:00:00.000Z"}}"#
        ),
    }
}

pub fn status(id: &str, s: &str) -> Answer {
    Answer::Http(200, vec![("x-request-id", "req_1".into())], job_body(id, s))
}

pub fn http(code: u16, body: &str) -> Answer {
    Answer::Http(
        code,
        vec![("x-request-id", format!("req_{code}"))],
        body.to_owned(),
    )
}

/// One thing that happened, at a virtual instant.
#[derive(Debug)]
pub enum Step {
    Sent {
        at: Duration,
        request: Request<Vec<u8>>,
        timeout: Duration,
    },
    Waited {
        at: Duration,
        until: Duration,
    },
    Event(Duration, Event),
}

#[derive(Debug)]
pub struct Run<T> {
    pub outcome: Result<T, Error>,
    pub steps: Vec<Step>,
    pub end: Duration,
}

impl<T> Run<T> {
    pub fn sends(&self) -> Vec<Duration> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Sent { at, .. } => Some(*at),
                _ => None,
            })
            .collect()
    }

    pub fn requests(&self) -> Vec<&Request<Vec<u8>>> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Sent { request, .. } => Some(request),
                _ => None,
            })
            .collect()
    }

    pub fn events(&self) -> Vec<&Event> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Event(_, e) => Some(e),
                _ => None,
            })
            .collect()
    }

    pub fn status_events(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Status(j) => Some(j.status_str().to_owned()),
                _ => None,
            })
            .collect()
    }
}

/// Drives `machine` against `server` on a virtual clock. Each answer takes
/// `latency` of virtual time, however long the request's timeout. More than
/// `max_steps` steps is a livelock: panic.
pub fn drive<M: Machine>(
    machine: &mut M,
    start: Duration,
    latency: Duration,
    max_steps: usize,
    mut server: impl FnMut(Duration, &Request<Vec<u8>>) -> Answer,
) -> Run<M::Output> {
    let server = |now, request: &Request<Vec<u8>>| (latency, server(now, request));
    drive_with(machine, start, Duration::ZERO, false, max_steps, server)
}

/// Like [`drive`], but closer to a real adapter: each answer takes the latency
/// `server` gives it, a request still unanswered at its timeout is cut off there
/// (fed back as a transport `Timeout`), and every `WaitUntil` is overslept by
/// `oversleep` (a late driver).
pub fn drive_timed<M: Machine>(
    machine: &mut M,
    start: Duration,
    oversleep: Duration,
    max_steps: usize,
    server: impl FnMut(Duration, &Request<Vec<u8>>) -> (Duration, Answer),
) -> Run<M::Output> {
    drive_with(machine, start, oversleep, true, max_steps, server)
}

/// The one driver loop of [`drive`] and [`drive_timed`]: `cut_off` decides
/// whether an answer slower than its request's timeout is cut off there.
fn drive_with<M: Machine>(
    machine: &mut M,
    start: Duration,
    oversleep: Duration,
    cut_off: bool,
    max_steps: usize,
    mut server: impl FnMut(Duration, &Request<Vec<u8>>) -> (Duration, Answer),
) -> Run<M::Output> {
    let mut now = start;
    let mut steps = Vec::new();
    for _ in 0..max_steps {
        match machine.poll(now) {
            Action::Send {
                request, timeout, ..
            } => {
                let (latency, answer) = server(now, &request);
                steps.push(Step::Sent {
                    at: now,
                    request,
                    timeout,
                });
                if cut_off && latency > timeout {
                    now += timeout;
                    machine.handle_transport_error(
                        now,
                        TransportError::new(TransportErrorKind::Timeout, "cut off at its timeout"),
                    );
                } else {
                    now += latency;
                    match answer {
                        Answer::Http(code, headers, body) => {
                            let mut b = Response::builder().status(code);
                            for (k, v) in headers {
                                b = b.header(k, v);
                            }
                            machine.handle_response(now, &b.body(body.into_bytes()).unwrap());
                        }
                        Answer::Transport(kind) => machine.handle_transport_error(
                            now,
                            TransportError::new(kind, "scripted failure"),
                        ),
                    }
                }
            }
            Action::WaitUntil(t) => {
                assert!(t > now, "WaitUntil({t:?}) at {now:?} would spin");
                steps.push(Step::Waited { at: now, until: t });
                now = t + oversleep;
            }
            Action::Done(outcome) => {
                while let Some(e) = machine.poll_event() {
                    steps.push(Step::Event(now, e));
                }
                return Run {
                    outcome,
                    steps,
                    end: now,
                };
            }
        }
        while let Some(e) = machine.poll_event() {
            steps.push(Step::Event(now, e));
        }
    }
    panic!("machine did not finish within {max_steps} steps: livelock");
}
