//! The scenarios on warp, with `ssekit-warp`'s `Sse` reply, its
//! `last_event_id` and `disconnect` filters and `stop_reconnecting`, served
//! as a tower service (`warp::service`) behind `SseLayer` and tower-http's
//! compression, on hyper-util's HTTP/1.1 + h2c connection builder.

use std::io;
use std::net::Ipv4Addr;
use std::pin::pin;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ssekit::hub::Hub;
use ssekit_tower::SseLayer;
use ssekit_warp::{Disconnect, Farewell, LastEventId, Sse};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::Options;
use crate::hub::{self, HubError};
use crate::params::{
    BadRequest, EchoParams, EventsParams, IdleParams, LastEventIdParams, ProbeParams, TicksParams,
};
use crate::scenarios::{self, Events, EventsReply, Fault, Plan, Probes, StatusReply};
use crate::server::{Always, BROWSER_PAGE, DRAIN_LIMIT, announce, termination};

/// Serves the scenarios on 127.0.0.1:`port` until SIGTERM or SIGINT.
pub(crate) async fn serve(options: &Options) -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port)).await?;
    let addr = listener.local_addr()?;
    let sse = SseLayer::new();
    let shutdown = sse.shutdown_handle();
    let hub = hub::build(options).map_err(io::Error::other)?;
    // Outermost first: compression, then the SSE layer, then warp.
    let service = ServiceBuilder::new()
        .layer(CompressionLayer::new().compress_when(Always))
        .layer(sse)
        .service(warp::service(routes(Probes::default(), hub)));
    let service = TowerToHyperService::new(service);
    // HTTP/1.1, and HTTP/2 with prior knowledge, on the same port.
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();

    let mut termination = pin!(termination()?);
    announce(addr)?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Out of file descriptors, say: try again shortly.
                        eprintln!("conformance-server (warp): accept failed: {err}");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // Each event leaves at once, without Nagle's delay, and a
                // client that vanished or never reads is let go in a minute.
                if let Err(err) = ssekit::tcp::tune(&stream) {
                    eprintln!("conformance-server (warp): could not tune the connection: {err}");
                }
                let connection = builder.serve_connection(TokioIo::new(stream), service.clone());
                let connection = graceful.watch(connection.into_owned());
                tokio::spawn(async move {
                    // A client that goes away mid-response is no server error.
                    let _ = connection.await;
                });
            }
            () = &mut termination => break,
        }
    }
    drop(listener);
    // End every stream cleanly, then let each connection finish its
    // responses and close.
    shutdown.trigger_with(Farewell::new());
    if tokio::time::timeout(DRAIN_LIMIT, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "conformance-server (warp): connections still open {DRAIN_LIMIT:?} after the signal; exiting"
        );
    }
    Ok(())
}

/// A plan as the adapter's `Sse`.
fn sse(plan: Plan) -> Sse<Events> {
    let sse = Sse::new(plan.events).heartbeat(plan.heartbeat);
    match plan.retry {
        Some(retry) => sse.retry(retry),
        None => sse,
    }
}

/// A 400 as `text/plain`, or the reply.
fn respond(result: Result<Response, BadRequest>) -> Response {
    result.unwrap_or_else(|BadRequest(message)| {
        warp::reply::with_status(message, StatusCode::BAD_REQUEST).into_response()
    })
}

/// The raw query string; `None` when the URL has none.
fn query() -> impl Filter<Extract = (Option<String>,), Error = std::convert::Infallible> + Clone {
    warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify()
}

/// A hub endpoint's error as `text/plain`, or the reply.
fn respond_hub(result: Result<Response, HubError>) -> Response {
    result.unwrap_or_else(|err| {
        let (code, body) = err.reply();
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        warp::reply::with_status(body, code).into_response()
    })
}

