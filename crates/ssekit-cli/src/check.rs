//! `ssekit check`: the conformance suite's wire-level checks that apply to
//! any event-stream endpoint, as a pass/fail table.
//!
//! One request, sent as a browser would but asking for gzip, is watched for
//! `--heartbeat-within` plus a quarter (or until it ends); then, if the
//! stream carried ids, a second request resumes with `Last-Event-ID`. The
//! checks, in order:
//!
//! | check | passes when |
//! |---|---|
//! | `status` | the status is 200 |
//! | `content-type` | `Content-Type` is `text/event-stream` |
//! | `cache-control` | `Cache-Control` says `no-cache` (or `no-store`) |
//! | `x-accel-buffering` | `X-Accel-Buffering: no`, so nginx-style proxies pass events on at once |
//! | `content-length` | there is no `Content-Length` |
//! | `compression` | asked for gzip, the body came uncompressed |
//! | `heartbeat` | the stream was never silent longer than `--heartbeat-within` |
//! | `prompt` | no piece of the body brought two or more blocks (events or heartbeats) after `--prompt-within` of silence: nothing was held back and released in a batch |
//! | `framing` | every line ends in LF or CRLF, has a known field, is UTF-8; `id`/`retry` values are usable; no event outgrew the limit; a body that ended did so between events |
//! | `end` | a body that ended did so cleanly (an open stream is only noted) |
//! | `resume` | a reconnect with the last `Last-Event-ID` did not repeat or go back to an event already seen (204 counts as a clean "nothing more") |
//!
//! A check that cannot be judged says so (`INFO`, with the reason) and a
//! check that could not run is `SKIP`; neither is ever shown as a pass. The
//! report fails only on `FAIL`.
//!
//! ```
//! # use std::time::Duration;
//! # use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ssekit_cli::Error> {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! # let addr = listener.local_addr().unwrap();
//! # tokio::spawn(async move {
//! #     let (mut socket, _) = listener.accept().await.unwrap();
//! #     let mut request = [0u8; 1024];
//! #     let _ = socket.read(&mut request).await;
//! #     // A stream with none of the headers that keep caches and proxies off.
//! #     let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: hi\n\n").await;
//! # });
//! use ssekit_cli::check::{self, CheckOptions, Verdict};
//! use ssekit_cli::client::Target;
//!
//! let mut options = CheckOptions::new(Target::parse(&format!("http://{addr}/"))?);
//! options.heartbeat_within = Duration::from_millis(300);
//! let report = check::run(&options).await?;
//! assert!(!report.passed());
//! assert_eq!(report.get("content-type").unwrap().verdict, Verdict::Pass);
//! assert_eq!(report.get("cache-control").unwrap().verdict, Verdict::Fail);
//! // The stream sent no ids: resumption is not applicable, and says so.
//! assert_eq!(report.get("resume").unwrap().verdict, Verdict::Info);
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde_json::json;
use ssekit::Decoder;
use ssekit::decode::{Item, MessageEvent};
use ssekit::framing::Boundaries;
use tokio::time::Instant;

use crate::Error;
use crate::client::{Client, Response, Target, header_text};
use crate::coding::Coding;
use crate::duration::show;
use crate::lint::FramingLint;
use crate::progress::Progress;
use crate::style::{Style, escape_controls};
use crate::tail::{DEFAULT_MAX_EVENT_SIZE, json_line};

/// Every check, by name, in the order of the report.
pub const CHECKS: [&str; 11] = [
    "status",
    "content-type",
    "cache-control",
    "x-accel-buffering",
    "content-length",
    "compression",
    "heartbeat",
    "prompt",
    "framing",
    "end",
    "resume",
];

/// How many event ids are remembered to spot a repeat after resuming.
const MAX_IDS: usize = 100_000;
/// How often the progress line is refreshed while watching.
const TICK: Duration = Duration::from_millis(250);

