//! The peers' bench servers (`shared/bench/CONTRACT.md`): axum's built-in
//! `Sse`, actix-web-lab's `sse` and warp's `sse`, each written the way its
//! own documentation shows, fed by a `tokio::sync::broadcast` of capacity
//! 1024. A subscriber that lags gets `Lagged` from the broadcast, and, as in
//! the peers' examples, skips it: the load client counts the events it
//! never got.
//!
//! Each channel carries what its framework's event type borrows or clones
//! cheapest, so no peer pays for a copy our choice of message type forced
//! on it.
//!
//! `peer-server --adapter <axum|actix|warp> --port P`

use std::future::ready;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use ssekit_bench::{
    BROADCAST_CAPACITY, HEARTBEAT_SECS, Params, ServerArgs, publish_payload, stats_body,
    stream_data,
};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

fn main() -> ExitCode {
    ssekit_bench::run_server(
        "peer-server",
        axum_app::serve,
        warp_app::serve,
        actix_app::serve,
    )
}

/// One published message, its id already formatted: every subscriber
/// borrows both strings.
#[derive(Debug)]
struct Message {
    id: String,
    data: String,
}

/// The broadcast behind `/sub` and `/publish`, and the ids it hands out.
#[derive(Debug, Clone)]
struct Channel<T> {
    sender: broadcast::Sender<T>,
    next_id: Arc<AtomicU64>,
}

impl<T: Clone> Channel<T> {
    fn new() -> Self {
        Self {
            sender: broadcast::channel(BROADCAST_CAPACITY).0,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// `/publish`: `n` timestamped messages, as fast as the channel takes them.
    fn publish(&self, params: Params, make: impl Fn(String, String) -> T) {
        for _ in 0..params.n {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
            // No receiver is not an error here: nobody was listening.
            let _ = self.sender.send(make(id, publish_payload(params.size)));
        }
    }

    fn stats(&self) -> String {
        stats_body(self.sender.receiver_count())
    }

    /// A subscriber's messages, skipping `Lagged` as the peers' examples do.
    fn subscribe(&self) -> impl futures_util::Stream<Item = T> + use<T>
    where
        T: Send + 'static,
    {
        BroadcastStream::new(self.sender.subscribe()).filter_map(|message| ready(message.ok()))
    }
}

mod axum_app {
    use std::convert::Infallible;

    use axum::Router;
    use axum::extract::{RawQuery, State};
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::routing::{get, post};
    use futures_util::{StreamExt, stream};

    use super::{Arc, Channel, Duration, HEARTBEAT_SECS, Message, Params, ServerArgs, stream_data};

    type Shared = Channel<Arc<Message>>;

    pub(super) async fn serve(args: ServerArgs) -> std::io::Result<()> {
        let app = Router::new()
            .route("/stream", get(stream))
            .route("/sub", get(sub))
            .route("/publish", post(publish))
            .route("/stats", get(stats))
            .with_state(Shared::new());
        let listener = tokio::net::TcpListener::bind(args.addr()).await?;
        // Served as ssekit's server is, so that the two compare SSE, not
        // how the router is served (docs/BENCHMARKS.md, item 17).
        axum::serve(listener, app.into_make_service()).await
    }

    async fn stream(RawQuery(query): RawQuery) -> impl IntoResponse {
        let params = Params::parse(query.as_deref());
        let data = stream_data(params.size);
        let events = stream::iter(0..params.n)
            .map(move |i| Ok::<_, Infallible>(Event::default().id(i.to_string()).data(&data)));
        Sse::new(events)
    }

    async fn sub(State(channel): State<Shared>) -> impl IntoResponse {
        let events = channel.subscribe().map(|message| {
            Ok::<_, Infallible>(Event::default().id(&message.id).data(&message.data))
        });
        Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(HEARTBEAT_SECS)))
    }

    async fn publish(State(channel): State<Shared>, RawQuery(query): RawQuery) -> StatusCode {
        channel.publish(Params::parse(query.as_deref()), |id, data| {
            Arc::new(Message { id, data })
        });
        StatusCode::OK
    }

