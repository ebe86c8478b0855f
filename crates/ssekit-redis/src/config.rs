//! How a [`RedisBackplane`](crate::RedisBackplane) is set up.

use std::fmt;
use std::time::Duration;

use crate::RedisBackplane;

/// The key prefix unless told otherwise: a topic `news` is the stream
/// `ssekit:news`.
pub const DEFAULT_PREFIX: &str = "ssekit:";

/// How many entries a stream keeps unless told otherwise (trimmed
/// approximately, `MAXLEN ~`).
pub const DEFAULT_MAXLEN: usize = 10_000;

/// How long the reader's `XREAD` blocks unless told otherwise.
pub const DEFAULT_BLOCK: Duration = Duration::from_secs(5);

/// How long a connection attempt or a command may take unless told
/// otherwise; past it, the call fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The first pause before reconnecting unless told otherwise.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(50);

/// The longest pause between reconnection attempts unless told otherwise.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Sets up a [`RedisBackplane`]. From [`RedisBackplane::builder`].
///
/// Building does not connect: the backplane connects when the hub first
/// uses it, and again whenever Redis comes back.
///
/// ```
/// use std::time::Duration;
/// use ssekit_redis::RedisBackplane;
///
/// let backplane = RedisBackplane::builder("redis://127.0.0.1:6379/0")
///     .prefix("chat:")
///     .maxlen(50_000)
///     .block(Duration::from_secs(2))
///     .timeout(Duration::from_millis(500))
///     .backoff(Duration::from_millis(20), Duration::from_secs(1))
///     .build()?;
/// assert_eq!(backplane.stream_key("room-1"), "chat:room-1");
/// # Ok::<(), ssekit_redis::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    url: String,
    config: Config,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) prefix: String,
    pub(crate) maxlen: usize,
    pub(crate) block: Duration,
    pub(crate) timeout: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
}

impl Builder {
    pub(crate) fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            config: Config {
                prefix: DEFAULT_PREFIX.to_owned(),
                maxlen: DEFAULT_MAXLEN,
                block: DEFAULT_BLOCK,
                timeout: DEFAULT_TIMEOUT,
                backoff_min: DEFAULT_BACKOFF_MIN,
                backoff_max: DEFAULT_BACKOFF_MAX,
            },
        }
    }

    /// What goes before a topic's name to make its stream key; default
    /// [`DEFAULT_PREFIX`]. Instances that share topics must share it.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// How many entries each stream keeps, at least; default
    /// [`DEFAULT_MAXLEN`]. Redis trims approximately (`MAXLEN ~`), so a
    /// stream may hold a few more.
    ///
    /// A client can resume after any id the stream still holds, on any
    /// instance. Keep it at least the hub's
    /// [`capacity`](ssekit::hub::HubBuilder::capacity): the hub's window
    /// answers recent resumes, the stream answers older ones, and one
    /// shorter than the window would only shorten how far back a fresh
    /// instance can replay.
    ///
    /// Give every instance that shares topics the same `maxlen`: a reader
    /// tells that entries were trimmed before it read them from a full
    /// batch (of up to 512 entries, never more than its own `maxlen`), so
    /// it relies on no instance trimming a stream shorter than that.
    pub fn maxlen(mut self, entries: usize) -> Self {
        self.config.maxlen = entries;
        self
    }

    /// How long the reader's `XREAD` waits for new entries before it asks
    /// again; default [`DEFAULT_BLOCK`]. A newly watched topic does not wait
    /// for it: the reader is woken with `CLIENT UNBLOCK`.
    pub fn block(mut self, block: Duration) -> Self {
        self.config.block = block;
        self
    }

    /// How long connecting, and any one command, may take; default
    /// [`DEFAULT_TIMEOUT`]. A publish while Redis is unreachable fails
    /// within it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// The reader's pauses between reconnection attempts: `min` first,
    /// doubling up to `max`, each with jitter; default
    /// [`DEFAULT_BACKOFF_MIN`] to [`DEFAULT_BACKOFF_MAX`].
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.backoff_min = min;
        self.config.backoff_max = max;
        self
    }

    /// The backplane, not yet connected.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the URL is not a Redis URL, `maxlen` is 0, the
    /// block time or the timeout is zero or longer than a day, or the
    /// backoff's `min` is zero or above its `max`.
    pub fn build(self) -> Result<RedisBackplane, ConfigError> {
        let Self { url, config } = self;
        let client = redis::Client::open(url.as_str())
            .map_err(|err| ConfigError(format!("{url:?} is not a Redis URL: {err}")))?;
        const DAY: Duration = Duration::from_secs(24 * 60 * 60);
        if config.maxlen == 0 {
            return Err(ConfigError(
                "maxlen is 0: a stream must keep at least one entry".to_owned(),
            ));
        }
        for (name, value) in [("block", config.block), ("timeout", config.timeout)] {
            if value.is_zero() || value > DAY {
                return Err(ConfigError(format!(
                    "{name} is {value:?}: give more than zero and at most a day"
                )));
            }
        }
        if config.backoff_min.is_zero() || config.backoff_min > config.backoff_max {
            return Err(ConfigError(format!(
                "backoff from {:?} to {:?}: give a min above zero and at most the max",
                config.backoff_min, config.backoff_max
            )));
        }
        Ok(RedisBackplane::from_parts(client, config))
    }
}

/// A [`Builder`] setting that cannot work; the message says which and why.
///
/// ```
/// let refused = ssekit_redis::RedisBackplane::builder("http://127.0.0.1").build();
/// assert!(refused.unwrap_err().to_string().contains("not a Redis URL"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}
