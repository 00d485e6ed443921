//! Configuration: where to talk, with which key, and how patiently.

use core::net::{IpAddr, Ipv6Addr}; // address parsing only: no sockets here
use std::fmt;
use std::time::Duration;

use http::HeaderValue;
use http::uri::{Scheme, Uri};

use crate::error::Error;
use crate::network::{CA_BUNDLE_ENV, CaSource, ProxySetting};

/// The public API's address.
pub const DEFAULT_BASE_URL: &str = "https://api.deepidv.com";

/// The environment variable tools read the API key from.
pub const API_KEY_ENV: &str = "DEEPIDV_API_KEY";

/// The environment variable tools read the base URL from.
pub const BASE_URL_ENV: &str = "DEEPIDV_BASE_URL";

/// The environment variable tools read the [user-agent suffix](Config::with_user_agent_suffix)
/// from (see [`Config::with_user_agent_suffix_from_env`]).
pub const USER_AGENT_SUFFIX_ENV: &str = "DEEPIDV_USER_AGENT_SUFFIX";

/// This crate's version, used in the `User-Agent`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key: String,
    header: HeaderValue,
}

impl ApiKey {
    /// Validates a key: not empty, at most 512 bytes, visible ASCII only.
    pub fn new(key: impl Into<String>) -> Result<Self, Error> {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            return Err(Error::invalid_argument(format!(
                "no API key: set {API_KEY_ENV} or pass one explicitly"
            )));
        }
        if trimmed.len() > 512 || !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid_argument(
                "API key is malformed: expected at most 512 visible ASCII characters (like sk_test_…)",
            ));
        }
        let key = trimmed.to_owned();
        let mut header = HeaderValue::from_str(&key)
            .map_err(|_| Error::invalid_argument("API key is not a valid header value"))?;
        header.set_sensitive(true);
        Ok(Self { key, header })
    }

    /// The key itself. Only request building should need this.
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// A sandbox key (`sk_test_…`) rather than a live one.
    pub fn is_sandbox(&self) -> bool {
        self.key.starts_with("sk_test_")
    }

    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// A form that is safe to print: the prefix and the last two characters.
    pub fn redacted(&self) -> String {
        let prefix = ["sk_test_", "sk_live_"]
            .into_iter()
            .find(|p| self.key.starts_with(p))
            .unwrap_or("");
        let tail: String = if self.key.len() >= prefix.len() + 8 {
            self.key[self.key.len() - 2..].to_owned()
        } else {
            String::new()
        };
        format!("{prefix}…{tail}")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.redacted())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A validated base URL: `https`, or `http` to a loopback host (or with explicit opt-in).
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// Scheme, authority and path prefix, without a trailing slash.
    prefix: String,
    loopback: bool,
}

impl BaseUrl {
    /// Parses a base URL, refusing plain `http` to anything but a loopback host.
    pub fn parse(url: &str) -> Result<Self, Error> {
        Self::parse_with(url, false)
    }

    /// Parses a base URL, allowing plain `http` to any host. Only for networks you trust.
    pub fn parse_allowing_http(url: &str) -> Result<Self, Error> {
        Self::parse_with(url, true)
    }

    fn parse_with(url: &str, allow_http: bool) -> Result<Self, Error> {
        let shown = crate::sanitize::terminal_safe(url, None);
        let bad = |why: &str| Error::invalid_argument(format!("invalid base URL {shown:?}: {why}"));
        let uri: Uri = url.trim().parse().map_err(|_| bad("not a URL"))?;
        let scheme = uri
            .scheme()
            .ok_or_else(|| bad("no scheme; expected https://host"))?;
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad(
                "credentials in the URL are not allowed; pass the API key instead",
            ));
        }
        if uri.query().is_some() || url.contains('#') {
            return Err(bad("a base URL has no query or fragment"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let loopback = is_loopback(host);
        if *scheme == Scheme::HTTPS {
        } else if *scheme == Scheme::HTTP {
            if !loopback && !allow_http {
                return Err(bad(
                    "plain http is only allowed to loopback hosts; use https",
                ));
            }
        } else {
            return Err(bad("scheme must be https (or http to a loopback host)"));
        }
        let path = uri.path().trim_end_matches('/');
        let prefix = format!(
            "{}://{}{}",
            scheme,
            authority.as_str().to_ascii_lowercase(),
            path
        );
        Ok(Self { prefix, loopback })
    }

    /// The URL as a string, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.prefix
    }

    /// Whether the host is a loopback address.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.prefix.starts_with("https://")
    }
}