/// What `check` does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckOptions {
    /// The endpoint.
    pub target: Target,
    /// Extra request headers (`-H`).
    pub headers: HeaderMap,
    /// The longest silence allowed; the stream is watched this long plus a
    /// quarter.
    pub heartbeat_within: Duration,
    /// A piece bringing two or more blocks after this much silence counts as
    /// held back.
    pub prompt_within: Duration,
    /// The deadline for each response head, and for the first event after
    /// resuming.
    pub timeout: Duration,
    /// The decoder's limit on one event, in bytes.
    pub max_event_size: usize,
}

impl CheckOptions {
    /// Defaults: heartbeats within 20 s, prompt within 2 s, a 10 s timeout,
    /// 16 MiB events.
    #[must_use]
    pub fn new(target: Target) -> Self {
        Self {
            target,
            headers: HeaderMap::new(),
            heartbeat_within: Duration::from_secs(20),
            prompt_within: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
        }
    }

    /// How long the stream is watched: the heartbeat interval plus a
    /// quarter (at least 200 ms more), so a heartbeat that is due shows.
    #[must_use]
    pub fn observe(&self) -> Duration {
        self.heartbeat_within + (self.heartbeat_within / 4).max(Duration::from_millis(200))
    }
}

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It was checked and holds.
    Pass,
    /// It was checked and does not hold.
    Fail,
    /// It could not be judged from what the endpoint sent (the reason says
    /// why); not a pass.
    Info,
    /// It was not run, because an earlier check showed there is no event
    /// stream to check.
    Skipped,
}

impl Verdict {
    /// `PASS`, `FAIL`, `INFO` or `SKIP`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Info => "INFO",
            Self::Skipped => "SKIP",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The check's name (one of [`CHECKS`]).
    pub check: &'static str,
    /// Its result.
    pub verdict: Verdict,
    /// What was seen, with numbers.
    pub reason: String,
}

/// Every check's result for one endpoint.
#[derive(Debug, Clone)]
pub struct Report {
    /// The endpoint.
    pub url: String,
    /// How long the first stream was watched.
    pub observed: Duration,
    /// One per check, in the order of [`CHECKS`].
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether no check failed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.findings
            .iter()
            .all(|finding| finding.verdict != Verdict::Fail)
    }

    /// The finding of the named check.
    #[must_use]
    pub fn get(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|finding| finding.check == check)
    }

    /// The failed checks' names.
    #[must_use]
    pub fn failed(&self) -> Vec<&'static str> {
        self.count(Verdict::Fail)
    }

    fn count(&self, verdict: Verdict) -> Vec<&'static str> {
        self.findings
            .iter()
            .filter(|finding| finding.verdict == verdict)
            .map(|finding| finding.check)
            .collect()
    }

    /// The table a person reads.
    #[must_use]
    pub fn render(&self, style: Style) -> String {
        let mut out = format!(
            "{} {}  (watched {})\n\n",
            style.bold("ssekit check"),
            escape_controls(&self.url),
            show(self.observed)
        );
        let width = CHECKS.iter().map(|name| name.len()).max().unwrap_or(0);
        for finding in &self.findings {
            let label = finding.verdict.label();
            let label = match finding.verdict {
                Verdict::Pass => style.green(label),
                Verdict::Fail => style.red(&style.bold(label)),
                Verdict::Info => style.yellow(label),
                Verdict::Skipped => style.dim(label),
            };
            let _ = writeln!(
                out,
                "  {:<width$}  {label}  {}",
                finding.check,
                escape_controls(&finding.reason)
            );
        }
        let failed = self.failed();
        let passed = self.count(Verdict::Pass).len();
        let info = self.count(Verdict::Info).len();
        let skipped = self.count(Verdict::Skipped).len();
        out.push('\n');
        if failed.is_empty() {
            let _ = writeln!(
                out,
                "{} every check that could be judged holds ({passed} pass, {info} info, {skipped} skipped)",
                style.green("OK:")
            );
        } else {
            let _ = writeln!(
                out,
                "{} {} of {} checks failed: {} ({passed} pass, {info} info, {skipped} skipped)",
                style.red(&style.bold("FAILED:")),
                failed.len(),
                self.findings.len(),
                failed.join(", ")
            );
        }
        out
    }

    /// The report as one JSON object:
    /// `{"url":…,"passed":…,"checks":[{"check":…,"result":"pass",…}]}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        let checks: Vec<String> = self
            .findings
            .iter()
            .map(|finding| {
                json_line(&[
                    ("check", json!(finding.check)),
                    (
                        "result",
                        json!(finding.verdict.label().to_ascii_lowercase()),
                    ),
                    ("reason", json!(finding.reason)),
                ])
            })
            .collect();
        format!(
            "{{\"url\":{},\"passed\":{},\"observed_ms\":{},\"checks\":[{}]}}",
            json!(self.url),
            self.passed(),
            crate::tail::millis(self.observed),
            checks.join(",")
        )
    }
}

