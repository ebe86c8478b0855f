//! The scenarios on actix-web, with `ssekit-actix`'s `Sse` responder,
//! `SseConfig` in `app_data`, the `LastEventId` and `Disconnect`
//! extractors, `StopReconnecting` and `stop_on`, behind
//! `middleware::Compress`, as the adapter's docs show.

use std::io;
use std::net::Ipv4Addr;

use actix_web::http::StatusCode;
use actix_web::middleware::Compress;
use actix_web::{App, Either, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use ssekit::hub::{Hub, Subscription};
use ssekit_actix::{Disconnect, Farewell, LastEventId, Sse, SseConfig, StopReconnecting};

use crate::Options;
use crate::hub::{self, HubError};
use crate::params::{
    BadRequest, EchoParams, EventsParams, IdleParams, LastEventIdParams, ProbeParams, TicksParams,
};
use crate::scenarios::{self, Events, EventsReply, Fault, FaultEvents, Plan, Probes, StatusReply};
use crate::server::{BROWSER_PAGE, DRAIN_LIMIT, announce, termination};

/// Serves the scenarios on 127.0.0.1:`port` until SIGTERM or SIGINT. Runs
/// inside an actix `System`.
pub(crate) async fn serve(options: &Options) -> io::Result<()> {
    // Tuned once, for every connection it accepts (TCP_NODELAY, a user
    // timeout): the vanished-client cases check the inheritance.
    let listener = ssekit_actix::tuned(std::net::TcpListener::bind((
        Ipv4Addr::LOCALHOST,
        options.port,
    ))?);
    let addr = listener.local_addr()?;
    let sse = SseConfig::new();
    let shutdown = sse.shutdown_handle();
    let probes = web::Data::new(Probes::default());
    let hub = web::Data::new(hub::build(options).map_err(io::Error::other)?);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(sse.clone())
            .app_data(probes.clone())
            .app_data(hub.clone())
            .wrap(Compress::default())
            .route("/events", web::get().to(events))
            .route("/echo", web::get().to(echo))
            .route("/idle", web::get().to(idle))
            .route("/ticks", web::get().to(ticks))
            .route("/last-event-id", web::get().to(last_event_id))
            .route("/probe", web::get().to(probe))
            .route("/probe/status", web::get().to(probe_status))
            .route("/status/{code}", web::get().to(status))
            .route("/hub/subscribe", web::get().to(hub_subscribe))
            .route("/hub/publish", web::post().to(hub_publish))
            .route("/hub/stats", web::get().to(hub_stats))
            .route("/browser", web::get().to(browser_page))
            .route("/fault/error", web::get().to(fault_error))
            .route("/fault/panic", web::get().to(fault_panic))
    })
    // Notices a client that closed its socket at once.
    .h1_allow_half_closed(false)
    // Our own signal handling, so the streams end before the stop.
    .disable_signals()
    // The streams are ended first, so this bound is for anything else.
    .shutdown_timeout(DRAIN_LIMIT.as_secs())
    .listen(listener)?
    .run();
    let signal = termination()?;
    actix_web::rt::spawn(ssekit_actix::stop_on(
        signal,
        server.handle(),
        shutdown,
        Farewell::new(),
    ));
    announce(addr)?;
    server.await
}

/// A plan as the adapter's `Sse`.
fn sse(plan: Plan) -> Sse<Events> {
    let sse = Sse::new(plan.events).heartbeat(plan.heartbeat);
    match plan.retry {
        Some(retry) => sse.retry(retry),
        None => sse,
    }
}

impl ResponseError for BadRequest {
    fn status_code(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

async fn events(
    request: HttpRequest,
    last: Option<LastEventId>,
) -> Result<Either<Sse<Events>, StopReconnecting>, BadRequest> {
    let params = EventsParams::parse(Some(request.query_string()))?;
    Ok(match scenarios::events(&params, last.as_deref()) {
        EventsReply::Stream(plan) => Either::Left(sse(plan)),
        EventsReply::StopReconnecting => Either::Right(StopReconnecting),
    })
}

async fn echo(request: HttpRequest) -> Result<Sse<Events>, BadRequest> {
    Ok(sse(scenarios::echo(&EchoParams::parse(Some(
        request.query_string(),
    ))?)?))
}

async fn idle(request: HttpRequest) -> Result<Sse<Events>, BadRequest> {
    Ok(sse(scenarios::idle(&IdleParams::parse(Some(
        request.query_string(),
    ))?)))
}

async fn ticks(request: HttpRequest) -> Result<Sse<Events>, BadRequest> {
    Ok(sse(scenarios::ticks(&TicksParams::parse(Some(
        request.query_string(),
    ))?)))
}

async fn last_event_id(
    request: HttpRequest,
    last: Option<LastEventId>,
) -> Result<Sse<Events>, BadRequest> {
    let params = LastEventIdParams::parse(Some(request.query_string()))?;
    Ok(sse(scenarios::last_event_id(&params, last.as_deref())?))
}

async fn probe(
    request: HttpRequest,
    probes: web::Data<Probes>,
    disconnect: Disconnect,
) -> Result<Sse<Events>, BadRequest> {
    let params = ProbeParams::parse(Some(request.query_string()))?;
    Ok(sse(scenarios::probe(&params, &probes, &disconnect)))
}

async fn probe_status(
    request: HttpRequest,
    probes: web::Data<Probes>,
) -> Result<HttpResponse, BadRequest> {
    let token = crate::params::probe_status_token(Some(request.query_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(probes.status_json(&token)))
}

async fn status(
    code: web::Path<String>,
) -> Result<Either<StopReconnecting, HttpResponse>, BadRequest> {
    Ok(match scenarios::status(&code)? {
        StatusReply::StopReconnecting => Either::Left(StopReconnecting),
        StatusReply::Empty(code) => Either::Right(HttpResponse::new(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )),
    })
}

async fn hub_subscribe(
    request: HttpRequest,
    hub: web::Data<Hub>,
    last: Option<LastEventId>,
) -> Result<Sse<Subscription>, HubError> {
    let last = last.as_deref().map(ssekit::LastEventId::as_str);
    let subscription = hub::subscribe(&hub, Some(request.query_string()), last).await?;
    Ok(Sse::new(subscription))
}

async fn hub_publish(
    request: HttpRequest,
    hub: web::Data<Hub>,
    body: web::Bytes,
) -> Result<HttpResponse, HubError> {
    let id = hub::publish(&hub, Some(request.query_string()), &body).await?;
    Ok(HttpResponse::Ok().content_type("application/json").body(id))
}

async fn hub_stats(hub: web::Data<Hub>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(hub::stats(&hub))
}

impl ResponseError for HubError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.reply().0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

async fn browser_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(BROWSER_PAGE)
}

async fn fault_error(
    request: HttpRequest,
    disconnect: Disconnect,
) -> Result<Sse<FaultEvents>, BadRequest> {
    scenarios::fault(Fault::Error, Some(request.query_string()), &disconnect).map(Sse::new)
}

async fn fault_panic(
    request: HttpRequest,
    disconnect: Disconnect,
) -> Result<Sse<FaultEvents>, BadRequest> {
    scenarios::fault(Fault::Panic, Some(request.query_string()), &disconnect).map(Sse::new)
}
