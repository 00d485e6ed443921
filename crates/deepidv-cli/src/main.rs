//! `deepidv`: the deepidv async-jobs API from a shell.
//!
//! A thin frontend over the blocking adapter (`deepidv-ureq`): flags map onto
//! [`deepidv_core::Config`], the core decides everything about statuses, retries and
//! backoff, and exit codes are the SDK's outcome codes ([`deepidv_core::ErrorKind::code`]).
//! See `deepidv --help` and the exit codes in ARCHITECTURE.md ("Outcomes, the same everywhere").
#![forbid(unsafe_code)]

mod args;
mod batch;
mod progress;
mod render;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory as _, Parser as _};
use deepidv_core::{
    AdverseMediaRequest, ApiKey, BaseUrl, Config, Error, ErrorKind, IdempotencyKey, Job, JobId,
    Machine,
};
use deepidv_mock::{DEFAULT_API_KEY, MockConfig, MockServer};
use deepidv_ureq::Client;

use args::{
    AdverseMediaArgs, Cli, Command, JobsCommand, LateKey, Output, ScreeningCommand, WaitArgs,
};
use progress::Progress;
use render::Style;

/// The fixed sample person of `deepidv demo`.
const DEMO_PERSON: (&str, &str, &str, &str, &str) =
    ("Jane", "Doe", "jane.doe@example.com", "1985-04-12", "US");

fn main() -> ExitCode {
    // clap exits 2 on a usage error and 0 for --help/--version.
    let cli = Cli::parse();
    let logging = init_logging(cli.verbose);
    let mut ctx = Ctx::new(&cli);
    // Log lines and a spinner would overwrite each other: the log wins.
    ctx.stderr_tty &= !logging;
    let code = match run(&cli, &ctx) {
        Ok(code) => code,
        Err(e) => ctx.fail(&e),
    };
    ExitCode::from(code)
}

/// Sends the clients' tracing events to stderr when asked: `DEEPIDV_LOG` (a
/// tracing filter) always wins; otherwise `-v` shows status changes and retries,
/// `-vv` every request too, refined by `RUST_LOG` when set. Without either, no
/// subscriber is installed and the output is exactly as without logging (a
/// stray `RUST_LOG` alone changes nothing). `true` when logging is on.
fn init_logging(verbose: u8) -> bool {
    use tracing_subscriber::EnvFilter;

    let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let spec = match (var("DEEPIDV_LOG"), verbose) {
        (Some(spec), _) => spec,
        (None, 0) => return false,
        (None, v) => var("RUST_LOG").unwrap_or_else(|| {
            if v == 1 {
                "deepidv=info"
            } else {
                "deepidv=debug"
            }
            .to_owned()
        }),
    };
    let filter = EnvFilter::try_new(&spec).unwrap_or_else(|e| {
        let e = e.to_string().replace('\n', " ");
        eprintln!("warning: ignoring the log filter {spec:?} ({e}); using deepidv=debug");
        EnvFilter::new("deepidv=debug")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    true
}

/// What every command needs to print.
struct Ctx {
    output: Output,
    style: Style,
    /// stderr is a terminal: show a spinner.
    stderr_tty: bool,
}

impl Ctx {
    fn new(cli: &Cli) -> Self {
        let secret = effective_key(cli).map(|k| k.trim().to_owned());
        let color = cli.output == Output::Text
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        Self {
            output: cli.output,
            style: Style { secret, color },
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
    fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    fn print_job(&self, job: &Job) {
        match self.output {
            Output::Text => self.out(&render::job_text(job, &self.style)),
            Output::Json => self.out(&format!("{}\n", render::job_json(job, &self.style))),
        }
    }

    /// `error: <message>` on stderr; the exit code is the outcome code. A failed job
    /// carried by the error is printed on stdout first.
    fn fail(&self, e: &Error) -> u8 {
        if let Some(job) = e.job() {
            self.print_job(job);
        }
        eprintln!("error: {}", self.style.redact(e.message().to_owned()));
        e.code()
    }

    /// The outcome of a wait (or a get): the job on stdout, exit 0; or the error.
    fn finish(&self, outcome: Result<Job, Error>) -> u8 {
        match outcome {
            Ok(job) => {
                self.print_job(&job);
                0
            }
            Err(e) => self.fail(&e),
        }
    }

    fn progress(&self) -> Progress {
        Progress::new(self.stderr_tty, false, self.style.clone())
    }
}

fn effective_key(cli: &Cli) -> Option<&str> {
    let late = match &cli.command {
        Command::Jobs(
            JobsCommand::Get { key, .. }
            | JobsCommand::Wait { key, .. }
            | JobsCommand::Watch { key, .. },
        ) => key.api_key.as_deref(),
        Command::Screening(ScreeningCommand::AdverseMedia(a)) => a.key.api_key.as_deref(),
        Command::Batch(b) => batch::late_key(b),
        _ => None,
    };
    late.or(cli.api_key.as_deref())
}

fn run(cli: &Cli, ctx: &Ctx) -> Result<u8, Error> {
    match &cli.command {
        Command::Jobs(JobsCommand::Get { job_id, key }) => {
            let id = JobId::new(job_id.as_str())?;
            let client = client(cli, key, None)?;
            let mut progress = ctx.progress();
            progress.label(format!("fetching job {}", ctx.style.safe(id.as_str())));
            let outcome = drive(&client, &mut client.get_poller(&id), &mut progress);
            Ok(ctx.finish(outcome))
        }
        Command::Jobs(JobsCommand::Wait { job_id, wait, key }) => {
            let id = JobId::new(job_id.as_str())?;
            let client = client(cli, key, Some(wait))?;
            Ok(wait_for(ctx, &client, &id))
        }
        Command::Jobs(JobsCommand::Watch { job_id, wait, key }) => {
            let id = JobId::new(job_id.as_str())?;
            let client = client(cli, key, Some(wait))?;
            Ok(watch(ctx, &client, &id))
        }
        Command::Screening(ScreeningCommand::AdverseMedia(a)) => adverse_media(cli, ctx, a),
        Command::Mock(args) => Ok(deepidv_mock::serve(args.clone())),
        Command::Demo => demo(ctx),
        Command::Batch(b) => Ok(batch::main(
            cli,
            b,
            ctx.stderr_tty,
            ctx.style.secret.as_deref(),
        )),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "deepidv", &mut out);
            ctx.out(&String::from_utf8_lossy(&out));
            Ok(0)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Internal,
                        format!("cannot render the man page: {e}"),
                    )
                })?;
            ctx.out(&String::from_utf8_lossy(&out));
            Ok(0)
        }
    }
}

