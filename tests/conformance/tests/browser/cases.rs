//! The browser cases: each drives Chromium's own `EventSource` from the
//! page `GET /browser` of one adapter's conformance server, and compares
//! what the browser dispatched with what SCENARIOS.md promises.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::driver::{Browser, browser};
use crate::echo_table::{
    Row, data_line_end_rows, data_moderate_rows, data_text_rows, event_name_rows, id_rows,
    retry_and_comment_rows,
};
use crate::server::{Adapter, Server};

/// The most one case may take once it has the browser (server start and
/// page load included). Cases take far less; this turns a hang into a
/// failure.
pub(crate) const CASE_TIME_LIMIT: Duration = Duration::from_secs(30);

/// `EventSource.CONNECTING`.
const CONNECTING: u8 = 0;
/// `EventSource.CLOSED`.
const CLOSED: u8 = 2;

/// One event as the page saw it dispatched.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Seen {
    #[serde(rename = "type")]
    kind: String,
    data: String,
    last_event_id: String,
    /// ms after the `EventSource` was made.
    t: f64,
}

impl Seen {
    fn fields(&self) -> (&str, &str, &str) {
        (&self.kind, &self.data, &self.last_event_id)
    }
}

/// An `error` event and the `readyState` it left.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorSeen {
    t: f64,
    ready_state: u8,
}

/// What `conformance.collect` saw of one `EventSource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    url: String,
    events: Vec<Seen>,
    /// When each `open` fired.
    opens: Vec<f64>,
    errors: Vec<ErrorSeen>,
    /// `readyState` when the page stopped (before closing the source).
    ready_state: Option<u8>,
    /// Why the page stopped: `events`, `closed`, `error` or `timeout`.
    stop: String,
    ms: f64,
}

impl Record {
    fn error_states(&self) -> Vec<u8> {
        self.errors.iter().map(|error| error.ready_state).collect()
    }

    /// A readable dump for failure messages.
    fn dump(&self) -> String {
        let mut out = format!(
            "  GET {} stopped on {:?} after {:.0} ms, readyState {:?}; opens at {:?} ms; \
             errors (t ms, readyState) {:?}; events:",
            self.url,
            self.stop,
            self.ms,
            self.ready_state,
            self.opens.iter().map(|t| t.round()).collect::<Vec<_>>(),
            self.errors
                .iter()
                .map(|error| (error.t.round(), error.ready_state))
                .collect::<Vec<_>>(),
        );
        for event in &self.events {
            let _ = write!(
                out,
                "\n    {:.0} ms: type {:?} data {:?} lastEventId {:?}",
                event.t,
                event.kind,
                shorten(&event.data),
                event.last_event_id
            );
        }
        out
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 80 {
        format!(
            "{}… ({} bytes)",
            text.chars().take(80).collect::<String>(),
            text.len()
        )
    } else {
        text.to_owned()
    }
}

/// Every mismatch a case finds, reported together.
#[derive(Debug, Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.0.push(message());
        }
    }
}

/// One case on one adapter: its server, and the browser's page on it.
#[derive(Debug)]
pub(crate) struct Session {
    context: String,
    // Dropped before the server, so the turn passes on once it is gone.
    browser: Browser,
    server: Server,
}

impl Session {
    /// Takes the browser's turn, starts `adapter`'s server and opens its
    /// `/browser` page.
    pub(crate) async fn start(adapter: Adapter, case: &str) -> Self {
        let context = format!("{} {case} (browser)", adapter.name());
        let browser = browser().await;
        let server = Server::start(adapter).await;
        let page = format!("http://{}/browser", server.addr);
        if let Err(err) = browser.open(&page).await {
            panic!("{context}: {err}");
        }
        Self {
            context,
            browser,
            server,
        }
    }

    pub(crate) fn context(&self) -> &str {
        &self.context
    }

    /// `conformance.collect(url, options)` on the page.
    async fn collect(&self, url: &str, options: Value) -> Record {
        let value = self
            .browser
            .call("collect", vec![json!(url), options])
            .await
            .unwrap_or_else(|err| panic!("{}: GET {url}: {err}", self.context));
        serde_json::from_value(value.clone()).unwrap_or_else(|err| {
            panic!(
                "{}: GET {url}: the page answered {value}, not a record: {err}",
                self.context
            )
        })
    }

    fn assert_none(&self, failures: &Failures, records: &[&Record]) {
        if failures.0.is_empty() {
            return;
        }
        let mut message = format!(
            "{}: {} failure(s) on {}:\n",
            self.context,
            failures.0.len(),
            self.server.addr
        );
        for failure in &failures.0 {
            let _ = writeln!(message, "- {failure}");
        }
        for record in records {
            let _ = writeln!(message, "{}", record.dump());
        }
        panic!("{message}");
    }
}

