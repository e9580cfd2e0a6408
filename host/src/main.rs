//! `switchboard`: run webhook deliveries through the processor component.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
