//! The example on a real port: the page, the stream's head and events,
//! resume after a Last-Event-ID, no compression on the stream, a browser
//! that leaves, and a graceful shutdown with 20 streams open.

use std::time::Duration;

use ssekit_actix::DisconnectReason;
use ssekit_test_support::{Client, TestServer, body_bytes, clock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The server, and where it reports the browsers that leave. (actix-web
/// refuses an HTTP/1.1 request without a Host: the client sends one.)
async fn start() -> (TestServer, mpsc::UnboundedReceiver<DisconnectReason>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tell, departures) = mpsc::unbounded_channel();
    let server = TestServer::spawn(addr, |signal| {
        example_actix::serve(listener, signal, Some(tell))
    });
    (server, departures)
}

#[tokio::test]
async fn serves_the_page_compressed_when_asked() {
    let (server, _departures) = start().await;
    let response = Client::h1(server.addr).await.get_once("/", &[]).await;
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("content-encoding"));
    let page = body_bytes(response).await;
    assert!(
        std::str::from_utf8(&page)
            .unwrap()
            .contains("new EventSource(\"/events\")")
    );

    let response = Client::h1(server.addr)
        .await
        .get_once("/", &[("accept-encoding", b"gzip")])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn streams_ticks_uncompressed_and_resumes_after_the_last_event_id() {
    let (server, _departures) = start().await;
    clock::resumes_after_the_last_event_id(server.addr).await;
}

#[tokio::test]
async fn a_browser_that_leaves_is_noticed_at_once() {
    let (server, mut departures) = start().await;
    // A slow clock, so that nothing is written after the first tick: only
    // reading the close can tell the server that the browser left.
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    socket
        .write_all(b"GET /events?interval_ms=60000 HTTP/1.1\r\nhost: example\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("data: tick 1\n") {
        let mut buffer = [0; 1024];
        let n = socket.read(&mut buffer).await.unwrap();
        assert_ne!(n, 0, "the stream ended early");
        received.extend_from_slice(&buffer[..n]);
    }
    drop(socket);
    let reason = tokio::time::timeout(Duration::from_millis(300), departures.recv())
        .await
        .expect("the server did not notice within 300 ms")
        .unwrap();
    assert_eq!(reason.as_str(), "client_gone");
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly_and_promptly() {
    let (mut server, mut departures) = start().await;
    let readers = clock::open_streams(server.addr, 20).await;
    clock::shut_down_with_open_streams(&mut server, readers).await;
    for _ in 0..20 {
        let reason = departures.recv().await.unwrap();
        assert_eq!(reason.as_str(), "shutdown");
    }
}
