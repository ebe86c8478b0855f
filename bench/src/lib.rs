//! The load benchmark of `shared/bench/CONTRACT.md`: ssekit's adapters and
//! the peers' own SSE (axum, actix-web-lab, warp) answer the same endpoints,
//! so one load client measures them side by side in one run.
//!
//! This library holds what every server and the client must agree on: the
//! query parameters, the payloads, the `/stats` body and the command line.
//! The binaries are `bench-server` (ssekit), `peer-server` (the peers),
//! `load` (the client) and `report` (tables and charts for
//! `docs/BENCHMARKS.md`). `cargo xtask bench` runs them all.
//!
//! ```
//! let params = ssekit_bench::Params::parse(Some("n=3&size=8"));
//! assert_eq!((params.n, params.size), (3, 8));
//! let payload = ssekit_bench::publish_payload(40);
//! assert_eq!(payload.len(), 40);
//! assert!(ssekit_bench::leading_nanos(payload.as_bytes()).is_some());
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The one topic `/sub` and `/publish` use.
pub const TOPIC: &str = "bench";

/// How often an idle `/sub` stream gets a heartbeat, for every server.
pub const HEARTBEAT_SECS: u64 = 15;

/// The peers' `tokio::sync::broadcast` capacity, as the contract says.
pub const BROADCAST_CAPACITY: usize = 1024;

/// Caps on what one request may ask for, so a typo cannot exhaust the
/// machine: ten million events, 1 MiB each.
const MAX_N: usize = 10_000_000;
const MAX_SIZE: usize = 1 << 20;

/// The `n` and `size` query parameters of `/stream` and `/publish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// How many events.
    pub n: usize,
    /// Bytes of data in each.
    pub size: usize,
}

impl Params {
    /// Reads `n` and `size` from a raw query string. A missing or unreadable
    /// value takes its default (10 events of 32 bytes); values are capped.
    ///
    /// ```
    /// let p = ssekit_bench::Params::parse(Some("size=x&n=99999999999"));
    /// assert_eq!((p.n, p.size), (10_000_000, 32));
    /// ```
    #[must_use]
    pub fn parse(query: Option<&str>) -> Self {
        let mut params = Self { n: 10, size: 32 };
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let Ok(number) = value.parse::<usize>() else {
                continue;
            };
            match &*key {
                "n" => params.n = number.min(MAX_N),
                "size" => params.size = number.min(MAX_SIZE),
                _ => {}
            }
        }
        params
    }
}

/// The data of every `/stream` event: `size` ASCII bytes.
///
/// ```
/// assert_eq!(ssekit_bench::stream_data(3), "xxx");
/// ```
#[must_use]
pub fn stream_data(size: usize) -> String {
    "x".repeat(size)
}

/// The current time as UNIX nanoseconds.
///
/// ```
/// assert!(ssekit_bench::unix_nanos() > 1_600_000_000_000_000_000);
/// ```
#[must_use]
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// One `/publish` payload: the publish time as UNIX nanoseconds, a space,
/// then padding up to `size` bytes (never shorter than the timestamp and
/// its space).
#[must_use]
pub fn publish_payload(size: usize) -> String {
    let mut payload = unix_nanos().to_string();
    payload.push(' ');
    let pad = size.saturating_sub(payload.len());
    payload.extend(std::iter::repeat_n('p', pad));
    payload
}

/// The timestamp at the head of an event's data, if it starts with digits.
///
/// ```
/// assert_eq!(ssekit_bench::leading_nanos(b"1234 pad"), Some(1234));
/// assert_eq!(ssekit_bench::leading_nanos(b"pad"), None);
/// ```
///
/// The load client reads one for every delivery, so it goes eight digits
/// at a time: digit by digit it was over a quarter of the client's time in
/// a burst. Up to 19 digits, which always fit a `u64`.
#[must_use]
pub fn leading_nanos(data: &[u8]) -> Option<u64> {
    let mut digits = 0;
    while digits <= 19 {
        let Some(block) = data[digits..].first_chunk::<8>() else {
            digits += data[digits..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            break;
        };
        let run = leading_digits(u64::from_le_bytes(*block));
        digits += run;
        if run < 8 {
            break;
        }
    }
    if digits == 0 || digits > 19 {
        return None;
    }
    let (blocks, tail) = data[..digits].as_chunks::<8>();
    let value = blocks
        .iter()
        .fold(0, |acc, block| acc * 100_000_000 + eight_digits(*block));
    Some(
        tail.iter()
            .fold(value, |acc, &digit| acc * 10 + u64::from(digit - b'0')),
    )
}

/// How many of the eight bytes of `block` (little-endian, so the first byte
/// lowest) are ASCII digits before the first that is not.
fn leading_digits(block: u64) -> usize {
    const LOW: u64 = 0x0606_0606_0606_0606;
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // A digit's byte becomes 0..=9: nothing in its high nibble, before or
    // after adding 6. Any other byte shows in one of the two; a carry out of
    // such a byte only spoils the bytes after it, never the first.
    let shifted = block ^ 0x3030_3030_3030_3030;
    let not_digits = (shifted | shifted.wrapping_add(LOW)) & HIGH_NIBBLES;
    (not_digits.trailing_zeros() / 8) as usize
}

/// The value of eight ASCII digits, the first the most significant.
fn eight_digits(block: [u8; 8]) -> u64 {
    let mut v = u64::from_le_bytes(block) - 0x3030_3030_3030_3030;
    v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v * 10_000 + (v >> 32)) & 0xFFFF_FFFF
}