    async fn stats(State(channel): State<Shared>) -> impl IntoResponse {
        (
            [(header::CONTENT_TYPE, "application/json")],
            channel.stats(),
        )
    }
}

mod actix_app {
    use std::convert::Infallible;

    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, web};
    use actix_web_lab::sse;
    use futures_util::{StreamExt, stream};

    use super::{Channel, Duration, HEARTBEAT_SECS, Params, ServerArgs, stream_data};

    /// actix-web-lab's `Data` takes `ByteString`s, whose clones share bytes.
    type Shared = Channel<(bytestring::ByteString, bytestring::ByteString)>;

    pub(super) async fn serve(args: ServerArgs) -> std::io::Result<()> {
        let channel = Shared::new();
        HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(channel.clone()))
                .route("/stream", web::get().to(stream))
                .route("/sub", web::get().to(sub))
                .route("/publish", web::post().to(publish))
                .route("/stats", web::get().to(stats))
        })
        .bind(args.addr())?
        .run()
        .await
    }

    async fn stream(request: HttpRequest) -> impl Responder {
        let params = Params::parse(Some(request.query_string()));
        let data = bytestring::ByteString::from(stream_data(params.size));
        let events = stream::iter(0..params.n).map(move |i| {
            Ok::<_, Infallible>(sse::Event::Data(
                sse::Data::new(data.clone()).id(i.to_string()),
            ))
        });
        sse::Sse::from_stream(events)
    }

    async fn sub(channel: web::Data<Shared>) -> impl Responder {
        let events = channel
            .subscribe()
            .map(|(id, data)| Ok::<_, Infallible>(sse::Event::Data(sse::Data::new(data).id(id))));
        sse::Sse::from_stream(events).with_keep_alive(Duration::from_secs(HEARTBEAT_SECS))
    }

    async fn publish(channel: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
        channel.publish(Params::parse(Some(request.query_string())), |id, data| {
            (id.into(), data.into())
        });
        HttpResponse::Ok().finish()
    }

    async fn stats(channel: web::Data<Shared>) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(channel.stats())
    }
}

mod warp_app {
    use std::convert::Infallible;

    use futures_util::{StreamExt, stream};
    use warp::Filter;
    use warp::http::StatusCode;
    use warp::sse::Event;

    use super::{Arc, Channel, Duration, HEARTBEAT_SECS, Message, Params, ServerArgs, stream_data};

    type Shared = Channel<Arc<Message>>;

    pub(super) async fn serve(args: ServerArgs) -> std::io::Result<()> {
        let channel = Shared::new();
        let stream = warp::path("stream")
            .and(warp::get())
            .and(ssekit_bench::warp_query())
            .map(|query: Option<String>| {
                let params = Params::parse(query.as_deref());
                let data = stream_data(params.size);
                let events = stream::iter(0..params.n).map(move |i| {
                    Ok::<_, Infallible>(Event::default().id(i.to_string()).data(data.clone()))
                });
                warp::sse::reply(events)
            });
        let sub = warp::path("sub").and(warp::get()).map({
            let channel = channel.clone();
            move || {
                let events = channel.subscribe().map(|message| {
                    Ok::<_, Infallible>(
                        Event::default()
                            .id(message.id.clone())
                            .data(message.data.clone()),
                    )
                });
                let keep = warp::sse::keep_alive().interval(Duration::from_secs(HEARTBEAT_SECS));
                warp::sse::reply(keep.stream(events))
            }
        });
        let publish = warp::path("publish")
            .and(warp::post())
            .and(ssekit_bench::warp_query())
            .map({
                let channel = channel.clone();
                move |query: Option<String>| {
                    channel.publish(Params::parse(query.as_deref()), |id, data| {
                        Arc::new(Message { id, data })
                    });
                    StatusCode::OK
                }
            });
        let stats = warp::path("stats").and(warp::get()).map(move || {
            warp::reply::with_header(channel.stats(), "content-type", "application/json")
        });
        // Bound here rather than by `bind`, which panics on failure.
        let listener = tokio::net::TcpListener::bind(args.addr()).await?;
        warp::serve(stream.or(sub).or(publish).or(stats))
            .incoming(listener)
            .run()
            .await;
        Ok(())
    }
}
