//! `soak --adapter <axum|actix|warp> [--seconds N] [--subscribers N] [--rate N]`:
//! a bounded soak of the hub on one adapter's conformance server.
//!
//! It starts `conformance-server` (found next to this binary), publishes
//! at a steady rate on one keep-alive connection, and keeps N subscribers
//! churning: each reads for a few seconds, leaves, and comes back with the
//! Last-Event-ID it last saw. Every event's data is its publish number, so
//! each subscriber checks that what it got is gap-free, or that the gap was
//! announced in band. Once a second it samples the server's resident
//! memory and `/hub/stats`. At the end every subscriber leaves and the
//! count must return to zero.
//!
//! It prints one JSON line of figures and exits 1 when a check failed:
//! an unannounced gap, a count that does not return to zero, or resident
//! memory that grew by more than 10% (and 8 MiB) after the warm-up (the
//! first fifth of the run). `cargo xtask soak` runs it for every adapter.

use std::io::BufRead as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ssekit::Decoder;
use ssekit::decode::Item;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

const USAGE: &str =
    "usage: soak --adapter <axum|actix|warp> [--seconds N] [--subscribers N] [--rate N]";

/// What the subscribers saw, all together.
#[derive(Debug, Default)]
struct Tally {
    delivered: AtomicU64,
    reconnects: AtomicU64,
    gaps_announced: AtomicU64,
    gaps_silent: AtomicU64,
    lag_closes: AtomicU64,
}

fn main() -> ExitCode {
    let mut adapter = None;
    let (mut seconds, mut subscribers, mut rate) = (120_u64, 200_usize, 200_u64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let number = |value: Option<String>| value.and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--adapter", Some(name)) => adapter = Some(name),
            ("--seconds", v) => seconds = number(v).unwrap_or(0),
            ("--subscribers", v) => {
                subscribers = number(v).and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
            }
            ("--rate", v) => rate = number(v).unwrap_or(0),
            _ => {
                eprintln!("soak: bad argument {arg:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(adapter) = adapter.filter(|_| seconds > 0 && subscribers > 0 && rate > 0) else {
        eprintln!("soak: --adapter and positive numbers are required\n{USAGE}");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("soak: no tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(soak(&adapter, seconds, subscribers, rate)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("soak ({adapter}): {err}");
            ExitCode::FAILURE
        }
    }
}

async fn soak(adapter: &str, seconds: u64, subscribers: usize, rate: u64) -> Result<bool, String> {
    let binary = std::env::current_exe()
        .map_err(|err| err.to_string())?
        .with_file_name("conformance-server");
    let mut server = Command::new(&binary)
        .args(["--adapter", adapter, "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", binary.display()))?;
    let result = drive(&mut server, seconds, subscribers, rate, adapter).await;
    let _ = server.kill();
    let _ = server.wait();
    result
}

async fn drive(
    server: &mut std::process::Child,
    seconds: u64,
    subscribers: usize,
    rate: u64,
    adapter: &str,
) -> Result<bool, String> {
    let pid = server.id();
    let stdout = server.stdout.take().ok_or("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let line = lines
        .next()
        .ok_or("the server exited before listening")?
        .map_err(|err| err.to_string())?;
    let addr: SocketAddr = line
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.parse().ok())
        .ok_or_else(|| format!("unexpected first line {line:?}"))?;
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));

    let run = Duration::from_secs(seconds);
    let started = Instant::now();
    let stop_at = started + run;
    let tally = Arc::new(Tally::default());
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..subscribers {
        let tally = Arc::clone(&tally);
        tasks.spawn(subscriber(addr, n, stop_at, tally));
    }
    let publisher = tokio::spawn(publisher(addr, rate, stop_at));

    let mut stats = KeepAlive::connect(addr).await?;
    let warm_up = started + run / 5;
    let (mut rss_start, mut rss_warm, mut rss_peak) = (None, None, 0);
    let mut subscribers_peak = 0;
    while Instant::now() < stop_at {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = resident_bytes(pid)?;
        rss_start.get_or_insert(rss);
        if Instant::now() >= warm_up {
            rss_warm.get_or_insert(rss);
        }
        rss_peak = rss_peak.max(rss);
        subscribers_peak = subscribers_peak.max(hub_subscribers(&mut stats).await?);
    }
    let published = publisher.await.map_err(|err| err.to_string())??;
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|err| err.to_string())??;
    }
    // Every subscriber has left: the count must come back to zero.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = hub_subscribers(&mut stats).await?;
    while left != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = hub_subscribers(&mut stats).await?;
    }
    let rss_end = resident_bytes(pid)?;
    let rss_warm = rss_warm.unwrap_or(rss_end);
    let silent = tally.gaps_silent.load(Ordering::Relaxed);
    let grown = rss_end.saturating_sub(rss_warm);
    let memory_ok = grown <= (rss_warm / 10).max(8 << 20);
    let ok = silent == 0 && left == 0 && memory_ok;
    let mib = |bytes: u64| {
        format!(
            "{:.1}",
            f64::from(u32::try_from(bytes >> 10).unwrap_or(u32::MAX)) / 1024.0
        )
    };
    println!(
        "{}",
        serde_json::json!({
            "adapter": adapter,
            "seconds": seconds,
            "subscribers": subscribers,
            "subscribers_peak": subscribers_peak,
            "subscribers_at_end": left,
            "rate": rate,
            "published": published,
            "delivered": tally.delivered.load(Ordering::Relaxed),
            "reconnects": tally.reconnects.load(Ordering::Relaxed),
            "lag_closes": tally.lag_closes.load(Ordering::Relaxed),
            "gaps_announced": tally.gaps_announced.load(Ordering::Relaxed),
            "gaps_silent": silent,
            "rss_start_mib": mib(rss_start.unwrap_or(rss_end)),
            "rss_after_warm_up_mib": mib(rss_warm),
            "rss_peak_mib": mib(rss_peak),
            "rss_end_mib": mib(rss_end),
            "ok": ok,
        })
    );
    Ok(ok)
}

