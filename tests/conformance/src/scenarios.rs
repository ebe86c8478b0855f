//! What each endpoint sends, written once for every adapter.
//!
//! A scenario turns typed parameters (from [`crate::params`]) and the
//! adapter's decoded `Last-Event-ID` into a [`Plan`]: the events, built
//! with ssekit's public [`Event`] builder, and the heartbeat and `retry:`
//! the adapter's `Sse` is to be given. The adapters only wrap a plan in
//! their own `Sse` and route requests here.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::{Stream, stream};
use ssekit::{Disconnect, Event, EventError, LastEventId};
use tokio::time::MissedTickBehavior;

use crate::params::{
    BadRequest, EchoParams, EventsParams, IdleParams, LastEventIdParams, MAX_COUNT,
    MAX_INTERVAL_MS, ProbeParams, Query, StreamParams, TicksParams,
};

/// One item of an event stream. Every field is checked before a stream
/// starts, so no item is ever an error; the `Result` is there because the
/// builder's `id` returns one.
pub(crate) type Item = Result<Event, EventError>;

/// The events of one response.
pub(crate) type Events = Pin<Box<dyn Stream<Item = Item> + Send>>;

/// An event stream to answer with: its events, and what the adapter's
/// `Sse` is to be told.
pub(crate) struct Plan {
    /// The events.
    pub(crate) events: Events,
    /// The heartbeat interval (`.heartbeat(..)`).
    pub(crate) heartbeat: Duration,
    /// The `retry:` hint to start with (`.retry(..)`), if any.
    pub(crate) retry: Option<Duration>,
}

impl Plan {
    fn new(events: impl Stream<Item = Item> + Send + 'static, params: StreamParams) -> Self {
        Self {
            events: Box::pin(events),
            heartbeat: params.heartbeat,
            retry: params.retry,
        }
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("heartbeat", &self.heartbeat)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// `/events` answers with a stream, or with 204 when the client has seen
/// every event.
#[derive(Debug)]
pub(crate) enum EventsReply {
    /// 200 and these events.
    Stream(Plan),
    /// 204, with the adapter's "stop reconnecting" API.
    StopReconnecting,
}

/// The Last-Event-ID as a number: digits only, as this server writes its
/// ids. Anything else counts as absent.
pub(crate) fn numeric(last: Option<&LastEventId>) -> Option<u64> {
    last.map(LastEventId::as_str)
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|id| id.parse().ok())
}

/// `GET /events`: ids K to K+N-1 (after a numeric Last-Event-ID L, from
/// L+1), data `event <id>` padded with `.` to S bytes, T ms apart, at most
/// M of them; 204 when L is at or past the last id.
pub(crate) fn events(params: &EventsParams, last: Option<&LastEventId>) -> EventsReply {
    let from = match numeric(last) {
        Some(seen) => {
            let from = seen.saturating_add(1).max(params.start);
            if seen == u64::MAX || from >= params.end {
                return EventsReply::StopReconnecting;
            }
            from
        }
        None => params.start,
    };
    let stop = params
        .close_after
        .map_or(params.end, |most| from.saturating_add(most).min(params.end));
    let (interval, size) = (params.interval, params.size);
    let events = stream::unfold(from, move |id| async move {
        if id >= stop {
            return None;
        }
        if id > from && !interval.is_zero() {
            tokio::time::sleep(interval).await;
        }
        let mut data = format!("event {id}");
        if let Some(size) = size
            && data.len() < size
        {
            data.extend(std::iter::repeat_n('.', size - data.len()));
        }
        // `id + 1` cannot overflow: `id < stop <= u64::MAX`.
        Some((
            Event::default().id(id.to_string()).map(|e| e.data(data)),
            id + 1,
        ))
    });
    EventsReply::Stream(Plan::new(events, params.stream))
}

/// `GET /echo`: the comment block (when given), then one event of the
/// given fields; the `retry:` goes first through the stream's own hint.
///
/// # Errors
///
/// The builder's refusal of a field, before anything is sent.
pub(crate) fn echo(params: &EchoParams) -> Result<Plan, BadRequest> {
    let mut blocks = Vec::with_capacity(2);
    if let Some(comment) = &params.comment {
        blocks.push(Ok(Event::default().comment(comment)));
    }
    let mut event = Event::default();
    if let Some(name) = &params.event {
        event = event.event(name)?;
    }
    if let Some(id) = &params.id {
        event = event.id(id)?;
    }
    if let Some(data) = &params.data {
        event = event.data(data);
    }
    blocks.push(Ok(event));
    Ok(Plan::new(stream::iter(blocks), params.stream))
}

/// `GET /idle`: nothing but heartbeats, for ever.
pub(crate) fn idle(params: &IdleParams) -> Plan {
    Plan::new(stream::pending(), params.stream)
}

/// `GET /probe`: nothing but heartbeats, for ever, registered in `probes`
/// under the token with the adapter's disconnect handle for the request.
pub(crate) fn probe(params: &ProbeParams, probes: &Probes, disconnect: &Disconnect) -> Plan {
    probes.watch(params.token.clone(), disconnect);
    Plan::new(stream::pending(), params.stream)
}

/// `GET /ticks`: `tick <n>` with id n, every T ms, for ever; the first at
/// once.
pub(crate) fn ticks(params: &TicksParams) -> Plan {
    let period = params.interval;
    let events = stream::unfold((None, 1_u64), move |(interval, n)| async move {
        let mut interval = interval.unwrap_or_else(|| {
            let mut interval = tokio::time::interval(period);
            // A client that reads slowly gets ticks T ms apart, not a burst.
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        interval.tick().await;
        let event = Event::default()
            .id(n.to_string())
            .map(|e| e.data(format!("tick {n}")));
        Some((event, (Some(interval), n.wrapping_add(1))))
    });
    Plan::new(events, params.stream)
}

/// `GET /last-event-id`: without a Last-Event-ID, `retry: 50` (or
/// `retry_ms`) and one event with id X and data `hello`; with one, one event
/// whose data is that id as the adapter decoded it.
///
/// # Errors
///
/// When the builder refuses X as an id.
pub(crate) fn last_event_id(
    params: &LastEventIdParams,
    last: Option<&LastEventId>,
) -> Result<Plan, BadRequest> {
    // Checked even when a Last-Event-ID makes it unused: a bad parameter
    // is a bad request either way.
    let first = Event::default().id(&params.id)?.data("hello");
    let mut stream_params = params.stream;
    let event = match last {
        Some(last) => Event::default().data(last.as_str()),
        None => {
            stream_params.retry = stream_params.retry.or(Some(Duration::from_millis(50)));
            first
        }
    };
    Ok(Plan::new(stream::iter([Ok(event)]), stream_params))
}

/// How a `/fault/*` stream fails (test endpoints beyond the contract, for
/// the fault tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// `GET /fault/error`: the stream yields an error.
    Error,
    /// `GET /fault/panic`: the stream panics inside its poll.
    Panic,
}

/// The error a `/fault/error` stream yields, as an application's stream
/// would yield its own (a database that went away, say).
#[derive(Debug)]
pub(crate) struct FaultError {
    after: u64,
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the /fault/error stream failed after {} events, as asked",
            self.after
        )
    }
}

