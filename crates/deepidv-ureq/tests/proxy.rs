//! `Client::proxy`: the proxy the client decided on, for code that sends requests of its own.

use deepidv_ureq::core::ProxyUrl;
use deepidv_ureq::{ApiKey, BaseUrl, Client, Config};

fn config(base: &str) -> Config {
    Config::new(ApiKey::new("sk_test_proxy").unwrap()).with_base_url(BaseUrl::parse(base).unwrap())
}

fn proxy_of(config: Config, env: &[(&str, &str)]) -> Option<String> {
    let client = Client::with_env(config, |name| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    client.proxy().map(|p| p.expose().to_owned())
}

#[test]
fn the_decided_proxy_with_its_credentials() {
    let explicit = ProxyUrl::parse("http://alice:hunter2@proxy.corp:3128").unwrap();
    let env = [("HTTPS_PROXY", "http://env-proxy:8080")];
    // The explicit setting wins over the environment; the credentials are kept.
    assert_eq!(
        proxy_of(
            config("https://api.deepidv.test").with_proxy(explicit.clone()),
            &env
        ),
        Some("http://alice:hunter2@proxy.corp:3128".to_owned())
    );
    // Otherwise the environment, by scheme.
    assert_eq!(
        proxy_of(config("https://api.deepidv.test"), &env),
        Some("http://env-proxy:8080".to_owned())
    );
    // NO_PROXY, "no proxy" and loopback: direct.
    let bypass = [
        ("HTTPS_PROXY", "http://env-proxy:8080"),
        ("NO_PROXY", ".deepidv.test"),
    ];
    assert_eq!(proxy_of(config("https://api.deepidv.test"), &bypass), None);
    assert_eq!(
        proxy_of(config("https://api.deepidv.test").without_proxy(), &env),
        None
    );
    assert_eq!(
        proxy_of(config("http://127.0.0.1:8080").with_proxy(explicit), &env),
        None
    );
    // Display never shows the password.
    let client = Client::with_env(
        config("https://api.deepidv.test")
            .with_proxy(ProxyUrl::parse("http://alice:hunter2@proxy.corp:3128").unwrap()),
        |_| None,
    )
    .unwrap();
    assert!(
        !client.proxy().unwrap().to_string().contains("hunter2"),
        "{}",
        client.proxy().unwrap()
    );
}
