//! `deepidv-mock`: serve the deepidv API simulator. See the crate docs and README for the flags.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use deepidv_mock::MockArgs;

/// A faithful local simulator of the deepidv async-jobs API.
#[derive(Parser, Debug)]
#[command(name = "deepidv-mock", version, about)]
struct Cli {
    #[command(flatten)]
    args: MockArgs,
}

fn main() -> ExitCode {
    ExitCode::from(deepidv_mock::serve(Cli::parse().args))
}
