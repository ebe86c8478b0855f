//! Encoding one event: ssekit against axum's and warp's SSE events, on the
//! same inputs, in the same run.
//!
//! Two comparisons, each per input size:
//!
//! - `encode/<size>`: build an event and turn it into its wire bytes,
//!   directly. ssekit: `Event::default().id(..)?.data(..).encode()` into
//!   `Bytes`; warp: `Event::default().id(..).data(..)`, then `to_string()`
//!   and `Bytes::from`, exactly what `warp::sse::reply` does per event.
//! - `body/<size>`: one frame polled from a response body over an endless
//!   stream that builds a fresh event each time it is polled. axum's
//!   `Event::finalize` is private, so its only public path to bytes is the
//!   `Sse` body; ssekit goes through its `SseStream` the same way, with
//!   `max_frame(1)` so that each poll carries exactly one event.
//!
//! Every library borrows its input from the same `String`s, made once before
//! timing (leaked to `&'static str`, since axum's `Sse` wants a `'static`
//! stream). warp's setters take `Into<String>`, so it copies the data: that
//! copy is the cost of its API and is part of what is measured.
//!
//! Before timing, every library's bytes for every input are checked once:
//! ssekit and axum must produce the exact expected wire bytes, and all three
//! must decode (with ssekit's WHATWG decoder) to the same id and data.

use std::convert::Infallible;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::{Body as AxumBody, HttpBody as _};
use axum::response::IntoResponse as _;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::Stream;
use futures_util::stream;
use ssekit::decode::{Item, decode_all};

const ID: &str = "12345";

/// The inputs, leaked once so that every library (and axum's `'static`
/// stream) borrows the very same bytes.
struct Input {
    name: &'static str,
    data: &'static str,
}

fn inputs() -> Vec<Input> {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    // 64 lines of 64 bytes, joined by "\n": 4096 bytes of text, 4159 in all.
    let line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
    assert_eq!(line.len(), 64);
    let multi = vec![line; 64].join("\n");
    vec![
        Input {
            name: "small",
            data: leak("x".repeat(20)),
        },
        Input {
            name: "typical",
            data: leak(
                "{\"user\":42,\"msg\":\"hello\"}"
                    .chars()
                    .cycle()
                    .take(200)
                    .collect(),
            ),
        },
        Input {
            name: "multiline",
            data: leak(multi),
        },
    ]
}

// ---- the libraries, one function per way of producing wire bytes ----

// Kept out of line so instructions/event can be counted per call.
#[inline(never)]
fn ssekit_encode(data: &str) -> Bytes {
    ssekit::Event::default()
        .id(ID)
        .expect("a valid id")
        .data(data)
        .encode()
        .into_bytes()
}

// Kept out of line so instructions/event can be counted per call.
#[inline(never)]
fn warp_encode(data: &str) -> Bytes {
    // `Into<String>`: warp copies both fields into Strings of its own.
    let event = warp::sse::Event::default().id(ID).data(data);
    // What `warp::sse::reply` does: `event.to_string()`, then `Into<Bytes>`
    // in `Body::wrap_stream`.
    Bytes::from(event.to_string())
}

/// An endless source of fresh ssekit events over `data`.
fn ssekit_source(data: &'static str) -> impl Stream<Item = ssekit::Event> + Unpin {
    stream::repeat_with(move || {
        ssekit::Event::default()
            .id(ID)
            .expect("a valid id")
            .data(data)
    })
}

/// An endless source of fresh axum events over `data`.
fn axum_source(
    data: &'static str,
) -> impl Stream<Item = Result<axum::response::sse::Event, Infallible>> + Send + Unpin + 'static {
    stream::repeat_with(move || Ok(axum::response::sse::Event::default().id(ID).data(data)))
}

/// ssekit's body: one event per frame, no heartbeat timer.
fn ssekit_body(data: &'static str) -> Pin<Box<impl Stream<Item = Bytes>>> {
    Box::pin(
        ssekit::SseStream::new(ssekit_source(data))
            .heartbeat(None)
            .max_frame(1),
    )
}

/// axum's body, as a handler returning `Sse::new(stream)` would send it.
fn axum_body(data: &'static str) -> AxumBody {
    axum::response::sse::Sse::new(axum_source(data))
        .into_response()
        .into_body()
}

// Kept out of line so instructions/event can be counted per call.
#[inline(never)]
fn poll_ssekit(body: &mut Pin<Box<impl Stream<Item = Bytes>>>, cx: &mut Context<'_>) -> Bytes {
    match body.as_mut().poll_next(cx) {
        Poll::Ready(Some(frame)) => frame,
        other => panic!("the endless ssekit stream gave {other:?}"),
    }
}

