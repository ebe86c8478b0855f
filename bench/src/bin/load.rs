//! The load client of `shared/bench/CONTRACT.md`: drives one server (ssekit's
//! or a peer's) through every measurement and writes the results as JSON.
//!
//! It is built not to be the bottleneck: one current-thread runtime, one
//! shared read buffer for every connection, a byte scan for line ends over
//! de-chunked bodies, and only the leading timestamp of each event parsed.
//!
//! `load --port P --pid PID --net X --out FILE [--quick | --profile]
//! [--perf-control FIFO]`, or
//! `load --port P --pid PID --net X --stream-only RUNS`, which measures only
//! `/stream`, `RUNS` times, and prints each run: for comparing two builds of
//! a server's hot path without the rest of the plan.
//!
//! `--perf-control FIFO` switches a `perf stat` or `perf record` attached to
//! the server (started with `--delay=-1 --control=fifo:FIFO`) on as each
//! burst to 10,000 subscribers is published, and off once its deliveries
//! are in: its counters and samples then cover those bursts alone, not the
//! connecting and closing around them. Start `perf` first: writing to the
//! fifo waits for its reader.
//!
//! `--pid` is the server's process, whose resident memory and CPU time are
//! read from `/proc`. `--net X` makes every client socket bind to a source
//! address in `127.X.0.0/16`, a new one per phase, so that ten thousand
//! connections per phase and the ports left in `TIME_WAIT` by earlier phases
//! never run this machine out of ports.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ssekit_bench::results::{BurstResult, Results, StreamResult};
use ssekit_bench::{leading_nanos, unix_nanos};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::{JoinHandle, LocalSet};

/// Connections opened at once: below the servers' accept backlogs.
const CONNECT_BATCH: usize = 256;
/// Bytes of an event's first data line kept to read its timestamp.
const PREFIX: usize = 32;

#[derive(Debug, Clone)]
struct Plan {
    /// Subscriber counts of the bursts; the first also gives idle memory.
    bursts: Vec<usize>,
    /// Deliveries a burst aims at, spread over its subscribers.
    burst_deliveries: usize,
    /// Events per burst, at most: under ssekit's default `max_lag` (512)
    /// and the peers' broadcast capacity (1024), so no server is made to
    /// drop anything by the plan itself.
    burst_events_max: usize,
    payload: usize,
    stream_events: usize,
    stream_size: usize,
    steady_subscribers: usize,
    steady_rate: u32,
    steady_secs: u32,
}

impl Plan {
    fn full() -> Self {
        Self {
            bursts: vec![10_000, 100, 1_000, 3_000],
            burst_deliveries: 1_000_000,
            burst_events_max: 400,
            payload: 64,
            stream_events: 2_000_000,
            stream_size: 32,
            steady_subscribers: 10_000,
            steady_rate: 10,
            steady_secs: 5,
        }
    }

    fn quick() -> Self {
        Self {
            bursts: vec![20, 5],
            burst_deliveries: 400,
            burst_events_max: 20,
            payload: 64,
            stream_events: 300,
            stream_size: 32,
            steady_subscribers: 5,
            steady_rate: 10,
            steady_secs: 1,
        }
    }

    /// Only 10,000-subscriber bursts, for a profiler attached to the
    /// server: nothing else it does muddles the profile.
    fn profile() -> Self {
        Self {
            bursts: vec![10_000; 4],
            burst_deliveries: 1_000_000,
            burst_events_max: 400,
            payload: 64,
            stream_events: 2_000_000,
            stream_size: 32,
            steady_subscribers: 0,
            steady_rate: 10,
            steady_secs: 0,
        }
    }

    fn burst_events(&self, subscribers: usize) -> usize {
        (self.burst_deliveries / subscribers.max(1)).clamp(1, self.burst_events_max)
    }
}

