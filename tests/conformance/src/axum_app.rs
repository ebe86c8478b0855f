//! The scenarios on axum, with `ssekit-axum`'s `Sse`, `LastEventId`,
//! `Disconnect` and `StopReconnecting`, and `SseLayer` inside tower-http's
//! compression, as the adapter's docs show.

use std::future::IntoFuture;
use std::io;
use std::net::Ipv4Addr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use ssekit::hub::Hub;
use ssekit_axum::{Disconnect, Farewell, LastEventId, Sse, SseLayer, StopReconnecting};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;

use crate::Options;
use crate::hub::{self, HubError};
use crate::params::{
    BadRequest, EchoParams, EventsParams, IdleParams, LastEventIdParams, ProbeParams, TicksParams,
};
use crate::scenarios::{self, Events, EventsReply, Fault, FaultEvents, Plan, Probes, StatusReply};
use crate::server::{Always, BROWSER_PAGE, DRAIN_LIMIT, announce, termination};

/// Serves the scenarios on 127.0.0.1:`port` until SIGTERM or SIGINT.
pub(crate) async fn serve(options: &Options) -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port)).await?;
    let addr = listener.local_addr()?;
    let sse = SseLayer::new();
    let shutdown = sse.shutdown_handle();
    let hub = hub::build(options).map_err(io::Error::other)?;
    let app = app(sse, hub);

    let signal = termination()?;
    announce(addr)?;
    let serve = axum::serve(ssekit_axum::tuned(listener), app.into_make_service())
        .with_graceful_shutdown(shutdown.clone().trigger_after(signal, Farewell::new()));
    shutdown
        .bounded(serve.into_future(), DRAIN_LIMIT)
        .await
        .unwrap_or_else(|| {
            eprintln!(
                "conformance-server (axum): connections still open {DRAIN_LIMIT:?} after the signal; exiting"
            );
            Ok(())
        })
}

/// What the handlers share: the probe registry and the hub.
#[derive(Clone)]
struct AppState {
    probes: Probes,
    hub: Hub,
}

impl FromRef<AppState> for Probes {
    fn from_ref(state: &AppState) -> Self {
        state.probes.clone()
    }
}

impl FromRef<AppState> for Hub {
    fn from_ref(state: &AppState) -> Self {
        state.hub.clone()
    }
}

fn app(sse: SseLayer, hub: Hub) -> Router {
    Router::new()
        .route("/events", get(events))
        .route("/echo", get(echo))
        .route("/idle", get(idle))
        .route("/ticks", get(ticks))
        .route("/last-event-id", get(last_event_id))
        .route("/probe", get(probe))
        .route("/probe/status", get(probe_status))
        .route("/status/{code}", get(status))
        .route("/hub/subscribe", get(hub_subscribe))
        .route("/hub/publish", post(hub_publish))
        .route("/hub/stats", get(hub_stats))
        .route("/browser", get(|| async { Html(BROWSER_PAGE) }))
        .route("/fault/error", get(fault_error))
        .route("/fault/panic", get(fault_panic))
        .with_state(AppState {
            probes: Probes::default(),
            hub,
        })
        // The SSE layer inside the compression layer (added first), so
        // compression sees each stream's `Content-Encoding: identity`.
        .layer(sse)
        .layer(CompressionLayer::new().compress_when(Always))
}

/// A plan as the adapter's `Sse`.
fn sse(plan: Plan) -> Sse<Events> {
    let sse = Sse::new(plan.events).heartbeat(plan.heartbeat);
    match plan.retry {
        Some(retry) => sse.retry(retry),
        None => sse,
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.0).into_response()
    }
}

async fn events(
    RawQuery(query): RawQuery,
    last: Option<LastEventId>,
) -> Result<Response, BadRequest> {
    let params = EventsParams::parse(query.as_deref())?;
    Ok(match scenarios::events(&params, last.as_deref()) {
        EventsReply::Stream(plan) => sse(plan).into_response(),
        EventsReply::StopReconnecting => StopReconnecting.into_response(),
    })
}

async fn echo(RawQuery(query): RawQuery) -> Result<Sse<Events>, BadRequest> {
    Ok(sse(scenarios::echo(&EchoParams::parse(query.as_deref())?)?))
}

async fn idle(RawQuery(query): RawQuery) -> Result<Sse<Events>, BadRequest> {
    Ok(sse(scenarios::idle(&IdleParams::parse(query.as_deref())?)))
}

async fn ticks(RawQuery(query): RawQuery) -> Result<Sse<Events>, BadRequest> {
    Ok(sse(scenarios::ticks(&TicksParams::parse(
        query.as_deref(),
    )?)))
}

async fn last_event_id(
    RawQuery(query): RawQuery,
    last: Option<LastEventId>,
) -> Result<Sse<Events>, BadRequest> {
    let params = LastEventIdParams::parse(query.as_deref())?;
    Ok(sse(scenarios::last_event_id(&params, last.as_deref())?))
}

async fn probe(
    State(probes): State<Probes>,
    RawQuery(query): RawQuery,
    disconnect: Disconnect,
) -> Result<Sse<Events>, BadRequest> {
    let params = ProbeParams::parse(query.as_deref())?;
    Ok(sse(scenarios::probe(&params, &probes, &disconnect)))
}

async fn probe_status(
    State(probes): State<Probes>,
    RawQuery(query): RawQuery,
) -> Result<Response, BadRequest> {
    let token = crate::params::probe_status_token(query.as_deref())?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        probes.status_json(&token),
    )
        .into_response())
}

async fn status(Path(code): Path<String>) -> Result<Response, BadRequest> {
    Ok(match scenarios::status(&code)? {
        StatusReply::StopReconnecting => StopReconnecting.into_response(),
        StatusReply::Empty(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
    })
}

async fn hub_subscribe(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    last: Option<LastEventId>,
) -> Result<Response, HubError> {
    let last = last.as_deref().map(ssekit::LastEventId::as_str);
    let subscription = hub::subscribe(&hub, query.as_deref(), last).await?;
    Ok(Sse::new(subscription).into_response())
}

async fn hub_publish(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, HubError> {
    let id = hub::publish(&hub, query.as_deref(), &body).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], id).into_response())
}

async fn hub_stats(State(hub): State<Hub>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        hub::stats(&hub),
    )
        .into_response()
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let (code, body) = self.reply();
        (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response()
    }
}

async fn fault_error(
    RawQuery(query): RawQuery,
    disconnect: Disconnect,
) -> Result<Sse<FaultEvents>, BadRequest> {
    scenarios::fault(Fault::Error, query.as_deref(), &disconnect).map(Sse::new)
}

async fn fault_panic(
    RawQuery(query): RawQuery,
    disconnect: Disconnect,
) -> Result<Sse<FaultEvents>, BadRequest> {
    scenarios::fault(Fault::Panic, query.as_deref(), &disconnect).map(Sse::new)
}
