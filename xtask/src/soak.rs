//! `cargo xtask soak [--minutes N]`: the hub's soak on every adapter, a
//! bounded run each (default 2 minutes), its figures written into
//! docs/RELIABILITY.md.
//!
//! The driver is the conformance crate's `soak` binary (it starts the
//! `conformance-server` beside it): steady publishing, churning
//! subscribers that resume by Last-Event-ID, resident memory and the
//! subscriber count sampled once a second. It prints one JSON line, which
//! becomes one row of the table; it exits non-zero when a check failed.

use std::fmt::Write as _;
use std::process::Command;

use crate::root;

const ADAPTERS: [&str; 3] = ["axum", "actix", "warp"];
const START: &str = "<!-- soak:start -->";
const END: &str = "<!-- soak:end -->";
const SUBSCRIBERS: &str = "200";
const RATE: &str = "200";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let minutes: u64 = match args {
        [] => 2,
        [flag, n] if flag == "--minutes" => n
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("--minutes: expected a positive number, got {n:?}"))?,
        other => {
            return Err(format!(
                "soak: unexpected arguments {other:?} (--minutes N)"
            ));
        }
    };
    let seconds = (minutes * 60).to_string();
    crate::step(
        "build the soak driver and the server",
        &std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()),
        &["build", "--release", "-p", "ssekit-conformance", "--bins"],
        &[],
    )?;
    let driver = root().join("target/release/soak");
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for adapter in ADAPTERS {
        eprintln!("==> soak {adapter}: {seconds} s, {SUBSCRIBERS} subscribers, {RATE} events/s");
        let output = Command::new(&driver)
            .args(["--adapter", adapter, "--seconds", &seconds])
            .args(["--subscribers", SUBSCRIBERS, "--rate", RATE])
            .output()
            .map_err(|err| format!("cannot run {}: {err}", driver.display()))?;
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().last().unwrap_or_default().to_owned();
        eprintln!("{line}");
        if !output.status.success() {
            failed.push(adapter);
        }
        rows.push(row(&line, minutes));
    }
    write_table(&rows)?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("the soak failed for {}", failed.join(", ")))
    }
}

/// A field of the driver's flat JSON line, as written.
fn field<'a>(json: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    json.find(&key)
        .map(|at| &json[at + key.len()..])
        .map(|rest| rest.split([',', '}']).next().unwrap_or_default())
        .map_or("?", |value| value.trim_matches('"'))
}

fn row(json: &str, minutes: u64) -> String {
    let f = |name| field(json, name);
    format!(
        "| {} | {minutes} min | {} (churning; peak {}) | {} published at {}/s, {} delivered | {} reconnects, {} closed for lag | {} MiB → {} MiB (after warm-up {}, peak {}) | {} announced, {} silent | {} | {} |",
        f("adapter"),
        f("subscribers"),
        f("subscribers_peak"),
        f("published"),
        f("rate"),
        f("delivered"),
        f("reconnects"),
        f("lag_closes"),
        f("rss_start_mib"),
        f("rss_end_mib"),
        f("rss_after_warm_up_mib"),
        f("rss_peak_mib"),
        f("gaps_announced"),
        f("gaps_silent"),
        f("subscribers_at_end"),
        if f("ok") == "true" { "pass" } else { "FAIL" },
    )
}

fn write_table(rows: &[String]) -> Result<(), String> {
    let path = root().join("docs/RELIABILITY.md");
    let doc =
        std::fs::read_to_string(&path).map_err(|err| format!("read {}: {err}", path.display()))?;
    let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) else {
        return Err(format!("{} has no {START} … {END} section", path.display()));
    };
    let mut table = String::from(
        "\n| adapter | run | subscribers | events | churn | server RSS start → end | gaps | subscribers left | result |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let _ = writeln!(table, "{row}");
    }
    let updated = format!("{}{START}{table}{}", &doc[..start], &doc[end..]);
    std::fs::write(&path, updated).map_err(|err| format!("write {}: {err}", path.display()))?;
    eprintln!("wrote the soak table into {}", path.display());
    Ok(())
}
