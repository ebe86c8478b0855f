//! The system packages the tests need: Debian's, installed with apt-get
//! when missing and we are root, since no test may download a binary of its
//! own and none may pass by skipping.

use std::process::Command;

/// A program the tests run, and the Debian package that has it.
struct Needed {
    program: &'static str,
    package: &'static str,
    why: &'static str,
}

const NEEDED: [Needed; 5] = [
    Needed {
        program: "chromium",
        package: "chromium",
        why: "the browser conformance tests",
    },
    Needed {
        program: "chromedriver",
        package: "chromium-driver",
        why: "driving Chromium over WebDriver",
    },
    Needed {
        program: "redis-server",
        package: "redis-server",
        why: "the Redis backplane tests of ssekit-redis",
    },
    Needed {
        program: "nft",
        package: "nftables",
        why: "the hostile-client test whose client vanishes (its packets dropped)",
    },
    Needed {
        program: "curl",
        package: "curl",
        why: "the vanishing client of the hostile-client tests",
    },
];

pub(crate) fn ensure() -> Result<(), String> {
    let missing: Vec<&Needed> = NEEDED.iter().filter(|n| !on_path(n.program)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|n| n.package).collect();
    for need in &missing {
        eprintln!(
            "missing `{}` ({}), from Debian's {}",
            need.program, need.why, need.package
        );
    }
    if !is_root() || !on_path("apt-get") {
        return Err(format!(
            "install them first: apt-get update && apt-get install -y {}",
            packages.join(" ")
        ));
    }
    eprintln!("==> installing {} with apt-get", packages.join(" "));
    apt(&["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(&packages);
    apt(&install)
}

fn apt(args: &[&str]) -> Result<(), String> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|err| format!("could not run apt-get: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("apt-get {} failed ({status})", args.join(" ")))
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}