impl std::error::Error for FaultError {}

/// The events of a `/fault/*` response.
pub(crate) type FaultEvents = Pin<Box<dyn Stream<Item = Result<Event, FaultError>> + Send>>;

/// `GET /fault/error?token=X&after=N[&interval_ms=T]` and `/fault/panic?…`:
/// events `fault <n>` with ids 1 to N, T ms apart (default 10), then the
/// fault. When the adapter's disconnect notification fires, the server
/// writes `fault stream X: <reason name>: <reason>` to stderr: that line
/// is how the tests see which reason the adapter reported.
///
/// # Errors
///
/// A missing token, or a number out of range.
pub(crate) fn fault(
    fault: Fault,
    query: Option<&str>,
    disconnect: &Disconnect,
) -> Result<FaultEvents, BadRequest> {
    let query = Query::parse(query);
    let token = query.required_text("token")?;
    let after = query.number("after", 0, MAX_COUNT)?.unwrap_or(3);
    let interval = Duration::from_millis(
        query
            .number("interval_ms", 0, MAX_INTERVAL_MS)?
            .unwrap_or(10),
    );
    disconnect.on_disconnect(move |reason| {
        eprintln!("fault stream {token}: {}: {reason}", reason.as_str());
    });
    let events = stream::unfold(1_u64, move |n| async move {
        if n > 1 {
            tokio::time::sleep(interval).await;
        }
        if n <= after {
            let event = Event::default()
                .id(n.to_string())
                .map(|e| e.data(format!("fault {n}")))
                .map_err(|_| FaultError { after });
            return Some((event, n + 1));
        }
        match fault {
            Fault::Error => Some((Err(FaultError { after }), n + 1)),
            // The point of the endpoint: a handler's stream that panics.
            #[allow(clippy::panic)]
            Fault::Panic => panic!("the /fault/panic stream panics after {after} events, as asked"),
        }
    });
    Ok(Box::pin(events))
}

/// `GET /status/<code>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusReply {
    /// 204, with the adapter's "stop reconnecting" API.
    StopReconnecting,
    /// This status with an empty body.
    Empty(u16),
}

/// `GET /status/<code>`.
///
/// # Errors
///
/// When `code` is no status from 200 to 599.
pub(crate) fn status(code: &str) -> Result<StatusReply, BadRequest> {
    let code = crate::params::status_code(code)?;
    Ok(if code == ssekit::head::STOP_STATUS.as_u16() {
        StatusReply::StopReconnecting
    } else {
        StatusReply::Empty(code)
    })
}

/// The probe registry: each `/probe` stream under its token, and when its
/// disconnect notification fired.
#[derive(Debug, Clone, Default)]
pub(crate) struct Probes {
    inner: Arc<Mutex<ProbeMap>>,
}

#[derive(Debug, Default)]
struct ProbeMap {
    /// Tells a stream that re-used a token from the one it replaced.
    generation: u64,
    probes: HashMap<String, (u64, ProbeState)>,
}