impl Default for BaseUrl {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_BASE_URL.to_owned(),
            loopback: false,
        }
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.prefix, f)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix)
    }
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6 == Ipv6Addr::LOCALHOST,
        Err(_) => false,
    }
}

/// Builder methods `with_<field>` for a `#[non_exhaustive]` struct whose users
/// cannot write a struct literal (not even with `..Default::default()`).
macro_rules! with_fields {
    ($($(#[$m:meta])* $name:ident($field:ident: $ty:ty);)*) => {
        $(
            $(#[$m])*
            #[must_use]
            pub fn $name(mut self, $field: $ty) -> Self {
                self.$field = $field;
                self
            }
        )*
    };
}

/// How a wait polls a job that is not finished yet.
///
/// Build one from the defaults (the struct is `#[non_exhaustive]`, so it grows
/// without breaking you):
///
/// ```
/// use std::time::Duration;
/// use deepidv_core::{ApiKey, Config, PollPolicy, RetryPolicy};
///
/// let poll = PollPolicy::default()
///     .with_interval(Duration::from_secs(1))
///     .with_max_interval(Duration::from_secs(10))
///     .with_timeout(Duration::from_secs(120));
/// let retry = RetryPolicy::default()
///     .with_call_max_retries(1)
///     .with_max_backoff(Duration::from_secs(5));
/// let config = Config::new(ApiKey::new("sk_test_123")?)
///     .with_poll(poll)
///     .with_retry(retry)
///     .with_request_timeout(Duration::from_secs(15));
/// assert_eq!(config.poll.interval, Duration::from_secs(1));
/// assert_eq!(config.retry.call_max_retries, 1);
/// assert_eq!(config.retry.wait_max_failures, RetryPolicy::default().wait_max_failures);
/// # Ok::<(), deepidv_core::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct PollPolicy {
    /// Delay before the first poll (default: none).
    pub first_delay: Duration,
    /// Nominal delay after the first poll (default 2 s).
    pub interval: Duration,
    /// Growth of the nominal delay after each poll (default ×1.5).
    pub multiplier: f64,
    /// Largest nominal delay (default 5 s). A cap below `interval` means no growth:
    /// every delay is `interval` (an interval is never silently shortened).
    pub max_interval: Duration,
    /// Each delay is drawn uniformly within ±this fraction of the nominal one (default 0.2).
    pub jitter: f64,
    /// The wait's deadline, from its start (default 10 min).
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::ZERO,
            interval: Duration::from_secs(2),
            multiplier: 1.5,
            max_interval: Duration::from_secs(5),
            jitter: 0.2,
            timeout: Duration::from_secs(600),
        }
    }
}

impl PollPolicy {
    with_fields! {
        /// Sets [`PollPolicy::first_delay`].
        with_first_delay(first_delay: Duration);
        /// Sets [`PollPolicy::interval`].
        with_interval(interval: Duration);
        /// Sets [`PollPolicy::multiplier`].
        with_multiplier(multiplier: f64);
        /// Sets [`PollPolicy::max_interval`].
        with_max_interval(max_interval: Duration);
        /// Sets [`PollPolicy::jitter`].
        with_jitter(jitter: f64);
        /// Sets [`PollPolicy::timeout`].
        with_timeout(timeout: Duration);
    }

