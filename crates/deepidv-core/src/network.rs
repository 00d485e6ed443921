//! Network settings: extra trusted CAs and the proxy, and the one place that
//! decides which proxy a client uses.
//!
//! The core holds these settings and makes the decision as a pure function of
//! them and of environment values the caller hands in; the clients load the CA
//! files, build TLS and open the sockets.

use core::net::IpAddr; // address parsing only: no sockets here
use std::fmt;
use std::path::PathBuf;

use http::uri::{Scheme, Uri};

use crate::config::{BaseUrl, Config};
use crate::error::Error;

/// The environment variable tools read extra CA certificates (a PEM file) from.
pub const CA_BUNDLE_ENV: &str = "DEEPIDV_CA_BUNDLE";

/// The environment variable naming a proxy for deepidv only; it wins over the
/// usual `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`.
pub const PROXY_ENV: &str = "DEEPIDV_PROXY";

/// Every environment variable the proxy decision reads, in the order it reads them.
pub const PROXY_ENV_VARS: &[&str] = &[
    PROXY_ENV,
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// An extra CA certificate source, added to the trusted roots by the client.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum CaSource {
    /// A PEM file (one or more certificates), read by the client when it is built.
    File(PathBuf),
    /// PEM text (one or more certificates).
    Pem(Vec<u8>),
}

impl fmt::Debug for CaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Pem(bytes) => write!(f, "Pem({} bytes)", bytes.len()),
        }
    }
}

/// A proxy URL: `http://` or `https://`, host and optional port, optional
/// `user:password@`. Its `Debug`, `Display` and every error about it hide the
/// credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    full: String,
    shown: String,
}

