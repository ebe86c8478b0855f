//! ssekit's bench server (`shared/bench/CONTRACT.md`): one app per adapter,
//! each written the way the README's quick start shows a user, with the hub
//! behind `/sub` and nothing tuned beyond what ssekit ships by default.
//!
//! `bench-server --adapter <axum|actix|warp> --port P`

use std::process::ExitCode;

use futures_util::{Stream, StreamExt, stream};
use ssekit::Event;
use ssekit::hub::{Hub, PublishError, Subscription};
use ssekit_bench::{Params, ServerArgs, TOPIC, publish_payload, stats_body, stream_data};

fn main() -> ExitCode {
    ssekit_bench::run_server(
        "bench-server",
        axum_app::serve,
        warp_app::serve,
        actix_app::serve,
    )
}

/// `/stream`: `n` events, each with an id and `size` bytes of data.
fn numbered(params: Params) -> impl Stream<Item = Event> + Send + 'static {
    let data = stream_data(params.size);
    stream::iter((0..).take(params.n)).map(move |i| Event::default().id_u64(i).data(&data))
}

/// `/publish`: `n` timestamped events, as fast as the hub takes them.
async fn publish(hub: &Hub, params: Params) -> Result<(), PublishError> {
    for _ in 0..params.n {
        hub.publish(TOPIC, Event::default().data(publish_payload(params.size)))
            .await?;
    }
    Ok(())
}

mod axum_app {
    use axum::Router;
    use axum::extract::{RawQuery, State};
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use ssekit_axum::{Sse, SseLayer};

    use super::{Hub, Params, ServerArgs, Subscription, TOPIC};

    pub(super) async fn serve(args: ServerArgs) -> std::io::Result<()> {
        let app = Router::new()
            .route("/stream", get(stream))
            .route("/sub", get(sub))
            .route("/publish", post(publish))
            .route("/stats", get(stats))
            .with_state(Hub::new())
            .layer(SseLayer::new());
        let listener = tokio::net::TcpListener::bind(args.addr()).await?;
        axum::serve(ssekit_axum::tuned(listener), app.into_make_service()).await
    }

    async fn stream(RawQuery(query): RawQuery) -> impl IntoResponse {
        Sse::new(super::numbered(Params::parse(query.as_deref())))
    }

    async fn sub(State(hub): State<Hub>) -> Result<Sse<Subscription>, StatusCode> {
        match hub.subscribe(TOPIC, None).await {
            Ok(subscription) => Ok(Sse::new(subscription)),
            Err(_) => Err(StatusCode::SERVICE_UNAVAILABLE),
        }
    }

    async fn publish(State(hub): State<Hub>, RawQuery(query): RawQuery) -> StatusCode {
        match super::publish(&hub, Params::parse(query.as_deref())).await {
            Ok(()) => StatusCode::OK,
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    async fn stats(State(hub): State<Hub>) -> impl IntoResponse {
        (
            [(header::CONTENT_TYPE, "application/json")],
            super::stats_body(hub.stats().subscribers),
        )
    }
}

mod actix_app {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    use ssekit_actix::{Sse, SseConfig};

    use super::{Hub, Params, ServerArgs, Subscription, TOPIC};

    pub(super) async fn serve(args: ServerArgs) -> std::io::Result<()> {
        let hub = Hub::new();
        let sse = SseConfig::new();
        HttpServer::new(move || {
            App::new()
                .app_data(sse.clone())
                .app_data(web::Data::new(hub.clone()))
                .route("/stream", web::get().to(stream))
                .route("/sub", web::get().to(sub))
                .route("/publish", web::post().to(publish))
                .route("/stats", web::get().to(stats))
        })
        .h1_allow_half_closed(false)
        .listen(ssekit_actix::tuned(std::net::TcpListener::bind(
            args.addr(),
        )?))?
        .run()
        .await
    }

    async fn stream(request: HttpRequest) -> Sse<impl futures_util::Stream<Item = ssekit::Event>> {
        Sse::new(super::numbered(Params::parse(Some(request.query_string()))))
    }

    async fn sub(hub: web::Data<Hub>) -> actix_web::Result<Sse<Subscription>> {
        hub.subscribe(TOPIC, None)
            .await
            .map(Sse::new)
            .map_err(actix_web::error::ErrorServiceUnavailable)
    }

    async fn publish(hub: web::Data<Hub>, request: HttpRequest) -> HttpResponse {
        match super::publish(&hub, Params::parse(Some(request.query_string()))).await {
            Ok(()) => HttpResponse::Ok().finish(),
            Err(_) => HttpResponse::ServiceUnavailable().finish(),
        }
    }

    async fn stats(hub: web::Data<Hub>) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(super::stats_body(hub.stats().subscribers))
    }
}

mod warp_app {
    use ssekit_warp::{Sse, SseConfig};
    use warp::Filter;
    use warp::http::StatusCode;

    use super::{Hub, Params, ServerArgs, TOPIC};

    pub(super) async fn serve(args: ServerArgs) -> std::io::Result<()> {
        let hub = Hub::new();
        let config = SseConfig::new();
        let stream = warp::path("stream")
            .and(warp::get())
            .and(ssekit_bench::warp_query())
            .map({
                let config = config.clone();
                move |query: Option<String>| {
                    Sse::new(super::numbered(Params::parse(query.as_deref()))).with_config(&config)
                }
            });
        let sub = warp::path("sub").and(warp::get()).and_then({
            let hub = hub.clone();
            move || {
                let hub = hub.clone();
                let config = config.clone();
                async move {
                    match hub.subscribe(TOPIC, None).await {
                        Ok(subscription) => Ok(Sse::new(subscription).with_config(&config)),
                        Err(_) => Err(warp::reject::not_found()),
                    }
                }
            }
        });
        let publish = warp::path("publish")
            .and(warp::post())
            .and(ssekit_bench::warp_query())
            .then({
                let hub = hub.clone();
                move |query: Option<String>| {
                    let hub = hub.clone();
                    async move {
                        match super::publish(&hub, Params::parse(query.as_deref())).await {
                            Ok(()) => StatusCode::OK,
                            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                        }
                    }
                }
            });
        let stats = warp::path("stats").and(warp::get()).map(move || {
            warp::reply::with_header(
                super::stats_body(hub.stats().subscribers),
                "content-type",
                "application/json",
            )
        });
        let listener = tokio::net::TcpListener::bind(args.addr()).await?;
        warp::serve(stream.or(sub).or(publish).or(stats))
            .incoming(ssekit_warp::tuned(listener))
            .run()
            .await;
        Ok(())
    }
}
