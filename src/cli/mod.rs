//! Command line: clap arguments ([`args`]) validated into a request and executed by one module
//! per subcommand (run, limit, sweep, gallery, check and plot, figure, bench); progress bars and exit
//! codes.

mod args;
mod bench;
mod check;
mod common;
mod figure;
mod gallery;
mod limit;
mod run;
mod sweep;

use std::process::ExitCode;

use clap::Parser;

use meanfield::Error;

use args::{Cli, Command};
use common::BadInput;

/// Exit code of bad input (scenario, files, arguments).
const EXIT_BAD_INPUT: u8 = 2;
/// Exit code of a diverged run.
const EXIT_DIVERGED: u8 = 3;
/// Exit code of an interrupted run (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

/// Entry point: runs the command and maps errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}

/// The exit code of a failed command: 3 diverged, 2 bad input, 1 anything else.
fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<Error>() {
        Some(Error::Diverged { .. }) => EXIT_DIVERGED,
        Some(
            Error::Config { .. }
            | Error::Reference(..)
            | Error::Parse { .. }
            | Error::Invalid { .. }
            | Error::Format { .. }
            | Error::RunDirectory { .. },
        ) => EXIT_BAD_INPUT,
        _ if error
            .chain()
            .any(|e| e.downcast_ref::<BadInput>().is_some()) =>
        {
            EXIT_BAD_INPUT
        }
        _ => 1,
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Gallery(args) => gallery::command(args),
        Command::Run(args) => run::command(args),
        Command::Limit(args) => limit::command(args),
        Command::Sweep(args) => sweep::command(args),
        Command::Check(args) => check::check(args),
        Command::Plot(args) => check::plot(args),
        Command::Figure(args) => figure::command(args),
        Command::Bench(args) => bench::command(args),
    }
}
