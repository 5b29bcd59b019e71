//! The `opsbot` binary: parse the command line, hand over, map errors to exit codes.

fn main() -> std::process::ExitCode {
    opsbot::cli::main()
}
