//! What the backplane tests share: a real `redis-server` of their own, a
//! proxy that cuts one instance off from it, and a reader of subscriptions.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use ssekit::decode::{Decoder, Item, MessageEvent};
use ssekit::hub::{GAP_EVENT, Subscription};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Long enough for a loaded machine, short enough that a hang fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub use ssekit_test_support::redis::RedisServer;

/// A plain command connection for the tests' own look at the streams.
pub trait Connect {
    async fn connection(&self) -> redis::aio::MultiplexedConnection;
}

impl Connect for RedisServer {
    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

/// A TCP proxy in front of Redis that can cut its clients off (and refuse
/// new ones) while Redis itself keeps running for everyone else.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    accept: tokio::task::JoinHandle<()>,
}

struct ProxyState {
    cut: bool,
    paused: tokio::sync::watch::Sender<bool>,
    links: JoinSet<()>,
}

/// Copies one direction of a link, holding what it read while paused.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut paused: tokio::sync::watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if paused.wait_for(|paused| !paused).await.is_err()
            || to.write_all(&buffer[..read]).await.is_err()
        {
            return;
        }
    }
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState {
            cut: false,
            paused: tokio::sync::watch::Sender::new(false),
            links: JoinSet::new(),
        }));
        let shared = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut state = shared.lock().unwrap();
                if state.cut {
                    // Dropped at once: the client sees its connection close.
                    continue;
                }
                let paused = state.paused.subscribe();
                state.links.spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (from_client, to_client) = client.into_split();
                    let (from_server, to_server) = server.into_split();
                    tokio::join!(
                        forward(from_client, to_server, paused.clone()),
                        forward(from_server, to_client, paused),
                    );
                });
            }
        });
        Self {
            addr,
            state,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Closes every connection through it and refuses new ones. Once it
    /// returns, not one more byte goes through.
    pub async fn cut(&self) {
        let mut links = {
            let mut state = self.state.lock().unwrap();
            state.cut = true;
            std::mem::take(&mut state.links)
        };
        links.abort_all();
        while links.join_next().await.is_some() {}
    }

    /// Holds everything sent either way, connections kept open, until
    /// [`resume`](Self::resume).
    pub fn pause(&self) {
        self.state.lock().unwrap().paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.state.lock().unwrap().paused.send_replace(false);
    }

    pub fn restore(&self) {
        self.state.lock().unwrap().cut = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A subscription read event by event.
pub struct Listener {
    subscription: Subscription,
    decoder: Decoder,
    ready: std::collections::VecDeque<MessageEvent>,
}

impl Listener {
    pub fn new(subscription: Subscription) -> Self {
        Self {
            subscription,
            decoder: Decoder::new(),
            ready: Default::default(),
        }
    }

    /// The next event, within [`PATIENCE`]; panics if none comes or the
    /// subscription ends.
    pub async fn next(&mut self) -> MessageEvent {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(event) = self.ready.pop_front() {
                    return event;
                }
                let frame = self
                    .subscription
                    .next()
                    .await
                    .expect("the subscription ended");
                for item in self.decoder.feed(&frame) {
                    if let Item::Event(event) = item.expect("a well-formed frame") {
                        self.ready.push_back(event);
                    }
                }
            }
        })
        .await
        .expect("no event in time")
    }

    /// Whether an event comes within `wait`: for checking that nothing does.
    pub async fn quiet_for(&mut self, wait: Duration) -> bool {
        if !self.ready.is_empty() {
            return false;
        }
        let Ok(frame) = tokio::time::timeout(wait, self.subscription.next()).await else {
            return true;
        };
        for item in self.decoder.feed(&frame.expect("the subscription ended")) {
            if let Item::Event(event) = item.expect("a well-formed frame") {
                self.ready.push_back(event);
            }
        }
        self.ready.is_empty()
    }
}

pub fn is_gap(event: &MessageEvent, reason: &str) -> bool {
    event.event_type == GAP_EVENT && event.data.contains(&format!("\"reason\":\"{reason}\""))
}
