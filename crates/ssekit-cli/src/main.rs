//! The `ssekit` binary; everything is in the library (`ssekit_cli::cli`).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(ssekit_cli::cli::main())
}
