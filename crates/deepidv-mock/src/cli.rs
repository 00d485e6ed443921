//! The command-line surface, shared by the `deepidv-mock` binary and `deepidv mock`.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use deepidv_core::parse_duration;

use crate::fault::FaultArg;
use crate::{DEFAULT_ORG, MockConfig, MockServer, Scope};

/// The simulator's flags. Flatten it into another clap command (`#[command(flatten)]`) to offer the same
/// flags; argument ids are prefixed with `mock_` so they do not clash with the host command's.
#[derive(clap::Args, Clone, Debug)]
pub struct MockArgs {
    /// Address to listen on (port 0 picks a free port; the first stdout line says which).
    #[arg(
        long = "addr",
        id = "mock_addr",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:4010"
    )]
    pub addr: SocketAddr,

    /// Accepted API key, optionally with its organization (default `org_sandbox`); repeatable.
    /// With none, the sandbox key `sk_test_deepidv_sandbox` is accepted.
    #[arg(long = "api-key", id = "mock_api_key", value_name = "KEY[:ORG]", value_parser = parse_key)]
    pub api_keys: Vec<(String, String)>,

    /// How long a new job stays `pending`, e.g. `400ms`, `2s`.
    #[arg(long = "pending", id = "mock_pending", value_name = "DUR", default_value = "400ms", value_parser = parse_duration)]
    pub pending: Duration,

    /// How long a job then stays `processing` before it is `ready` or `failed`.
    #[arg(long = "processing", id = "mock_processing", value_name = "DUR", default_value = "1200ms", value_parser = parse_duration)]
    pub processing: Duration,

    /// How long a finished job is kept before it expires (404).
    #[arg(long = "ttl", id = "mock_ttl", value_name = "DUR", default_value = "10m", value_parser = parse_duration)]
    pub ttl: Duration,

    /// Extra latency added to every answer.
    #[arg(long = "latency", id = "mock_latency", value_name = "DUR", default_value = "0ms", value_parser = parse_duration)]
    pub latency: Duration,

    /// Job creations allowed per second and per API key, `N/s` or `N` (e.g. `50/s`); beyond a burst of about
    /// one second's worth, `POST /v1/screening/adverse-media` answers 429 with `Retry-After`. Polling is never
    /// limited. Default: unlimited.
    #[arg(long = "rate-limit", id = "mock_rate_limit", value_name = "N/s", value_parser = crate::rate::parse_rate)]
    pub rate_limit: Option<f64>,

    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs `--tls-key`.
    #[arg(
        long = "tls-cert",
        id = "mock_tls_cert",
        value_name = "FILE",
        requires = "mock_tls_key"
    )]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The private key (PEM) of `--tls-cert`.
    #[arg(
        long = "tls-key",
        id = "mock_tls_key",
        value_name = "FILE",
        requires = "mock_tls_cert"
    )]
    pub tls_key: Option<std::path::PathBuf>,

    /// Serve HTTPS with a certificate for `localhost` signed by a CA made at start-up, written with the
    /// certificate and its key to DIR (`ca.pem`, `cert.pem`, `key.pem`); the address printed is then
    /// `https://localhost:PORT`. A client trusts it with `--ca-cert DIR/ca.pem`. For trying out and
    /// testing trust settings.
    #[arg(
        long = "tls-self-signed",
        id = "mock_tls_self_signed",
        value_name = "DIR",
        conflicts_with = "mock_tls_cert"
    )]
    pub tls_self_signed: Option<std::path::PathBuf>,

    /// A fault for all requests, `NAME[:ARG][xTIMES]`: `503x2`, `500:error`, `429x1`, `429:date=2`,
    /// `delay:500ms`, `drop`, `truncate`, `malformed`, `wrong-shape`, `oversized:20000000`,
    /// `unknown-status:on_hold`, `legacy`, or a JSON fault; repeatable, applied in order.
    #[arg(long = "fault", id = "mock_fault", value_name = "SPEC", value_parser = parse_fault)]
    pub faults: Vec<FaultArg>,
}

impl MockArgs {
    /// The server configuration these flags describe (the address and faults are kept in `self`).
    pub fn into_config(self) -> MockConfig {
        MockConfig {
            api_keys: self.api_keys,
            pending: self.pending,
            processing: self.processing,
            ttl: self.ttl,
            latency: self.latency,
            rate_limit: self.rate_limit,
            tls: None,
        }
    }
}

fn parse_key(s: &str) -> Result<(String, String), String> {
    let (key, org) = match s.split_once(':') {
        Some((k, o)) => (k, o),
        None => (s, DEFAULT_ORG),
    };
    if key.is_empty() || org.is_empty() {
        return Err("expected KEY or KEY:ORG".to_owned());
    }
    Ok((key.to_owned(), org.to_owned()))
}

fn parse_fault(s: &str) -> Result<FaultArg, String> {
    s.parse()
}

