//! TLS against a real TLS simulator, with a throwaway CA and server certificates
//! made at test time, for both adapters.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use deepidv_conformance::{Adapter, Config, ErrorKind, JobId, fast_config};
use deepidv_mock::{DEFAULT_API_KEY, JobSpec, MockConfig, MockServer, TestPki};

/// A throwaway CA and a server certificate it signed for `names`.
fn pki(names: &[&str]) -> TestPki {
    TestPki::generate(names).unwrap()
}

fn tls_mock(pki: &TestPki) -> MockServer {
    let server = MockServer::start_background(MockConfig {
        tls: Some(pki.tls()),
        ..MockConfig::instant()
    })
    .expect("TLS simulator starts");
    assert!(server.url().starts_with("https://127.0.0.1:"));
    server
}

fn temp_file(contents: &[u8]) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "deepidv-tls-{}-{}.pem",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, contents).unwrap();
    path
}

fn config(mock: &MockServer, edit: impl FnOnce(Config) -> Config) -> Config {
    edit(fast_config(&mock.url(), DEFAULT_API_KEY).without_proxy())
}

fn job(mock: &MockServer, pending: Duration) -> JobId {
    JobId::new(mock.insert_job(JobSpec {
        pending: Some(pending),
        processing: Some(Duration::ZERO),
        ..JobSpec::default()
    }))
    .unwrap()
}

fn trusted_through_a_ca_file_and_one_handshake_per_wait<A: Adapter>() {
    let pki = pki(&["127.0.0.1"]);
    let mock = tls_mock(&pki);
    let ca = temp_file(pki.ca_pem.as_bytes());
    let client = A::new(config(&mock, |c| c.with_ca_file(&ca))).unwrap();
    let id = job(&mock, Duration::from_millis(300));
    let job = client.wait(&id).unwrap();
    assert!(job.is_terminal());
    let polls = mock.requests().len();
    assert!(polls >= 2, "only {polls} polls");
    assert_eq!(mock.tls_handshakes(), 1, "one handshake for {polls} polls");
    assert_eq!(mock.connections_accepted(), 1);
    // with_ca_pem works the same way
    let client = A::new(config(&mock, |c| c.with_ca_pem(pki.ca_pem.as_bytes()))).unwrap();
    assert!(client.get_job(&id).is_ok());
    let _ = std::fs::remove_file(ca);
}

fn untrusted_is_not_retried_and_says_what_to_do<A: Adapter>() {
    let pki = pki(&["127.0.0.1"]);
    let mock = tls_mock(&pki);
    let client = A::new(config(&mock, |c| c)).unwrap();
    let e = client.get_job(&job(&mock, Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let text = e.to_string();
    assert!(text.contains("certificate not trusted"), "{text}");
    assert!(
        text.contains("add that CA with Config::with_ca_file"),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
    assert_eq!(mock.connections_accepted(), 1, "retried: {text}");
    assert_eq!(mock.tls_handshakes(), 0);
}

fn another_hosts_certificate_says_so<A: Adapter>() {
    let pki = pki(&["api.example.com"]);
    let mock = tls_mock(&pki);
    let client = A::new(config(&mock, |c| c.with_ca_pem(pki.ca_pem.as_bytes()))).unwrap();
    let e = client.get_job(&job(&mock, Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        e.to_string().contains("certificate is for another host"),
        "{e}"
    );
    assert_eq!(mock.connections_accepted(), 1, "retried: {e}");
}

fn a_bad_ca_is_an_invalid_argument_before_any_request<A: Adapter>() {
    let pki = pki(&["127.0.0.1"]);
    let mock = tls_mock(&pki);
    let corrupt = temp_file(b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n");
    let missing = std::env::temp_dir().join("deepidv-no-such-ca.pem");
    let cases: Vec<(Config, String)> = vec![
        (
            config(&mock, |c| c.with_ca_file(&corrupt)),
            corrupt.display().to_string(),
        ),
        (
            config(&mock, |c| c.with_ca_file(&missing)),
            missing.display().to_string(),
        ),
        (
            config(&mock, |c| c.with_ca_pem(&b"hello"[..])),
            "PEM".into(),
        ),
    ];
    for (config, named) in cases {
        let Err(e) = A::new(config) else {
            panic!("a bad CA was accepted; {named}")
        };
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains(&named), "{e} should name {named}");
    }
    assert_eq!(mock.connections_accepted(), 0);
    let _ = std::fs::remove_file(corrupt);
}

deepidv_conformance::both!(
    trusted_through_a_ca_file_and_one_handshake_per_wait,
    untrusted_is_not_retried_and_says_what_to_do,
    another_hosts_certificate_says_so,
    a_bad_ca_is_an_invalid_argument_before_any_request,
);
