//! The `meanfield` binary: parses arguments, calls the library, prints the error chain and
//! returns an exit code (0 done, 1 failure, 2 bad input, 3 diverged, 130 interrupted).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
