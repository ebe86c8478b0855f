//! The example on a real port: the page, the stream's head and events,
//! resume after a Last-Event-ID, and a graceful shutdown with a stream open.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use ssekit::Decoder;
use ssekit::decode::Item;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

struct Server {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(example_hyper::serve(listener, async {
        let _ = stopped.await;
    }));
    Server { addr, stop, done }
}

async fn get(
    addr: std::net::SocketAddr,
    path: &str,
    last_event_id: Option<&str>,
) -> http::Response<Incoming> {
    let socket = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(socket))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::get(path).header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    sender
        .send_request(
            request
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap()
}

/// Reads frames until `count` events have arrived.
async fn events(body: &mut Incoming, decoder: &mut Decoder, count: usize) -> Vec<(String, String)> {
    let mut events = Vec::new();
    while events.len() < count {
        let frame = body.frame().await.expect("the stream ended early").unwrap();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        for item in decoder.feed(&data) {
            if let Item::Event(event) = item.unwrap() {
                assert_eq!(event.event_type, "tick");
                events.push((event.last_event_id, event.data));
            }
        }
    }
    events
}

#[tokio::test]
async fn serves_the_page() {
    let server = start().await;
    let response = get(server.addr, "/", None).await;
    assert_eq!(response.status(), 200);
    let page = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        std::str::from_utf8(&page)
            .unwrap()
            .contains("new EventSource(\"/events\")")
    );
}

#[tokio::test]
async fn streams_ticks_and_resumes_after_the_last_event_id() {
    let server = start().await;
    let response = get(server.addr, "/events?interval_ms=10", Some("41")).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache, no-transform");
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(!headers.contains_key("content-length"));
    let mut body = response.into_body();
    let got = events(&mut body, &mut Decoder::new(), 3).await;
    assert_eq!(
        got,
        [
            ("42".to_owned(), "tick 42".to_owned()),
            ("43".to_owned(), "tick 43".to_owned()),
            ("44".to_owned(), "tick 44".to_owned())
        ]
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly_and_promptly() {
    let server = start().await;
    let mut bodies = Vec::new();
    for _ in 0..20 {
        let response = get(server.addr, "/events", None).await;
        let mut body = response.into_body();
        let mut decoder = Decoder::new();
        events(&mut body, &mut decoder, 1).await;
        bodies.push((body, decoder));
    }
    let started = tokio::time::Instant::now();
    server.stop.send(()).unwrap();
    for (mut body, mut decoder) in bodies {
        let mut retry = None;
        // A clean end: the body finishes (a reset would be an error here).
        while let Some(frame) = tokio::time::timeout(Duration::from_secs(1), body.frame())
            .await
            .expect("the stream did not end within 1 s")
        {
            if let Ok(data) = frame.unwrap().into_data() {
                for item in decoder.feed(&data) {
                    if let Item::Retry(after) = item.unwrap() {
                        retry = Some(after);
                    }
                }
            }
        }
        let retry = retry.expect("a retry hint before the end");
        assert!((Duration::from_secs(1)..=Duration::from_secs(3)).contains(&retry));
    }
    tokio::time::timeout(Duration::from_secs(1), server.done)
        .await
        .expect("the server did not finish its graceful shutdown within 1 s")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}