/// Publishes `n` as the data of event `n`, `rate` a second, until
/// `stop_at`; returns how many the server acknowledged.
async fn publisher(addr: SocketAddr, rate: u64, stop_at: Instant) -> Result<u64, String> {
    let mut connection = KeepAlive::connect(addr).await?;
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0;
    while Instant::now() < stop_at {
        ticks.tick().await;
        let (status, _) = connection
            .request("POST", "/hub/publish?topic=soak", n.to_string().as_bytes())
            .await?;
        if status != 200 {
            return Err(format!("publish {n} answered {status}"));
        }
        n += 1;
    }
    Ok(n)
}

/// One churning subscriber: connects, reads for 2 to 10 s, leaves, comes
/// back with its Last-Event-ID, until `stop_at`.
async fn subscriber(
    addr: SocketAddr,
    n: usize,
    stop_at: Instant,
    tally: Arc<Tally>,
) -> Result<(), String> {
    // A small LCG: lifetimes differ from one subscriber to the next.
    let mut seed = u64::try_from(n)
        .unwrap_or(0)
        .wrapping_mul(6_364_136_223_846_793_005)
        | 1;
    let mut last: Option<(String, u64)> = None;
    let mut connection = 0_usize;
    while Instant::now() < stop_at {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let lifetime = Duration::from_millis(2_000 + (seed >> 33) % 8_000);
        let until = (Instant::now() + lifetime).min(stop_at);
        let source = Ipv4Addr::from(
            u32::from(Ipv4Addr::new(127, 0, 0, 2))
                + u32::try_from((n + connection) % 64).unwrap_or(0),
        );
        connection += 1;
        let socket = TcpSocket::new_v4().map_err(|err| err.to_string())?;
        socket
            .bind(SocketAddr::from((source, 0)))
            .map_err(|err| err.to_string())?;
        let mut stream = socket
            .connect(addr)
            .await
            .map_err(|err| format!("connect: {err}"))?;
        let mut request = format!(
            "GET /hub/subscribe?topic=soak HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n"
        );
        if let Some((id, _)) = &last {
            request.push_str(&format!("Last-Event-ID: {id}\r\n"));
            tally.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        request.push_str("\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|err| format!("write: {err}"))?;
        let mut body = ChunkedBody::new(stream);
        body.head().await?;
        let mut decoder = Decoder::new();
        let mut announced = false;
        loop {
            let Ok(piece) = tokio::time::timeout_at(until.into(), body.next()).await else {
                break; // Its time is up: it leaves.
            };
            let Some(piece) = piece? else {
                // The server ended the stream: the Close policy for a
                // lagging subscriber (with its retry hint).
                tally.lag_closes.fetch_add(1, Ordering::Relaxed);
                break;
            };
            for item in decoder.feed(&piece) {
                let Ok(Item::Event(event)) = item else {
                    continue;
                };
                if event.event_type == ssekit::hub::GAP_EVENT {
                    announced = true;
                    tally.gaps_announced.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let number: u64 = event
                    .data
                    .parse()
                    .map_err(|_| format!("event data {:?} is not a number", event.data))?;
                if let Some((_, previous)) = &last
                    && number != previous + 1
                    && !announced
                {
                    eprintln!("soak: subscriber {n}: event {number} after {previous}, no notice");
                    tally.gaps_silent.fetch_add(1, Ordering::Relaxed);
                }
                announced = false;
                tally.delivered.fetch_add(1, Ordering::Relaxed);
                last = Some((event.last_event_id.to_string(), number));
            }
        }
    }
    Ok(())
}

/// A persistent HTTP/1.1 connection for small requests with
/// `Content-Length` answers.
struct KeepAlive {
    stream: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl KeepAlive {
    async fn connect(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|err| format!("connect: {err}"))?;
        stream.set_nodelay(true).map_err(|err| err.to_string())?;
        Ok(Self {
            stream: BufReader::new(stream),
            addr,
        })
    }

    async fn request(
        &mut self,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        // One write: a second small one would wait for the delayed ACK.
        request.extend_from_slice(body);
        self.stream
            .get_mut()
            .write_all(&request)
            .await
            .map_err(|err| err.to_string())?;
        let mut status = 0;
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            let read = self
                .stream
                .read_line(&mut line)
                .await
                .map_err(|err| err.to_string())?;
            if read == 0 {
                return Err(format!("{method} {target}: the connection closed"));
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if status == 0 {
                status = trimmed
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            } else if let Some((name, value)) = trimmed.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().map_err(|_| "bad content-length")?;
            }
        }
        let mut answer = vec![0; length];
        self.stream
            .read_exact(&mut answer)
            .await
            .map_err(|err| err.to_string())?;
        Ok((status, answer))
    }
}

async fn hub_subscribers(stats: &mut KeepAlive) -> Result<u64, String> {
    let (status, body) = stats.request("GET", "/hub/stats", b"").await?;
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|err| format!("/hub/stats ({status}): {err}"))?;
    json["subscribers"]
        .as_u64()
        .ok_or_else(|| format!("/hub/stats said {json}"))
}

/// A chunked response body, piece by piece.
struct ChunkedBody {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl ChunkedBody {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut tmp = [0u8; 16 * 1024];
        let n = self
            .stream
            .read(&mut tmp)
            .await
            .map_err(|err| format!("read: {err}"))?;
        if n == 0 {
            return Err("the connection closed mid-body".to_owned());
        }
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(())
    }

    async fn head(&mut self) -> Result<(), String> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                if !head.starts_with("http/1.1 200") || !head.contains("transfer-encoding: chunked")
                {
                    return Err(format!("/hub/subscribe answered {head}"));
                }
                self.buf.drain(..end + 4);
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// The next chunk's data; `None` at the terminator.
    async fn next(&mut self) -> Result<Option<Vec<u8>>, String> {
        loop {
            if let Some(line_end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let size = std::str::from_utf8(&self.buf[..line_end])
                    .ok()
                    .and_then(|text| usize::from_str_radix(text.trim(), 16).ok())
                    .ok_or("bad chunk size")?;
                if size == 0 {
                    return Ok(None);
                }
                let start = line_end + 2;
                if self.buf.len() >= start + size + 2 {
                    let data = self.buf[start..start + size].to_vec();
                    self.buf.drain(..start + size + 2);
                    return Ok(Some(data));
                }
            }
            self.fill().await?;
        }
    }
}

fn resident_bytes(pid: u32) -> Result<u64, String> {
    ssekit_test_support::resident_bytes(pid).map_err(|err| err.to_string())
}
