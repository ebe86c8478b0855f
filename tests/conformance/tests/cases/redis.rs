//! Two conformance servers on one Redis (`--redis URL`) form one cluster:
//! an event published on either reaches the subscribers of both, with one
//! id, and a client resumes on one with the id it got from the other.

use ssekit_test_support::redis::RedisServer;

use super::hub::{await_subscribers, events, publish, subscribe};
use crate::support::{Adapter, Server};

pub(crate) async fn two_instances_share_topics(adapter: Adapter) {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let east = Server::start_with(adapter, &["--redis", &url]).await;
    let west = Server::start_with(adapter, &["--redis", &url]).await;

    let mut on_east = subscribe(&east, "t", None).await;
    let mut on_west = subscribe(&west, "t", None).await;
    await_subscribers(&east, 1).await;
    await_subscribers(&west, 1).await;

    let id = publish(&east, "t", "from east").await;
    for (reader, name) in [(&mut on_east, "east"), (&mut on_west, "west")] {
        let got = events(reader, 1).await;
        assert_eq!(
            (got[0].data.as_str(), got[0].last_event_id.as_ref()),
            ("from east", id.as_str()),
            "{}: {name}",
            adapter.name()
        );
    }

    // A client of east comes back on west with east's id: what it missed,
    // then live, once each.
    drop(on_east);
    let missed = publish(&west, "t", "while away").await;
    let mut moved = subscribe(&west, "t", Some(&id)).await;
    let got = events(&mut moved, 1).await;
    assert_eq!(
        (got[0].data.as_str(), got[0].last_event_id.as_ref()),
        ("while away", missed.as_str()),
        "{}",
        adapter.name()
    );
    let live = publish(&east, "t", "live").await;
    let got = events(&mut moved, 1).await;
    assert_eq!(&*got[0].last_event_id, live, "{}", adapter.name());
    drop((on_west, moved));
    await_subscribers(&east, 0).await;
    await_subscribers(&west, 0).await;
}
