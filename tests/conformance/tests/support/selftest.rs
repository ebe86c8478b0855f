//! The harness checked against canned bytes, without any server: the
//! chunked parser, the terminator check and the block splitter.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::{blocks, concat, h1, read_body};

/// Serves one connection: writes `pieces` with a pause between them.
async fn serve(pieces: Vec<&'static [u8]>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
        for piece in pieces {
            socket.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    addr
}

#[tokio::test]
async fn chunked_body_with_clean_terminator() {
    let addr = serve(vec![
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"9\r\ndata: a\n\n\r\n",
        b"3\r\n:\n\n\r",
        b"\n0\r\n",
        b"\r\n",
    ])
    .await;
    let mut response = h1::Request::get("/").send(addr).await.unwrap();
    assert_eq!(response.head.status, 200);
    assert_eq!(
        response.head.essence().as_deref(),
        Some("text/event-stream")
    );
    let chunks = read_body(&mut response, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(chunks.len(), 2);
    assert_eq!(concat(&chunks), b"data: a\n\n:\n\n");
    assert!(response.end.unwrap().is_clean_chunked());
}

#[tokio::test]
async fn chunked_body_cut_short_is_not_clean() {
    let addr = serve(vec![
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n0\r\n",
    ])
    .await;
    let mut response = h1::Request::get("/").send(addr).await.unwrap();
    assert!(
        read_body(&mut response, Duration::from_secs(1))
            .await
            .is_err()
    );
    assert!(matches!(response.end, Some(h1::End::Truncated { .. })));
}

#[tokio::test]
async fn trailers_are_not_a_clean_terminator() {
    let addr = serve(vec![
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx: y\r\n\r\n",
    ])
    .await;
    let mut response = h1::Request::get("/").send(addr).await.unwrap();
    read_body(&mut response, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(!response.end.unwrap().is_clean_chunked());
}

#[test]
fn blocks_split_at_every_line_end() {
    let (got, unfinished) = blocks(b"id: 1\r\ndata: a\r\n\r\n:\n\n\n: x\rdata: b\r\r");
    let expected: Vec<Vec<&[u8]>> = vec![
        vec![b"id: 1", b"data: a"],
        vec![b":"],
        vec![b": x", b"data: b"],
    ];
    let got: Vec<Vec<&[u8]>> = got
        .iter()
        .map(|b| b.iter().map(Vec::as_slice).collect())
        .collect();
    assert_eq!(got, expected);
    assert!(!unfinished);
    assert!(blocks(b"data: a\n\ndata: b\n").1);
    assert!(blocks(b"data: a\n\ndata: b").1);
}
