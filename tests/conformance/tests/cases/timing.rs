//! "Every event reaches the socket as soon as it is produced": events come
//! one by one at their pace, never batched (by compression or otherwise).

use std::time::Duration;

use tokio::time::Instant;

use crate::support::{
    Adapter, BodySource, Failures, Server, SseReader, assert_sse_head, event, h1, ms, open, open_h2,
};

/// How far an event may be from its due time, measured from the first.
const TOLERANCE: Duration = Duration::from_millis(60);

/// Reads `count` events and checks that event `i` arrives `i * interval`
/// after the first, within [`TOLERANCE`], and never together with the one
/// before it (at least half an interval apart).
async fn check_pace<B: BodySource>(
    reader: &mut SseReader<B>,
    count: usize,
    interval: Duration,
    data: &dyn Fn(u64) -> String,
    context: &str,
) {
    let mut arrivals: Vec<Instant> = Vec::new();
    let mut failures = Failures::default();
    for index in 0..count {
        let (got, at) = reader
            .next_event(interval * 3 + Duration::from_secs(1))
            .await
            .unwrap_or_else(|err| panic!("{context}: event #{}: {err}", index + 1));
        let id = u64::try_from(index).unwrap() + 1;
        failures.check(got == event("message", &data(id), &id.to_string()), || {
            format!("{context}: event #{id} is {got:?}")
        });
        arrivals.push(at);
    }
    // An event whose blank line is held back is not dispatched: every piece
    // read must end between blocks.
    for failure in crate::support::pieces_ending_inside_a_block(&reader.chunks) {
        failures.push(format!("{context}: {failure}"));
    }
    let first = arrivals[0];
    let offsets: Vec<u128> = arrivals.iter().map(|at| ms(*at - first)).collect();
    for (index, at) in arrivals.iter().enumerate().skip(1) {
        let due = interval * u32::try_from(index).unwrap();
        let offset = *at - first;
        let off_by = offset.abs_diff(due);
        failures.check(off_by <= TOLERANCE, || {
            format!(
                "{context}: event #{} arrived {} ms after the first, due at {} ms (tolerance {} ms)",
                index + 1,
                ms(offset),
                ms(due),
                ms(TOLERANCE)
            )
        });
        let gap = *at - arrivals[index - 1];
        failures.check(gap >= interval / 2, || {
            format!(
                "{context}: event #{} arrived {} ms after the one before: batched",
                index + 1,
                ms(gap)
            )
        });
    }
    println!("{context}: arrivals in ms after the first: {offsets:?}");
    failures.assert_none(&format!(
        "{context} (arrivals in ms after the first: {offsets:?})"
    ));
}

pub(crate) async fn ticks_arrive_one_by_one(adapter: Adapter) {
    let context = format!("{} GET /ticks?interval_ms=100", adapter.name());
    let server = Server::start(adapter).await;
    let mut reader = open(&server, h1::Request::get("/ticks?interval_ms=100")).await;
    assert_sse_head(reader.head(), &context);
    check_pace(
        &mut reader,
        6,
        Duration::from_millis(100),
        &|id| format!("tick {id}"),
        &context,
    )
    .await;
}

pub(crate) async fn events_arrive_one_by_one(adapter: Adapter) {
    let context = format!("{} GET /events?count=3&interval_ms=200", adapter.name());
    let server = Server::start(adapter).await;
    let mut reader = open(&server, h1::Request::get("/events?count=3&interval_ms=200")).await;
    assert_sse_head(reader.head(), &context);
    check_pace(
        &mut reader,
        3,
        Duration::from_millis(200),
        &|id| format!("event {id}"),
        &context,
    )
    .await;
    // Then the body ends, with nothing more.
    let rest = reader
        .read_to_end(Duration::from_secs(1))
        .await
        .unwrap_or_else(|err| panic!("{context}: after the last event: {err}"));
    assert!(
        crate::support::events_of(&rest).is_empty(),
        "{context}: events after the third: {rest:?}"
    );
    let end = reader.body.end.clone();
    assert!(
        end.as_ref().is_some_and(h1::End::is_clean_chunked),
        "{context}: the body did not end with a clean `0\\r\\n\\r\\n`: {end:?}"
    );
}

pub(crate) async fn ticks_arrive_one_by_one_h2(adapter: Adapter) {
    let context = format!("{} GET /ticks?interval_ms=100 over h2c", adapter.name());
    let server = Server::start(adapter).await;
    let (_client, mut reader) = open_h2(&server, "/ticks?interval_ms=100", &[]).await;
    assert_sse_head(reader.head(), &context);
    check_pace(
        &mut reader,
        6,
        Duration::from_millis(100),
        &|id| format!("tick {id}"),
        &context,
    )
    .await;
}
