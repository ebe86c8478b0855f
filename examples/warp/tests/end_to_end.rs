//! The example on a real port: the page, the stream's head and events,
//! resume after a Last-Event-ID, no compression on the stream, and a
//! graceful shutdown with 20 streams open.

use futures_util::FutureExt;
use ssekit_test_support::{Client, TestServer, body_bytes, clock};
use tokio::net::TcpListener;

async fn start() -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Its serve returns nothing: call that a success.
    TestServer::spawn(addr, |signal| example_warp::serve(listener, signal).map(Ok))
}

#[tokio::test]
async fn serves_the_page_compressed_when_asked() {
    let server = start().await;
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
    assert_eq!(response.headers()["vary"], "accept-encoding");
}

#[tokio::test]
async fn streams_ticks_uncompressed_and_resumes_after_the_last_event_id() {
    let server = start().await;
    clock::resumes_after_the_last_event_id(server.addr).await;
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly_and_promptly() {
    let mut server = start().await;
    let readers = clock::open_streams(server.addr, 20).await;
    clock::shut_down_with_open_streams(&mut server, readers).await;
}
