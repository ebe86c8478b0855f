//! The hub endpoints (`/hub/subscribe`, `/hub/publish`, `/hub/stats`) come
//! with a later issue; until then the server answers them 501.
//!
//! When the hub lands, set [`HUB_BUILT`] to `true`: this case then checks
//! `/hub/stats` the way SCENARIOS.md describes it, and the hub's own cases
//! join the suite beside it.

use crate::support::{Adapter, Server, fetch, get, h1};

/// Whether the conformance server serves the hub yet.
const HUB_BUILT: bool = false;

pub(crate) async fn hub_is_not_built_yet(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let stats = get(&server, "/hub/stats").await;
    if HUB_BUILT {
        assert_eq!(
            stats.head.status,
            200,
            "{}: GET /hub/stats:\n{}",
            adapter.name(),
            stats.head.dump()
        );
        let json: serde_json::Value =
            serde_json::from_slice(&stats.body).expect("/hub/stats is JSON");
        assert!(
            json["subscribers"].is_u64(),
            "{}: /hub/stats said {json}",
            adapter.name()
        );
        return;
    }
    let subscribe = fetch(
        &server,
        &h1::Request::get("/hub/subscribe?topic=t").header("Accept", "text/event-stream"),
    )
    .await
    .unwrap_or_else(|err| panic!("{}: GET /hub/subscribe: {err}", adapter.name()));
    let publish = fetch(&server, &h1::Request::post("/hub/publish?topic=t", "hello"))
        .await
        .unwrap_or_else(|err| panic!("{}: POST /hub/publish: {err}", adapter.name()));
    let got = [
        stats.head.status,
        subscribe.head.status,
        publish.head.status,
    ];
    assert_eq!(
        got,
        [501, 501, 501],
        "{}: /hub/stats, /hub/subscribe and /hub/publish must answer 501 Not Implemented until the hub is built",
        adapter.name()
    );
}
