//! The `faultline` command: parses the command line, sets up logging to a file, and runs the
//! chosen mode. Errors end here: printed with their causes, exit status 1 (2 for usage errors).

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole chain of causes on one line: "what: why: deeper why".
            eprintln!("faultline: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