/// The body of `/stats`.
///
/// ```
/// assert_eq!(ssekit_bench::stats_body(3), r#"{"subscribers":3}"#);
/// ```
#[must_use]
pub fn stats_body(subscribers: usize) -> String {
    format!(r#"{{"subscribers":{subscribers}}}"#)
}

/// warp's raw query string, or `None` when the request has none: the
/// contract's `/stream` and `/publish` take theirs from it, on both warp
/// servers.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let query = ssekit_bench::warp_query();
/// let with = warp::test::request().path("/stream?n=3").filter(&query).await;
/// assert_eq!(with.unwrap(), Some("n=3".to_owned()));
/// let without = warp::test::request().path("/stream").filter(&query).await;
/// assert_eq!(without.unwrap(), None);
/// # });
/// ```
pub fn warp_query()
-> impl warp::Filter<Extract = (Option<String>,), Error = std::convert::Infallible> + Clone {
    use warp::Filter as _;
    warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify()
}

/// Which framework a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// axum 0.8.
    Axum,
    /// actix-web 4.
    Actix,
    /// warp 0.4.
    Warp,
}

impl Adapter {
    /// Every adapter, in the order the bench runs them.
    pub const ALL: [Adapter; 3] = [Adapter::Axum, Adapter::Actix, Adapter::Warp];

    /// The name used on the command line and in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Adapter::Axum => "axum",
            Adapter::Actix => "actix",
            Adapter::Warp => "warp",
        }
    }
}

impl fmt::Display for Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The command line of both servers: `--adapter <axum|actix|warp> --port P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerArgs {
    /// The framework.
    pub adapter: Adapter,
    /// The loopback port to listen on.
    pub port: u16,
}

impl ServerArgs {
    /// Parses the arguments after the program name.
    ///
    /// ```
    /// use ssekit_bench::{Adapter, ServerArgs};
    /// let args = ServerArgs::parse(["--adapter", "warp", "--port", "4000"].map(String::from))?;
    /// assert_eq!(args, ServerArgs { adapter: Adapter::Warp, port: 4000 });
    /// assert!(ServerArgs::parse(["--adapter", "rocket"].map(String::from)).is_err());
    /// # Ok::<(), String>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A usage message when an argument is missing, unknown or malformed.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        const USAGE: &str = "usage: --adapter <axum|actix|warp> --port <port>";
        let mut adapter = None;
        let mut port = None;
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
            match flag.as_str() {
                "--adapter" => {
                    adapter = Some(match value.as_str() {
                        "axum" => Adapter::Axum,
                        "actix" => Adapter::Actix,
                        "warp" => Adapter::Warp,
                        other => return Err(format!("unknown adapter `{other}`; {USAGE}")),
                    });
                }
                "--port" => {
                    port = Some(
                        value
                            .parse()
                            .map_err(|_| format!("bad port `{value}`; {USAGE}"))?,
                    );
                }
                other => return Err(format!("unknown argument `{other}`; {USAGE}")),
            }
        }
        match (adapter, port) {
            (Some(adapter), Some(port)) => Ok(Self { adapter, port }),
            _ => Err(USAGE.to_owned()),
        }
    }

    /// The address to listen on: loopback only.
    #[must_use]
    pub fn addr(self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

/// What the load client measured on one server: written by `load`, read by
/// `report`.
pub mod results {
    use serde::{Deserialize, Serialize};

    /// Every measurement of one server run.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Results {
        /// `/stream` on one connection.
        pub stream: StreamResult,
        /// Resident memory the server added per idle `/sub` connection.
        pub idle_bytes_per_conn: f64,
        /// How many idle connections that was measured over.
        pub idle_connections: usize,
        /// Bursts, one per subscriber count.
        pub bursts: Vec<BurstResult>,
        /// The steady rate.
        pub steady: BurstResult,
    }

    /// `/stream`: events per second, request to last byte.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct StreamResult {
        /// Events received.
        pub events: u64,
        /// Events asked for.
        pub expected: u64,
        /// Request to last byte.
        pub secs: f64,
        /// `events / secs`.
        pub events_per_sec: f64,
        /// The server's write system calls meanwhile (`syscw` of
        /// `/proc/PID/io`: `write` and `writev`).
        #[serde(default)]
        pub server_writes: u64,
        /// Bytes those calls wrote (`wchar`).
        #[serde(default)]
        pub server_write_bytes: u64,
        /// CPU time (user + system) the server spent meanwhile.
        #[serde(default)]
        pub server_cpu_secs: f64,
        /// CPU time the load client spent meanwhile: near the elapsed
        /// time, the client is what limits the figure.
        #[serde(default)]
        pub client_cpu_secs: f64,
    }

    /// Events published to a set of subscribers, as a burst or at a rate.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct BurstResult {
        /// Subscribers asked for.
        pub subscribers: usize,
        /// Subscribers whose stream opened.
        pub connected: usize,
        /// Events published.
        pub events_each: usize,
        /// `subscribers × events_each`.
        pub expected: u64,
        /// Events received, over all subscribers.
        pub delivered: u64,
        /// Subscribers whose stream ended (or never opened) before they had
        /// every event.
        pub closed: usize,
        /// Deliveries expected but never received, closed or not.
        pub lost: u64,
        /// From the publish request to the last event received.
        pub secs: f64,
        /// `delivered / secs`.
        pub deliveries_per_sec: f64,
        /// Latency (arrival minus publish time), median, in ms.
        pub p50_ms: f64,
        /// Latency, 99th percentile, in ms.
        pub p99_ms: f64,
        /// Latency, worst, in ms.
        pub max_ms: f64,
        /// CPU time (user + system) the server spent meanwhile.
        pub server_cpu_secs: f64,
        /// `server_cpu_secs` per million deliveries.
        pub cpu_secs_per_million: f64,
        /// CPU time the load client spent meanwhile.
        pub client_cpu_secs: f64,
        /// The server's write system calls meanwhile.
        #[serde(default)]
        pub server_writes: u64,
        /// Bytes those calls wrote.
        #[serde(default)]
        pub server_write_bytes: u64,
    }
}

