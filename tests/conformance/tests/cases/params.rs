//! Query parameters that do not parse, or ask for more than a server should
//! do, get 400 `text/plain` with a message naming the parameter.

use std::time::Duration;

use crate::support::{Adapter, Failures, Server, assert_sse_head, fetch, h1, has_word, open};

pub(crate) async fn bad_parameters_get_400(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut failures = Failures::default();
    for (target, parameter) in [
        ("/events?count=abc", "count"),
        ("/events?count=-1", "count"),
        ("/events?count=1000000001", "count"),
        ("/events?count=99999999999999999999999", "count"),
        ("/events?start=abc", "start"),
        ("/events?size=abc", "size"),
        ("/events?size=1048577", "size"),
        ("/events?interval_ms=abc", "interval_ms"),
        ("/events?interval_ms=3600001", "interval_ms"),
        ("/events?close_after=abc", "close_after"),
        ("/events?count=2&hb_ms=abc", "hb_ms"),
        ("/events?count=2&hb_ms=3600001", "hb_ms"),
        ("/events?count=2&retry_ms=abc", "retry_ms"),
        ("/ticks?interval_ms=abc", "interval_ms"),
        ("/ticks?interval_ms=3600001", "interval_ms"),
        ("/idle?hb_ms=abc", "hb_ms"),
        ("/idle?hb_ms=3600001", "hb_ms"),
        ("/echo?data=x&retry_ms=abc", "retry_ms"),
        ("/echo?data=%FF", "data"),
        ("/probe?token=p&hb_ms=abc", "hb_ms"),
    ] {
        let context = format!("GET {target}");
        let request = h1::Request::get(target).header("Accept", "text/event-stream");
        let fetched =
            match tokio::time::timeout(Duration::from_secs(3), fetch(&server, &request)).await {
                Ok(Ok(fetched)) => fetched,
                Ok(Err(err)) => {
                    failures.push(format!("{context}: {err}"));
                    continue;
                }
                Err(_) => {
                    failures.push(format!("{context}: no complete response within 3 s"));
                    continue;
                }
            };
        let text = fetched.text();
        let ok = fetched.head.status == 400
            && fetched.head.essence().as_deref() == Some("text/plain")
            && has_word(&text, parameter);
        failures.check(ok, || {
            format!(
                "{context}: expected 400 text/plain naming `{parameter}`, got\n{}body {text:?}",
                fetched.head.dump()
            )
        });
    }
    failures.assert_none(&format!("{} bad parameters", adapter.name()));
}

/// "Over 1 MiB", "over 10^9", "over an hour": the limits themselves are
/// served.
pub(crate) async fn limits_are_inclusive(adapter: Adapter) {
    let server = Server::start(adapter).await;
    for target in [
        "/events?count=1000000000",
        "/events?count=1&size=1048576",
        "/events?count=1&interval_ms=3600000",
        "/events?count=1&hb_ms=3600000",
        "/ticks?interval_ms=3600000",
        "/idle?hb_ms=3600000",
    ] {
        let context = format!("{} GET {target}", adapter.name());
        let reader = open(&server, h1::Request::get(target)).await;
        assert_sse_head(reader.head(), &context);
    }
}
