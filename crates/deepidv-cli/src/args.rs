//! The command line, as clap sees it. The shape is the CLI contract (README "Real use"; exit codes in ARCHITECTURE.md).

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use deepidv_core::{API_KEY_ENV, BASE_URL_ENV, CA_BUNDLE_ENV, DEFAULT_BASE_URL, parse_duration};
use deepidv_mock::MockArgs;

/// Get, wait for and watch deepidv async jobs; start screenings; run the local simulator.
///
/// Exit codes are the SDK's outcome codes: 0 ok, 1 job failed, 2 invalid argument,
/// 3 timeout, 4 not found or expired, 5 unauthorized, 6 rejected, 7 unavailable,
/// 8 invalid response, 9 internal.
#[derive(Parser, Debug)]
#[command(name = "deepidv", version, propagate_version = true)]
#[command(
    after_help = "Try `deepidv demo`: the whole flow against an embedded simulator, no key, no network."
)]
pub struct Cli {
    /// API base URL (https, or http to a loopback host).
    #[arg(long, value_name = "URL", env = BASE_URL_ENV, default_value = DEFAULT_BASE_URL, global = true)]
    pub base_url: String,

    /// API key (sk_test_… or sk_live_…). Put it before the command, or set the environment variable.
    #[arg(long, value_name = "KEY", env = API_KEY_ENV, hide_env_values = true)]
    pub api_key: Option<String>,

    /// Extra trusted CA certificates (PEM), added to the OS trust store.
    #[arg(long, value_name = "FILE", env = CA_BUNDLE_ENV, global = true)]
    pub ca_cert: Option<std::path::PathBuf>,

    /// Proxy for API calls, wins over HTTPS_PROXY/HTTP_PROXY/ALL_PROXY [env: DEEPIDV_PROXY,
    /// read with them]; `--proxy ''` uses none at all. NO_PROXY is honoured; loopback hosts never
    /// use a proxy.
    #[arg(long, value_name = "URL", global = true)]
    pub proxy: Option<String>,

    /// Names your application after the SDK in the User-Agent, e.g. `myapp/1.2`: visible ASCII and
    /// spaces, at most 128 [env: DEEPIDV_USER_AGENT_SUFFIX].
    #[arg(long, value_name = "TEXT", global = true)]
    pub user_agent_suffix: Option<String>,

    /// Timeout for each HTTP request, e.g. `30s`.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, global = true)]
    pub request_timeout: Option<Duration>,

    /// Output format on stdout.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text, global = true)]
    pub output: Output,

    /// Log on stderr: -v status changes and retries, -vv every request too (env DEEPIDV_LOG, or RUST_LOG with -v,
    /// for a tracing filter such as `deepidv=debug`).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people: a status line and a summary of the result.
    Text,
    /// The job exactly in the API's field names (JSON lines for `watch`).
    Json,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read, wait for or watch a job.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Start screenings.
    #[command(subcommand)]
    Screening(ScreeningCommand),
    /// Serve the simulator (same as the deepidv-mock binary).
    Mock(MockArgs),
    /// The whole flow against an embedded simulator: no key, no network.
    Demo,
    /// Bulk screening: a whole customer base, resumable (SQLite) or shared by many workers (PostgreSQL).
    #[command(subcommand)]
    Batch(crate::batch::BatchCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout.
    Man,
}

/// `jobs …`.
#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// One snapshot of the job (a failed job exits 0 here).
    Get {
        /// The job id.
        job_id: String,
        #[command(flatten)]
        key: LateKey,
    },
    /// Wait until the job is ready (exit 0) or failed (exit 1), or the timeout (exit 3).
    Wait {
        /// The job id.
        job_id: String,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        key: LateKey,
    },
    /// One line per observed status change until the job is ready or failed.
    Watch {
        /// The job id.
        job_id: String,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        key: LateKey,
    },
}

/// `screening …`.
#[derive(Subcommand, Debug)]
pub enum ScreeningCommand {
    /// Start an adverse-media screening (and with --wait, wait for its result).
    AdverseMedia(AdverseMediaArgs),
}

/// `screening adverse-media` flags.
#[derive(Args, Debug)]
pub struct AdverseMediaArgs {
    /// First name.
    #[arg(long, value_name = "F")]
    pub first_name: String,
    /// Last name.
    #[arg(long, value_name = "L")]
    pub last_name: String,
    /// E-mail address.
    #[arg(long, value_name = "E")]
    pub email: String,
    /// Date of birth, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date_of_birth: String,
    /// Country, ISO 3166-1 alpha-2 (e.g. US).
    #[arg(long, value_name = "CC")]
    pub country: Option<String>,
    /// Idempotency key: the same key within 24 h replays the same job (default: a fresh random one).
    #[arg(long, value_name = "K")]
    pub idempotency_key: Option<String>,
    /// Wait for the job's outcome (exit 1 if it fails).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub wait_args: WaitArgs,
    #[command(flatten)]
    pub key: LateKey,
}

/// How a wait polls.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct WaitArgs {
    /// Give up after this long (default 10m).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Delay between the first polls (default 2s; grows ×1.5 up to --max-interval).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub interval: Option<Duration>,
    /// Largest delay between polls (default 5s).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub max_interval: Option<Duration>,
}

/// `--api-key` accepted after the command too (it cannot be a clap global: `mock` has its
/// own `--api-key`, the keys the simulator accepts).
#[derive(Args, Debug, Clone, Default)]
pub struct LateKey {
    #[arg(long = "api-key", id = "late_api_key", value_name = "KEY", hide = true)]
    pub api_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn key_before_or_after_the_command() {
        let cli = Cli::try_parse_from(["deepidv", "--api-key", "k1", "jobs", "get", "j"]).unwrap();
        assert_eq!(cli.api_key.as_deref(), Some("k1"));
        let cli = Cli::try_parse_from(["deepidv", "jobs", "get", "j", "--api-key", "k2"]).unwrap();
        match cli.command {
            Command::Jobs(JobsCommand::Get { key, .. }) => {
                assert_eq!(key.api_key.as_deref(), Some("k2"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn globals_after_the_command() {
        let cli = Cli::try_parse_from([
            "deepidv",
            "jobs",
            "wait",
            "j",
            "-o",
            "json",
            "--base-url",
            "http://127.0.0.1:1",
            "--interval",
            "50ms",
        ])
        .unwrap();
        assert_eq!(cli.output, Output::Json);
        assert_eq!(cli.base_url, "http://127.0.0.1:1");
    }

    #[test]
    fn mock_flags_flatten() {
        let cli = Cli::try_parse_from([
            "deepidv",
            "mock",
            "--addr",
            "127.0.0.1:0",
            "--api-key",
            "k:o",
            "--fault",
            "503x2",
        ])
        .unwrap();
        match cli.command {
            Command::Mock(m) => {
                assert_eq!(m.api_keys, vec![("k".to_owned(), "o".to_owned())]);
                assert_eq!(m.faults.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }
}
