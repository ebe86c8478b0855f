//! `cargo xtask ci`: what CI runs on every submission.

use crate::step;

pub(crate) fn run() -> Result<(), String> {
    // CI builds everything once, so incremental state would only take disk:
    // 0.85 GB on top of the tests' 2.2 GB build. Every cargo that a step
    // starts must see the setting, so the task runs again as a child that
    // has it.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        let xtask = std::env::current_exe()
            .map_err(|err| format!("ci: cannot find the running xtask: {err}"))?;
        let xtask = xtask.to_string_lossy();
        return step(
            "ci without incremental builds",
            &xtask,
            &["ci"],
            &[("CARGO_INCREMENTAL", "0")],
        );
    }
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
