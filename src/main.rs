//! The `asyncbot` binary: the command line lives in the library (`asyncbot::cli`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    asyncbot::install_crypto_provider();
    asyncbot::cli::commands::main()
}
