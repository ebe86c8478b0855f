//! One headless Chromium for the whole test binary, driven over `WebDriver`.
//!
//! Debian's `chromedriver` (package `chromium-driver`) is started on a free
//! loopback port and asked for one session of Debian's `/usr/bin/chromium`
//! (package `chromium`) with the flags this machine kind is known to work
//! with, and a fresh `--user-data-dir`. Nothing is ever downloaded: when
//! either program is missing, every browser test fails and says what to
//! install.
//!
//! The `WebDriver` client (fantoccini) keeps a background task on the tokio
//! runtime that connected it, and every `#[tokio::test]` has a runtime of
//! its own that ends with the test, so the session lives on a thread of its
//! own with its own runtime, for as long as the process does. Tests reach
//! it through the client's handle (runtime-independent channels) and take
//! turns: one test at a time drives the browser, so no test's timing is
//! disturbed by another's page.
//!
//! A test binary's statics are never dropped, so the clean-up is left to a
//! watchdog: a `sh` in a process group of its own that waits for end of
//! file on a pipe only this process holds (it closes when this process
//! exits, however it exits), then ends chromedriver's process group (which
//! holds Chromium and its helpers) and removes the temporary directory.

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{MutexGuard, OnceCell};

/// Debian's Chromium, as `goog:chromeOptions.binary`.
const CHROMIUM: &str = "/usr/bin/chromium";

/// What to do when the browser is missing.
const INSTALL: &str = "the browser suite needs Debian's Chromium and its WebDriver: \
    `apt-get install chromium chromium-driver` (as root; `.ci/run` does it when they are \
    missing). It never downloads a browser of its own.";

/// The flags the machine notes give for headless Chromium on a closed
/// network, as root (`--user-data-dir` is added per run).
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// How long chromedriver may take to answer `/status` with `ready`.
const DRIVER_START: Duration = Duration::from_secs(15);

/// The longest one Execute Async Script may run. Every page function
/// resolves by its own time limit well before this.
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// The longest a page load may take.
const PAGE_LOAD_LIMIT: Duration = Duration::from_secs(15);

/// The shared browser (or why there is none), started by the first test
/// that asks.
static BROWSER: OnceCell<Result<Client, String>> = OnceCell::const_new();

/// One test at a time drives the browser.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The watchdog's stdin: held until the process exits.
static WATCHDOG: Mutex<Option<ChildStdin>> = Mutex::new(None);

/// The browser, for one test: holds the turn until dropped.
#[derive(Debug)]
pub(crate) struct Browser {
    client: Client,
    _turn: MutexGuard<'static, ()>,
}

/// Waits for the turn to drive the shared browser, starting it first if no
/// test did yet.
///
/// # Panics
///
/// When the browser cannot be started, with the reason (and what to
/// install when Chromium or chromedriver is missing).
pub(crate) async fn browser() -> Browser {
    let started = BROWSER
        .get_or_init(|| async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let thread = std::thread::Builder::new()
                .name("webdriver-session".to_owned())
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(err) => {
                            let _ = tx.send(Err(format!("cannot build a tokio runtime: {err}")));
                            return;
                        }
                    };
                    runtime.block_on(async move {
                        let started = start().await;
                        let ok = started.is_ok();
                        let _ = tx.send(started);
                        if ok {
                            // Drives the WebDriver session's task until the
                            // process exits.
                            std::future::pending::<()>().await;
                        }
                    });
                });
            match thread {
                Ok(_) => rx.await.unwrap_or_else(|_| {
                    Err("the WebDriver thread ended without an answer".to_owned())
                }),
                Err(err) => Err(format!("cannot start the WebDriver thread: {err}")),
            }
        })
        .await;
    match started {
        Ok(client) => Browser {
            client: client.clone(),
            _turn: TURN.lock().await,
        },
        Err(why) => panic!("no browser: {why}"),
    }
}

impl Browser {
    /// Opens `url` (the page of the server under test) and checks that its
    /// functions are there.
    pub(crate) async fn open(&self, url: &str) -> Result<(), String> {
        self.client
            .goto(url)
            .await
            .map_err(|err| format!("WebDriver could not open {url}: {err}"))?;
        let kind = self
            .client
            .execute("return typeof window.conformance;", Vec::new())
            .await
            .map_err(|err| format!("WebDriver could not run a script on {url}: {err}"))?;
        if kind == json!("object") {
            Ok(())
        } else {
            Err(format!(
                "{url} has no `window.conformance` (typeof is {kind}): not the test page"
            ))
        }
    }

    /// Calls `window.conformance[function](...args)` on the open page and
    /// waits for the promise it returns; its value as JSON.
    pub(crate) async fn call(&self, function: &str, args: Vec<Value>) -> Result<Value, String> {
        const SCRIPT: &str = "const [name, args, done] = arguments;\
            Promise.resolve()\
              .then(() => window.conformance[name](...args))\
              .then(value => done({ ok: value }),\
                    error => done({ error: String(error && error.stack || error) }));";
        let answer = self
            .client
            .execute_async(SCRIPT, vec![json!(function), Value::Array(args)])
            .await
            .map_err(|err| format!("WebDriver: conformance.{function}(…) failed: {err}"))?;
        match answer {
            Value::Object(mut fields) => {
                if let Some(value) = fields.remove("ok") {
                    Ok(value)
                } else {
                    Err(format!(
                        "conformance.{function}(…) threw: {}",
                        fields.get("error").unwrap_or(&Value::Null)
                    ))
                }
            }
            other => Err(format!(
                "conformance.{function}(…) answered {other}, not {{ok}} or {{error}}"
            )),
        }
    }
}

