//! The command line: argument parsing with clap, and the glue from the
//! arguments to [`tail`] and [`check`].
//!
//! [`run`] is the whole program behind a function, for tests and for tools
//! that embed it; it returns the [exit code](crate::exit).
//!
//! ```
//! use ssekit_cli::{cli, exit};
//!
//! // Bad arguments are a usage error, before anything is sent.
//! assert_eq!(cli::run(["ssekit", "check", "not a url"]), exit::USAGE);
//! assert_eq!(cli::run(["ssekit", "tail", "--count", "none", "http://127.0.0.1/"]), exit::USAGE);
//! ```

use std::ffi::OsString;
use std::io::{ErrorKind, IsTerminal, Write};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use http::HeaderMap;

use crate::check::{self, CheckOptions};
use crate::client::{Target, parse_header};
use crate::progress::Progress;
use crate::style::Style;
use crate::tail::{self, Format, TailOptions};
use crate::{Error, exit};

const EXIT_CODES: &str = "\
Exit codes:
  0  success: every check holds; tail reached --count, got 204, or ended cleanly
  1  check: at least one check failed (the table says which, and why)
  2  usage: a bad argument, URL or header
  3  no HTTP response: unreachable, connection refused, or no head within --timeout
  4  TLS handshake failed (not a TLS port, untrusted certificate, wrong name)
  5  tail: not an event stream (a status other than 200/204, or another Content-Type)
  6  tail: the stream broke (cut mid-event, or the connection lost) with no reconnection left
  7  the output could not be written";

/// Server-Sent Events from the command line: follow a stream like a
/// browser's `EventSource`, or check an endpoint against the wire rules.
#[derive(Debug, Parser)]
#[command(name = "ssekit", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// These doc comments are the `--help` text, where backticks would show.
#[allow(clippy::doc_markdown)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Follow an event stream and print each event as it arrives.
    ///
    /// Connects as a browser's EventSource does (Accept: text/event-stream),
    /// and when the stream ends, waits the reconnection time (3s, or what
    /// `retry:` said) and reconnects with Last-Event-ID. A 204 stops it.
    /// Events are printed readably (coloured on a terminal), as JSON lines
    /// with --json, or as the raw bytes with --raw; heartbeats and reconnects
    /// are dimmed.
    #[command(after_help = EXIT_CODES)]
    Tail(TailArgs),
    /// Check an endpoint against the wire-level rules and print a pass/fail table.
    ///
    /// Checks status and Content-Type, Cache-Control and X-Accel-Buffering,
    /// no Content-Length, no compression (it asks for gzip), a heartbeat
    /// within --heartbeat-within, prompt delivery (nothing held back and
    /// released in a batch), clean framing, a clean end, and resumption with
    /// Last-Event-ID. It watches the stream for --heartbeat-within plus a
    /// quarter. Exits 1 if any check fails, so it can run in CI.
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct Common {
    /// The endpoint: an http:// or https:// URL.
    url: String,
    /// An extra request header, `Name: value`; repeat for more.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The deadline for connecting and for each response head.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::duration::parse)]
    timeout: Duration,
    /// The largest event accepted, in bytes; a larger one is dropped and reported.
    #[arg(long, value_name = "BYTES", default_value_t = tail::DEFAULT_MAX_EVENT_SIZE)]
    max_event_size: usize,
}

impl Common {
    fn parse(&self) -> Result<(Target, HeaderMap), Error> {
        let target = Target::parse(&self.url)?;
        let mut headers = HeaderMap::new();
        for text in &self.headers {
            let (name, value) = parse_header(text)?;
            headers.append(name, value);
        }
        Ok((target, headers))
    }
}

