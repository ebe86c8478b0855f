//! The project's tasks: `cargo xtask <task>`.
//!
//! - `bench`: ssekit's adapters against the peers' SSE, into `docs/BENCHMARKS.md`.
//! - `ci`: everything CI checks, in the order that fails fastest.
//! - `conformance`: the conformance suite's results, as the README's table.
//! - `soak`: the hub's bounded soak on every adapter, into `docs/RELIABILITY.md`.
//! - `fuzz`: the libFuzzer targets in `fuzz/`, each for a bounded time.
//!
//! It has no dependencies, so it compiles in a moment.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod bench;
mod ci;
mod conformance;
mod fuzz;
mod soak;
mod system;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::run(&args[1..]),
        Some("ci") => ci::run(),
        Some("conformance") => conformance::run(),
        Some("soak") => soak::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  bench         measure ssekit against the peers and write docs/BENCHMARKS.md (--quick: smoke run)\n  ci            format, lint, test and document everything, as CI does\n  conformance   run the conformance suite and write its table into README.md\n  soak          soak the hub on every adapter and write docs/RELIABILITY.md's table (--minutes N, default 2)\n  fuzz          run each fuzz target for a while (--seconds N, default 60; --asan; target names)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask lives one level below it.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs one step of a task, echoing it and timing it; fails with the step's
/// name so the log says which one broke.
fn step(name: &str, program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("\n==> {name}: {program} {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|err| format!("{name}: could not run `{program}`: {err}"))?;
    eprintln!(
        "<== {name}: {status} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("step `{name}` failed ({status})"))
    }
}