#[derive(Debug)]
struct Args {
    port: u16,
    pid: u32,
    net: u8,
    out: String,
    quick: bool,
    profile: bool,
    stream_only: Option<u32>,
    perf_control: Option<String>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        const USAGE: &str = "usage: load --port P --pid PID --net X (--out FILE [--quick | --profile] [--perf-control FIFO] | --stream-only RUNS)";
        let (mut port, mut pid, mut net, mut out) = (None, None, None, None);
        let (mut stream_only, mut perf_control) = (None, None);
        let (mut quick, mut profile) = (false, false);
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            if flag == "--quick" || flag == "--profile" {
                quick |= flag == "--quick";
                profile |= flag == "--profile";
                continue;
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
            let bad = |_| format!("bad value `{value}` for {flag}; {USAGE}");
            match flag.as_str() {
                "--port" => port = Some(value.parse().map_err(bad)?),
                "--pid" => pid = Some(value.parse().map_err(bad)?),
                "--net" => net = Some(value.parse().map_err(bad)?),
                "--out" => out = Some(value),
                "--stream-only" => stream_only = Some(value.parse().map_err(bad)?),
                "--perf-control" => perf_control = Some(value),
                _ => return Err(format!("unknown argument `{flag}`; {USAGE}")),
            }
        }
        match (port, pid, net, out) {
            (Some(port), Some(pid), Some(net), out) if out.is_some() || stream_only.is_some() => {
                Ok(Self {
                    port,
                    pid,
                    net,
                    out: out.unwrap_or_default(),
                    quick,
                    profile,
                    stream_only,
                    perf_control,
                })
            }
            _ => Err(USAGE.to_owned()),
        }
    }
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("load: {usage}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("load: no runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let plan = if args.quick {
        Plan::quick()
    } else if args.profile {
        Plan::profile()
    } else {
        Plan::full()
    };
    if let Some(runs) = args.stream_only {
        return match LocalSet::new().block_on(&runtime, stream_only(&args, &plan, runs)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("load: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let results = LocalSet::new().block_on(&runtime, run(&args, &plan));
    let written = results.and_then(|results| {
        let json = serde_json::to_string_pretty(&results).map_err(io::Error::other)?;
        std::fs::write(&args.out, json)
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("load: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Hands out source addresses, one per phase.
#[derive(Debug)]
struct Sources {
    net: u8,
    next: u16,
}

impl Sources {
    fn next(&mut self) -> Ipv4Addr {
        self.next = self.next.wrapping_add(1);
        let [high, low] = self.next.to_be_bytes();
        Ipv4Addr::new(127, self.net, high, low.max(1))
    }
}

/// The server under test, and the source addresses to reach it from.
fn target(args: &Args) -> (Server, Sources) {
    let server = Server {
        addr: SocketAddr::from(([127, 0, 0, 1], args.port)),
        pid: args.pid,
    };
    let sources = Sources {
        net: args.net,
        next: 0,
    };
    (server, sources)
}

async fn run(args: &Args, plan: &Plan) -> io::Result<Results> {
    let (server, mut sources) = target(args);
    // The baseline for idle memory, before any connection made the server
    // grow its buffers.
    let src = sources.next();
    server.wait_for_subscribers(src, 0).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = server.rss_bytes()?;

    let mut bursts = Vec::new();
    let mut idle = (0.0, 0);
    for (i, &subscribers) in plan.bursts.iter().enumerate() {
        let events = plan.burst_events(subscribers);
        let src = sources.next();
        let phase = Phase::connect(&server, src, subscribers, events).await?;
        if i == 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rss = server.rss_bytes()?;
            #[allow(clippy::cast_precision_loss)]
            let per_conn = (rss.saturating_sub(rss_before)) as f64 / phase.connected.max(1) as f64;
            idle = (per_conn, phase.connected);
        }
        let publish_path = format!("/publish?n={events}&size={}", plan.payload);
        let perf = args
            .perf_control
            .as_deref()
            .filter(|_| subscribers >= 10_000);
        switch_perf(perf, true)?;
        let cpu = Cpu::start(server.pid)?;
        let started = unix_nanos();
        let (status, _) = server.call(src, "POST", &publish_path).await?;
        if status != 200 {
            return Err(io::Error::other(format!(
                "{publish_path} answered {status}"
            )));
        }
        let result = phase
            .finish(started, Duration::from_secs(30), cpu, perf)
            .await?;
        eprintln!("load: burst {result:?}");
        bursts.push(result);
        server.settle(src).await?;
    }

    let steady = steady(&server, plan, sources.next()).await?;
    eprintln!("load: steady {steady:?}");
    let src = sources.next();
    server.settle(src).await?;
    let stream = stream(&server, src, plan).await?;
    eprintln!("load: stream {stream:?}");
    Ok(Results {
        stream,
        idle_bytes_per_conn: idle.0,
        idle_connections: idle.1,
        bursts,
        steady,
    })
}

/// `/stream` alone, `runs` times, one line per run on stdout.
async fn stream_only(args: &Args, plan: &Plan, runs: u32) -> io::Result<()> {
    let (server, mut sources) = target(args);
    for _ in 0..runs {
        let src = sources.next();
        server.settle(src).await?;
        let result = stream(&server, src, plan).await?;
        #[allow(clippy::cast_precision_loss)]
        let events = result.events as f64;
        println!(
            "{:.2} M events/s, server {:.0} ns CPU per event, client {:.0} ns",
            result.events_per_sec / 1e6,
            result.server_cpu_secs / events * 1e9,
            result.client_cpu_secs / events * 1e9,
        );
    }
    Ok(())
}

/// `steady_subscribers` subscribers, `steady_rate` single-event publishes a
/// second for `steady_secs`.
async fn steady(server: &Server, plan: &Plan, src: Ipv4Addr) -> io::Result<BurstResult> {
    let events = usize::try_from(plan.steady_rate * plan.steady_secs).unwrap_or(usize::MAX);
    let phase = Phase::connect(server, src, plan.steady_subscribers, events).await?;
    let path = format!("/publish?n=1&size={}", plan.payload);
    let cpu = Cpu::start(server.pid)?;
    let started = unix_nanos();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / plan.steady_rate);
    for _ in 0..events {
        ticks.tick().await;
        let (status, _) = server.call(src, "POST", &path).await?;
        if status != 200 {
            return Err(io::Error::other(format!("{path} answered {status}")));
        }
    }
    let result = phase
        .finish(started, Duration::from_secs(10), cpu, None)
        .await;
    server.settle(src).await?;
    result
}

/// `/stream` on one connection: events per second, request to last byte.
async fn stream(server: &Server, src: Ipv4Addr, plan: &Plan) -> io::Result<StreamResult> {
    let mut conn = server.connect(src).await?;
    let path = format!("/stream?n={}&size={}", plan.stream_events, plan.stream_size);
    let cpu = Cpu::start(server.pid)?;
    let started = Instant::now();
    conn.write_all(request("GET", &path, false).as_bytes())
        .await?;
    let mut reader = Reader::new(false);
    reader.read_head(&mut conn).await?;
    let pending = reader.take_pending();
    reader.feed(&pending, 0);
    let mut buf = vec![0; 1 << 16];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !reader.ended {
        let n = tokio::time::timeout_at(deadline, conn.read(&mut buf))
            .await
            .map_err(|_| io::Error::other("/stream did not end within 60 s"))??;
        if n == 0 {
            break;
        }
        reader.feed(&buf[..n], 0);
    }
    let secs = started.elapsed().as_secs_f64();
    let spent = cpu.spent()?;
    #[allow(clippy::cast_precision_loss)]
    Ok(StreamResult {
        events: reader.events,
        expected: plan.stream_events as u64,
        secs,
        events_per_sec: reader.events as f64 / secs,
        server_writes: spent.writes,
        server_write_bytes: spent.write_bytes,
        server_cpu_secs: spent.server,
        client_cpu_secs: spent.client,
    })
}

#[derive(Debug, Clone, Copy)]
struct Server {
    addr: SocketAddr,
    pid: u32,
}

impl Server {
    async fn connect(&self, src: Ipv4Addr) -> io::Result<TcpStream> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((src, 0)))?;
        let stream = socket.connect(self.addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// One request on a connection of its own: the status and the body.
    async fn call(&self, src: Ipv4Addr, method: &str, path: &str) -> io::Result<(u16, Vec<u8>)> {
        let mut conn = self.connect(src).await?;
        conn.write_all(request(method, path, true).as_bytes())
            .await?;
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut raw))
            .await
            .map_err(|_| io::Error::other(format!("{method} {path}: no answer in 30 s")))??;
        let head_end = memchr::memmem::find(&raw, b"\r\n\r\n")
            .ok_or_else(|| io::Error::other(format!("{method} {path}: no response head")))?;
        let status = std::str::from_utf8(raw.get(9..12).unwrap_or_default())
            .ok()
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        Ok((status, raw.split_off(head_end + 4)))
    }

    async fn subscribers(&self, src: Ipv4Addr) -> io::Result<usize> {
        let (status, body) = self.call(src, "GET", "/stats").await?;
        let at = memchr::memmem::find(&body, b"\"subscribers\":")
            .filter(|_| status == 200)
            .ok_or_else(|| io::Error::other("/stats: no subscriber count"))?;
        let digits: String = body[at + 14..]
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| char::from(b))
            .collect();
        digits
            .parse()
            .map_err(|_| io::Error::other("/stats: bad subscriber count"))
    }

    /// Waits (up to 30 s) until `/stats` counts exactly `count`.
    async fn wait_for_subscribers(&self, src: Ipv4Addr, count: usize) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = None;
        while Instant::now() < deadline {
            match self.subscribers(src).await {
                Ok(n) if n == count => return Ok(()),
                Ok(n) => seen = Some(n),
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(io::Error::other(format!(
            "/stats never said {count} subscribers (last: {seen:?})"
        )))
    }

    /// Waits (up to 20 s) until the server counts no subscriber, after a
    /// phase closed its connections. actix-web notices a closed connection
    /// only when a write to it fails, so while any are counted this
    /// publishes one small event every 100 ms to make it write.
    async fn settle(&self, src: Ipv4Addr) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut left = 0;
        while Instant::now() < deadline {
            left = self.subscribers(src).await?;
            if left == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.subscribers(src).await? > 0 {
                self.call(src, "POST", "/publish?n=1&size=24").await?;
            }
        }
        Err(io::Error::other(format!(
            "{left} subscribers still counted 20 s after their clients closed"
        )))
    }

    fn rss_bytes(&self) -> io::Result<u64> {
        ssekit_test_support::resident_bytes(self.pid)
    }
}

fn request(method: &str, path: &str, close: bool) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if method == "POST" {
        text.push_str("Content-Length: 0\r\n");
    }
    if close {
        text.push_str("Connection: close\r\n");
    }
    text.push_str("\r\n");
    text
}

/// CPU seconds (user + system) of a process, all threads, from `/proc`.
fn cpu_secs(pid: &str) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: fields count from after its `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15; the state (field 3) is index 0.
    #[allow(clippy::cast_precision_loss)]
    Ok((ticks(11) + ticks(12)) as f64 / 100.0)
}

/// The write system calls of a process and the bytes they wrote, from
/// `/proc/PID/io` (every thread's, `write` and `writev` alike).
fn writes(pid: u32) -> io::Result<(u64, u64)> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io"))?;
    let field = |name: &str| {
        io.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("syscw:"), field("wchar:")))
}

/// Switches the `perf` behind `fifo` (`--perf-control`) on or off.
fn switch_perf(fifo: Option<&str>, on: bool) -> io::Result<()> {
    let Some(fifo) = fifo else { return Ok(()) };
    std::fs::write(fifo, if on { "enable\n" } else { "disable\n" })
        .map_err(|err| io::Error::new(err.kind(), format!("--perf-control {fifo}: {err}")))
}

/// What a server spent over one phase: CPU time, and its writes.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    server: f64,
    client: f64,
    writes: (u64, u64),
    pid: u32,
}

#[derive(Debug, Clone, Copy)]
struct Spent {
    server: f64,
    client: f64,
    writes: u64,
    write_bytes: u64,
}

impl Cpu {
    fn start(pid: u32) -> io::Result<Self> {
        Ok(Self {
            server: cpu_secs(&pid.to_string())?,
            client: cpu_secs("self")?,
            writes: writes(pid)?,
            pid,
        })
    }

    fn spent(&self) -> io::Result<Spent> {
        let (calls, bytes) = writes(self.pid)?;
        Ok(Spent {
            server: cpu_secs(&self.pid.to_string())? - self.server,
            client: cpu_secs("self")? - self.client,
            writes: calls.saturating_sub(self.writes.0),
            write_bytes: bytes.saturating_sub(self.writes.1),
        })
    }
}

/// What one subscriber saw; shared with the phase so that a subscriber cut
/// off at the deadline still reports.
#[derive(Debug, Default)]
struct Seen {
    events: u64,
    latencies_us: Vec<u32>,
    last_arrival: u64,
    ended: bool,
}

/// A set of `/sub` subscribers, each in a task of its own.
struct Phase {
    subscribers: usize,
    connected: usize,
    events_each: usize,
    seen: Vec<Rc<RefCell<Seen>>>,
    tasks: Vec<JoinHandle<()>>,
    /// Streams of subscribers that are done, kept open until the phase
    /// ends so that closing them does not cost the server in mid-burst.
    parked: Rc<RefCell<Vec<TcpStream>>>,
}

thread_local! {
    /// One read buffer for every connection: tasks on this single thread
    /// never read at the same time.
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; 1 << 16]);
}

impl Phase {
    /// Opens `subscribers` streams and waits until the server counts them.
    async fn connect(
        server: &Server,
        src: Ipv4Addr,
        subscribers: usize,
        events_each: usize,
    ) -> io::Result<Self> {
        let parked = Rc::new(RefCell::new(Vec::new()));
        let mut seen = Vec::with_capacity(subscribers);
        let mut tasks = Vec::with_capacity(subscribers);
        let mut connected = 0;
        let mut failures = String::new();
        let mut left = subscribers;
        while left > 0 {
            let batch = left.min(CONNECT_BATCH);
            left -= batch;
            let mut opening = Vec::with_capacity(batch);
            for _ in 0..batch {
                let server = *server;
                opening.push(tokio::task::spawn_local(async move {
                    let mut conn = server.connect(src).await?;
                    conn.write_all(request("GET", "/sub", false).as_bytes())
                        .await?;
                    let mut reader = Reader::new(true);
                    reader.read_head(&mut conn).await?;
                    Ok::<_, io::Error>((conn, reader))
                }));
            }
            for opened in opening {
                match opened.await.map_err(io::Error::other)? {
                    Ok((conn, mut reader)) => {
                        connected += 1;
                        // Grown once here, not event by event in mid-burst.
                        reader.latencies_us.reserve(events_each);
                        let shared = Rc::new(RefCell::new(Seen {
                            latencies_us: Vec::with_capacity(events_each),
                            ..Seen::default()
                        }));
                        seen.push(Rc::clone(&shared));
                        tasks.push(tokio::task::spawn_local(subscribe(
                            conn,
                            reader,
                            events_each as u64,
                            shared,
                            Rc::clone(&parked),
                        )));
                    }
                    Err(err) => {
                        if failures.len() < 200 {
                            let _ = write!(failures, "{err}; ");
                        }
                    }
                }
            }
        }
        if connected < subscribers {
            eprintln!(
                "load: {connected} of {subscribers} subscribers connected; failures: {failures}"
            );
        }
        server.wait_for_subscribers(src, connected).await?;
        Ok(Self {
            subscribers,
            connected,
            events_each,
            seen,
            tasks,
            parked,
        })
    }

    /// Waits until every subscriber has its events (or `grace` past the
    /// publish), then adds up what they saw. What the server spent is read,
    /// and `perf` switched off, before the connections close.
    async fn finish(
        self,
        started: u64,
        grace: Duration,
        cpu: Cpu,
        perf: Option<&str>,
    ) -> io::Result<BurstResult> {
        let deadline = tokio::time::Instant::now() + grace;
        for task in &self.tasks {
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            let _ = tokio::time::timeout_at(deadline, async {
                while !task.is_finished() {
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
        }
        let spent = cpu.spent()?;
        switch_perf(perf, false)?;
        let (server_cpu, client_cpu) = (spent.server, spent.client);
        for task in &self.tasks {
            task.abort();
        }
        let expected = (self.subscribers * self.events_each) as u64;
        let mut latencies = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        let (mut delivered, mut closed, mut last) = (0, 0, started);
        for seen in &self.seen {
            let seen = seen.borrow();
            delivered += seen.events;
            latencies.extend_from_slice(&seen.latencies_us);
            last = last.max(seen.last_arrival);
            if seen.ended && seen.events < self.events_each as u64 {
                closed += 1;
            }
        }
        drop(self.seen);
        self.parked.borrow_mut().clear();
        latencies.sort_unstable();
        #[allow(clippy::cast_precision_loss)]
        let secs = last.saturating_sub(started) as f64 / 1e9;
        #[allow(clippy::cast_precision_loss)]
        let per_million = server_cpu / (delivered.max(1) as f64 / 1e6);
        #[allow(clippy::cast_precision_loss)]
        Ok(BurstResult {
            subscribers: self.subscribers,
            connected: self.connected,
            events_each: self.events_each,
            expected,
            delivered,
            closed: closed + (self.subscribers - self.connected),
            lost: expected.saturating_sub(delivered),
            secs,
            deliveries_per_sec: if secs > 0.0 {
                delivered as f64 / secs
            } else {
                0.0
            },
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            max_ms: latencies.last().map_or(0.0, |&us| f64::from(us) / 1e3),
            server_cpu_secs: server_cpu,
            cpu_secs_per_million: per_million,
            client_cpu_secs: client_cpu,
            server_writes: spent.writes,
            server_write_bytes: spent.write_bytes,
        })
    }
}

fn percentile(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let at = ((sorted_us.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted_us[at.min(sorted_us.len() - 1)]) / 1e3
}

/// One subscriber: reads until it has `expected` events or its stream ends.
async fn subscribe(
    conn: TcpStream,
    mut reader: Reader,
    expected: u64,
    seen: Rc<RefCell<Seen>>,
    parked: Rc<RefCell<Vec<TcpStream>>>,
) {
    let mut pending = reader.take_pending();
    if !pending.is_empty() {
        reader.feed(&pending, unix_nanos());
        pending.clear();
        reader.report(&seen);
    }
    while reader.events < expected && !reader.ended {
        if conn.readable().await.is_err() {
            break;
        }
        let read = BUFFER.with_borrow_mut(|buf| match conn.try_read(buf) {
            Ok(0) => Ok(false),
            Ok(n) => {
                reader.feed(&buf[..n], unix_nanos());
                Ok(true)
            }
            Err(err) => Err(err),
        });
        match read {
            Ok(true) => reader.report(&seen),
            Ok(false) => break,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    {
        let mut seen = seen.borrow_mut();
        seen.ended = reader.events < expected;
    }
    parked.borrow_mut().push(conn);
}

/// The state of a chunked body between reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line: the size so far.
    Size(u64),
    /// Past the size, skipping an extension up to LF.
    SizeRest(u64),
    /// Inside a chunk's data: bytes left.
    Data(u64),
    /// After a chunk's data: skipping its CRLF.
    DataEnd,
    /// The last chunk was read.
    Done,
}

/// An HTTP/1.1 response head, then a chunked (or close-delimited) body of
/// events, counted and timed as they arrive.
#[derive(Debug)]
struct Reader {
    timed: bool,
    head: Vec<u8>,
    /// Body bytes that came with the head.
    pending: Vec<u8>,
    chunked: bool,
    chunk: Chunk,
    prefix: [u8; PREFIX],
    line_len: usize,
    has_data: bool,
    stamp: Option<u64>,
    events: u64,
    latencies_us: Vec<u32>,
    last_arrival: u64,
    ended: bool,
}

impl Reader {
    fn new(timed: bool) -> Self {
        Self {
            timed,
            head: Vec::new(),
            pending: Vec::new(),
            chunked: false,
            chunk: Chunk::Size(0),
            prefix: [0; PREFIX],
            line_len: 0,
            has_data: false,
            stamp: None,
            events: 0,
            latencies_us: Vec::new(),
            last_arrival: 0,
            ended: false,
        }
    }

    /// Reads until the response head is complete (10 s at most) and checks
    /// it is a 200 event stream.
    async fn read_head(&mut self, conn: &mut TcpStream) -> io::Result<()> {
        let mut buf = [0; 4096];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let n = tokio::time::timeout_at(deadline, conn.read(&mut buf))
                .await
                .map_err(|_| io::Error::other("no response head in 10 s"))??;
            if n == 0 {
                return Err(io::Error::other("closed before the response head"));
            }
            self.head.extend_from_slice(&buf[..n]);
            if self.parse_head()? {
                return Ok(());
            }
            if self.head.len() > 64 * 1024 {
                return Err(io::Error::other("response head over 64 KiB"));
            }
        }
    }

    /// True once the head is complete; its trailing body bytes wait in
    /// `pending`.
    fn parse_head(&mut self) -> io::Result<bool> {
        let Some(end) = memchr::memmem::find(&self.head, b"\r\n\r\n") else {
            return Ok(false);
        };
        let head = String::from_utf8_lossy(&self.head[..end]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            let line = head.lines().next().unwrap_or_default().to_owned();
            return Err(io::Error::other(format!("answered `{line}`")));
        }
        self.chunked = head
            .lines()
            .any(|line| line.starts_with("transfer-encoding:") && line.contains("chunked"));
        self.pending = self.head.split_off(end + 4);
        Ok(true)
    }

    fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// Copies what this read added into the shared record.
    fn report(&mut self, seen: &RefCell<Seen>) {
        let mut seen = seen.borrow_mut();
        seen.events = self.events;
        seen.last_arrival = self.last_arrival;
        seen.latencies_us.append(&mut self.latencies_us);
    }

    /// Feeds body bytes (after the head) that arrived at `now`.
    fn feed(&mut self, mut bytes: &[u8], now: u64) {
        if !self.chunked {
            self.events_in(bytes, now);
            return;
        }
        while !bytes.is_empty() {
            match self.chunk {
                Chunk::Size(size) => {
                    let byte = bytes[0];
                    bytes = &bytes[1..];
                    let digit = match byte {
                        b'0'..=b'9' => Some(byte - b'0'),
                        b'a'..=b'f' => Some(byte - b'a' + 10),
                        b'A'..=b'F' => Some(byte - b'A' + 10),
                        _ => None,
                    };
                    self.chunk = match (digit, byte) {
                        (Some(digit), _) => Chunk::Size(size * 16 + u64::from(digit)),
                        (None, b'\n') => self.after_size(size),
                        (None, _) => Chunk::SizeRest(size),
                    };
                }
                Chunk::SizeRest(size) => match memchr::memchr(b'\n', bytes) {
                    Some(at) => {
                        bytes = &bytes[at + 1..];
                        self.chunk = self.after_size(size);
                    }
                    None => bytes = &[],
                },
                Chunk::Data(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    self.events_in(&bytes[..take], now);
                    bytes = &bytes[take..];
                    let left = left - take as u64;
                    self.chunk = if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    };
                }
                Chunk::DataEnd => match memchr::memchr(b'\n', bytes) {
                    Some(at) => {
                        bytes = &bytes[at + 1..];
                        self.chunk = Chunk::Size(0);
                    }
                    None => bytes = &[],
                },
                Chunk::Done => return,
            }
        }
    }

    fn after_size(&mut self, size: u64) -> Chunk {
        if size == 0 {
            self.ended = true;
            Chunk::Done
        } else {
            Chunk::Data(size)
        }
    }

    /// The event-stream scan: line ends by `memchr`, and of each line only
    /// its first bytes. A line whole in this read is looked at where it
    /// is; only a line split between reads is gathered in `prefix`.
    fn events_in(&mut self, bytes: &[u8], now: u64) {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', bytes) {
            let piece = &bytes[start..end];
            if self.line_len == 0 {
                self.line(&piece[..piece.len().min(PREFIX)], now);
            } else {
                self.line_piece(piece);
                let head = self.prefix;
                let len = std::mem::take(&mut self.line_len).min(PREFIX);
                self.line(&head[..len], now);
            }
            start = end + 1;
        }
        self.line_piece(&bytes[start..]);
    }

    fn line_piece(&mut self, piece: &[u8]) {
        if self.line_len < PREFIX {
            let take = piece.len().min(PREFIX - self.line_len);
            self.prefix[self.line_len..self.line_len + take].copy_from_slice(&piece[..take]);
        }
        self.line_len += piece.len();
    }

    /// A whole line, of which `head` is the first bytes (empty only for a
    /// blank line).
    fn line(&mut self, head: &[u8], now: u64) {
        if head.is_empty() {
            if self.has_data {
                self.events += 1;
                self.last_arrival = now;
                if let Some(stamp) = self.stamp.take().filter(|_| self.timed) {
                    let us = now.saturating_sub(stamp) / 1_000;
                    self.latencies_us
                        .push(u32::try_from(us).unwrap_or(u32::MAX));
                }
            }
            self.has_data = false;
            self.stamp = None;
            return;
        }
        if let Some(value) = head.strip_prefix(b"data:") {
            if !self.has_data && self.timed {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                self.stamp = leading_nanos(value);
            }
            self.has_data = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three events, the second with two data lines and the third without
    /// an id, in a chunked body whose chunks split lines.
    fn body(stamps: [u64; 3]) -> Vec<u8> {
        let events = format!(
            "id: 1\ndata: {} {}\n\n:\n\nid: 2\ndata: {} p\ndata: more\n\ndata: {} p\n\n",
            stamps[0],
            "p".repeat(40),
            stamps[1],
            stamps[2]
        );
        let mut body = Vec::new();
        for chunk in events.as_bytes().chunks(17) {
            body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        body
    }

    #[test]
    fn events_and_their_latencies_survive_every_split_between_reads() {
        let stamps: [u32; 3] = [1_000_000, 2_000_000, 3_000_000];
        let body = body(stamps.map(u64::from));
        let now: u32 = 10_000_000;
        let expected: Vec<u32> = stamps.iter().map(|s| (now - s) / 1_000).collect();
        for first in 0..=body.len() {
            for second in first..=body.len() {
                let mut reader = Reader::new(true);
                reader.chunked = true;
                for read in [&body[..first], &body[first..second], &body[second..]] {
                    reader.feed(read, u64::from(now));
                }
                assert_eq!(reader.events, 3, "split at {first} and {second}");
                assert_eq!(
                    reader.latencies_us, expected,
                    "split at {first} and {second}"
                );
                assert!(reader.ended);
            }
        }
    }
}
