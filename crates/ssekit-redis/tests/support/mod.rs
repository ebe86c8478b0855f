//! What the backplane tests share: a real `redis-server` of their own, a
//! proxy that cuts one instance off from it, and a reader of subscriptions.

#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
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

/// A `redis-server` on a free loopback port, without persistence, killed
/// when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let mut server = Self { port, child: None };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Kills it (SIGKILL: no goodbye to its clients) and waits until it is
    /// gone. Without persistence, everything it held is lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port and waits until it answers PING.
    pub async fn restart(&mut self) {
        self.kill();
        let dir = std::env::temp_dir();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "could not run redis-server ({err}): install redis-server \
                     (apt-get install redis-server); `cargo xtask ci` does it when root"
                )
            });
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if ping(self.addr()).await {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                panic!("redis-server on port {} exited: {status}", self.port);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not answer PING in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A plain command connection for the tests' own look at the streams.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut answer))
            .await
            .is_ok_and(|read| read.is_ok())
        && &answer == b"+PONG\r\n"
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