/// Runs every check against the endpoint.
///
/// # Errors
///
/// Only when there is nothing to check: [`Error::Connect`], [`Error::Tls`]
/// or [`Error::Http`] for the first request. A response that is late, not
/// an event stream or broken is a report with failures, not an error.
pub async fn run(options: &CheckOptions) -> Result<Report, Error> {
    run_with(options, &Progress::hidden()).await
}

pub(crate) async fn run_with(options: &CheckOptions, progress: &Progress) -> Result<Report, Error> {
    let client = Client::new(options.timeout);
    let mut report = Report {
        url: options.target.url().to_owned(),
        observed: Duration::ZERO,
        findings: Vec::new(),
    };
    progress.set(format!("connecting to {}", options.target));
    let response = match client
        .get(&options.target, request_headers(options, None))
        .await
    {
        Ok(response) => response,
        Err(err @ Error::Timeout { .. }) => {
            report.push(
                "status",
                Verdict::Fail,
                format!("{err}: a server that holds the head back until it has an event stalls every client"),
            );
            report.skip_rest("no response head to check");
            return Ok(report);
        }
        Err(err) => return Err(err),
    };
    if !head_checks(&mut report, &response) {
        report.skip_rest("not an event stream, so there is no stream to check");
        return Ok(report);
    }
    let coding = Coding::from_headers(&response.headers);
    let watched = watch(options, response, coding, progress).await;
    report.observed = watched.observed;
    stream_checks(&mut report, options, &watched);
    let resume = resume_check(options, &client, &watched, progress).await;
    report.push("resume", resume.0, resume.1);
    Ok(report)
}

impl Report {
    fn push(&mut self, check: &'static str, verdict: Verdict, reason: impl Into<String>) {
        self.findings.push(Finding {
            check,
            verdict,
            reason: reason.into(),
        });
    }

    fn skip_rest(&mut self, reason: &str) {
        for check in CHECKS {
            if self.get(check).is_none() {
                self.push(check, Verdict::Skipped, reason);
            }
        }
    }
}

fn request_headers(options: &CheckOptions, last_event_id: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Asked for on purpose: a stream must come uncompressed all the same.
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    for name in options.headers.keys() {
        headers.remove(name);
    }
    for (name, value) in &options.headers {
        headers.append(name, value.clone());
    }
    if let Some(value) = last_event_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        headers.insert(HeaderName::from_static("last-event-id"), value);
    }
    headers
}

