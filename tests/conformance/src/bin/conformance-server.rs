//! `conformance-server --adapter <axum|actix|warp> [--port N] [--redis URL] [--hub-capacity N]`:
//! serves shared/conformance/SCENARIOS.md with one adapter until SIGTERM or
//! SIGINT.

use std::process::ExitCode;

use ssekit_conformance::{Options, USAGE, run};

fn main() -> ExitCode {
    match Options::parse(std::env::args().skip(1)) {
        Ok(options) => run(&options),
        Err(message) => {
            eprintln!("conformance-server: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