/// Serves the simulator with these flags until SIGINT or SIGTERM: the whole of `deepidv-mock` and
/// `deepidv mock`. Builds its own tokio runtime and returns the process exit code: `0` after a signal, `2`
/// ([`deepidv_core::ErrorKind::InvalidArgument`]) when `--addr` cannot be bound (in use, not local, not
/// permitted), `9` ([`deepidv_core::ErrorKind::Internal`]) otherwise, with one `error: …` line on stderr.
///
/// The first line on stdout is exactly `listening on URL`, printed (and flushed) once the listener is bound:
/// `http://HOST:PORT`, `https://HOST:PORT` with `--tls-cert`, `https://localhost:PORT` with `--tls-self-signed`.
pub fn serve(args: MockArgs) -> u8 {
    use deepidv_core::ErrorKind;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the simulator's runtime: {e}");
            return ErrorKind::Internal.code();
        }
    };
    let addr = args.addr;
    match runtime.block_on(serve_until_signal(args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: cannot serve the simulator on {addr}: {e}");
            match e.kind() {
                io::ErrorKind::AddrInUse
                | io::ErrorKind::AddrNotAvailable
                | io::ErrorKind::PermissionDenied
                | io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument.code(),
                _ => ErrorKind::Internal.code(),
            }
        }
    }
}

/// Serves until SIGINT or SIGTERM, then returns `Ok(())`; on a runtime with the IO and time drivers.
async fn serve_until_signal(args: MockArgs) -> io::Result<()> {
    // Install the handlers before announcing the address, so a signal sent right after the first line
    // is handled (and exits 0) rather than killing the process.
    let signals = Signals::install()?;
    let addr = args.addr;
    let faults = args.faults.clone();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let read = |path: &std::path::Path| {
                std::fs::read(path).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{}: {e}", path.display()),
                    )
                })
            };
            Some(crate::MockTls {
                cert_pem: read(cert)?,
                key_pem: read(key)?,
            })
        }
        _ => None,
    };
    let self_signed = match &args.tls_self_signed {
        Some(dir) => {
            let pki = crate::TestPki::generate(&["localhost"]).map_err(io::Error::other)?;
            pki.write_to(dir)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
            Some(pki.tls())
        }
        None => None,
    };
    let tls = tls.or(self_signed);
    let named = args.tls_self_signed.is_some();
    let config = MockConfig {
        tls,
        ..args.into_config()
    };
    let server = MockServer::start(config, addr).await?;
    for f in faults {
        server.inject(Scope::All, f.fault, f.times);
    }
    {
        let mut out = io::stdout().lock();
        if named {
            // the certificate is for `localhost` only
            writeln!(
                out,
                "listening on https://localhost:{}",
                server.addr().port()
            )?;
        } else {
            writeln!(out, "listening on {}", server.url())?;
        }
        out.flush()?;
    }
    signals.wait().await?;
    server.shutdown();
    Ok(())
}

#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self) -> io::Result<()> {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        Ok(())
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> io::Result<Signals> {
        Ok(Signals)
    }

    async fn wait(self) -> io::Result<()> {
        tokio::signal::ctrl_c().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            parse_key("k").unwrap(),
            ("k".to_owned(), DEFAULT_ORG.to_owned())
        );
        assert_eq!(parse_key("k:o").unwrap(), ("k".to_owned(), "o".to_owned()));
        assert!(parse_key(":o").is_err());
    }

    #[test]
    fn rate_limit_flag() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: MockArgs,
        }
        let parse = |v: &str| {
            Cli::try_parse_from(["x", "--rate-limit", v]).map(|c| c.args.into_config().rate_limit)
        };
        assert_eq!(parse("50/s").unwrap(), Some(50.0));
        assert_eq!(parse("2").unwrap(), Some(2.0));
        assert!(parse("0").is_err());
        assert!(parse("lots").is_err());
        assert_eq!(
            Cli::try_parse_from(["x"])
                .unwrap()
                .args
                .into_config()
                .rate_limit,
            None
        );
    }

    #[test]
    fn args_parse() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: MockArgs,
        }
        let cli = Cli::try_parse_from([
            "x",
            "--addr",
            "127.0.0.1:0",
            "--api-key",
            "a:o1",
            "--api-key",
            "b",
            "--pending",
            "1s",
            "--fault",
            "503x2",
            "--fault",
            "drop",
        ])
        .unwrap();
        assert_eq!(cli.args.faults.len(), 2);
        assert_eq!(cli.args.faults[0].times, 2);
        let config = cli.args.into_config();
        assert_eq!(config.pending, Duration::from_secs(1));
        assert_eq!(config.processing, Duration::from_millis(1200));
        assert_eq!(
            config.api_keys,
            vec![("a".into(), "o1".into()), ("b".into(), DEFAULT_ORG.into())]
        );
        assert!(Cli::try_parse_from(["x", "--fault", "nonsense"]).is_err());
    }
}
