//! `cargo xtask fuzz [--seconds N] [--asan] [target...]`: runs the libFuzzer
//! targets in `fuzz/` for a bounded time each, with cargo-fuzz, and fails
//! if any of them finds a crash. See docs/FUZZING.md.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::{root, step};

/// Every target in `fuzz/fuzz_targets/`.
const TARGETS: [&str; 3] = ["decode", "roundtrip", "last_event_id"];

/// How long each target runs unless `--seconds` says otherwise.
const DEFAULT_SECONDS: u64 = 60;

/// How long each target runs in CI: long enough to replay the seeds and
/// mutate them for a while, short enough that the whole step, cargo-fuzz's
/// installation included, stays within a few minutes.
const CI_SECONDS: u64 = 15;

/// The cargo-fuzz that this was written against; installed when `cargo
/// fuzz` is missing.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

struct Options {
    seconds: u64,
    asan: bool,
    targets: Vec<&'static str>,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    fuzz(&options)
}

/// The brief run CI does: every target, `CI_SECONDS` each, after checking
/// the fuzz crate's format, lints and its reference model's own tests
/// (it is a workspace of its own, so the workspace-wide steps skip it).
pub(crate) fn smoke() -> Result<(), String> {
    let cargo = cargo();
    let manifest = "fuzz/Cargo.toml";
    step(
        "fuzz: format",
        &cargo,
        &["fmt", "--manifest-path", manifest, "--", "--check"],
        &[],
    )?;
    step(
        "fuzz: lint",
        &cargo,
        &[
            "clippy",
            "--manifest-path",
            manifest,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    step(
        "fuzz: reference model tests",
        &cargo,
        &["test", "--manifest-path", manifest, "--lib"],
        &[],
    )?;
    fuzz(&Options {
        seconds: CI_SECONDS,
        asan: false,
        targets: TARGETS.to_vec(),
    })
}

fn parse(args: &[String]) -> Result<Options, String> {
    let usage = || {
        format!(
            "usage: cargo xtask fuzz [--seconds N] [--asan] [target...]\ntargets: {}",
            TARGETS.join(", ")
        )
    };
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        asan: false,
        targets: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                options.seconds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        format!("--seconds needs a whole number above 0\n{}", usage())
                    })?;
            }
            "--asan" => options.asan = true,
            "-h" | "--help" => return Err(usage()),
            name => {
                let target = TARGETS
                    .into_iter()
                    .find(|t| *t == name)
                    .ok_or_else(|| format!("no fuzz target `{name}`\n{}", usage()))?;
                options.targets.push(target);
            }
        }
    }
    if options.targets.is_empty() {
        options.targets = TARGETS.to_vec();
    }
    Ok(options)
}

fn fuzz(options: &Options) -> Result<(), String> {
    let cargo = cargo();
    ensure_cargo_fuzz(&cargo)?;
    // Without a sanitizer cargo-fuzz passes only stable `-C` flags, so the
    // stable toolchain builds the targets as it is. AddressSanitizer needs
    // `-Zsanitizer`, which stable accepts only with RUSTC_BOOTSTRAP.
    let (sanitizer, envs): (&str, &[(&str, &str)]) = if options.asan {
        ("address", &[("RUSTC_BOOTSTRAP", "1")])
    } else {
        ("none", &[])
    };
    let common = [
        "--fuzz-dir",
        "fuzz",
        "--sanitizer",
        sanitizer,
        "--debug-assertions",
    ];

    let mut build = vec!["fuzz", "build"];
    build.extend(common);
    step("fuzz: build the targets", &cargo, &build, envs)?;

    let mut crashes = Vec::new();
    for target in &options.targets {
        let corpus = format!("fuzz/corpus/{target}");
        fs::create_dir_all(root().join(&corpus))
            .map_err(|err| format!("could not create {corpus}: {err}"))?;
        let seeds = format!("fuzz/seeds/{target}");
        let before = artifacts(target);
        let max_total_time = format!("-max_total_time={}", options.seconds);
        let mut args = vec!["fuzz", "run"];
        args.extend(common);
        args.extend([
            *target,
            // libFuzzer writes what it finds to the first directory only, so
            // the committed seeds stay as they are.
            &corpus,
            &seeds,
            "--",
            &max_total_time,
            // One input may take this long before it counts as a hang.
            "-timeout=10",
            // The process may grow this large before it counts as a leak or
            // an amplification bug; far above what any input here needs.
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
        ]);
        let dict = format!("fuzz/dicts/{target}.dict");
        let dict_arg = format!("-dict={dict}");
        if root().join(&dict).is_file() {
            args.push(&dict_arg);
        }
        let result = step(&format!("fuzz {target}"), &cargo, &args, envs);
        let found: Vec<PathBuf> = artifacts(target).difference(&before).cloned().collect();
        match (result, found.is_empty()) {
            (Ok(()), true) => {}
            (result, _) => {
                let why = result
                    .err()
                    .unwrap_or_else(|| "artifacts written".to_owned());
                crashes.push(format!("{target}: {why}"));
                for path in found {
                    eprintln!("fuzz {target}: crash input saved at {}", path.display());
                    crashes.push(format!("  {}", path.display()));
                }
            }
        }
    }
    if crashes.is_empty() {
        eprintln!(
            "\nfuzz: {} ran {}s each, no crash",
            options.targets.join(", "),
            options.seconds
        );
        Ok(())
    } else {
        Err(format!(
            "fuzzing found crashes (replay one with `cargo fuzz run --fuzz-dir fuzz --sanitizer none <target> <path>`, then add it to crates/ssekit/tests/fuzz_regressions.rs):\n{}",
            crashes.join("\n")
        ))
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Installs cargo-fuzz from crates.io when `cargo fuzz` is not there.
fn ensure_cargo_fuzz(cargo: &str) -> Result<(), String> {
    let present = Command::new(cargo)
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if present {
        return Ok(());
    }
    eprintln!(
        "`cargo fuzz` is missing: installing cargo-fuzz {CARGO_FUZZ_VERSION} from crates.io (about a minute)"
    );
    step(
        "install cargo-fuzz",
        cargo,
        &[
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ],
        &[],
    )
}

/// The files in a target's artifact directory: crash, leak, timeout and
/// out-of-memory inputs.
fn artifacts(target: &str) -> BTreeSet<PathBuf> {
    fs::read_dir(root().join("fuzz/artifacts").join(target))
        .map(|dir| {
            dir.filter_map(|entry| entry.ok().map(|e| e.path()))
                .collect()
        })
        .unwrap_or_default()
}
