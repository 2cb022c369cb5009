//! The `actmap` command: render, inspect and demo activation grids.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