#[derive(Debug, Clone, Copy)]
enum ProbeState {
    Open,
    Closed { after_ms: u64 },
}

impl Probes {
    fn map(&self) -> std::sync::MutexGuard<'_, ProbeMap> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a stream that starts now under `token` (replacing any
    /// earlier one), and records when `disconnect` fires, in ms from now.
    pub(crate) fn watch(&self, token: String, disconnect: &Disconnect) {
        let started = Instant::now();
        let generation = {
            let mut map = self.map();
            map.generation += 1;
            let generation = map.generation;
            map.probes
                .insert(token.clone(), (generation, ProbeState::Open));
            generation
        };
        let probes = self.clone();
        disconnect.on_disconnect(move |_reason| {
            let after_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            if let Some((current, state)) = probes.map().probes.get_mut(&token)
                && *current == generation
            {
                *state = ProbeState::Closed { after_ms };
            }
        });
    }

    /// `GET /probe/status`: the JSON body.
    pub(crate) fn status_json(&self, token: &str) -> String {
        let state = self.map().probes.get(token).map(|(_, state)| *state);
        match state {
            Some(ProbeState::Open) => r#"{"state":"open"}"#.to_owned(),
            Some(ProbeState::Closed { after_ms }) => {
                format!(r#"{{"state":"closed","after_ms":{after_ms}}}"#)
            }
            None => r#"{"state":"unknown"}"#.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    fn id(text: &str) -> LastEventId {
        LastEventId::from_header(text.as_bytes()).unwrap()
    }

    async fn wire(plan: Plan) -> String {
        let frames: Vec<_> = plan.events.collect().await;
        frames
            .into_iter()
            .map(|event| String::from_utf8(event.unwrap().encode().to_vec()).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn events_resume_and_stop() {
        let params = EventsParams::parse(Some("count=3&size=10")).unwrap();
        let EventsReply::Stream(plan) = events(&params, None) else {
            panic!()
        };
        assert_eq!(
            wire(plan).await,
            "id: 1\ndata: event 1...\n\nid: 2\ndata: event 2...\n\nid: 3\ndata: event 3...\n\n"
        );
        let EventsReply::Stream(plan) = events(&params, Some(&id("1"))) else {
            panic!()
        };
        assert_eq!(
            wire(plan).await,
            "id: 2\ndata: event 2...\n\nid: 3\ndata: event 3...\n\n"
        );
        assert!(matches!(
            events(&params, Some(&id("3"))),
            EventsReply::StopReconnecting
        ));
        assert!(matches!(
            events(&params, Some(&id("99"))),
            EventsReply::StopReconnecting
        ));
        // Not a number: absent.
        let EventsReply::Stream(plan) = events(&params, Some(&id("x"))) else {
            panic!()
        };
        assert_eq!(wire(plan).await.matches("id: ").count(), 3);
        let params = EventsParams::parse(Some("count=5&close_after=2&start=7")).unwrap();
        let EventsReply::Stream(plan) = events(&params, None) else {
            panic!()
        };
        assert_eq!(
            wire(plan).await,
            "id: 7\ndata: event 7\n\nid: 8\ndata: event 8\n\n"
        );
    }

    #[tokio::test]
    async fn echo_fields() {
        let plan = echo(&EchoParams::parse(Some("data=a%0Db&id=1&comment=hi")).unwrap()).unwrap();
        assert_eq!(wire(plan).await, ": hi\n\nid: 1\ndata: a\ndata: b\n\n");
        let plan = echo(&EchoParams::parse(Some("data=")).unwrap()).unwrap();
        assert_eq!(wire(plan).await, "data: \n\n");
        let plan = echo(&EchoParams::parse(Some("id=7")).unwrap()).unwrap();
        assert_eq!(wire(plan).await, "id: 7\n\n");
        let err = echo(&EchoParams::parse(Some("id=a%0Ab")).unwrap()).unwrap_err();
        assert!(
            err.0.starts_with("SSE `id` must not contain a line feed"),
            "{err}"
        );
        assert!(echo(&EchoParams::parse(Some("event=a%0Db")).unwrap()).is_err());
    }

    #[tokio::test]
    async fn last_event_id_echoes() {
        let params = LastEventIdParams::parse(None).unwrap();
        let plan = last_event_id(&params, None).unwrap();
        assert_eq!(plan.retry, Some(Duration::from_millis(50)));
        assert_eq!(wire(plan).await, "id: …\ndata: hello\n\n");
        let plan = last_event_id(&params, Some(&id("€"))).unwrap();
        assert_eq!(wire(plan).await, "data: €\n\n");
    }

    #[test]
    fn probes() {
        let probes = Probes::default();
        assert_eq!(probes.status_json("t"), r#"{"state":"unknown"}"#);
        let (notifier, disconnect) = ssekit::disconnect::pair();
        probes.watch("t".into(), &disconnect);
        assert_eq!(probes.status_json("t"), r#"{"state":"open"}"#);
        drop(notifier);
        assert!(
            probes
                .status_json("t")
                .starts_with(r#"{"state":"closed","after_ms":"#)
        );
    }
}