/// The client these flags describe. Every check here happens before any request.
fn client(cli: &Cli, late: &LateKey, wait: Option<&WaitArgs>) -> Result<Client, Error> {
    let key = late
        .api_key
        .as_deref()
        .or(cli.api_key.as_deref())
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "no API key: set DEEPIDV_API_KEY or pass --api-key",
            )
        })?;
    let mut config = config(cli, key, "cli")?;
    if let Some(w) = wait {
        apply_wait(&mut config, w);
    }
    Client::new(config)
}

/// The configuration the global flags describe, for every command that calls the API (`jobs`,
/// `screening`, `batch run`): the one place they are applied.
pub(crate) fn config(cli: &Cli, key: &str, frontend: &str) -> Result<Config, Error> {
    let mut config = Config::new(ApiKey::new(key)?)
        .with_base_url(BaseUrl::parse(&cli.base_url)?)
        .with_frontend(frontend);
    if let Some(path) = &cli.ca_cert {
        config = config.with_ca_file(path);
    }
    if let Some(proxy) = &cli.proxy {
        // `--proxy ''`: no proxy at all, whatever the environment says (as C's NULL and Go's "")
        config.proxy = deepidv_core::ProxySetting::explicit(proxy)?;
    }
    // `--user-agent-suffix`, or else `DEEPIDV_USER_AGENT_SUFFIX` read the core's way (a blank value
    // is unset), so the flag wins and the variable means what it means to `Config::from_env`.
    config = match &cli.user_agent_suffix {
        Some(suffix) => config.with_user_agent_suffix(suffix)?,
        None => config.with_user_agent_suffix_from_env(|name| std::env::var(name).ok())?,
    };
    if let Some(t) = cli.request_timeout {
        if t.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "--request-timeout must be more than 0",
            ));
        }
        config.request_timeout = t;
        config.connect_timeout = config.connect_timeout.min(t);
    }
    Ok(config)
}

/// Maps the wait flags onto the poll policy.
fn apply_wait(config: &mut Config, w: &WaitArgs) {
    if let Some(t) = w.timeout {
        config.poll.timeout = t;
    }
    if let Some(i) = w.interval {
        config.poll.interval = i; // a cap below it never shortens it (the core's rule)
    }
    if let Some(m) = w.max_interval {
        config.poll.max_interval = m;
    }
}

