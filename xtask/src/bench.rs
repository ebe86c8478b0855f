//! `cargo xtask bench [--quick] [--rounds N]`: ssekit's adapters against the
//! peers' own SSE, in one run on one machine with one load client
//! (`bench/`, `shared/bench/CONTRACT.md`).
//!
//! Every server runs in turn, one at a time, each bounded in time. Within a
//! round ssekit and the peer of the same framework run back to back, and the
//! order flips every round, so drift in the machine's speed hits both. The
//! `report` binary then turns the measurements into `docs/BENCHMARKS.md`'s
//! server tables and the charts in `docs/bench/`.
//!
//! `--quick` is the smoke run CI does: a debug build, a few hundred events,
//! and the report written under `target/bench/quick/` instead of `docs/`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{root, step};

const ADAPTERS: [&str; 3] = ["axum", "actix", "warp"];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|arg| arg == "--quick");
    let rounds = match args.iter().position(|arg| arg == "--rounds") {
        Some(at) => args
            .get(at + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| (1..=9).contains(&n))
            .ok_or("--rounds takes a number from 1 to 9")?,
        None if quick => 1,
        None => 2,
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = vec!["build", "--package", "ssekit-bench", "--bins"];
    if !quick {
        build.push("--release");
    }
    step("build the bench", &cargo, &build, &[])?;

    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let bin = target.join(if quick { "debug" } else { "release" });
    let out = target
        .join("bench")
        .join(if quick { "quick" } else { "full" });
    std::fs::create_dir_all(&out).map_err(|err| format!("{}: {err}", out.display()))?;
    // Results of an earlier run must not leak into this report.
    for entry in std::fs::read_dir(&out).map_err(|err| format!("{}: {err}", out.display()))? {
        let path = entry.map_err(|err| err.to_string())?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            std::fs::remove_file(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        }
    }

    // The load of one server takes well under a minute on this machine;
    // the bound only stops a hung run.
    let limit = Duration::from_secs(if quick { 60 } else { 300 });
    let mut results = Vec::new();
    let mut runs: u16 = 0;
    let started = Instant::now();
    for round in 0..rounds {
        for adapter in ADAPTERS {
            let mut kinds = ["ssekit", "peer"];
            if round % 2 == 1 {
                kinds.reverse();
            }
            for kind in kinds {
                runs += 1;
                let file = out.join(format!("{kind}-{adapter}-r{round}.json"));
                measure(&bin, kind, adapter, runs, &file, quick, limit)?;
                results.push(file);
            }
        }
    }
    eprintln!(
        "bench: {runs} server runs in {:.0}s",
        started.elapsed().as_secs_f64()
    );

    let (markdown, charts) = if quick {
        (out.join("BENCHMARKS.md"), out.clone())
    } else {
        (root().join("docs/BENCHMARKS.md"), root().join("docs/bench"))
    };
    let mut report_args = vec![
        "--out".to_owned(),
        markdown.display().to_string(),
        "--charts".to_owned(),
        charts.display().to_string(),
    ];
    if quick {
        // The smoke run proves the pipeline, so anything lost fails it.
        report_args.push("--strict".to_owned());
    }
    report_args.extend(results.iter().map(|file| file.display().to_string()));
    let report = bin.join("report").display().to_string();
    let report_args: Vec<&str> = report_args.iter().map(String::as_str).collect();
    step("report", &report, &report_args, &[])
}

/// Runs one server and the load client against it.
fn measure(
    bin: &Path,
    kind: &str,
    adapter: &str,
    run: u16,
    file: &Path,
    quick: bool,
    limit: Duration,
) -> Result<(), String> {
    let program = if kind == "ssekit" {
        "bench-server"
    } else {
        "peer-server"
    };
    // A port the kernel just handed out, and a fresh source network per
    // run: nothing left in TIME_WAIT by an earlier server is in the way.
    let port = free_port()?;
    let net = u8::try_from(10 + run).map_err(|_| "too many runs for one bench")?;
    eprintln!("\n==> {kind} {adapter} on port {port}");
    let mut server = Command::new(bin.join(program))
        .args(["--adapter", adapter, "--port", &port.to_string()])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|err| format!("could not start {program}: {err}"))?;
    let result = wait_listening(port, &mut server).and_then(|()| {
        let mut load = Command::new(bin.join("load"));
        load.args(["--port", &port.to_string()])
            .args(["--pid", &server.id().to_string()])
            .args(["--net", &net.to_string()])
            .arg("--out")
            .arg(file);
        if quick {
            load.arg("--quick");
        }
        bounded(&mut load, limit).map_err(|err| format!("{kind} {adapter}: {err}"))
    });
    // The server is our own child: end it by its handle.
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// A loopback port nothing listens on now.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| format!("no free port: {err}"))
}

/// Waits (up to 10 s) until the server accepts connections.
fn wait_listening(port: u16, server: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.try_wait() {
            return Err(format!("the server exited at start: {status}"));
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listened on port {port} within 10 s"))
}

/// Runs a command to completion, killing it after `limit`.
fn bounded(command: &mut Command, limit: Duration) -> Result<(), String> {
    let mut child = command
        .spawn()
        .map_err(|err| format!("could not start the load client: {err}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("the load client failed ({status})")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the load client took over {}s; killed",
                    limit.as_secs()
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(100)),
            Err(err) => return Err(format!("waiting for the load client: {err}")),
        }
    }
}