/// The head's checks; false when there is no event stream to go on with.
fn head_checks(report: &mut Report, response: &Response) -> bool {
    let status = response.status;
    if status == StatusCode::OK {
        report.push("status", Verdict::Pass, "200 OK");
    } else {
        let hint = if status == StatusCode::NO_CONTENT {
            ": the server tells clients to stop reconnecting; point check at an endpoint that streams"
        } else if status.is_redirection() {
            ": check follows no redirects; use the URL it points to"
        } else {
            ""
        };
        report.push("status", Verdict::Fail, format!("{status}, not 200{hint}"));
    }
    let content_type = response.content_type();
    if ssekit::head::is_event_stream_response(&response.headers) {
        report.push(
            "content-type",
            Verdict::Pass,
            content_type.unwrap_or_default(),
        );
    } else {
        report.push(
            "content-type",
            Verdict::Fail,
            match content_type {
                Some(value) => format!("{value:?}: EventSource only accepts text/event-stream"),
                None => "missing: EventSource only accepts text/event-stream".to_owned(),
            },
        );
    }
    if !response.is_event_stream() {
        return false;
    }

    let headers = &response.headers;
    match header_text(headers, &header::CACHE_CONTROL) {
        Some(value) if has_directive(&value, &["no-cache", "no-store"]) => {
            report.push("cache-control", Verdict::Pass, value);
        }
        Some(value) => report.push(
            "cache-control",
            Verdict::Fail,
            format!("{value:?} has no no-cache: caches and proxies may hold the stream back or replay it"),
        ),
        None => report.push(
            "cache-control",
            Verdict::Fail,
            "missing: caches and proxies may hold the stream back or replay it; send Cache-Control: no-cache",
        ),
    }
    match header_text(headers, &HeaderName::from_static("x-accel-buffering")) {
        Some(value) if value.trim().eq_ignore_ascii_case("no") => {
            report.push("x-accel-buffering", Verdict::Pass, "no");
        }
        Some(value) => report.push(
            "x-accel-buffering",
            Verdict::Fail,
            format!("{value:?}, not `no`: nginx and proxies like it buffer the stream"),
        ),
        None => report.push(
            "x-accel-buffering",
            Verdict::Fail,
            "missing: nginx and proxies like it buffer the stream unless it says X-Accel-Buffering: no",
        ),
    }
    match header_text(headers, &header::CONTENT_LENGTH) {
        None => report.push("content-length", Verdict::Pass, "absent"),
        Some(value) => report.push(
            "content-length",
            Verdict::Fail,
            format!("Content-Length: {value}: a stream has no length known in advance, and intermediaries may wait for all of it"),
        ),
    }
    match Coding::from_headers(headers) {
        Coding::Identity => report.push(
            "compression",
            Verdict::Pass,
            "asked for gzip, got an uncompressed body",
        ),
        _ => report.push(
            "compression",
            Verdict::Fail,
            format!(
                "asked for gzip, got Content-Encoding: {}: a compressor holds events back until its buffer fills; keep compression off event streams (Content-Encoding: identity)",
                header_text(headers, &header::CONTENT_ENCODING).unwrap_or_default()
            ),
        ),
    }
    true
}

/// Whether a `Cache-Control` value has one of the directives.
fn has_directive(value: &str, wanted: &[&str]) -> bool {
    value.split(',').any(|directive| {
        let name = directive.split('=').next().unwrap_or_default().trim();
        wanted.iter().any(|want| name.eq_ignore_ascii_case(want))
    })
}

/// How the first stream ended, if it did while watched.
#[derive(Debug)]
enum End {
    StillOpen,
    Clean,
    Broken(String),
}

/// What watching the first stream showed.
#[derive(Debug)]
struct Watched {
    observed: Duration,
    /// The coding could be undone, so the bytes could be read.
    readable: bool,
    coding_name: String,
    end: End,
    /// The body ended (cleanly or not) inside an event.
    ended_mid_event: bool,
    bytes: u64,
    pieces: u64,
    events: u64,
    comments: u64,
    /// The longest silence, and when it ended (since the head).
    max_gap: Duration,
    max_gap_end: Duration,
    /// The first held-back batch: blocks in the piece, the silence before
    /// it, when it came; and how many such pieces in all.
    burst: Option<(u64, Duration, Duration)>,
    bursts: u64,
    faults: Vec<String>,
    last_event_id: String,
    ids: HashSet<u64>,
}