    /// The nominal (un-jittered) delay after the `n`-th poll (`n` from 1).
    pub fn nominal_delay(&self, n: u32) -> Duration {
        let growth = self
            .multiplier
            .max(1.0)
            .powi(n.saturating_sub(1).min(64) as i32);
        let cap = self.max_interval.max(self.interval).as_secs_f64();
        let secs = (self.interval.as_secs_f64() * growth).min(cap);
        duration_from_secs(secs.max(0.0))
    }
}

/// How transient failures (408, 429, 5xx, connect/reset/timeout) are retried.
///
/// `#[non_exhaustive]`: build one with [`RetryPolicy::default`] and the `with_*`
/// methods (see [`PollPolicy`] for an example).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// First backoff ceiling (default 500 ms); doubles with each consecutive failure.
    pub initial_backoff: Duration,
    /// Largest backoff ceiling (default 30 s). Delays are drawn from `[0, ceiling]` (full jitter).
    /// A cap below `initial_backoff` means no growth: every ceiling is `initial_backoff`.
    pub max_backoff: Duration,
    /// Largest `Retry-After` honoured (default 60 s).
    pub max_retry_after: Duration,
    /// A wait gives up after this many consecutive transient failures (default 5).
    pub wait_max_failures: u32,
    /// A single call (get, create) retries at most this many times (default 3).
    pub call_max_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            wait_max_failures: 5,
            call_max_retries: 3,
        }
    }
}

impl RetryPolicy {
    with_fields! {
        /// Sets [`RetryPolicy::initial_backoff`].
        with_initial_backoff(initial_backoff: Duration);
        /// Sets [`RetryPolicy::max_backoff`].
        with_max_backoff(max_backoff: Duration);
        /// Sets [`RetryPolicy::max_retry_after`].
        with_max_retry_after(max_retry_after: Duration);
        /// Sets [`RetryPolicy::wait_max_failures`].
        with_wait_max_failures(wait_max_failures: u32);
        /// Sets [`RetryPolicy::call_max_retries`].
        with_call_max_retries(call_max_retries: u32);
    }

    /// The backoff ceiling after `failures` consecutive failures (from 1).
    pub fn backoff_ceiling(&self, failures: u32) -> Duration {
        let factor = 1u64 << failures.saturating_sub(1).min(30);
        let cap = self.max_backoff.max(self.initial_backoff);
        self.initial_backoff
            .checked_mul(factor.try_into().unwrap_or(u32::MAX))
            .unwrap_or(cap)
            .min(cap)
    }
}

pub(crate) fn duration_from_secs(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// The longest [user-agent suffix](Config::with_user_agent_suffix), in characters.
pub const MAX_USER_AGENT_SUFFIX: usize = 128;

/// Everything a client needs, shared by every frontend.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Config {
    /// The API key sent as `x-api-key`.
    pub api_key: ApiKey,
    /// Where the API is (default [`DEFAULT_BASE_URL`]).
    pub base_url: BaseUrl,
    /// Names the frontend in the `User-Agent` (`deepidv-rust/<version> (<frontend>)`).
    pub frontend: String,
    /// The calling application, appended to the `User-Agent` (set with
    /// [`Config::with_user_agent_suffix`]). Default: none.
    pub user_agent_suffix: Option<String>,
    /// Per-request timeout, enforced by the adapter (default 30 s).
    pub request_timeout: Duration,
    /// Connect timeout, enforced by the adapter (default 10 s).
    pub connect_timeout: Duration,
    /// Largest response body accepted, in bytes (default 16 MiB).
    pub max_body_bytes: usize,
    /// How waits poll.
    pub poll: PollPolicy,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
    /// Extra CA certificates added to the trusted roots (the system's store, or the
    /// bundled Mozilla roots where the system has none). Default: none.
    pub ca_certs: Vec<CaSource>,
    /// Which proxy to use (default: decided from the environment, see
    /// [`Config::proxy_for`]).
    pub proxy: ProxySetting,
}