// ----------------------------------------------------------------------
// The echo table
// ----------------------------------------------------------------------

/// The browser's view of a row: the one event it dispatches as `(type,
/// data, lastEventId)`, or none.
impl Row {
    fn dispatched(&self) -> Option<(&str, &str, &str)> {
        self.event.as_ref().map(|event| {
            (
                event.event_type.as_str(),
                event.data.as_str(),
                event.last_event_id.as_ref(),
            )
        })
    }
}

/// The echo table shared with the wire suite (`support/echo_table.rs`), as
/// far as a page can observe it: every row's dispatched event, its `type`,
/// `data` (each line end of the data sent as LF, CR or CRLF arriving as LF)
/// and `lastEventId`, or that nothing is dispatched.
///
/// What a page cannot observe is left to the wire suite, which checks it
/// with two decoders: comments (a browser ignores them; here they only
/// must not break or forge anything), the `retry:` value of a row (the
/// `reconnect_resumes` case shows a browser honouring `retry: 50`), and
/// the last event ID of a block that dispatches nothing (`id` without
/// `data`: `EventSource` exposes `lastEventId` only on events; the
/// `unicode_last_event_id` case shows a browser sending the id it took). The
/// large rows are the table's moderate ones, smaller than the wire suite's
/// 64 KB ones.
fn echo_rows() -> Vec<Row> {
    [
        data_line_end_rows(),
        data_text_rows(),
        data_moderate_rows(),
        id_rows(),
        event_name_rows(),
        retry_and_comment_rows(),
    ]
    .concat()
}

/// Every event type the table sends or could be misread as: each source
/// listens for all of them, so an event dispatched under the wrong type is
/// seen (as that type) rather than lost.
fn table_types(rows: &[Row]) -> Vec<String> {
    let mut types: Vec<String> = rows
        .iter()
        .flat_map(|row| {
            row.params
                .iter()
                .filter(|(name, _)| *name == "event")
                .map(|(_, value)| value.clone())
        })
        .filter(|kind| !kind.is_empty())
        .collect();
    types.extend(["forged", "upd", "update"].map(str::to_owned));
    types.sort();
    types.dedup();
    types
}

/// The echo table: for each row, one `EventSource` on `/echo?<row>`,
/// closed at its first error (/echo ends after its block).
///
/// Per row: exactly one `open` (the response was taken as an event stream:
/// a 400, a wrong content type or a broken head would fail the connection
/// instead), the events dispatched before the first `error` equal to the
/// row's (none for a block without data), and that `error` leaving the
/// source CONNECTING, about to reconnect (the stream ended; it was not
/// failed).
pub(crate) async fn echo_table(session: &Session) {
    let rows = echo_rows();
    let types = table_types(&rows);
    let params: Vec<Value> = rows
        .iter()
        .map(|row| {
            Value::Array(
                row.params
                    .iter()
                    .map(|(name, value)| json!([name, value]))
                    .collect(),
            )
        })
        .collect();
    let value = session
        .browser
        .call(
            "echoTable",
            vec![Value::Array(params), json!(types), json!(5000)],
        )
        .await
        .unwrap_or_else(|err| panic!("{}: {err}", session.context));
    let records: Vec<Record> = serde_json::from_value(value).unwrap_or_else(|err| {
        panic!(
            "{}: the page's answer is not records: {err}",
            session.context
        )
    });
    assert_eq!(
        records.len(),
        rows.len(),
        "{}: one record per row",
        session.context
    );

    let mut failures = Failures::default();
    let mut failed = Vec::new();
    for (row, record) in rows.iter().zip(&records) {
        let before = failures.0.len();
        let name = &row.name;
        failures.check(record.stop == "error", || match record.stop.as_str() {
            "closed" => format!(
                "row {name:?}: the browser failed the connection (readyState CLOSED, \
                 {} open(s)): not a 200 text/event-stream response",
                record.opens.len()
            ),
            "timeout" => format!("row {name:?}: the stream did not end within 5 s"),
            other => format!("row {name:?}: the page stopped on {other:?}"),
        });
        failures.check(record.opens.len() == 1, || {
            format!(
                "row {name:?}: {} `open` events, expected 1",
                record.opens.len()
            )
        });
        if record.stop == "error" {
            failures.check(record.error_states().first() == Some(&CONNECTING), || {
                format!(
                    "row {name:?}: the first error left readyState {:?}, expected CONNECTING (0)",
                    record.error_states().first()
                )
            });
        }
        let seen: Vec<(&str, &str, &str)> = record.events.iter().map(Seen::fields).collect();
        let expected: Vec<(&str, &str, &str)> = row.dispatched().into_iter().collect();
        failures.check(seen == expected, || {
            format!(
                "row {name:?}: dispatched {:?}, expected {:?}",
                seen.iter()
                    .map(|(kind, data, id)| (*kind, shorten(data), *id))
                    .collect::<Vec<_>>(),
                expected
                    .iter()
                    .map(|(kind, data, id)| (*kind, shorten(data), *id))
                    .collect::<Vec<_>>()
            )
        });
        if failures.0.len() > before {
            failed.push(record);
        }
    }
    println!(
        "{}: {} rows, {} failed",
        session.context,
        rows.len(),
        failed.len()
    );
    session.assert_none(&failures, &failed);
}