/// Runs a machine, showing its progress.
fn drive<M: Machine>(
    client: &Client,
    machine: &mut M,
    progress: &mut Progress,
) -> Result<M::Output, Error> {
    let outcome = client.drive(machine, &mut |event| progress.event(event), None);
    progress.finish();
    outcome
}

fn wait_for(ctx: &Ctx, client: &Client, id: &JobId) -> u8 {
    let mut progress = ctx.progress();
    progress.label(format!("waiting for job {}", ctx.style.safe(id.as_str())));
    let outcome = drive(client, &mut client.wait_poller(id), &mut progress);
    ctx.finish(outcome)
}

fn watch(ctx: &Ctx, client: &Client, id: &JobId) -> u8 {
    let mut watch = client.watch(id);
    for item in &mut watch {
        match item {
            Ok(job) => match ctx.output {
                Output::Text => ctx.out(&format!("{}\n", render::watch_line(&job, &ctx.style))),
                Output::Json => ctx.out(&format!("{}\n", render::job_json(&job, &ctx.style))),
            },
            Err(e) => return ctx.fail(&e),
        }
    }
    // A failed job's lines are printed already; say why it failed, and exit 1.
    match watch.outcome() {
        Some(Err(e)) => {
            eprintln!("error: {}", ctx.style.redact(e.message().to_owned()));
            e.code()
        }
        _ => 0,
    }
}

fn adverse_media(cli: &Cli, ctx: &Ctx, a: &AdverseMediaArgs) -> Result<u8, Error> {
    let request = AdverseMediaRequest::new(
        &a.first_name,
        &a.last_name,
        &a.email,
        &a.date_of_birth,
        a.country.as_deref(),
    )?;
    let key = a
        .idempotency_key
        .clone()
        .map(IdempotencyKey::new)
        .transpose()?;
    let client = client(cli, &a.key, a.wait.then_some(&a.wait_args))?;
    let mut progress = ctx.progress();
    progress.label("starting the screening");
    let created = drive(
        &client,
        &mut client.create_call(&request, key)?,
        &mut progress,
    )?;
    if !a.wait {
        match ctx.output {
            Output::Text => ctx.out(&render::created_text(&created, &ctx.style)),
            Output::Json => ctx.out(&format!("{}\n", render::created_json(&created, &ctx.style))),
        }
        return Ok(0);
    }
    let id = created.id()?;
    Ok(wait_for(ctx, &client, &id))
}

fn demo(ctx: &Ctx) -> Result<u8, Error> {
    let mock = MockServer::start_background(MockConfig::default()).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("cannot start the embedded simulator: {e}"),
        )
    })?;
    let mut config = Config::new(ApiKey::new(DEFAULT_API_KEY)?)
        .with_base_url(BaseUrl::parse(&mock.url())?)
        .with_frontend("cli demo");
    config.poll.interval = Duration::from_millis(250);
    config.poll.max_interval = Duration::from_millis(500);
    config.poll.timeout = Duration::from_secs(60);
    let client = Client::new(config)?;
    // No secret worth hiding here: the sandbox key is public.
    let style = Style {
        secret: None,
        color: ctx.style.color,
    };
    let mut progress = Progress::new(ctx.stderr_tty, true, style.clone());
    progress.label("starting the embedded simulator");
    progress.line(&format!(
        "demo: embedded simulator at {} (no API key, no network)",
        mock.url()
    ));
    let (first, last, email, dob, country) = DEMO_PERSON;
    let request = AdverseMediaRequest::new(first, last, email, dob, Some(country))?;
    progress.line(&format!(
        "demo: screening {first} {last} ({email}, born {dob}, {country}) for adverse media"
    ));
    progress.label("POST /v1/screening/adverse-media");
    let created = client.drive(
        &mut client.create_call(&request, None)?,
        &mut |e| progress.event(e),
        None,
    )?;
    progress.line(&format!(
        "demo: created job {}; polling GET /v1/async-jobs/{{jobId}}",
        created.job_id
    ));
    let id = created.id()?;
    let outcome = drive(&client, &mut client.wait_poller(&id), &mut progress);
    drop(progress);
    let demo_ctx = Ctx {
        output: ctx.output,
        style,
        stderr_tty: ctx.stderr_tty,
    };
    let code = demo_ctx.finish(outcome);
    if code == 0 {
        eprintln!(
            "demo: done. Next: `deepidv mock` in one shell, then \
             `DEEPIDV_BASE_URL=http://127.0.0.1:4010 DEEPIDV_API_KEY={DEFAULT_API_KEY} deepidv screening adverse-media --first-name … --wait` in another"
        );
    }
    Ok(code)
}