/// Where a program is on `PATH`, if anywhere.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A port that was free on loopback a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| format!("cannot find a free loopback port: {err}"))
}

/// Starts chromedriver and one Chromium session; runs on the `WebDriver`
/// thread's runtime, which then drives the session for good.
async fn start() -> Result<Client, String> {
    if !Path::new(CHROMIUM).is_file() {
        return Err(format!("{CHROMIUM} is missing; {INSTALL}"));
    }
    let chromedriver = on_path("chromedriver")
        .ok_or_else(|| format!("`chromedriver` is not on PATH; {INSTALL}"))?;

    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    // A port may be taken between the probe and chromedriver's bind: try
    // a few, each with a directory of its own (which its watchdog removes).
    let mut last_error = String::new();
    for attempt in 1..=3 {
        let root = std::env::temp_dir().join(format!(
            "ssekit-browser-{}-{nanos}-{attempt}",
            std::process::id()
        ));
        let profile = root.join("profile");
        std::fs::create_dir_all(&profile)
            .map_err(|err| format!("cannot create {}: {err}", profile.display()))?;
        let log = root.join("chromedriver.log");
        let port = free_port()?;
        let driver = spawn_driver(&chromedriver, port, &log)?;
        watch(driver.id(), &root)?;
        match wait_ready(driver, port, &log).await {
            Ok(()) => return connect(port, &profile, &log).await,
            Err(err) => last_error = err,
        }
    }
    Err(last_error)
}

/// `chromedriver --port=<port>`, in a process group of its own (which
/// Chromium joins), its output to `log`.
fn spawn_driver(chromedriver: &Path, port: u16, log: &Path) -> Result<Child, String> {
    let out = std::fs::File::create(log)
        .map_err(|err| format!("cannot create {}: {err}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|err| format!("cannot share {}: {err}", log.display()))?;
    Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}; {INSTALL}", chromedriver.display()))
}

/// Starts the watchdog for chromedriver's process group `pgid` and the
/// directory `root`.
fn watch(pgid: u32, root: &Path) -> Result<(), String> {
    const SCRIPT: &str = r#"cat >/dev/null
kill -TERM "-$1" 2>/dev/null
sleep 1
kill -KILL "-$1" 2>/dev/null
rm -rf -- "$2""#;
    let mut watchdog = Command::new("sh")
        .args(["-c", SCRIPT, "browser-watchdog", &pgid.to_string()])
        .arg(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group, so that a ^C to the tests leaves it to clean up.
        .process_group(0)
        .spawn()
        .map_err(|err| format!("cannot start the clean-up watchdog (sh): {err}"))?;
    let stdin = watchdog.stdin.take().expect("stdin is piped");
    // A previous attempt's watchdog (its chromedriver failed) sees end of
    // file and cleans up now.
    drop(
        WATCHDOG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .replace(stdin),
    );
    Ok(())
}

/// What chromedriver wrote so far, for error messages.
fn driver_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Waits until chromedriver answers `GET /status` with `"ready": true`.
async fn wait_ready(mut driver: Child, port: u16, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + DRIVER_START;
    loop {
        if let Ok(Some(status)) = driver.try_wait() {
            return Err(format!(
                "chromedriver --port={port} exited ({status}) before answering; its log:\n{}",
                driver_log(log)
            ));
        }
        if let Ok(body) = get_status(port).await
            && body.contains("\"ready\":true")
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "chromedriver --port={port} did not answer `ready` within {DRIVER_START:?}; \
                 its log:\n{}",
                driver_log(log)
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /status`: the body, whitespace removed. chromedriver answers
/// HTTP/1.1 with a `Content-Length` but leaves the connection open, so the
/// body is read to its length.
async fn get_status(port: u16) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    stream
        .write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await?;
    let read = async {
        let mut response = Vec::new();
        loop {
            let mut piece = [0_u8; 4096];
            let n = stream.read(&mut piece).await?;
            response.extend_from_slice(&piece[..n]);
            let text = String::from_utf8_lossy(&response);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .filter_map(|line| line.split_once(':'))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, value)| value.trim().parse::<usize>().ok());
                if n == 0 || length.is_some_and(|length| body.len() >= length) {
                    return Ok(body.split_whitespace().collect());
                }
            }
            if n == 0 {
                return Err(std::io::Error::other("no complete answer"));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .map_err(|_| std::io::Error::other("no answer"))?
}

/// Opens the `WebDriver` session: Chromium with [`CHROMIUM_FLAGS`] and a
/// fresh profile.
async fn connect(port: u16, profile: &Path, log: &Path) -> Result<Client, String> {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|&flag| flag.to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut capabilities = Capabilities::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": CHROMIUM, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .map_err(|err| {
            format!(
                "chromedriver could not start {CHROMIUM}: {err}; its log:\n{}",
                driver_log(log)
            )
        })?;
    client
        .update_timeouts(TimeoutConfiguration::new(
            Some(SCRIPT_LIMIT),
            Some(PAGE_LOAD_LIMIT),
            None,
        ))
        .await
        .map_err(|err| format!("WebDriver: cannot set the session's timeouts: {err}"))?;
    Ok(client)
}