// ----------------------------------------------------------------------
// Reconnection
// ----------------------------------------------------------------------

/// Accepted reconnection delays after `retry: 50`: at least (about) 50 ms,
/// and far under a browser's default of seconds.
const RETRY_50_GAP_MS: std::ops::Range<f64> = 40.0..1000.0;

/// For each `open` after the first, the ms since the `error` before it.
fn reconnect_gaps(record: &Record) -> Vec<f64> {
    record
        .opens
        .iter()
        .skip(1)
        .map(|&open| {
            let error = record
                .errors
                .iter()
                .filter(|error| error.t <= open)
                .map(|error| error.t)
                .fold(f64::NAN, f64::max);
            open - error
        })
        .collect()
}

/// `/events?count=10&close_after=3&retry_ms=50`: the browser reconnects on
/// its own after each response of three events, sending the last id it
/// saw, until the server's 204 makes it give up.
///
/// Ids 1 to 10, each exactly once and in order, in four responses of 3, 3,
/// 3 and 1 events; an `error` leaving CONNECTING after each of them, each
/// reconnection after the stream's `retry: 50` (not a default of seconds);
/// then the 204: an `error` leaving CLOSED, and no further request.
pub(crate) async fn reconnect_resumes(session: &Session) {
    let record = session
        .collect(
            "/events?count=10&close_after=3&retry_ms=50",
            json!({ "timeoutMs": 10_000 }),
        )
        .await;
    let mut failures = Failures::default();
    failures.check(record.stop == "closed", || {
        format!(
            "the browser did not give up (readyState CLOSED) after the events: stopped on {:?}",
            record.stop
        )
    });
    failures.check(record.ready_state == Some(CLOSED), || {
        format!(
            "final readyState {:?}, expected CLOSED (2)",
            record.ready_state
        )
    });
    let seen: Vec<(&str, &str, &str)> = record.events.iter().map(Seen::fields).collect();
    let expected: Vec<(String, String, String)> = (1..=10)
        .map(|id| ("message".to_owned(), format!("event {id}"), id.to_string()))
        .collect();
    let expected: Vec<(&str, &str, &str)> = expected
        .iter()
        .map(|(kind, data, id)| (kind.as_str(), data.as_str(), id.as_str()))
        .collect();
    failures.check(seen == expected, || {
        format!("events {seen:?}, expected ids 1 to 10 once each: {expected:?}")
    });
    // Which response each event came in: the opens before it, less one.
    let mut per_response = vec![0_usize; record.opens.len()];
    for event in &record.events {
        let opens_before = record.opens.iter().filter(|&&open| open <= event.t).count();
        if let Some(count) = opens_before
            .checked_sub(1)
            .and_then(|i| per_response.get_mut(i))
        {
            *count += 1;
        }
    }
    failures.check(per_response == [3, 3, 3, 1], || {
        format!("events per response {per_response:?}, expected [3, 3, 3, 1] (close_after=3)")
    });
    failures.check(
        record.error_states() == [CONNECTING, CONNECTING, CONNECTING, CONNECTING, CLOSED],
        || {
            format!(
                "readyState after each error {:?}, expected [0, 0, 0, 0, 2]: four ended \
                 streams, then the 204",
                record.error_states()
            )
        },
    );
    let gaps = reconnect_gaps(&record);
    failures.check(gaps.iter().all(|gap| RETRY_50_GAP_MS.contains(gap)), || {
        format!(
            "reconnection delays {:?} ms, expected each in {RETRY_50_GAP_MS:?} (retry: 50)",
            gaps.iter().map(|gap| gap.round()).collect::<Vec<_>>()
        )
    });
    println!(
        "{}: reconnected after {:?} ms",
        session.context(),
        gaps.iter().map(|gap| gap.round()).collect::<Vec<_>>()
    );
    session.assert_none(&failures, &[&record]);
}