impl ProxyUrl {
    /// Validates a proxy URL; a bad one is an
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) error that never
    /// repeats the credentials.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let url = url.trim();
        // What may be shown: the part after the last '@' (credentials never).
        let tail = url.rsplit('@').next().unwrap_or_default();
        let tail = crate::sanitize::terminal_safe(tail, None);
        let bad = |why: &str| Error::invalid_argument(format!("invalid proxy URL {tail:?}: {why}"));
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let scheme = uri
            .scheme()
            .ok_or_else(|| bad("no scheme; expected http://host:port"))?;
        if *scheme != Scheme::HTTP && *scheme != Scheme::HTTPS {
            return Err(bad("scheme must be http or https"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.host().is_empty() {
            return Err(bad("no host"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() || url.contains('#') {
            return Err(bad("a proxy URL has no path, query or fragment"));
        }
        let auth = authority.as_str();
        let (creds, host_port) = match auth.rsplit_once('@') {
            Some((creds, host_port)) => (Some(creds), host_port),
            None => (None, auth),
        };
        let host_port = host_port.to_ascii_lowercase();
        let full = match creds {
            Some(c) => format!("{scheme}://{c}@{host_port}"),
            None => format!("{scheme}://{host_port}"),
        };
        let shown = match creds {
            Some(_) => format!("{scheme}://***@{host_port}"),
            None => full.clone(),
        };
        Ok(Self { full, shown })
    }

    /// Whether the connection to the proxy itself is TLS (`https://`).
    pub fn is_https(&self) -> bool {
        self.full.starts_with("https://")
    }

    /// The whole URL, credentials included: only for handing to the HTTP library.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// A form safe to print: the credentials replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.shown
    }

    /// `text` with this URL's credentials hidden wherever they appear.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.replace(&self.full, &self.shown);
        if let Some(creds) = self
            .full
            .split_once("://")
            .and_then(|(_, rest)| rest.rsplit_once('@'))
            .map(|(creds, _)| creds)
        {
            text = text.replace(creds, "***");
            if let Some((_, password)) = creds.split_once(':')
                && !password.is_empty()
            {
                text = text.replace(password, "***");
            }
        }
        text
    }

    /// Whether the URL carries credentials.
    pub fn has_credentials(&self) -> bool {
        self.full != self.shown
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({})", self.shown)
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Which proxy a client uses.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// Decided from the environment (`DEEPIDV_PROXY`, then `HTTPS_PROXY`/`HTTP_PROXY`,
    /// then `ALL_PROXY`, minus `NO_PROXY`), as every client reads it. The default.
    #[default]
    Environment,
    /// This proxy, whatever the environment says (loopback base URLs still go direct).
    Url(ProxyUrl),
    /// No proxy, whatever the environment says.
    Off,
}

impl ProxySetting {
    /// An explicit setting from text, as every frontend takes it (the CLI's
    /// `--proxy`, C's `deepidv_client_options_set_proxy`, Go's `WithProxy`): a
    /// proxy URL, or blank for no proxy at all. A bad URL is an
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) error that never
    /// shows the credentials.
    pub fn explicit(text: &str) -> Result<Self, Error> {
        if text.trim().is_empty() {
            Ok(Self::Off)
        } else {
            ProxyUrl::parse(text).map(Self::Url)
        }
    }
}

impl Config {
    /// Whether a client with this configuration, going through `proxy` (what
    /// [`Config::proxy_for`] decided), ever speaks TLS: an `https` base URL or
    /// an `https` proxy. Without TLS there is no trust store to load.
    pub fn uses_tls(&self, proxy: Option<&ProxyUrl>) -> bool {
        self.base_url.is_https() || proxy.is_some_and(ProxyUrl::is_https)
    }

    /// Adds the CA certificates of a PEM file to the trusted roots. The client
    /// reads it when it is built; a missing or bad file is an
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) error then.
    #[must_use]
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_certs.push(CaSource::File(path.into()));
        self
    }

    /// Adds the CA certificates of this PEM text to the trusted roots.
    #[must_use]
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certs.push(CaSource::Pem(pem.into()));
        self
    }

    /// Uses this proxy whatever the environment says.
    #[must_use]
    pub fn with_proxy(mut self, proxy: ProxyUrl) -> Self {
        self.proxy = ProxySetting::Url(proxy);
        self
    }

    /// Uses no proxy whatever the environment says.
    #[must_use]
    pub fn without_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Off;
        self
    }

    /// The proxy to use for [`Config::base_url`], decided from the settings and
    /// the values of the environment variables in [`PROXY_ENV_VARS`], which
    /// `env` looks up (the caller reads the environment: this crate does not).
    ///
    /// A loopback base URL never uses a proxy. A bad proxy URL in the
    /// environment is an [`InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// error naming the variable.
    pub fn proxy_for(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ProxyUrl>, Error> {
        if self.base_url.is_loopback() {
            return Ok(None);
        }
        match &self.proxy {
            ProxySetting::Off => Ok(None),
            ProxySetting::Url(p) => Ok(Some(p.clone())),
            ProxySetting::Environment => proxy_from_env(&self.base_url, env),
        }
    }
}

fn proxy_from_env(
    base: &BaseUrl,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>, Error> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let https = base.as_str().starts_with("https://");
    let scheme_vars: &[&str] = if https {
        &["HTTPS_PROXY", "https_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy"]
    };
    let order = [PROXY_ENV]
        .iter()
        .chain(scheme_vars)
        .chain(&["ALL_PROXY", "all_proxy"]);
    let Some((name, value)) = order
        .into_iter()
        .find_map(|name| get(name).map(|v| (*name, v)))
    else {
        return Ok(None);
    };
    let no_proxy = get("NO_PROXY").or_else(|| get("no_proxy"));
    if no_proxy.is_some_and(|list| no_proxy_matches(&list, base_host(base))) {
        return Ok(None);
    }
    ProxyUrl::parse(&value)
        .map(Some)
        .map_err(|e| Error::invalid_argument(format!("{name}: {}", e.message())))
}