async fn watch(
    options: &CheckOptions,
    mut response: Response,
    mut coding: Coding,
    progress: &Progress,
) -> Watched {
    let head_at = Instant::now();
    let deadline = head_at + options.observe();
    let mut watched = Watched {
        observed: Duration::ZERO,
        readable: coding.is_readable(),
        coding_name: match &coding {
            Coding::Unsupported(name) => name.clone(),
            _ => String::new(),
        },
        end: End::StillOpen,
        ended_mid_event: false,
        bytes: 0,
        pieces: 0,
        events: 0,
        comments: 0,
        max_gap: Duration::ZERO,
        max_gap_end: Duration::ZERO,
        burst: None,
        bursts: 0,
        faults: Vec::new(),
        last_event_id: "".into(),
        ids: HashSet::new(),
    };
    let mut decoder = Decoder::with_max_event_size(options.max_event_size);
    let mut boundaries = Boundaries::new();
    let mut lint = FramingLint::new();
    let mut items = Vec::new();
    let mut last_arrival = head_at;
    let mut decode_errors = 0u64;
    let mut first_decode_error = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        progress.set(format!(
            "watching {}: {} of {}, {} event(s), {} comment(s)",
            options.target,
            show(now - head_at),
            show(options.observe()),
            watched.events,
            watched.comments
        ));
        let chunk = match tokio::time::timeout_at(deadline.min(now + TICK), response.chunk()).await
        {
            Err(_) => continue,
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => {
                watched.end = End::Clean;
                break;
            }
            Ok(Err(err)) => {
                watched.end = End::Broken(err.to_string());
                break;
            }
        };
        let at = Instant::now();
        let mut decoded = 0usize;
        let mut blocks = 0u64;
        let decoding = coding.decode(&chunk, |bytes| {
            decoded += bytes.len();
            blocks += boundaries.scan(bytes);
            lint.feed(bytes);
            decoder.feed_into(bytes, &mut items);
        });
        if let Err(err) = decoding {
            watched.faults.push(err);
            watched.end = End::Broken("the body's compression is corrupt".to_owned());
            break;
        }
        // Silence ends when something readable arrives (or, for a coding
        // that cannot be undone, anything at all).
        if decoded > 0 || !watched.readable {
            let gap = at - last_arrival;
            if gap > watched.max_gap {
                watched.max_gap = gap;
                watched.max_gap_end = at - head_at;
            }
            if blocks >= 2 && gap >= options.prompt_within {
                watched.bursts += 1;
                watched.burst.get_or_insert((blocks, gap, at - head_at));
            }
            last_arrival = at;
            watched.pieces += 1;
            watched.bytes += u64::try_from(decoded).unwrap_or(u64::MAX);
        }
        for item in items.drain(..) {
            match item {
                Ok(Item::Event(event)) => {
                    watched.events += 1;
                    remember(&mut watched.ids, &event);
                }
                Ok(Item::Comment(_)) => watched.comments += 1,
                Ok(_) => {}
                Err(err) => {
                    decode_errors += 1;
                    first_decode_error.get_or_insert(err.to_string());
                }
            }
        }
    }
    let ended_at = Instant::now();
    if matches!(watched.end, End::StillOpen) {
        // The silence at the end counts too.
        let gap = ended_at.min(deadline) - last_arrival;
        if gap > watched.max_gap {
            watched.max_gap = gap;
            watched.max_gap_end = ended_at.min(deadline) - head_at;
        }
    } else {
        watched.ended_mid_event = !boundaries.at_boundary();
        lint.finish();
    }
    watched.observed = ended_at - head_at;
    watched.faults.extend(lint.faults());
    if let Some(first) = first_decode_error {
        watched
            .faults
            .push(format!("{decode_errors} event(s) too large: {first}"));
    }
    if watched.ended_mid_event {
        watched.faults.push(
            "the body ended inside an event (no blank line after it), so that event is never dispatched"
                .to_owned(),
        );
    }
    watched.last_event_id = decoder.dispatched_last_event_id().to_owned();
    watched
}