// Kept out of line so instructions/event can be counted per call.
#[inline(never)]
fn poll_axum(body: &mut AxumBody, cx: &mut Context<'_>) -> Bytes {
    match Pin::new(body).poll_frame(cx) {
        Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
            Ok(data) => data,
            Err(_) => panic!("axum's SSE body gave a trailers frame"),
        },
        Poll::Ready(Some(Err(err))) => panic!("axum's SSE body failed: {err}"),
        Poll::Ready(None) => panic!("the endless axum stream ended"),
        Poll::Pending => panic!("the endless axum stream was pending"),
    }
}

// ---- the correctness check, once, before any timing ----

/// The exact wire bytes ssekit (and axum, which writes the same fields in the
/// same order and form) must produce: `id: 12345`, then one `data: ` line
/// per line of data, then the blank line.
fn expected_wire(data: &str) -> String {
    let mut wire = format!("id: {ID}\n");
    for line in data.split('\n') {
        wire.push_str("data: ");
        wire.push_str(line);
        wire.push('\n');
    }
    wire.push('\n');
    wire
}

/// warp's own form: data first, `data:` and `id:` without a space.
fn expected_warp_wire(data: &str) -> String {
    let mut wire = String::new();
    for line in data.split('\n') {
        wire.push_str("data:");
        wire.push_str(line);
        wire.push('\n');
    }
    wire.push_str(&format!("id:{ID}\n\n"));
    wire
}

/// Decodes one event as a browser would, returning its (id, data).
fn decode_one(library: &str, bytes: &[u8]) -> (String, String) {
    let items = decode_all(bytes).unwrap_or_else(|err| panic!("{library}: {err}"));
    match items.as_slice() {
        [Item::Event(event)] => (event.last_event_id.to_string(), event.data.clone()),
        other => panic!("{library}: expected one event, decoded {other:?}"),
    }
}

fn check(inputs: &[Input]) {
    let mut cx = Context::from_waker(Waker::noop());
    for input in inputs {
        let data = input.data;
        let ssekit = ssekit_encode(data);
        let warp = warp_encode(data);
        let ssekit_framed = poll_ssekit(&mut ssekit_body(data), &mut cx);
        let axum_framed = poll_axum(&mut axum_body(data), &mut cx);

        let expected = expected_wire(data);
        assert_eq!(ssekit, expected.as_bytes(), "ssekit, {}", input.name);
        assert_eq!(
            ssekit_framed,
            expected.as_bytes(),
            "ssekit body, {}",
            input.name
        );
        assert_eq!(
            axum_framed,
            expected.as_bytes(),
            "axum body, {}",
            input.name
        );
        assert_eq!(
            warp,
            expected_warp_wire(data).as_bytes(),
            "warp, {}",
            input.name
        );

        let want = (ID.to_owned(), data.to_owned());
        for (library, bytes) in [
            ("ssekit", &ssekit),
            ("ssekit body", &ssekit_framed),
            ("axum body", &axum_framed),
            ("warp", &warp),
        ] {
            assert_eq!(
                decode_one(library, bytes),
                want,
                "{library}, {}",
                input.name
            );
        }

        // One poll is one event, for both bodies, as the timing assumes.
        let mut body = ssekit_body(data);
        for _ in 0..3 {
            assert_eq!(poll_ssekit(&mut body, &mut cx).len(), expected.len());
        }
        let mut body = axum_body(data);
        for _ in 0..3 {
            assert_eq!(poll_axum(&mut body, &mut cx).len(), expected.len());
        }
    }
}

// ---- the benchmarks ----

fn bench_encode(c: &mut Criterion) {
    let inputs = inputs();
    check(&inputs);
    let mut cx = Context::from_waker(Waker::noop());

    for input in &inputs {
        let data = input.data;
        let throughput = Throughput::Bytes(data.len() as u64);

        let mut group = c.benchmark_group(format!("encode/{}", input.name));
        group.throughput(throughput.clone());
        group.bench_with_input(BenchmarkId::from_parameter("ssekit"), data, |b, data| {
            b.iter(|| black_box(ssekit_encode(black_box(data))));
        });
        group.bench_with_input(BenchmarkId::from_parameter("warp"), data, |b, data| {
            b.iter(|| black_box(warp_encode(black_box(data))));
        });
        group.finish();

        let mut group = c.benchmark_group(format!("body/{}", input.name));
        group.throughput(throughput);
        let mut body = ssekit_body(data);
        group.bench_function("ssekit", |b| {
            b.iter(|| black_box(poll_ssekit(&mut body, &mut cx)));
        });
        let mut body = axum_body(data);
        group.bench_function("axum", |b| {
            b.iter(|| black_box(poll_axum(&mut body, &mut cx)));
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // Short, so that the whole bench (12 functions) runs in about a minute.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_encode
}
criterion_main!(benches);