#[derive(Debug, Args)]
struct TailArgs {
    #[command(flatten)]
    common: Common,
    /// The Last-Event-ID of the first connection.
    #[arg(long, value_name = "ID")]
    last_event_id: Option<String>,
    /// Print one JSON object per line: kind event (type, id, data), comment, retry, open, reconnect.
    #[arg(long, conflicts_with = "raw")]
    json: bool,
    /// Print the body's bytes as they arrive (control bytes escaped on a terminal).
    #[arg(long)]
    raw: bool,
    /// Stop after this many events.
    #[arg(short = 'n', long, value_name = "N")]
    count: Option<u64>,
    /// Reconnect at most this many times (default: without end).
    #[arg(long, value_name = "N")]
    max_reconnects: Option<u64>,
    /// Do not reconnect: the same as --max-reconnects 0.
    #[arg(long, conflicts_with = "max_reconnects")]
    no_reconnect: bool,
    /// The reconnection time until the server sends `retry:`.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = crate::duration::parse)]
    retry: Duration,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    common: Common,
    /// The longest silence allowed between heartbeats (or events).
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = crate::duration::parse)]
    heartbeat_within: Duration,
    /// Two or more events or heartbeats arriving together after this much
    /// silence count as held back (buffered).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = crate::duration::parse)]
    prompt_within: Duration,
    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the program with the process's arguments and returns its exit code.
#[must_use]
pub fn main() -> u8 {
    run(std::env::args_os())
}

/// Runs the program with `args` (the first is the program's name) and
/// returns its exit code; see [`exit`].
///
/// ```
/// use ssekit_cli::{cli, exit};
///
/// assert_eq!(cli::run(["ssekit", "tail", "ftp://example.com/"]), exit::USAGE);
/// assert_eq!(cli::run(["ssekit", "check"]), exit::USAGE); // no URL
/// ```
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            report_error(&Error::Output(err));
            return exit::OUTPUT;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Tail(args) => run_tail(&args).await,
            Command::Check(args) => run_check(&args).await,
        }
    });
    match result {
        Ok(code) => code,
        // `ssekit tail … | head` closes the pipe: that is an end, not an error.
        Err(Error::Output(err)) if err.kind() == ErrorKind::BrokenPipe => exit::OK,
        Err(err) => {
            report_error(&err);
            err.exit_code()
        }
    }
}

fn report_error(err: &Error) {
    let style = Style::for_stderr();
    eprintln!("{} {err}", style.red(&style.bold("error:")));
}

async fn run_tail(args: &TailArgs) -> Result<u8, Error> {
    let (target, headers) = args.common.parse()?;
    let mut options = TailOptions::new(target);
    options.headers = headers;
    options.last_event_id.clone_from(&args.last_event_id);
    options.format = if args.json {
        Format::Json
    } else if args.raw {
        Format::Raw {
            escape: std::io::stdout().is_terminal(),
        }
    } else {
        Format::Human(Style::for_stdout())
    };
    options.count = args.count;
    options.max_reconnects = if args.no_reconnect {
        Some(0)
    } else {
        args.max_reconnects
    };
    options.timeout = args.common.timeout;
    options.retry = args.retry;
    options.max_event_size = args.common.max_event_size;
    let progress = Progress::on_stderr();
    let mut stdout = std::io::stdout().lock();
    let outcome = tail::run_with(&options, &mut stdout, &progress).await;
    progress.clear();
    outcome.map(|_| exit::OK)
}

async fn run_check(args: &CheckArgs) -> Result<u8, Error> {
    let (target, headers) = args.common.parse()?;
    let mut options = CheckOptions::new(target);
    options.headers = headers;
    options.heartbeat_within = args.heartbeat_within;
    options.prompt_within = args.prompt_within;
    options.timeout = args.common.timeout;
    options.max_event_size = args.common.max_event_size;
    let progress = Progress::on_stderr();
    let report = check::run_with(&options, &progress).await;
    progress.clear();
    let report = report?;
    let text = if args.json {
        format!("{}\n", report.to_json())
    } else {
        report.render(Style::for_stdout())
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::Output)?;
    Ok(if report.passed() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_arguments_are_consistent() {
        Cli::command().debug_assert();
    }
}
