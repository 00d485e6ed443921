//! Proxies, through a real `CONNECT` proxy in front of the TLS simulator, for
//! both adapters. The API host (`api.deepidv.test`) resolves nowhere: only the
//! proxy knows the way (every tunnel leads to the simulator), so a call that
//! succeeds went through it, and one that bypasses it fails to connect.

use std::time::Duration;

use deepidv_conformance::{Adapter, BaseUrl, Config, ErrorKind, JobId, fast_config};
use deepidv_core::ProxyUrl;
use deepidv_mock::proxy::ConnectProxy;
use deepidv_mock::{DEFAULT_API_KEY, Fault, JobSpec, MockConfig, MockServer, Scope, TestPki};

const HOST: &str = "api.deepidv.test";

/// A TLS simulator with a certificate for [`HOST`] and `127.0.0.1`, and its CA.
fn tls_mock() -> (MockServer, String) {
    let pki = TestPki::generate(&[HOST, "127.0.0.1"]).unwrap();
    let mock = MockServer::start_background(MockConfig {
        tls: Some(pki.tls()),
        ..MockConfig::instant()
    })
    .unwrap();
    (mock, pki.ca_pem)
}

/// A configuration for the API at [`HOST`] on the simulator's port.
fn remote_config(mock: &MockServer, ca: &str) -> Config {
    let base = format!("https://{HOST}:{}", mock.addr().port());
    fast_config(&mock.url(), DEFAULT_API_KEY)
        .with_base_url(BaseUrl::parse(&base).unwrap())
        .with_ca_pem(ca.as_bytes())
}

fn job(mock: &MockServer, pending: Duration) -> JobId {
    JobId::new(mock.insert_job(JobSpec {
        pending: Some(pending),
        processing: Some(Duration::ZERO),
        ..JobSpec::default()
    }))
    .unwrap()
}