fn id_hash(id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

fn remember(ids: &mut HashSet<u64>, event: &MessageEvent) {
    if !event.last_event_id.is_empty() && ids.len() < MAX_IDS {
        ids.insert(id_hash(&event.last_event_id));
    }
}

fn stream_checks(report: &mut Report, options: &CheckOptions, watched: &Watched) {
    let limit = options.heartbeat_within;
    let summary = format!(
        "{} event(s), {} comment(s)",
        watched.events, watched.comments
    );
    if watched.max_gap > limit {
        report.push(
            "heartbeat",
            Verdict::Fail,
            format!(
                "silent for {} (until {} after the head), longer than {}: idle proxies drop the connection, and the server cannot notice a client that left; send a comment line as a heartbeat",
                show(watched.max_gap),
                show(watched.max_gap_end),
                show(limit)
            ),
        );
    } else if !matches!(watched.end, End::StillOpen) && watched.observed < limit {
        report.push(
            "heartbeat",
            Verdict::Info,
            format!(
                "the stream ended after {}, before a heartbeat was due (within {}): point check at a stream that stays open",
                show(watched.observed),
                show(limit)
            ),
        );
    } else {
        report.push(
            "heartbeat",
            Verdict::Pass,
            format!(
                "never silent longer than {} in {} (limit {}); {summary}",
                show(watched.max_gap),
                show(watched.observed),
                show(limit)
            ),
        );
    }

    if !watched.readable {
        let reason = format!(
            "the body is encoded with {}, which check cannot undo",
            watched.coding_name
        );
        report.push("prompt", Verdict::Skipped, reason.clone());
        report.push("framing", Verdict::Skipped, reason);
    } else {
        match watched.burst {
            Some((blocks, gap, at)) => report.push(
                "prompt",
                Verdict::Fail,
                format!(
                    "{blocks} events/heartbeats arrived in one piece {} after the head, after {} of silence ({} such piece(s)): they were held back (buffered) and released together instead of sent as they were made",
                    show(at),
                    show(gap),
                    watched.bursts
                ),
            ),
            None if watched.pieces == 0 => report.push(
                "prompt",
                Verdict::Info,
                format!("nothing arrived in {}, so there is nothing to judge", show(watched.observed)),
            ),
            None => report.push(
                "prompt",
                Verdict::Pass,
                format!(
                    "{} piece(s), none bringing two or more events/heartbeats after {} or more of silence",
                    watched.pieces,
                    show(options.prompt_within)
                ),
            ),
        }
        if watched.faults.is_empty() {
            let end = if matches!(watched.end, End::StillOpen) {
                ""
            } else {
                ", and the body ended between events"
            };
            report.push(
                "framing",
                Verdict::Pass,
                format!(
                    "{summary} in {} byte(s) decode cleanly: LF/CRLF line ends, known fields, UTF-8{end}",
                    watched.bytes
                ),
            );
        } else {
            report.push("framing", Verdict::Fail, watched.faults.join("; "));
        }
    }

    match &watched.end {
        End::StillOpen => report.push(
            "end",
            Verdict::Info,
            format!(
                "still open after {}; check stopped reading there",
                show(watched.observed)
            ),
        ),
        End::Clean => report.push(
            "end",
            Verdict::Pass,
            format!("the body ended cleanly after {}", show(watched.observed)),
        ),
        End::Broken(err) => report.push(
            "end",
            Verdict::Fail,
            format!(
                "the connection broke after {}: {err}",
                show(watched.observed)
            ),
        ),
    }
}

async fn resume_check(
    options: &CheckOptions,
    client: &Client,
    watched: &Watched,
    progress: &Progress,
) -> (Verdict, String) {
    if !watched.readable {
        return (
            Verdict::Skipped,
            format!(
                "the body is encoded with {}, which check cannot undo",
                watched.coding_name
            ),
        );
    }
    let last = watched.last_event_id.as_str();
    if last.is_empty() {
        return (
            Verdict::Info,
            format!(
                "not applicable: no event carried an id in {}, so a client has nothing to resume from",
                show(watched.observed)
            ),
        );
    }
    let shown = escape_controls(last);
    if HeaderValue::from_str(last).is_err() {
        return (
            Verdict::Fail,
            format!("the last event id {shown:?} cannot be sent back as a Last-Event-ID header"),
        );
    }
    progress.set(format!("reconnecting with Last-Event-ID {shown}"));
    let headers = request_headers(options, Some(last));
    let mut response = match client.get(&options.target, headers).await {
        Ok(response) => response,
        Err(err) => {
            return (
                Verdict::Fail,
                format!("reconnecting with Last-Event-ID {shown:?} failed: {err}"),
            );
        }
    };
    if response.status == StatusCode::NO_CONTENT {
        return (
            Verdict::Pass,
            format!(
                "after Last-Event-ID {shown:?} the server answered 204: nothing more, stop reconnecting"
            ),
        );
    }
    if !response.is_event_stream() {
        return (
            Verdict::Fail,
            format!(
                "a reconnect with Last-Event-ID {shown:?} got {} {}, not an event stream",
                response.status,
                response.content_type().unwrap_or_default()
            ),
        );
    }
    let mut coding = Coding::from_headers(&response.headers);
    let mut decoder = Decoder::with_max_event_size(options.max_event_size);
    let mut items = Vec::new();
    let deadline = Instant::now() + options.timeout;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => {
                return (
                    Verdict::Info,
                    format!(
                        "resumed with Last-Event-ID {shown:?}, but no event came within {}, so resumption could not be judged",
                        show(options.timeout)
                    ),
                );
            }
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => {
                return (
                    Verdict::Pass,
                    format!("after Last-Event-ID {shown:?} the stream ended with nothing more"),
                );
            }
            Ok(Err(err)) => {
                return (
                    Verdict::Fail,
                    format!("the resumed stream broke before its first event: {err}"),
                );
            }
        };
        if coding
            .decode(&chunk, |bytes| decoder.feed_into(bytes, &mut items))
            .is_err()
        {
            return (
                Verdict::Fail,
                "the resumed stream's compression is corrupt".to_owned(),
            );
        }
        let first = items.drain(..).find_map(|item| match item {
            Ok(Item::Event(event)) => Some(event),
            _ => None,
        });
        if let Some(event) = first {
            return judge_resumed(last, &event, &watched.ids);
        }
    }
}

