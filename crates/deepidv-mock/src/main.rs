//! `deepidv-mock`: serve the deepidv API simulator. See the crate docs and README for the flags.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use deepidv_mock::{MockArgs, run_cli};

/// A faithful local simulator of the deepidv async-jobs API.
#[derive(Parser, Debug)]
#[command(name = "deepidv-mock", version, about)]
struct Cli {
    #[command(flatten)]
    args: MockArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("deepidv-mock: cannot start the runtime: {e}");
            return ExitCode::from(9);
        }
    };
    match runtime.block_on(run_cli(cli.args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deepidv-mock: {e}");
            // a bad --addr (in use, not local, not permitted) is an invalid argument; anything else internal
            match e.kind() {
                std::io::ErrorKind::AddrInUse
                | std::io::ErrorKind::AddrNotAvailable
                | std::io::ErrorKind::PermissionDenied => ExitCode::from(2),
                _ => ExitCode::from(9),
            }
        }
    }
}
