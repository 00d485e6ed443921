//! `--ca-cert`, `--proxy` and the OS trust store, against the TLS simulator with
//! a throwaway CA made at test time.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::Run;
use deepidv_mock::{DEFAULT_API_KEY, JobSpec, MockConfig, MockServer, TestPki};

struct Setup {
    mock: MockServer,
    ca: PathBuf,
    job: String,
}

fn setup(tag: &str) -> Setup {
    let pki = TestPki::generate(&["127.0.0.1"]).unwrap();
    let mock = MockServer::start_background(MockConfig {
        tls: Some(pki.tls()),
        ..MockConfig::instant()
    })
    .unwrap();
    let path =
        std::env::temp_dir().join(format!("deepidv-cli-ca-{}-{tag}.pem", std::process::id()));
    std::fs::write(&path, &pki.ca_pem).unwrap();
    let job = mock.insert_job(JobSpec::default());
    Setup {
        mock,
        ca: path,
        job,
    }
}

/// `deepidv <args> jobs get <job>` against the TLS simulator, with a clean
/// network environment plus `env`.
fn get(s: &Setup, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = common::command();
    for name in [
        "DEEPIDV_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "DEEPIDV_PROXY",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        c.env_remove(name);
    }
    c.arg("--base-url").arg(s.mock.url()).args(args);
    c.args(["jobs", "get", &s.job]);
    c.env("DEEPIDV_API_KEY", DEFAULT_API_KEY)
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        elapsed: std::time::Duration::ZERO,
    }
}

#[test]
fn trusted_through_ca_cert_or_its_env() {
    let s = setup("trusted");
    let ca = s.ca.to_str().unwrap();
    get(&s, &["--ca-cert", ca], &[]).code(0);
    get(&s, &[], &[("DEEPIDV_CA_BUNDLE", ca)]).code(0);
    assert_eq!(s.mock.tls_handshakes(), 2);
    let _ = std::fs::remove_file(&s.ca);
}

#[test]
fn the_os_store_is_used() {
    // SSL_CERT_FILE is read by the platform loader: no --ca-cert needed.
    let s = setup("os");
    get(&s, &[], &[("SSL_CERT_FILE", s.ca.to_str().unwrap())]).code(0);
    let _ = std::fs::remove_file(&s.ca);
}

#[test]
fn untrusted_is_unavailable_with_one_line_and_no_retry() {
    let s = setup("untrusted");
    let run = get(&s, &[], &[]);
    run.code(7);
    let line = run.error_line();
    assert!(line.contains("certificate not trusted"), "{line}");
    assert!(
        line.contains("--ca-cert FILE or set DEEPIDV_CA_BUNDLE"),
        "{line}"
    );
    assert_eq!(s.mock.connections_accepted(), 1, "retried: {line}");
    let _ = std::fs::remove_file(&s.ca);
}

#[test]
fn corrupt_pem_and_bad_proxy_are_invalid_arguments_before_any_request() {
    let s = setup("corrupt");
    std::fs::write(&s.ca, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    let ca = s.ca.to_str().unwrap();
    let run = get(&s, &["--ca-cert", ca], &[]);
    run.code(2);
    assert!(run.error_line().contains(ca), "{run:#?}");
    let run = get(&s, &["--proxy", "socks5://alice:hunter2@proxy:1080"], &[]);
    run.code(2);
    assert!(!run.stderr.contains("hunter2"), "{run:#?}");
    assert!(run.error_line().contains("proxy"), "{run:#?}");
    assert_eq!(s.mock.connections_accepted(), 0);
    let _ = std::fs::remove_file(&s.ca);
}

#[test]
fn an_empty_proxy_flag_means_no_proxy_whatever_the_environment_says() {
    // A non-loopback base URL that refuses at once (0.0.0.0 connects to this machine), and a dead
    // proxy in the environment: the error says which way the call went.
    let run = |extra: &[&str]| {
        let mut c = common::command();
        c.env_remove("DEEPIDV_PROXY")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env("HTTPS_PROXY", "http://alice:hunter2@127.0.0.1:9")
            .env("DEEPIDV_API_KEY", DEFAULT_API_KEY)
            .args(["--base-url", "https://0.0.0.0:1"])
            .args(extra)
            .args(["jobs", "get", "job_1"])
            .stderr(Stdio::piped());
        let out = c.output().unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    let (code, through) = run(&[]);
    assert_eq!(code, Some(7), "{through}");
    assert!(
        through.contains("127.0.0.1:9"),
        "through the proxy: {through}"
    );
    assert!(!through.contains("hunter2"), "{through}");
    let (code, direct) = run(&["--proxy", ""]);
    assert_eq!(code, Some(7), "{direct}");
    assert!(!direct.contains("127.0.0.1:9"), "direct: {direct}");
    assert!(direct.contains("0.0.0.0:1"), "{direct}");
}
