//! Heartbeats: a whole comment block, only after `hb_ms` with nothing else
//! sent (the head counts), and only between events.

use std::time::Duration;

use ssekit::decode::Item;
use tokio::time::Instant;

use crate::support::{
    Adapter, BodySource, Failures, Server, SseReader, Timed, assert_sse_head, blocks, event, h1,
    ms, open, open_h2, pieces_ending_inside_a_block,
};

async fn check_idle_cadence<B: BodySource>(reader: &mut SseReader<B>, context: &str) {
    let head_at = reader.body.head_at();
    let mut beats: Vec<Instant> = Vec::new();
    let mut failures = Failures::default();
    while beats.len() < 4 {
        let timed = reader
            .next(Duration::from_secs(1))
            .await
            .unwrap_or_else(|err| panic!("{context}: heartbeat #{}: {err}", beats.len() + 1))
            .unwrap_or_else(|| panic!("{context}: the idle stream ended"));
        match timed.item {
            Item::Comment(_) => beats.push(timed.at),
            other => failures.push(format!("{context}: {other:?} on an idle stream")),
        }
    }
    let offsets: Vec<u128> = beats.iter().map(|at| ms(*at - head_at)).collect();
    let first = beats[0] - head_at;
    failures.check(
        first >= Duration::from_millis(180) && first <= Duration::from_millis(320),
        || {
            format!(
                "{context}: the first heartbeat came {} ms after the head, not ~200 ms (180..=320)",
                ms(first)
            )
        },
    );
    for pair in beats.windows(2) {
        let gap = pair[1] - pair[0];
        failures.check(
            gap >= Duration::from_millis(150) && gap <= Duration::from_millis(300),
            || {
                format!(
                    "{context}: {} ms between heartbeats, not ~200 ms (150..=300)",
                    ms(gap)
                )
            },
        );
    }
    // Each heartbeat leaves whole: no piece of the body ends inside a block.
    for failure in pieces_ending_inside_a_block(&reader.chunks) {
        failures.push(format!("{context}: {failure}"));
    }
    let (blocks, _) = blocks(&reader.raw());
    for block in &blocks {
        failures.check(block.iter().all(|line| line.starts_with(b":")), || {
            format!("{context}: a block on an idle stream holds more than comments: {block:?}")
        });
    }
    println!("{context}: heartbeats at {offsets:?} ms after the head");
    failures.assert_none(&format!(
        "{context} (heartbeats at {offsets:?} ms after the head; body {:?})",
        reader.raw_text()
    ));
}

pub(crate) async fn idle_cadence(adapter: Adapter) {
    let context = format!("{} GET /idle?hb_ms=200", adapter.name());
    let server = Server::start(adapter).await;
    let mut reader = open(&server, h1::Request::get("/idle?hb_ms=200")).await;
    assert_sse_head(reader.head(), &context);
    check_idle_cadence(&mut reader, &context).await;
}

pub(crate) async fn idle_cadence_h2(adapter: Adapter) {
    let context = format!("{} GET /idle?hb_ms=200 over h2c", adapter.name());
    let server = Server::start(adapter).await;
    let (_client, mut reader) = open_h2(&server, "/idle?hb_ms=200", &[]).await;
    assert_sse_head(reader.head(), &context);
    check_idle_cadence(&mut reader, &context).await;
}

/// Ticks every 300 ms with heartbeats after 200 ms of silence: a heartbeat
/// falls in every gap, and must never land inside an event.
pub(crate) async fn only_between_events(adapter: Adapter) {
    let context = format!("{} GET /ticks?interval_ms=300&hb_ms=200", adapter.name());
    let server = Server::start(adapter).await;
    let mut reader = open(
        &server,
        h1::Request::get("/ticks?interval_ms=300&hb_ms=200"),
    )
    .await;
    assert_sse_head(reader.head(), &context);
    let head_at = reader.body.head_at();
    let mut items: Vec<Timed> = Vec::new();
    let mut ticks = 0;
    while ticks < 5 {
        let timed = reader
            .next(Duration::from_secs(1))
            .await
            .unwrap_or_else(|err| panic!("{context}: {err}"))
            .unwrap_or_else(|| panic!("{context}: the stream ended"));
        if matches!(timed.item, Item::Event(_)) {
            ticks += 1;
        }
        items.push(timed);
    }

    let mut failures = Failures::default();
    // Every event decodes intact, in order.
    let got = crate::support::events_of(&items);
    let expected: Vec<_> = (1..=5u64)
        .map(|id| event("message", &format!("tick {id}"), &id.to_string()))
        .collect();
    failures.check(got == expected, || {
        format!("{context}: events {got:?}, expected ticks 1..=5")
    });
    // A heartbeat in every gap between ticks.
    let beats = items
        .iter()
        .filter(|timed| matches!(timed.item, Item::Comment(_)))
        .count();
    failures.check(beats >= 3, || {
        format!("{context}: {beats} heartbeats in the gaps between 5 ticks 300 ms apart")
    });
    // Each heartbeat after 200 ms with nothing sent (less a little for the
    // client's own read delays on the item before it).
    let mut previous = head_at;
    for timed in &items {
        if matches!(timed.item, Item::Comment(_)) {
            let silence = timed.at - previous;
            failures.check(silence >= Duration::from_millis(150), || {
                format!(
                    "{context}: a heartbeat came {} ms after the previous write, not after 200 ms of silence",
                    ms(silence)
                )
            });
        }
        previous = timed.at;
    }
    // Nothing is held back: every piece of the body ends between blocks.
    // (The last piece read may hold the start of what came next.)
    let read = reader.chunks.len().saturating_sub(1);
    for failure in pieces_ending_inside_a_block(&reader.chunks[..read]) {
        failures.push(format!("{context}: {failure}"));
    }
    // On the wire, a block is either all comment lines (a heartbeat) or all
    // field lines (a tick): a heartbeat never lands between an event's lines.
    let (blocks, _) = blocks(&reader.raw());
    for block in &blocks {
        let comments = block.iter().filter(|line| line.starts_with(b":")).count();
        failures.check(comments == 0 || comments == block.len(), || {
            let lines: Vec<_> = block
                .iter()
                .map(|line| String::from_utf8_lossy(line).into_owned())
                .collect();
            format!("{context}: a block mixes comment and field lines: {lines:?}")
        });
    }
    let timeline: Vec<String> = items
        .iter()
        .map(|timed| format!("{}ms {:?}", ms(timed.at - head_at), timed.item))
        .collect();
    println!("{context}: timeline {timeline:?}");
    failures.assert_none(&format!(
        "{context}\ntimeline: {timeline:#?}\nbody {:?}",
        reader.raw_text()
    ));
}
