//! The conformance server's apps, one per adapter, each written with that
//! adapter's public API the way its README shows a user.
//!
//! The contract is `shared/conformance/SCENARIOS.md`. What the endpoints
//! send is written once, framework-free: `params` parses and checks the
//! query parameters, `scenarios` builds the event streams (with ssekit's
//! public `Event` builder) and keeps the probe registry. Each adapter module
//! (`axum_app`, `actix_app`, `warp_app`) only routes requests there and
//! answers with its own `Sse`, extractors, "stop reconnecting" reply and
//! shutdown wiring. `hub` is the `/hub/*` endpoints' part: the server's
//! `ssekit::hub::Hub`, in process or on Redis (`--redis`).
//!
//! The binary is `conformance-server`:
//!
//! ```text
//! conformance-server --adapter <axum|actix|warp> [--port N] [--redis URL] [--hub-capacity N]
//! ```

use std::fmt;
use std::process::ExitCode;

mod actix_app;
mod axum_app;
mod hub;
mod params;
mod scenarios;
mod server;
mod warp_app;

/// How to run the binary, for error messages.
pub const USAGE: &str = "usage: conformance-server --adapter <axum|actix|warp> [--port N] [--redis URL] [--hub-capacity N]";

/// The web framework whose adapter serves the scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// axum, with `ssekit-axum` and `ssekit-tower`.
    Axum,
    /// actix-web, with `ssekit-actix`.
    Actix,
    /// warp, with `ssekit-warp`, served through tower and hyper-util.
    Warp,
}

impl fmt::Display for Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Axum => "axum",
            Self::Actix => "actix",
            Self::Warp => "warp",
        })
    }
}

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--adapter`.
    pub adapter: Adapter,
    /// `--port` (0: the OS picks).
    pub port: u16,
    /// `--redis`: the Redis backplane's URL.
    pub redis: Option<String>,
    /// `--hub-capacity`: events kept per topic for replay (default 1024).
    pub hub_capacity: usize,
}

impl Options {
    /// Parses the arguments after the program's name. Each option takes
    /// its value as the next argument or after `=`.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong, for standard error (with [`USAGE`]).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut adapter = None;
        let mut port = 0;
        let mut redis = None;
        let mut hub_capacity = 1024;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => {
                    (name.to_owned(), Some(value.to_owned()))
                }
                _ => (arg, None),
            };
            if name == "--help" || name == "-h" {
                return Err("help".to_owned());
            }
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match name.as_str() {
                "--adapter" => {
                    adapter = Some(match value()?.as_str() {
                        "axum" => Adapter::Axum,
                        "actix" => Adapter::Actix,
                        "warp" => Adapter::Warp,
                        other => {
                            return Err(format!("unknown adapter {other:?}: axum, actix or warp"));
                        }
                    });
                }
                "--port" => {
                    let text = value()?;
                    port = text
                        .parse()
                        .map_err(|_| format!("--port: expected a port number, got {text:?}"))?;
                }
                "--redis" => redis = Some(value()?),
                "--hub-capacity" => {
                    let text = value()?;
                    hub_capacity =
                        text.parse()
                            .ok()
                            .filter(|&n: &usize| n > 0)
                            .ok_or_else(|| {
                                format!("--hub-capacity: expected a positive number, got {text:?}")
                            })?;
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Self {
            adapter: adapter.ok_or("--adapter is required")?,
            port,
            redis,
            hub_capacity,
        })
    }
}

/// Serves the scenarios until SIGTERM or SIGINT, then shuts down
/// gracefully. Exit status: 0 after a graceful shutdown, 1 when the server
/// fails.
pub fn run(options: &Options) -> ExitCode {
    let served = match options.adapter {
        Adapter::Axum | Adapter::Warp => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .and_then(|runtime| {
                runtime.block_on(async {
                    if options.adapter == Adapter::Axum {
                        axum_app::serve(options).await
                    } else {
                        warp_app::serve(options).await
                    }
                })
            }),
        // actix-web runs its own runtime (a `System`), on tokio.
        Adapter::Actix => actix_web::rt::System::new().block_on(actix_app::serve(options)),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("conformance-server ({}): {err}", options.adapter);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|&s| s.to_owned()))
    }

    #[test]
    fn options() {
        let options = parse(&["--adapter", "warp", "--port=8080", "--hub-capacity", "3"]).unwrap();
        assert_eq!(options.adapter, Adapter::Warp);
        assert_eq!(
            (options.port, options.hub_capacity, options.redis),
            (8080, 3, None)
        );
        assert_eq!(parse(&["--adapter", "actix"]).unwrap().port, 0);
        assert!(parse(&[]).is_err());
        assert!(parse(&["--adapter", "rocket"]).is_err());
        assert!(parse(&["--adapter", "axum", "--port"]).is_err());
        assert!(parse(&["--adapter", "axum", "--hub-capacity", "0"]).is_err());
        assert!(parse(&["--adapter", "axum", "--bogus"]).is_err());
    }
}

/// The README's examples, for every adapter, compiled as doc tests here,
/// where every adapter is a dependency.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// The guide's pages (`docs/guide`), compiled as doc tests here for the
/// same reason: their snippets use every adapter, the hub and the Redis
/// backplane.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../../docs/guide/README.md")]
    struct Index;
    #[doc = include_str!("../../../docs/guide/production.md")]
    struct Production;
    #[doc = include_str!("../../../docs/guide/scaling.md")]
    struct Scaling;
    #[doc = include_str!("../../../docs/guide/slow-subscribers.md")]
    struct SlowSubscribers;
    #[doc = include_str!("../../../docs/guide/shutdown.md")]
    struct Shutdown;
    #[doc = include_str!("../../../docs/guide/migrating.md")]
    struct Migrating;
}