fn env(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> + Sync {
    move |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

fn https_through_the_proxy_hides_the_key_and_keeps_one_tunnel<A: Adapter>() {
    let (mock, ca) = tls_mock();
    let proxy = ConnectProxy::start(mock.addr()).unwrap();
    let config = remote_config(&mock, &ca).with_proxy(ProxyUrl::parse(&proxy.url()).unwrap());
    let client = A::with_env(config, &|_| None).unwrap();
    let id = job(&mock, Duration::from_millis(300));
    assert!(client.wait(&id).unwrap().is_terminal());
    let polls = mock.requests().len();
    assert!(polls >= 2, "{polls} polls");
    let tunnels = proxy.tunnels();
    assert_eq!(tunnels.len(), 1, "one tunnel for {polls} polls");
    assert_eq!(tunnels[0].target, format!("{HOST}:{}", mock.addr().port()));
    assert_eq!(mock.tls_handshakes(), 1);
    let seen = &tunnels[0].bytes;
    assert!(seen.len() > 1000, "the proxy relayed {} bytes", seen.len());
    assert!(
        !seen
            .windows(DEFAULT_API_KEY.len())
            .any(|w| w == DEFAULT_API_KEY.as_bytes()),
        "the API key crossed the proxy in clear"
    );
    assert!(
        !seen.windows(7).any(|w| w == b"x-api-k"),
        "headers in clear"
    );
}

fn the_environment_proxy_is_used_unless_no_proxy_says_otherwise<A: Adapter>() {
    let (mock, ca) = tls_mock();
    let proxy = ConnectProxy::start(mock.addr()).unwrap();
    let id = job(&mock, Duration::ZERO);
    let vars = vec![("HTTPS_PROXY", proxy.url())];
    let client = A::with_env(remote_config(&mock, &ca), &env(vars.clone())).unwrap();
    client.get_job(&id).unwrap();
    assert_eq!(proxy.tunnels().len(), 1);
    // NO_PROXY: the client goes direct, where the host resolves nowhere.
    let mut bypass = vars;
    bypass.push(("NO_PROXY", "localhost,.deepidv.test".to_owned()));
    let client = A::with_env(remote_config(&mock, &ca), &env(bypass)).unwrap();
    let e = client.get_job(&id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_eq!(proxy.tunnels().len(), 1, "NO_PROXY was ignored");
}

fn loopback_never_goes_through_a_proxy<A: Adapter>() {
    let (mock, ca) = tls_mock();
    let proxy = ConnectProxy::start(mock.addr()).unwrap();
    let vars = vec![
        ("HTTPS_PROXY", proxy.url()),
        ("DEEPIDV_PROXY", proxy.url()),
        ("ALL_PROXY", proxy.url()),
    ];
    let config = fast_config(&mock.url(), DEFAULT_API_KEY).with_ca_pem(ca.as_bytes());
    let client = A::with_env(config, &env(vars)).unwrap();
    client.get_job(&job(&mock, Duration::ZERO)).unwrap();
    assert!(proxy.tunnels().is_empty());
}

fn the_explicit_setting_wins_over_the_environment<A: Adapter>() {
    let (mock, ca) = tls_mock();
    let proxy = ConnectProxy::start(mock.addr()).unwrap();
    let id = job(&mock, Duration::ZERO);
    // The environment names a dead proxy; the explicit one works.
    let dead = vec![("DEEPIDV_PROXY", "http://127.0.0.1:9".to_owned())];
    let config = remote_config(&mock, &ca).with_proxy(ProxyUrl::parse(&proxy.url()).unwrap());
    A::with_env(config, &env(dead))
        .unwrap()
        .get_job(&id)
        .unwrap();
    assert_eq!(proxy.tunnels().len(), 1);
    // The environment names the working proxy; without_proxy goes direct.
    let live = vec![("HTTPS_PROXY", proxy.url())];
    let config = remote_config(&mock, &ca).without_proxy();
    assert!(
        A::with_env(config, &env(live))
            .unwrap()
            .get_job(&id)
            .is_err()
    );
    assert_eq!(proxy.tunnels().len(), 1);
}

fn an_unreachable_proxy_is_retried_then_unavailable_without_its_password<A: Adapter>() {
    let (mock, ca) = tls_mock();
    let dead = ProxyUrl::parse("http://alice:hunter2@127.0.0.1:9").unwrap();
    assert!(!format!("{dead:?} {dead}").contains("hunter2"));
    let config = remote_config(&mock, &ca).with_proxy(dead);
    assert!(!format!("{config:?}").contains("hunter2"));
    let client = A::with_env(config, &|_| None).unwrap();
    let started = std::time::Instant::now();
    let e = client.get_job(&job(&mock, Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let text = format!("{e} {e:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        e.to_string().contains("gave up after 4"),
        "not retried: {e}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

fn a_cancel_interrupts_a_request_in_flight_over_tls_through_the_proxy<A: Adapter>() {
    let (mock, ca) = tls_mock();
    let proxy = ConnectProxy::start(mock.addr()).unwrap();
    let config = remote_config(&mock, &ca).with_proxy(ProxyUrl::parse(&proxy.url()).unwrap());
    let client = A::with_env(config, &|_| None).unwrap();
    let id = job(&mock, Duration::from_secs(60));
    // the first poll's answer takes longer than the request timeout (2 s)
    mock.inject(
        Scope::Job(id.as_str().into()),
        Fault::Delay(Duration::from_secs(5)),
        1,
    );
    let started = std::time::Instant::now();
    let e = client
        .wait_cancelled_after(&id, Duration::from_millis(200))
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(e.to_string().starts_with("cancelled"), "{e}");
    assert!(
        elapsed < Duration::from_millis(1000),
        "not interrupted: {elapsed:?}"
    );
    // and the client goes on with a fresh tunnel
    assert!(client.get_job(&job(&mock, Duration::ZERO)).is_ok());
    assert_eq!(proxy.tunnels().len(), 2);
}

/// `proxy()`: the proxy a client decided on, credentials included, for code
/// that sends requests of its own (Go's watch, a C event loop).
fn the_decided_proxy_is_exposed_with_its_credentials<A: Adapter>() {
    let config = |base: &str| {
        Config::new(deepidv_conformance::ApiKey::new("sk_test_proxy").unwrap())
            .with_base_url(BaseUrl::parse(base).unwrap())
    };
    let proxy_of = |config: Config, vars: Vec<(&'static str, String)>| {
        let client = A::with_env(config, &env(vars)).unwrap();
        client.proxy().map(|p| p.expose().to_owned())
    };
    let explicit = ProxyUrl::parse("http://alice:hunter2@proxy.corp:3128").unwrap();
    let from_env = || vec![("HTTPS_PROXY", "http://env-proxy:8080".to_owned())];
    // the explicit setting wins over the environment; the credentials are kept
    assert_eq!(
        proxy_of(
            config("https://api.deepidv.test").with_proxy(explicit.clone()),
            from_env()
        ),
        Some("http://alice:hunter2@proxy.corp:3128".to_owned())
    );
    // otherwise the environment, by scheme
    assert_eq!(
        proxy_of(config("https://api.deepidv.test"), from_env()),
        Some("http://env-proxy:8080".to_owned())
    );
    // NO_PROXY, "no proxy" and loopback: direct
    let mut bypass = from_env();
    bypass.push(("NO_PROXY", ".deepidv.test".to_owned()));
    assert_eq!(proxy_of(config("https://api.deepidv.test"), bypass), None);
    assert_eq!(
        proxy_of(
            config("https://api.deepidv.test").without_proxy(),
            from_env()
        ),
        None
    );
    assert_eq!(
        proxy_of(
            config("http://127.0.0.1:8080").with_proxy(explicit.clone()),
            from_env()
        ),
        None
    );
    // Display never shows the password
    let client = A::with_env(
        config("https://api.deepidv.test").with_proxy(explicit),
        &|_| None,
    )
    .unwrap();
    let shown = client.proxy().unwrap().to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
}

deepidv_conformance::both!(
    https_through_the_proxy_hides_the_key_and_keeps_one_tunnel,
    the_environment_proxy_is_used_unless_no_proxy_says_otherwise,
    loopback_never_goes_through_a_proxy,
    the_explicit_setting_wins_over_the_environment,
    an_unreachable_proxy_is_retried_then_unavailable_without_its_password,
    a_cancel_interrupts_a_request_in_flight_over_tls_through_the_proxy,
    the_decided_proxy_is_exposed_with_its_credentials,
);
