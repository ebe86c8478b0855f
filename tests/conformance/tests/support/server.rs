//! One conformance server process per test.

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The adapters the conformance server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Adapter {
    Axum,
    Actix,
    Warp,
}

impl Adapter {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Axum => "axum",
            Self::Actix => "actix",
            Self::Warp => "warp",
        }
    }
}

/// A running `conformance-server`, killed (SIGKILL) when dropped unless it
/// has already exited. Its stderr is kept and printed if the test fails.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) adapter: Adapter,
    pub(crate) addr: SocketAddr,
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// Starts `conformance-server --adapter <adapter> --port 0` and waits
    /// for its `listening on http://127.0.0.1:<port>` line.
    pub(crate) async fn start(adapter: Adapter) -> Self {
        Self::start_with(adapter, &[]).await
    }

    /// As [`start`](Self::start), with more arguments (`--hub-capacity N`).
    pub(crate) async fn start_with(adapter: Adapter, args: &[&str]) -> Self {
        Self::start_wrapped(adapter, &[], args).await
    }

    /// As [`start_with`](Self::start_with), with the server's command line
    /// run by `wrapper` (`ip netns exec NAME`, which execs it, so the
    /// child is still the server itself).
    pub(crate) async fn start_wrapped(adapter: Adapter, wrapper: &[&str], args: &[&str]) -> Self {
        let binary = env!("CARGO_BIN_EXE_conformance-server");
        let mut command = match wrapper {
            [] => Command::new(binary),
            [program, rest @ ..] => {
                let mut command = Command::new(program);
                command.args(rest).arg(binary);
                command
            }
        };
        let mut child = command
            .args(["--adapter", adapter.name(), "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {binary}: {err}"));

        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let stderr = Arc::clone(&stderr);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                    stderr.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }

        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                let status = child.try_wait().ok().flatten();
                tokio::time::sleep(Duration::from_millis(50)).await;
                panic!(
                    "{} server printed no `listening on` line within {START_TIMEOUT:?} \
                     (read: {other:?}, exit status: {status:?}); stderr:\n{}",
                    adapter.name(),
                    String::from_utf8_lossy(&stderr.lock().unwrap()),
                );
            }
        };
        let addr = line
            .strip_prefix("listening on http://")
            .and_then(|rest| rest.parse::<SocketAddr>().ok())
            .filter(|addr| addr.ip().is_loopback())
            .unwrap_or_else(|| {
                panic!(
                    "{} server's first line is {line:?}, not `listening on http://127.0.0.1:<port>`",
                    adapter.name()
                )
            });
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        Self {
            adapter,
            addr,
            child,
            stderr,
        }
    }

    /// Sends a signal (`TERM`, `INT`) to the server with kill(1).
    pub(crate) async fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the server is still running");
        let status = Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status()
            .await
            .expect("kill(1) runs");
        assert!(status.success(), "kill -s {signal} {pid} failed: {status}");
    }

    /// Waits for the server to exit, at most `within`.
    pub(crate) async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .map(|status| status.expect("wait for the server"))
    }

    /// The server's resident memory now, in bytes (`VmRSS`).
    pub(crate) fn resident_bytes(&self) -> u64 {
        let pid = self.child.id().expect("the server is still running");
        ssekit_test_support::resident_bytes(pid).unwrap_or_else(|err| panic!("{err}"))
    }

    /// What the server wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let stderr = self.stderr();
            if !stderr.is_empty() {
                eprintln!(
                    "--- {} server stderr ---\n{stderr}--- end of stderr ---",
                    self.adapter.name()
                );
            }
        }
        // SIGKILL; a no-op when the process already exited.
        let _ = self.child.start_kill();
    }
}
