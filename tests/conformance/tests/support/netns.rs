//! A network namespace of the test's own: its own loopback, its own
//! firewall and its own TCP settings, so that a client can vanish (its
//! packets dropped, no FIN, no RST) without touching the machine's network.
//!
//! Needs root, `ip` (iproute2), `nft` (nftables) and `curl`; without them
//! the test fails and says what to install.

use std::process::{Command, Output};

/// A namespace, deleted when dropped.
#[derive(Debug)]
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    /// Creates `name` with its loopback up and `net.ipv4.tcp_retries2` set
    /// to `tcp_retries2`: how many times the kernel retransmits unanswered
    /// data before it gives the connection up (Linux's default is 15).
    pub(crate) fn create(name: &str, tcp_retries2: u32) -> Self {
        for (program, package) in [("ip", "iproute2"), ("nft", "nftables"), ("curl", "curl")] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .is_ok_and(|out| out.status.success());
            assert!(
                found,
                "`{program}` is missing: apt-get install {package} (cargo xtask ci installs it)"
            );
        }
        // A namespace left over by a killed run of this test.
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        run(&["ip", "netns", "add", name]);
        let netns = Self {
            name: name.to_owned(),
        };
        netns.run(&["ip", "link", "set", "lo", "up"]);
        netns.run(&[
            "sysctl",
            "-q",
            "-w",
            &format!("net.ipv4.tcp_retries2={tcp_retries2}"),
        ]);
        netns
    }

    /// The prefix that runs a command inside the namespace.
    pub(crate) fn wrapper(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }

    /// Runs `args` inside the namespace; panics when it fails.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = self.wrapper().to_vec();
        all.extend_from_slice(args);
        run(&all)
    }

    /// Drops every packet to or from local TCP port `port` inside the
    /// namespace: whoever owns that port has vanished from the network.
    pub(crate) fn drop_port(&self, port: u16) {
        let port = port.to_string();
        self.run(&["nft", "add", "table", "inet", "vanish"]);
        self.run(&[
            "nft",
            "add chain inet vanish input { type filter hook input priority 0 ; }",
        ]);
        self.run(&[
            "nft", "add", "rule", "inet", "vanish", "input", "tcp", "dport", &port, "drop",
        ]);
        self.run(&[
            "nft", "add", "rule", "inet", "vanish", "input", "tcp", "sport", &port, "drop",
        ]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Processes still inside keep it alive until they exit; the name
        // goes now.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn run(args: &[&str]) -> Output {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|err| panic!("cannot run {args:?}: {err}"));
    assert!(
        output.status.success(),
        "{args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