/// The host of a base URL, without port or IPv6 brackets.
fn base_host(base: &BaseUrl) -> &str {
    let rest = base.as_str().split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// Whether `NO_PROXY` (comma list: `*`, host names that match themselves and
/// their subdomains, with or without a leading dot, IP addresses; ports ignored)
/// exempts `host`.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry.trim_start_matches('[');
        let entry = match entry.split_once(']') {
            Some((v6, _)) => v6,
            None if entry.matches(':').count() == 1 => entry.split(':').next().unwrap_or(entry),
            None => entry,
        };
        if let (Some(ip), Ok(e)) = (host_ip, entry.parse::<IpAddr>()) {
            return ip == e;
        }
        let entry = entry
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        !entry.is_empty()
            && (host == entry || host.strip_suffix(&entry).is_some_and(|p| p.ends_with('.')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiKey, ErrorKind};

    #[test]
    fn an_explicit_setting_is_a_url_or_blank_for_none() {
        assert_eq!(ProxySetting::explicit("").unwrap(), ProxySetting::Off);
        assert_eq!(ProxySetting::explicit("  ").unwrap(), ProxySetting::Off);
        assert_eq!(
            ProxySetting::explicit("http://proxy:3128").unwrap(),
            ProxySetting::Url(ProxyUrl::parse("http://proxy:3128").unwrap())
        );
        let e = ProxySetting::explicit("socks5://alice:hunter2@proxy:1080").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    fn config(base: &str) -> Config {
        Config::new(ApiKey::new("sk_test_1").unwrap()).with_base_url(BaseUrl::parse(base).unwrap())
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn decided(c: &Config, vars: &[(&str, &str)]) -> Option<String> {
        c.proxy_for(env(vars))
            .unwrap()
            .map(|p| p.expose().to_owned())
    }

    #[test]
    fn proxy_url_validation_and_redaction() {
        let p = ProxyUrl::parse("http://user:s3cret@Proxy.corp:3128/").unwrap();
        assert_eq!(p.expose(), "http://user:s3cret@proxy.corp:3128");
        assert_eq!(p.redacted(), "http://***@proxy.corp:3128");
        assert!(p.has_credentials());
        for shown in [format!("{p:?}"), p.to_string()] {
            assert!(
                !shown.contains("s3cret") && !shown.contains("user"),
                "{shown}"
            );
        }
        let plain = ProxyUrl::parse("https://proxy:443").unwrap();
        assert_eq!(plain.to_string(), "https://proxy:443");
        assert!(!plain.has_credentials());
        for bad in [
            "",
            "proxy:3128",
            "socks5://u:s3cret@proxy:1080",
            "http://u:s3cret@proxy:1/path",
            "http://u:s3cret@proxy:1/?q",
            "http://u:s3cret@:3128",
            "ftp://u:s3cret@proxy",
        ] {
            let e = ProxyUrl::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
            assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
        }
    }

    #[test]
    fn transport_errors_name_the_proxy_without_its_credentials() {
        let p = ProxyUrl::parse("http://alice:hunter2@proxy:3128").unwrap();
        let e = crate::TransportError::new(
            crate::TransportErrorKind::Connect,
            "connect to http://alice:hunter2@proxy:3128 failed (user alice:hunter2, pw hunter2)",
        )
        .through_proxy(Some(&p));
        let text = format!("{e:?}");
        assert!(
            text.contains("through proxy http://***@proxy:3128"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        let plain = crate::TransportError::new(crate::TransportErrorKind::Io, "reset");
        assert_eq!(
            format!("{:?}", plain.clone().through_proxy(None)),
            format!("{plain:?}")
        );
    }

    #[test]
    fn environment_order_per_scheme() {
        let https = config("https://api.deepidv.com");
        let all = [
            ("HTTPS_PROXY", "http://https-proxy:1"),
            ("HTTP_PROXY", "http://http-proxy:2"),
            ("ALL_PROXY", "http://all-proxy:3"),
        ];
        assert_eq!(
            decided(&https, &all).as_deref(),
            Some("http://https-proxy:1")
        );
        let mut with_deepidv = all.to_vec();
        with_deepidv.push((PROXY_ENV, "http://mine:9"));
        assert_eq!(
            decided(&https, &with_deepidv).as_deref(),
            Some("http://mine:9")
        );
        assert_eq!(
            decided(&https, &[("https_proxy", "http://lower:1")]).as_deref(),
            Some("http://lower:1")
        );
        // HTTP_PROXY is for http base URLs only.
        assert_eq!(
            decided(&https, &[("HTTP_PROXY", "http://http-proxy:2")]),
            None
        );
        assert_eq!(
            decided(
                &https,
                &[("all_proxy", "http://all:3"), ("HTTPS_PROXY", " ")]
            )
            .as_deref(),
            Some("http://all:3")
        );
        assert_eq!(decided(&https, &[]), None);
        let http = Config::new(ApiKey::new("k").unwrap())
            .with_base_url(BaseUrl::parse_allowing_http("http://internal.corp").unwrap());
        assert_eq!(decided(&http, &all).as_deref(), Some("http://http-proxy:2"));
    }

    #[test]
    fn no_proxy_rules() {
        let c = config("https://api.deepidv.com:8443/v1");
        let with =
            |no: &'static str| decided(&c, &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no)]);
        for bypass in [
            "*",
            "deepidv.com",
            ".deepidv.com",
            "*.deepidv.com",
            "other.org, API.deepidv.com",
            "api.deepidv.com:8443",
        ] {
            assert_eq!(with(bypass), None, "{bypass}");
        }
        for through in ["", "idv.com", "other.org", "pi.deepidv.com", "10.0.0.1"] {
            assert!(with(through).is_some(), "{through}");
        }
        assert_eq!(
            decided(
                &c,
                &[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "deepidv.com")]
            ),
            None
        );
        let ip = Config::new(ApiKey::new("k").unwrap())
            .with_base_url(BaseUrl::parse("https://10.1.2.3:443").unwrap());
        let vars = [("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "10.1.2.3")];
        assert_eq!(decided(&ip, &vars), None);
        let v6 = Config::new(ApiKey::new("k").unwrap())
            .with_base_url(BaseUrl::parse("https://[fd00::1]:443").unwrap());
        let vars = [("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "[fd00::1]")];
        assert_eq!(decided(&v6, &vars), None);
    }

    #[test]
    fn loopback_never_uses_a_proxy() {
        let vars = [(PROXY_ENV, "http://p:1"), ("HTTP_PROXY", "http://p:1")];
        for base in [
            "http://127.0.0.1:4010",
            "http://localhost:1",
            "https://[::1]:2",
        ] {
            let c = config(base);
            assert_eq!(decided(&c, &vars), None, "{base}");
            let explicit = c.with_proxy(ProxyUrl::parse("http://p:1").unwrap());
            assert_eq!(decided(&explicit, &vars), None, "{base}");
        }
    }

    #[test]
    fn explicit_setting_wins_over_the_environment() {
        let vars = [(PROXY_ENV, "http://env:1"), ("HTTPS_PROXY", "http://env:2")];
        let c = config("https://api.deepidv.com");
        let mine = c
            .clone()
            .with_proxy(ProxyUrl::parse("http://mine:3").unwrap());
        assert_eq!(decided(&mine, &vars).as_deref(), Some("http://mine:3"));
        // ... even over NO_PROXY: the caller asked for it by name.
        let no = [("NO_PROXY", "*")];
        assert_eq!(decided(&mine, &no).as_deref(), Some("http://mine:3"));
        assert_eq!(decided(&c.without_proxy(), &vars), None);
    }

    #[test]
    fn a_bad_proxy_in_the_environment_names_the_variable_not_the_password() {
        let c = config("https://api.deepidv.com");
        let e = c
            .proxy_for(env(&[("HTTPS_PROXY", "socks5://u:hunter2@p:1")]))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("HTTPS_PROXY"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn ca_sources_are_held_not_read() {
        let c = config("https://api.deepidv.com")
            .with_ca_file("/etc/corp/ca.pem")
            .with_ca_pem(b"-----BEGIN CERTIFICATE-----".to_vec());
        assert_eq!(c.ca_certs.len(), 2);
        assert_eq!(c.ca_certs[0], CaSource::File("/etc/corp/ca.pem".into()));
        assert_eq!(format!("{:?}", c.ca_certs[1]), "Pem(27 bytes)");
    }
}
