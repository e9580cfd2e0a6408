//! `switchboard`: run webhook deliveries through the processor component.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cli;
mod serve;

fn main() -> std::process::ExitCode {
    cli::main()
}
