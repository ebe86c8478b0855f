//! `GET /status/<code>`: that status with an empty body; 204 is the
//! adapter's "stop reconnecting" answer.

use std::time::Duration;

use crate::support::{Adapter, PATIENCE, Server, concat, decompress, get, h1, h2, read_body};

pub(crate) async fn no_content_204(adapter: Adapter) {
    let context = format!("{} GET /status/204", adapter.name());
    let server = Server::start(adapter).await;
    let request = h1::Request::get("/status/204").header("Accept", "text/event-stream");
    let mut response = tokio::time::timeout(PATIENCE, request.send(server.addr))
        .await
        .unwrap_or_else(|_| panic!("{context}: no response head within {PATIENCE:?}"))
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    assert_eq!(
        response.head.status,
        204,
        "{context}:\n{}",
        response.head.dump()
    );
    // A 204 has no body: nothing may follow the head on the connection.
    let stray = response.stray_bytes(Duration::from_millis(200)).await;
    assert!(
        stray.as_ref().is_none_or(Vec::is_empty),
        "{context}: bytes after a 204's head: {:?}",
        stray.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    );
}

pub(crate) async fn not_found_404(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let fetched = get(&server, "/status/404").await;
    assert_eq!(
        fetched.head.status,
        404,
        "{} GET /status/404:\n{}",
        adapter.name(),
        fetched.head.dump()
    );
    assert!(
        fetched.body.is_empty(),
        "{} GET /status/404: the body must be empty: {:?}",
        adapter.name(),
        fetched.text()
    );
}

pub(crate) async fn no_content_204_h2(adapter: Adapter) {
    let context = format!("{} GET /status/204 over h2c", adapter.name());
    let server = Server::start(adapter).await;
    let mut client = h2::Client::connect(server.addr)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    let mut response = tokio::time::timeout(PATIENCE, client.get("/status/204", &[]))
        .await
        .unwrap_or_else(|_| panic!("{context}: no response within {PATIENCE:?}"))
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    assert_eq!(
        response.head.status,
        204,
        "{context}:\n{}",
        response.head.dump()
    );
    let chunks = read_body(&mut response, PATIENCE)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    let body = decompress(&response.head, &concat(&chunks))
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    assert!(body.is_empty(), "{context}: body {body:?}");
}
