//! `cargo run -p example-axum --bin cluster`: the live feed as two
//! instances on two ports, sharing one Redis through `ssekit-redis`. Open
//! both addresses it prints, post on one, and watch the message appear on
//! the other; stop one instance's tab, post, reopen it: it resumes.
//!
//! It starts its own `redis-server` (Debian's `redis-server` package) on a
//! free loopback port, without persistence, unless `REDIS_URL` names one to
//! use. `PORTS` chooses the two ports (`3001,3002` by default; `0,0` lets
//! the system pick). Ctrl-c shuts both down gracefully and stops Redis.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use example_axum::Config;
use ssekit_redis::RedisBackplane;
use tokio::net::TcpListener;
use tokio::sync::watch;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ports = parse_ports(&std::env::var("PORTS").unwrap_or_else(|_| "3001,3002".into()))?;
    let (url, _redis) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let redis = OwnRedis::start()?;
            (redis.url(), Some(redis))
        }
    };
    println!("redis at {url}");

    let config = Config::default();
    let (stop, stopped) = watch::channel(false);
    let mut instances = Vec::new();
    for port in ports {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        println!("listening on http://{}", listener.local_addr()?);
        // Each instance has its own hub, as separate processes would: the
        // backplane is all they share.
        let hub = config.hub().backplane(RedisBackplane::new(&url)?).build();
        let mut stopped = stopped.clone();
        instances.push(tokio::spawn(example_axum::serve(
            listener,
            hub,
            config.tick,
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        )));
    }
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop.send(true);
    for instance in instances {
        instance.await??;
    }
    Ok(())
}

fn parse_ports(text: &str) -> Result<[u16; 2], String> {
    let ports: Vec<u16> = text
        .split(',')
        .map(|port| port.trim().parse::<u16>())
        .collect::<Result<_, _>>()
        .map_err(|err| format!("PORTS={text:?}: {err}"))?;
    <[u16; 2]>::try_from(ports).map_err(|_| format!("PORTS={text:?}: expected two ports"))
}

/// A `redis-server` of the example's own, stopped when dropped.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start() -> Result<Self, String> {
        let port = StdListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .map_err(|err| format!("no free port for redis-server: {err}"))?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            // Not our output: a redis-server left behind must not hold it.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| {
                format!(
                    "could not start redis-server ({err}): install it (apt-get install redis-server), \
                     or set REDIS_URL to a Redis to use"
                )
            })?;
        let redis = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server did not listen on port {port} within 10 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
