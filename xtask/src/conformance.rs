//! `cargo xtask conformance`: runs the conformance suite against every
//! adapter and writes its results into the README's table.
//!
//! Test names are `<adapter>::<group>::<case>`, so the table follows the
//! suite by itself: a case added to the suite is a row the next time this
//! runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use crate::root;

const ADAPTERS: [&str; 3] = ["axum", "actix", "warp"];
const START: &str = "<!-- conformance:start -->";
const END: &str = "<!-- conformance:end -->";

/// The suite's test binaries; the browser's cases are marked as such.
const BINARIES: [&str; 2] = ["wire", "browser"];

pub(crate) fn run() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut results = BTreeMap::new();
    let mut all_passed = true;
    for binary in BINARIES {
        eprintln!("==> cargo test -p ssekit-conformance --test {binary}");
        let output = Command::new(&cargo)
            .args(["test", "--package", "ssekit-conformance", "--test", binary])
            .current_dir(root())
            .output()
            .map_err(|err| format!("could not run cargo: {err}"))?;
        all_passed &= output.status.success();
        let found = parse(&String::from_utf8_lossy(&output.stdout), binary);
        if found.is_empty() {
            return Err(format!(
                "the {binary} tests ran no case; cargo said:\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        results.extend(found);
    }
    let table = table(&results);
    let readme_path = root().join("README.md");
    let readme =
        std::fs::read_to_string(&readme_path).map_err(|err| format!("README.md: {err}"))?;
    let (Some(start), Some(end)) = (readme.find(START), readme.find(END)) else {
        return Err(format!("README.md has no {START} … {END} markers"));
    };
    let updated = format!("{}{START}\n{table}{}", &readme[..start], &readme[end..]);
    std::fs::write(&readme_path, updated).map_err(|err| format!("README.md: {err}"))?;
    let failed = results
        .values()
        .flat_map(BTreeMap::values)
        .filter(|ok| !**ok)
        .count();
    eprintln!(
        "conformance: {} cases, {failed} failed; README.md updated",
        results.len()
    );
    if failed > 0 || !all_passed {
        return Err(format!("{failed} case(s) failed"));
    }
    Ok(())
}

/// `case -> adapter -> passed`, from libtest's `test NAME ... ok` lines of
/// one test binary; cases of a binary other than the wire suite are
/// prefixed with its name (`browser: reconnect`).
fn parse(log: &str, binary: &str) -> BTreeMap<String, BTreeMap<&'static str, bool>> {
    let mut results: BTreeMap<String, BTreeMap<&'static str, bool>> = BTreeMap::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, outcome)) = rest.split_once(" ... ") else {
            continue;
        };
        let mut parts = name.splitn(2, "::");
        let (Some(adapter), Some(case)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(adapter) = ADAPTERS.iter().find(|a| **a == adapter) else {
            continue;
        };
        let case = case.replace("::", " / ");
        let case = if binary == "wire" {
            case
        } else {
            format!("{binary}: {case}")
        };
        results
            .entry(case)
            .or_default()
            .insert(adapter, outcome.trim() == "ok");
    }
    results
}

fn table(results: &BTreeMap<String, BTreeMap<&'static str, bool>>) -> String {
    let mut table = String::from("| case | axum | actix | warp |\n|---|:-:|:-:|:-:|\n");
    for (case, adapters) in results {
        let _ = write!(table, "| {case} |");
        for adapter in ADAPTERS {
            let cell = match adapters.get(adapter) {
                Some(true) => " pass |",
                Some(false) => " **FAIL** |",
                None => " n/a |",
            };
            table.push_str(cell);
        }
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_missing_for_an_adapter_is_not_applicable() {
        let wire = "test axum::headers::events_h2 ... ok\n\
                    test warp::headers::events_h2 ... FAILED\n\
                    test axum::events::count_five ... ok\n\
                    test actix::events::count_five ... ok\n\
                    test warp::events::count_five ... ok\n";
        let mut results = parse(wire, "wire");
        results.extend(parse("test actix::reconnect ... ok\n", "browser"));
        let table = table(&results);
        assert!(
            table.contains("| headers / events_h2 | pass | n/a | **FAIL** |"),
            "{table}"
        );
        assert!(
            table.contains("| events / count_five | pass | pass | pass |"),
            "{table}"
        );
        assert!(
            table.contains("| browser: reconnect | n/a | pass | n/a |"),
            "{table}"
        );
    }
}
