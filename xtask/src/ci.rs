//! `cargo xtask ci`: what CI runs on every submission.

use crate::step;

pub(crate) fn run() -> Result<(), String> {
    crate::system::ensure()?;
    let cargo = &std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    step("format", cargo, &["fmt", "--all", "--", "--check"], &[])?;
    step(
        "lint",
        cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    step(
        "lint without default features",
        cargo,
        &[
            "clippy",
            "--package",
            "ssekit",
            "--no-default-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    step(
        "test",
        cargo,
        &["test", "--workspace", "--all-features"],
        &[],
    )?;
    // Runs each benchmark once, untimed: it proves they still build and
    // that their start-up check of every library's output holds.
    step(
        "bench smoke",
        cargo,
        &["test", "--package", "ssekit", "--benches"],
        &[],
    )?;
    // The server bench, a few hundred events per server in a debug build:
    // it proves every server, the load client and the report still work,
    // and times nothing (the comparison is `cargo xtask bench`).
    crate::bench::run(&["--quick".to_owned()])?;
    // Each fuzz target briefly, from its committed seeds (docs/FUZZING.md).
    crate::fuzz::smoke()?;
    step(
        "docs",
        cargo,
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    eprintln!("\nci: all steps passed");
    Ok(())
}