/// `/last-event-id`: the first response sets `retry: 50` and sends `hello`
/// with id `…` (U+2026); the browser reconnects with `Last-Event-ID: …`
/// (as UTF-8, bytes E2 80 A6), and the second response's data is the id as
/// the adapter's extractor decoded it: exactly `…`. That event has no id
/// field, so its `lastEventId` is still `…`.
pub(crate) async fn unicode_last_event_id(session: &Session) {
    let record = session
        .collect("/last-event-id", json!({ "events": 2, "timeoutMs": 5000 }))
        .await;
    let mut failures = Failures::default();
    failures.check(record.stop == "events", || {
        format!(
            "the page did not get two events: stopped on {:?}",
            record.stop
        )
    });
    let seen: Vec<(&str, &str, &str)> = record.events.iter().map(Seen::fields).collect();
    failures.check(
        seen.first() == Some(&("message", "hello", "\u{2026}")),
        || {
            format!(
                "first event {:?}, expected (\"message\", \"hello\", \"…\")",
                seen.first()
            )
        },
    );
    failures.check(
        seen.get(1) == Some(&("message", "\u{2026}", "\u{2026}")),
        || {
            let data = seen.get(1).map(|(_, data, _)| *data);
            format!(
                "second event {:?}, expected (\"message\", \"…\", \"…\"): the server decoded the \
             reconnection's Last-Event-ID as {data:?} (UTF-8 bytes {:02X?})",
                seen.get(1),
                data.map(str::as_bytes),
            )
        },
    );
    failures.check(record.opens.len() == 2, || {
        format!(
            "{} opens, expected 2 (one reconnection)",
            record.opens.len()
        )
    });
    failures.check(record.error_states() == [CONNECTING], || {
        format!(
            "readyState after each error {:?}, expected [0]: one ended stream",
            record.error_states()
        )
    });
    let gaps = reconnect_gaps(&record);
    failures.check(gaps.iter().all(|gap| RETRY_50_GAP_MS.contains(gap)), || {
        format!("reconnection delay {gaps:?} ms, expected in {RETRY_50_GAP_MS:?} (retry: 50)")
    });
    session.assert_none(&failures, &[&record]);
}

// ----------------------------------------------------------------------
// Timing
// ----------------------------------------------------------------------

/// How many ticks the page waits for.
const TICKS: usize = 10;

/// How far a tick may be from its due time, measured from the first (as
/// the wire suite allows).
const TICK_TOLERANCE_MS: f64 = 60.0;

/// `/ticks?interval_ms=100`, through the compression middleware that the
/// browser's `Accept-Encoding: gzip, deflate, br, zstd` invites: the page
/// records `performance.now()` as each message is dispatched. Tick `i`
/// arrives `i × 100 ms` after the first (± 60 ms), never within 50 ms of
/// the one before (batched), and the first within 250 ms of `open`.
pub(crate) async fn ticks_are_prompt(session: &Session) {
    let record = session
        .collect(
            "/ticks?interval_ms=100",
            json!({ "events": TICKS, "timeoutMs": 5000 }),
        )
        .await;
    let mut failures = Failures::default();
    failures.check(record.stop == "events", || {
        format!(
            "the page did not get {TICKS} ticks: stopped on {:?}",
            record.stop
        )
    });
    failures.check(record.opens.len() == 1, || {
        format!("{} opens, expected 1", record.opens.len())
    });
    for (index, event) in record.events.iter().enumerate() {
        let id = index + 1;
        failures.check(
            event.fields() == ("message", &format!("tick {id}"), &id.to_string()),
            || format!("tick #{id} is {:?}", event.fields()),
        );
    }
    let times: Vec<f64> = record.events.iter().map(|event| event.t).collect();
    if let (Some(&first), Some(&open)) = (times.first(), record.opens.first()) {
        failures.check(first - open <= 250.0, || {
            format!(
                "the first tick came {:.0} ms after `open`: held back",
                first - open
            )
        });
        for (index, &t) in times.iter().enumerate().skip(1) {
            let due = 100.0 * f64::from(u32::try_from(index).unwrap_or(u32::MAX));
            let offset = t - first;
            failures.check((offset - due).abs() <= TICK_TOLERANCE_MS, || {
                format!(
                    "tick #{} came {offset:.0} ms after the first, due at {due:.0} ms \
                     (tolerance {TICK_TOLERANCE_MS} ms)",
                    index + 1
                )
            });
            let gap = t - times[index - 1];
            failures.check(gap >= 50.0, || {
                format!(
                    "tick #{} came {gap:.0} ms after the one before: batched",
                    index + 1
                )
            });
        }
    }
    let offsets: Vec<f64> = times
        .iter()
        .map(|t| (t - times.first().copied().unwrap_or(0.0)).round())
        .collect();
    println!(
        "{}: ticks at {offsets:?} ms after the first",
        session.context()
    );
    session.assert_none(&failures, &[&record]);
}