/// A bench server's `main`: parses its arguments and serves them with the
/// app of the adapter they name, axum and warp on tokio's multi-threaded
/// runtime (what `#[tokio::main]` builds), actix-web on its own `System`.
/// `name` prefixes the errors.
pub fn run_server<A, W, X>(
    name: &str,
    axum: impl FnOnce(ServerArgs) -> A,
    warp: impl FnOnce(ServerArgs) -> W,
    actix: impl FnOnce(ServerArgs) -> X,
) -> std::process::ExitCode
where
    A: std::future::Future<Output = std::io::Result<()>>,
    W: std::future::Future<Output = std::io::Result<()>>,
    X: std::future::Future<Output = std::io::Result<()>>,
{
    let args = match ServerArgs::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{name}: {usage}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    let served = match args.adapter {
        Adapter::Axum => runtime().and_then(|rt| rt.block_on(axum(args))),
        Adapter::Warp => runtime().and_then(|rt| rt.block_on(warp(args))),
        Adapter::Actix => actix_web::rt::System::new().block_on(actix(args)),
    };
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{name}: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::leading_nanos;

    /// The digit-by-digit reading the eight-at-a-time one replaced.
    fn by_digit(data: &[u8]) -> Option<u64> {
        let digits = data.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 19 {
            return None;
        }
        data[..digits].iter().try_fold(0u64, |acc, &digit| {
            acc.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
    }

    #[test]
    fn reads_what_a_digit_by_digit_reading_does() {
        // Every byte after every length of a digit run, the run from a
        // number that uses all ten digits, so a wrong place value shows.
        let run = b"9081726354637281900123";
        for len in 0..=run.len() {
            assert_eq!(leading_nanos(&run[..len]), by_digit(&run[..len]));
            for after in 0..=u8::MAX {
                for pad in [&b""[..], b" pppp", b"1234567"] {
                    let mut data = run[..len].to_vec();
                    data.push(after);
                    data.extend_from_slice(pad);
                    assert_eq!(leading_nanos(&data), by_digit(&data), "{data:?}");
                }
            }
        }
        // A byte that is not a digit in every place of a long run of
        // digits: the run ends there.
        for at in 0..20 {
            for bad in [b'/', b':', b' ', 0, 0x80, 0xFF, b'a'] {
                let mut data = b"1111111111111111111111".to_vec();
                data[at] = bad;
                assert_eq!(leading_nanos(&data), by_digit(&data), "{data:?}");
            }
        }
        let now = super::unix_nanos().to_string();
        assert_eq!(leading_nanos(now.as_bytes()), now.parse().ok());
        assert_eq!(
            leading_nanos(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
    }
}
