//! Embedding the sans-IO core in your own event loop: no HTTP crate at all.
//!
//! The core's machines (`CreateScreening`, `Poller`) say what to do next — send
//! this request, wait until then, or done — and this file does it with a
//! hand-written HTTP/1.1 exchange over `std::net::TcpStream` and
//! `std::thread::sleep`. It is what a C program with its own sockets, a game
//! loop, or an embedded runtime would write, in about a hundred lines.
//!
//! ```sh
//! cargo run -p deepidv-core --example custom_runtime
//! ```
//!
//! It talks to a local simulator on `http://127.0.0.1` (TLS is out of scope for a
//! hand-rolled client; bring your own for `https`).

// This program is the runtime around the core: the core's clippy.toml bans I/O, clocks and
// sleeping inside the core, and doing them is this example's whole point.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "the example is the I/O and the clock the sans-IO core asks for"
)]

use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use deepidv_core::http::{self, HeaderName, HeaderValue};
use deepidv_core::{
    Action, AdverseMediaRequest, ApiKey, BaseUrl, Config, CreateScreening, Error, Event,
    IdempotencyKey, Machine, Poller, TransportError, TransportErrorKind,
};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(i32::from(e.code()));
    }
}

fn run() -> Result<(), Error> {
    let mock = deepidv_mock::MockServer::start_background(Default::default())
        .map_err(|e| Error::new(deepidv_core::ErrorKind::Internal, e.to_string()))?;
    println!("simulator at {}", mock.url());

    let mut config = Config::new(ApiKey::new(deepidv_mock::DEFAULT_API_KEY)?)
        .with_base_url(BaseUrl::parse(&mock.url())?)
        .with_frontend("custom-runtime");
    config.poll.interval = Duration::from_millis(300);
    config.poll.max_interval = Duration::from_secs(1);
    let config = Arc::new(config);

    // Our clock: any monotonic origin will do, as long as one machine sees one clock.
    let origin = Instant::now();
    let now = || origin.elapsed();
    // Our randomness (jitter, the idempotency key): the standard library's per-process keys.
    let random = || RandomState::new().hash_one(Instant::now());
    let seed = random();

    let person = AdverseMediaRequest::new(
        "Grace",
        "Hopper",
        "grace@example.com",
        "1906-12-09",
        Some("us"),
    )?;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&random().to_le_bytes());
    bytes[8..].copy_from_slice(&random().to_le_bytes());
    let key = IdempotencyKey::from_random(bytes);
    let mut create =
        CreateScreening::new(config.clone(), person, key, now(), SystemTime::now(), seed);
    let created = run_machine(&mut create, now)?;
    println!("created {} ({})", created.job_id, created.status);

    let mut poller = Poller::wait(config, created.id()?, now(), SystemTime::now(), seed ^ 1);
    let job = run_machine(&mut poller, now)?;
    let result = job.result().and_then(|r| r.adverse_media());
    println!(
        "done after {} requests: risk {}",
        poller.attempts(),
        result
            .and_then(|r| r.risk_level)
            .map_or_else(|| "?".to_owned(), |l| l.to_string())
    );
    Ok(())
}

/// The whole driver: ask, do, tell. No retries, no status checks here — the
/// machine owns those decisions.
fn run_machine<M: Machine>(
    machine: &mut M,
    now: impl Fn() -> Duration,
) -> Result<M::Output, Error> {
    loop {
        let action = machine.poll(now());
        while let Some(event) = machine.poll_event() {
            match event {
                Event::Status(job) => println!("{:>8.2?}  status {}", now(), job.status()),
                Event::Retrying { delay, error, .. } => {
                    println!("{:>8.2?}  retry in {delay:?}: {error}", now())
                }
                _ => {}
            }
        }
        match action {
            Action::Send {
                request,
                timeout,
                max_body_bytes,
            } => match exchange(&request, timeout, max_body_bytes) {
                Ok(response) => machine.handle_response(now(), &response),
                Err(e) => machine.handle_transport_error(now(), e),
            },
            Action::WaitUntil(at) => std::thread::sleep(at.saturating_sub(now())),
            Action::Done(outcome) => return outcome,
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`connection: close`), reading at
/// most `max_body + 1` body bytes.
fn exchange(
    request: &http::Request<Vec<u8>>,
    timeout: Duration,
    max_body: usize,
) -> Result<http::Response<Vec<u8>>, TransportError> {
    let io_err = |e: io::Error| {
        let kind = match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportErrorKind::Timeout,
            io::ErrorKind::ConnectionRefused => TransportErrorKind::Connect,
            _ => TransportErrorKind::Io,
        };
        TransportError::new(kind, e)
    };
    let uri = request.uri();
    if uri.scheme_str() != Some("http") {
        return Err(TransportError::new(
            TransportErrorKind::Other,
            "this example speaks plain http only",
        ));
    }
    let host = uri.host().unwrap_or("127.0.0.1");
    let port = uri.port_u16().unwrap_or(80);
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(io_err)?
        .next()
        .ok_or_else(|| TransportError::new(TransportErrorKind::Connect, "no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io_err)?;
    stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_err)?;

    // request line and headers, exactly as the core built them
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nhost: {host}:{port}\r\nconnection: close\r\n",
        request.method()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or("")));
    }
    if !request.body().is_empty() {
        head.push_str(&format!("content-length: {}\r\n", request.body().len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(io_err)?;
    stream.write_all(request.body()).map_err(io_err)?;

    // status line and headers
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(io_err)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| TransportError::new(TransportErrorKind::Io, "no HTTP status line"))?;
    let mut response = http::Response::builder().status(status);
    let mut content_length = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io_err)? == 0 {
            return Err(TransportError::new(
                TransportErrorKind::Io,
                "connection closed in the headers",
            ));
        }
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(TransportError::new(
                TransportErrorKind::Other,
                "chunked bodies are out of scope for this example",
            ));
        }
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse::<usize>().ok();
        }
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response = response.header(n, v);
        }
    }

    // the body, capped while reading: never more than max_body + 1 bytes
    let limit = content_length
        .unwrap_or(usize::MAX)
        .min(max_body.saturating_add(1));
    let mut body = Vec::new();
    reader
        .take(limit as u64)
        .read_to_end(&mut body)
        .map_err(io_err)?;
    if content_length.is_some_and(|n| body.len() < n.min(limit)) {
        return Err(TransportError::new(
            TransportErrorKind::Io,
            "connection closed in the body",
        ));
    }
    response
        .body(body)
        .map_err(|e| TransportError::new(TransportErrorKind::Other, e))
}
