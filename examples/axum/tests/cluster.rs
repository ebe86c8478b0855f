//! The `cluster` binary: two instances on one Redis (its own
//! `redis-server`), as a person would run it. A message posted on one
//! appears on the other with the same id, and a browser may resume on
//! either instance with an id the other gave it.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use ssekit::decode::MessageEvent;
use ssekit_test_support::{PATIENCE, Reader, event};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

mod common;
use common::{events, published};

/// Waits for the two `listening on` lines.
async fn addresses(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Vec<SocketAddr> {
    let mut addrs = Vec::new();
    while addrs.len() < 2 {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the cluster starts within 20 s")
            .expect("stdout")
            .expect("the cluster printed its addresses before exiting (is redis-server installed? apt-get install redis-server)");
        if let Some(addr) = line.strip_prefix("listening on http://") {
            addrs.push(addr.parse().expect("an address"));
        }
    }
    addrs
}

async fn news(events: &mut Reader) -> MessageEvent {
    loop {
        let (event, _) = events.next_event(PATIENCE).await;
        if event.event_type != "tick" {
            return event;
        }
    }
}

#[tokio::test]
async fn a_message_posted_on_one_instance_appears_on_the_other() {
    let mut cluster = Command::new(env!("CARGO_BIN_EXE_cluster"))
        .env("PORTS", "0,0")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the cluster binary starts");
    let mut lines = BufReader::new(cluster.stdout.take().unwrap()).lines();
    let [east, west] = <[SocketAddr; 2]>::try_from(addresses(&mut lines).await).unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let mut on_west = events(west, &[]).await;
    // The first tick: the stream is open and subscribed.
    assert_eq!(on_west.next_event(PATIENCE).await.0.event_type, "tick");
    let id = published(east, "hello from east").await;
    assert_eq!(
        news(&mut on_west).await,
        event("message", &id, "hello from east")
    );

    // A browser of west comes back on east with west's id.
    let later = published(west, "while you were away").await;
    let mut on_east = events(east, &[("last-event-id", id.as_bytes())]).await;
    assert_eq!(
        news(&mut on_east).await,
        event("message", &later, "while you were away")
    );

    // Ctrl-c: both instances shut down and the cluster stops its Redis
    // (a SIGKILL would leave that redis-server behind).
    let pid = cluster.id().expect("still running").to_string();
    let status = Command::new("kill")
        .args(["-s", "INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    drop((on_west, on_east));
    let exit = tokio::time::timeout(Duration::from_secs(10), cluster.wait())
        .await
        .expect("the cluster exits within 10 s of ctrl-c")
        .unwrap();
    assert!(exit.success(), "{exit}");
}