fn judge_resumed(last: &str, event: &MessageEvent, seen: &HashSet<u64>) -> (Verdict, String) {
    let shown = escape_controls(last);
    let id = event.last_event_id.as_ref();
    let id_shown = escape_controls(id);
    if id.is_empty() {
        return (
            Verdict::Info,
            format!(
                "resumed with Last-Event-ID {shown:?}, but the first event carries no id, so resumption could not be judged"
            ),
        );
    }
    if seen.contains(&id_hash(id)) {
        return (
            Verdict::Fail,
            format!(
                "after Last-Event-ID {shown:?} the first event has id {id_shown:?}, which was already delivered: the server ignores Last-Event-ID or replays too much"
            ),
        );
    }
    if let (Ok(id_number), Ok(last_number)) = (id.parse::<u64>(), last.parse::<u64>())
        && id_number <= last_number
    {
        return (
            Verdict::Fail,
            format!(
                "after Last-Event-ID {shown:?} the first event has id {id_shown:?}, which goes back: the server ignores Last-Event-ID"
            ),
        );
    }
    (
        Verdict::Pass,
        format!(
            "after Last-Event-ID {shown:?} the stream went on with id {id_shown:?}, not seen before"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> MessageEvent {
        MessageEvent {
            event_type: "message".to_owned(),
            data: String::new(),
            last_event_id: id.into(),
        }
    }

    #[test]
    fn resumption_is_judged_by_ids() {
        let seen: HashSet<u64> = ["1", "2", "3"].into_iter().map(id_hash).collect();
        assert_eq!(judge_resumed("3", &event("4"), &seen).0, Verdict::Pass);
        assert_eq!(judge_resumed("3", &event("1"), &seen).0, Verdict::Fail);
        assert_eq!(
            judge_resumed("30", &event("7"), &HashSet::new()).0,
            Verdict::Fail
        );
        assert_eq!(judge_resumed("c", &event("d"), &seen).0, Verdict::Pass);
        assert_eq!(judge_resumed("3", &event(""), &seen).0, Verdict::Info);
    }

    #[test]
    fn cache_control_directives_are_whole_words() {
        assert!(has_directive("private, No-Cache", &["no-cache"]));
        assert!(has_directive("no-store", &["no-cache", "no-store"]));
        assert!(!has_directive("no-cache-please", &["no-cache"]));
    }
}
