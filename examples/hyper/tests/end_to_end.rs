//! The example on a real port: the page, the stream's head and events,
//! resume after a Last-Event-ID, and a graceful shutdown with a stream open.

use ssekit_test_support::{Client, TestServer, body_bytes, clock};
use tokio::net::TcpListener;

async fn start() -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    TestServer::spawn(addr, |signal| example_hyper::serve(listener, signal))
}

#[tokio::test]
async fn serves_the_page() {
    let server = start().await;
    let response = Client::h1(server.addr).await.get_once("/", &[]).await;
    assert_eq!(response.status(), 200);
    let page = body_bytes(response).await;
    assert!(
        std::str::from_utf8(&page)
            .unwrap()
            .contains("new EventSource(\"/events\")")
    );
}

#[tokio::test]
async fn streams_ticks_and_resumes_after_the_last_event_id() {
    let server = start().await;
    clock::resumes_after_the_last_event_id(server.addr).await;
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly_and_promptly() {
    let mut server = start().await;
    let readers = clock::open_streams(server.addr, 20).await;
    clock::shut_down_with_open_streams(&mut server, readers).await;
}
