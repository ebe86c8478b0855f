//! Running the binary and reading what it printed.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// The longest any one run may take before the test fails instead of hanging.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code; `None` when the test killed it.
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) took: Duration,
}

impl Run {
    /// The (verdict, reason) of a check's row in `check`'s table.
    pub(crate) fn row(&self, check: &str) -> (String, String) {
        for line in self.stdout.lines() {
            let mut words = line.split_whitespace();
            if words.next() == Some(check) {
                let verdict = words.next().unwrap_or_default().to_owned();
                let reason = words.collect::<Vec<_>>().join(" ");
                return (verdict, reason);
            }
        }
        panic!("no row for {check} in:\n{}", self.stdout);
    }

    /// Asserts the row's verdict and that its reason names `words`.
    pub(crate) fn assert_row(&self, check: &str, verdict: &str, words: &[&str]) {
        let (got, reason) = self.row(check);
        assert_eq!(got, verdict, "{check}: {reason}\n\n{self}");
        for word in words {
            assert!(
                reason.contains(word),
                "{check}: `{word}` not in {reason:?}\n\n{self}"
            );
        }
    }

    /// The JSON lines of `tail --json`.
    pub(crate) fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|err| panic!("{line:?}: {err}\n\n{self}"))
            })
            .collect()
    }

    /// The events among `json_lines`: (type, id, data).
    pub(crate) fn json_events(&self) -> Vec<(String, String, String)> {
        self.json_lines()
            .into_iter()
            .filter(|line| line["kind"] == "event")
            .map(|line| {
                let text = |key: &str| line[key].as_str().unwrap_or_default().to_owned();
                (text("type"), text("id"), text("data"))
            })
            .collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

/// Runs `ssekit args…` to its end.
pub(crate) async fn ssekit(args: &[&str]) -> Run {
    run(args, &[], None).await
}

/// Runs `ssekit args…`, killing it after `after` if it is still running.
pub(crate) async fn ssekit_for(args: &[&str], after: Duration) -> Run {
    run(args, &[], Some(after)).await
}

/// Runs `ssekit args…` with extra environment variables.
pub(crate) async fn ssekit_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    run(args, env, None).await
}

async fn run(args: &[&str], env: &[(&str, &str)], kill_after: Option<Duration>) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssekit"))
        .args(args)
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the ssekit binary starts");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text).await;
        text
    });
    let err = tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text).await;
        text
    });
    let limit = kill_after.unwrap_or(RUN_LIMIT);
    let code = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => status.expect("wait for ssekit").code(),
        Err(_) => {
            child.kill().await.expect("kill ssekit");
            assert!(
                kill_after.is_some(),
                "ssekit {args:?} did not finish within {RUN_LIMIT:?}"
            );
            None
        }
    };
    let stdout = String::from_utf8_lossy(&out.await.expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err.await.expect("stderr reader")).into_owned();
    Run {
        code,
        stdout,
        stderr,
        took: started.elapsed(),
    }
}