fn routes(
    probes: Probes,
    hub: Hub,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let probes = warp::any().map(move || probes.clone());
    let hub = warp::any().map(move || hub.clone());

    let events = warp::path!("events")
        .and(warp::get())
        .and(query())
        .and(ssekit_warp::last_event_id())
        .map(|query: Option<String>, last: Option<LastEventId>| {
            respond(EventsParams::parse(query.as_deref()).map(|params| {
                match scenarios::events(&params, last.as_ref()) {
                    EventsReply::Stream(plan) => sse(plan).into_response(),
                    EventsReply::StopReconnecting => {
                        ssekit_warp::stop_reconnecting().into_response()
                    }
                }
            }))
        });
    let echo = warp::path!("echo")
        .and(warp::get())
        .and(query())
        .map(|query: Option<String>| {
            respond(
                EchoParams::parse(query.as_deref())
                    .and_then(|params| scenarios::echo(&params))
                    .map(|plan| sse(plan).into_response()),
            )
        });
    let idle = warp::path!("idle")
        .and(warp::get())
        .and(query())
        .map(|query: Option<String>| {
            respond(
                IdleParams::parse(query.as_deref())
                    .map(|params| sse(scenarios::idle(&params)).into_response()),
            )
        });
    let ticks = warp::path!("ticks")
        .and(warp::get())
        .and(query())
        .map(|query: Option<String>| {
            respond(
                TicksParams::parse(query.as_deref())
                    .map(|params| sse(scenarios::ticks(&params)).into_response()),
            )
        });
    let last_event_id = warp::path!("last-event-id")
        .and(warp::get())
        .and(query())
        .and(ssekit_warp::last_event_id())
        .map(|query: Option<String>, last: Option<LastEventId>| {
            respond(
                LastEventIdParams::parse(query.as_deref())
                    .and_then(|params| scenarios::last_event_id(&params, last.as_ref()))
                    .map(|plan| sse(plan).into_response()),
            )
        });
    let probe = warp::path!("probe")
        .and(warp::get())
        .and(query())
        .and(probes.clone())
        .and(ssekit_warp::disconnect())
        .map(
            |query: Option<String>, probes: Probes, disconnect: Disconnect| {
                respond(ProbeParams::parse(query.as_deref()).map(|params| {
                    sse(scenarios::probe(&params, &probes, &disconnect)).into_response()
                }))
            },
        );
    let probe_status = warp::path!("probe" / "status")
        .and(warp::get())
        .and(query())
        .and(probes)
        .map(|query: Option<String>, probes: Probes| {
            respond(
                crate::params::probe_status_token(query.as_deref()).map(|token| {
                    warp::reply::with_header(
                        probes.status_json(&token),
                        "content-type",
                        "application/json",
                    )
                    .into_response()
                }),
            )
        });
    let status = warp::path!("status" / String)
        .and(warp::get())
        .map(|code: String| {
            respond(scenarios::status(&code).map(|reply| {
                match reply {
                    StatusReply::StopReconnecting => {
                        ssekit_warp::stop_reconnecting().into_response()
                    }
                    StatusReply::Empty(code) => warp::reply::with_status(
                        warp::reply(),
                        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    )
                    .into_response(),
                }
            }))
        });
    let hub_subscribe = warp::path!("hub" / "subscribe")
        .and(warp::get())
        .and(hub.clone())
        .and(query())
        .and(ssekit_warp::last_event_id())
        .then(
            |hub: Hub, query: Option<String>, last: Option<LastEventId>| async move {
                let last = last.as_ref().map(LastEventId::as_str);
                respond_hub(
                    hub::subscribe(&hub, query.as_deref(), last)
                        .await
                        .map(|subscription| Sse::new(subscription).into_response()),
                )
            },
        );
    let hub_publish = warp::path!("hub" / "publish")
        .and(warp::post())
        .and(hub.clone())
        .and(query())
        .and(warp::body::bytes())
        .then(
            |hub: Hub, query: Option<String>, body: bytes::Bytes| async move {
                respond_hub(hub::publish(&hub, query.as_deref(), &body).await.map(|id| {
                    warp::reply::with_header(id, "content-type", "application/json").into_response()
                }))
            },
        );
    let hub_stats = warp::path!("hub" / "stats")
        .and(warp::get())
        .and(hub)
        .map(|hub: Hub| {
            warp::reply::with_header(hub::stats(&hub), "content-type", "application/json")
                .into_response()
        });
    let fault = warp::path!("fault" / String)
        .and(warp::get())
        .and(query())
        .and(ssekit_warp::disconnect())
        .map(
            |kind: String, query: Option<String>, disconnect: Disconnect| {
                let kind = match kind.as_str() {
                    "error" => Fault::Error,
                    "panic" => Fault::Panic,
                    _ => return StatusCode::NOT_FOUND.into_response(),
                };
                respond(
                    scenarios::fault(kind, query.as_deref(), &disconnect)
                        .map(|events| Sse::new(events).into_response()),
                )
            },
        );
    let browser = warp::path!("browser")
        .and(warp::get())
        .map(|| warp::reply::html(BROWSER_PAGE).into_response());

    events
        .or(echo)
        .unify()
        .or(idle)
        .unify()
        .or(ticks)
        .unify()
        .or(last_event_id)
        .unify()
        .or(probe)
        .unify()
        .or(probe_status)
        .unify()
        .or(status)
        .unify()
        .or(hub_subscribe)
        .unify()
        .or(hub_publish)
        .unify()
        .or(hub_stats)
        .unify()
        .or(browser)
        .unify()
        .or(fault)
        .unify()
}