impl Config {
    /// A configuration with the default URL, timeouts and policies.
    pub fn new(api_key: ApiKey) -> Self {
        Self {
            api_key,
            base_url: BaseUrl::default(),
            frontend: "core".to_owned(),
            user_agent_suffix: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 16 * 1024 * 1024,
            poll: PollPolicy::default(),
            retry: RetryPolicy::default(),
            ca_certs: Vec::new(),
            proxy: ProxySetting::Environment,
        }
    }

    /// A configuration from the values of `DEEPIDV_API_KEY` and `DEEPIDV_BASE_URL`
    /// (read by the caller: this crate reads no environment). A missing or empty
    /// base URL means [`DEFAULT_BASE_URL`]; a missing key is an
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) error saying what to set.
    pub fn from_env_values(api_key: Option<&str>, base_url: Option<&str>) -> Result<Self, Error> {
        let config = Self::new(ApiKey::new(api_key.unwrap_or_default())?);
        match base_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Ok(config.with_base_url(BaseUrl::parse(url)?)),
            None => Ok(config),
        }
    }

    /// A configuration from the environment, as every client reads it: `env`
    /// looks a variable up (the caller reads the environment: this crate does
    /// not). Reads `DEEPIDV_API_KEY`, `DEEPIDV_BASE_URL` (see
    /// [`Config::from_env_values`]), `DEEPIDV_CA_BUNDLE` (a PEM file of extra
    /// CAs) and `DEEPIDV_USER_AGENT_SUFFIX` (see
    /// [`Config::with_user_agent_suffix_from_env`]). The proxy variables are read
    /// when a client is built, through [`Config::proxy_for`], so they apply to
    /// any configuration.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let config =
            Self::from_env_values(env(API_KEY_ENV).as_deref(), env(BASE_URL_ENV).as_deref())?;
        let config = match env(CA_BUNDLE_ENV).filter(|p| !p.trim().is_empty()) {
            Some(path) => config.with_ca_file(path),
            None => config,
        };
        config.with_user_agent_suffix_from_env(env)
    }

    /// Sets the base URL.
    pub fn with_base_url(mut self, base_url: BaseUrl) -> Self {
        self.base_url = base_url;
        self
    }

    with_fields! {
        /// Sets [`Config::api_key`].
        with_api_key(api_key: ApiKey);
        /// Sets [`Config::request_timeout`].
        with_request_timeout(request_timeout: Duration);
        /// Sets [`Config::connect_timeout`].
        with_connect_timeout(connect_timeout: Duration);
        /// Sets [`Config::max_body_bytes`].
        with_max_body_bytes(max_body_bytes: usize);
        /// Sets [`Config::poll`].
        with_poll(poll: PollPolicy);
        /// Sets [`Config::retry`].
        with_retry(retry: RetryPolicy);
    }

    /// Sets the frontend named in the `User-Agent`.
    pub fn with_frontend(mut self, frontend: impl Into<String>) -> Self {
        self.frontend = frontend.into();
        self
    }

    /// Names `frontend` in the `User-Agent` unless the caller already named one
    /// (an adapter calls this with its own name; a CLI or binding that set its
    /// name first keeps it).
    pub fn with_default_frontend(self, frontend: &str) -> Self {
        if self.frontend == "core" {
            self.with_frontend(frontend)
        } else {
            self
        }
    }

    /// Names the calling application after the SDK in the `User-Agent`:
    /// `deepidv-rust/<version> (<frontend>) <suffix>`, e.g. `myapp/1.2`. The
    /// suffix is 1 to [`MAX_USER_AGENT_SUFFIX`] visible ASCII characters or
    /// spaces; anything else (a control character, non-ASCII, empty, too long)
    /// is an [`InvalidArgument`](crate::ErrorKind::InvalidArgument) error.
    pub fn with_user_agent_suffix(mut self, suffix: &str) -> Result<Self, Error> {
        self.user_agent_suffix = Some(Self::check_user_agent_suffix(suffix)?.to_owned());
        Ok(self)
    }

    /// Sets the [user-agent suffix](Config::with_user_agent_suffix) from
    /// `DEEPIDV_USER_AGENT_SUFFIX` ([`USER_AGENT_SUFFIX_ENV`]), looked up with
    /// `env` (the caller reads the environment: this crate does not). A missing
    /// or blank variable leaves the configuration as it is; a bad value is an
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) error naming the
    /// variable. [`Config::from_env`] calls this; a frontend with its own flag
    /// calls it when the flag is absent, so the flag wins.
    pub fn with_user_agent_suffix_from_env(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        match env(USER_AGENT_SUFFIX_ENV).filter(|s| !s.trim().is_empty()) {
            Some(suffix) => self.with_user_agent_suffix(&suffix).map_err(|e| {
                Error::invalid_argument(format!("{USER_AGENT_SUFFIX_ENV}: {}", e.message()))
            }),
            None => Ok(self),
        }
    }

    /// Checks a user-agent suffix the way [`Config::with_user_agent_suffix`]
    /// does, without a configuration (for a frontend that collects settings
    /// before it has one, such as the C options), and returns it trimmed of
    /// spaces.
    pub fn check_user_agent_suffix(suffix: &str) -> Result<&str, Error> {
        let trimmed = suffix.trim_matches(' ');
        if trimmed.is_empty() {
            return Err(Error::invalid_argument(
                "the user-agent suffix is empty; name the application, e.g. myapp/1.2",
            ));
        }
        if trimmed.len() > MAX_USER_AGENT_SUFFIX {
            return Err(Error::invalid_argument(format!(
                "the user-agent suffix is {} characters long; at most {MAX_USER_AGENT_SUFFIX} are allowed",
                trimmed.len()
            )));
        }
        if !trimmed.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err(Error::invalid_argument(
                "the user-agent suffix may hold only visible ASCII characters and spaces",
            ));
        }
        Ok(trimmed)
    }

    /// The `User-Agent` header value: `deepidv-rust/<version> (<frontend>)`,
    /// followed by the [user-agent suffix](Config::with_user_agent_suffix) if set.
    pub fn user_agent(&self) -> String {
        let frontend: String = self
            .frontend
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .filter(|c| !matches!(c, '(' | ')'))
            .collect();
        match &self.user_agent_suffix {
            Some(suffix) => format!("deepidv-rust/{VERSION} ({frontend}) {suffix}"),
            None => format!("deepidv-rust/{VERSION} ({frontend})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_never_printed() {
        let k = ApiKey::new("sk_test_supersecret42").unwrap();
        assert_eq!(format!("{k:?}"), "ApiKey(sk_test_…42)");
        assert_eq!(k.to_string(), "sk_test_…42");
        assert!(!format!("{k:?}{k}").contains("supersecret"));
        assert!(k.is_sandbox());
        assert!(k.header().is_sensitive());
        let short = ApiKey::new("abc").unwrap();
        assert_eq!(short.to_string(), "…");
    }

    #[test]
    fn api_key_validation() {
        assert_eq!(
            ApiKey::new("").unwrap_err().kind(),
            crate::ErrorKind::InvalidArgument
        );
        assert!(
            ApiKey::new("   ")
                .unwrap_err()
                .to_string()
                .contains("DEEPIDV_API_KEY")
        );
        assert!(ApiKey::new("sk test").is_err());
        assert!(ApiKey::new("sk_\u{e9}").is_err());
        assert!(ApiKey::new("x".repeat(513)).is_err());
        assert_eq!(ApiKey::new(" sk_live_x \n").unwrap().expose(), "sk_live_x");
    }

    #[test]
    fn base_url_rules() {
        assert_eq!(
            BaseUrl::parse("https://api.deepidv.com/").unwrap().as_str(),
            "https://api.deepidv.com"
        );
        assert_eq!(
            BaseUrl::parse("https://EX.com/api/").unwrap().as_str(),
            "https://ex.com/api"
        );
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "http://127.9.9.9",
        ] {
            let u = BaseUrl::parse(ok).unwrap();
            assert!(u.is_loopback(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "https://user:pw@example.com",
            "https://example.com/?q=1",
            "https://example.com/#x",
            "example.com",
            "",
            "http://127.0.0.1.evil.com",
            "http://localhost.evil.com",
        ] {
            let e = BaseUrl::parse(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
        assert!(BaseUrl::parse_allowing_http("http://example.com").is_ok());
    }

    #[test]
    fn default_policies_match_design() {
        let p = PollPolicy::default();
        assert_eq!(p.nominal_delay(1), Duration::from_secs(2));
        assert_eq!(p.nominal_delay(2), Duration::from_secs(3));
        assert_eq!(p.nominal_delay(3), Duration::from_millis(4500));
        assert_eq!(p.nominal_delay(4), Duration::from_secs(5));
        assert_eq!(p.nominal_delay(1000), Duration::from_secs(5));
        let r = RetryPolicy::default();
        assert_eq!(r.backoff_ceiling(1), Duration::from_millis(500));
        assert_eq!(r.backoff_ceiling(2), Duration::from_secs(1));
        assert_eq!(r.backoff_ceiling(7), Duration::from_secs(30));
        assert_eq!(r.backoff_ceiling(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn a_cap_below_the_first_delay_never_shortens_it() {
        let p = PollPolicy {
            interval: Duration::from_secs(10),
            ..PollPolicy::default()
        };
        assert_eq!(p.nominal_delay(1), Duration::from_secs(10));
        assert_eq!(p.nominal_delay(9), Duration::from_secs(10));
        let r = RetryPolicy {
            initial_backoff: Duration::from_secs(40),
            ..RetryPolicy::default()
        };
        assert_eq!(r.backoff_ceiling(1), Duration::from_secs(40));
        assert_eq!(r.backoff_ceiling(u32::MAX), Duration::from_secs(40));
    }

    #[test]
    fn from_env_values() {
        let c = Config::from_env_values(Some("sk_test_1"), None).unwrap();
        assert_eq!(c.base_url.as_str(), DEFAULT_BASE_URL);
        let c = Config::from_env_values(Some("sk_test_1"), Some("  ")).unwrap();
        assert_eq!(c.base_url.as_str(), DEFAULT_BASE_URL);
        let c = Config::from_env_values(Some("sk_test_1"), Some("http://127.0.0.1:4010/")).unwrap();
        assert_eq!(c.base_url.as_str(), "http://127.0.0.1:4010");
        let e = Config::from_env_values(None, None).unwrap_err();
        assert!(e.to_string().contains(API_KEY_ENV), "{e}");
        let e = Config::from_env_values(Some("k"), Some("http://example.com")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
    }

    #[test]
    fn from_env_reads_the_ca_bundle() {
        let vars = [
            (API_KEY_ENV, "sk_test_1"),
            (BASE_URL_ENV, "https://api.example.com"),
            (CA_BUNDLE_ENV, "/etc/corp/ca.pem"),
        ];
        let env = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let c = Config::from_env(env).unwrap();
        assert_eq!(c.base_url.as_str(), "https://api.example.com");
        assert_eq!(c.ca_certs, vec![CaSource::File("/etc/corp/ca.pem".into())]);
        assert_eq!(c.proxy, ProxySetting::Environment);
        let c = Config::from_env(|n| (n == API_KEY_ENV).then(|| "k".to_owned())).unwrap();
        assert!(c.ca_certs.is_empty());
        let e = Config::from_env(|_| None).unwrap_err();
        assert!(e.to_string().contains(API_KEY_ENV), "{e}");
    }

    #[test]
    fn user_agent_shape() {
        let c = Config::new(ApiKey::new("k").unwrap()).with_default_frontend("ureq");
        assert_eq!(c.frontend, "ureq");
        assert_eq!(c.clone().with_default_frontend("reqwest").frontend, "ureq");
        let c = Config::new(ApiKey::new("k").unwrap()).with_frontend("ureq");
        assert_eq!(c.user_agent(), format!("deepidv-rust/{VERSION} (ureq)"));
        let c = c.with_frontend("evil)\r\n");
        assert_eq!(c.user_agent(), format!("deepidv-rust/{VERSION} (evil)"));
    }

    #[test]
    fn user_agent_suffix_is_appended_and_validated() {
        let c = Config::new(ApiKey::new("k").unwrap())
            .with_frontend("ureq")
            .with_user_agent_suffix("myapp/1.2")
            .unwrap();
        assert_eq!(
            c.user_agent(),
            format!("deepidv-rust/{VERSION} (ureq) myapp/1.2")
        );
        let r = c.get_job_request(&crate::JobId::new("j").unwrap()).unwrap();
        assert_eq!(
            r.headers()["user-agent"],
            format!("deepidv-rust/{VERSION} (ureq) myapp/1.2").as_str()
        );
        let long = "a".repeat(MAX_USER_AGENT_SUFFIX + 1);
        for bad in [
            "",
            "  ",
            "app\r\nX-Evil: 1",
            "app\u{7f}",
            "appé/1",
            "tab\there",
            &long,
        ] {
            let e = Config::new(ApiKey::new("k").unwrap())
                .with_user_agent_suffix(bad)
                .unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad:?}");
        }
        assert!(
            Config::new(ApiKey::new("k").unwrap())
                .with_user_agent_suffix(&"a".repeat(MAX_USER_AGENT_SUFFIX))
                .is_ok()
        );
        assert_eq!(
            Config::check_user_agent_suffix("  myapp/1.2 (linux) ").unwrap(),
            "myapp/1.2 (linux)"
        );
        let e = Config::check_user_agent_suffix("app\r\nX-Evil: 1").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(!e.message().contains('\n'), "one line: {e}");
    }

    #[test]
    fn from_env_reads_the_user_agent_suffix() {
        let env = |suffix: &'static str| {
            move |name: &str| match name {
                API_KEY_ENV => Some("sk_test_1".to_owned()),
                USER_AGENT_SUFFIX_ENV => Some(suffix.to_owned()),
                _ => None,
            }
        };
        let c = Config::from_env(env("myapp/1.2")).unwrap();
        assert_eq!(c.user_agent_suffix.as_deref(), Some("myapp/1.2"));
        assert_eq!(
            c.user_agent(),
            format!("deepidv-rust/{VERSION} (core) myapp/1.2")
        );
        // blank is unset, as for the other variables
        let c = Config::from_env(env("  ")).unwrap();
        assert_eq!(c.user_agent_suffix, None);
        let c = Config::from_env(|n| (n == API_KEY_ENV).then(|| "k".to_owned())).unwrap();
        assert_eq!(c.user_agent_suffix, None);
        // a bad value names the variable, on one line
        let e = Config::from_env(env("app\u{1b}[31m")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(
            e.message()
                .starts_with("DEEPIDV_USER_AGENT_SUFFIX: the user-agent suffix"),
            "{e}"
        );
        assert!(!e.message().contains('\u{1b}'), "{e}");
        // an explicit suffix wins: the variable is only read when asked
        let c = Config::new(ApiKey::new("k").unwrap())
            .with_user_agent_suffix("flag/1")
            .unwrap();
        let kept = c.clone().with_user_agent_suffix_from_env(|_| None).unwrap();
        assert_eq!(kept.user_agent_suffix.as_deref(), Some("flag/1"));
    }
}
