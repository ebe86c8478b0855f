//! Every way a command can fail: a clear message and its own exit code.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::broken;
use crate::support::ssekit;

/// A port nothing listens on: bound, then closed.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_host_exits_3() {
    let url = format!("http://127.0.0.1:{}/events", closed_port().await);
    for command in ["tail", "check"] {
        let run = ssekit(&[command, &url]).await;
        assert_eq!(run.code, Some(3), "{run}");
        assert!(
            run.stderr
                .starts_with("error: cannot connect to 127.0.0.1:"),
            "{run}"
        );
        assert!(run.stderr.to_lowercase().contains("refused"), "{run}");
        assert!(run.stdout.is_empty(), "{run}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_exits_3_after_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let run = ssekit(&["tail", "--timeout", "300ms", &format!("http://{addr}/")]).await;
    assert_eq!(run.code, Some(3), "{run}");
    assert!(
        run.stderr.contains("no response head within 300ms"),
        "{run}"
    );
    assert!(run.took < Duration::from_secs(5), "{run}");
    // check reports it as a failed status, with the rest skipped.
    let run = ssekit(&["check", "--timeout", "300ms", &format!("http://{addr}/")]).await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row("status", "FAIL", &["no response head within 300ms"]);
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_sse_response_exits_5() {
    let server = broken::start().await;
    let run = ssekit(&["tail", &server.url("/html")]).await;
    assert_eq!(run.code, Some(5), "{run}");
    assert!(
        run.stderr.contains("not an event stream: the server answered 200 OK with Content-Type \"text/html; charset=utf-8\""),
        "{run}"
    );
    assert!(run.stderr.contains("<!doctype html>"), "{run}");

    let run = ssekit(&["tail", &server.url("/nowhere")]).await;
    assert_eq!(run.code, Some(5), "{run}");
    assert!(
        run.stderr.contains("the server answered 404 Not Found"),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cut_mid_event_exits_6() {
    let server = broken::start().await;
    let run = ssekit(&["tail", "--no-reconnect", &server.url("/cut")]).await;
    assert_eq!(run.code, Some(6), "{run}");
    assert!(run.stdout.contains("message id=1  one"), "{run}");
    assert!(
        run.stderr.contains("error: the stream was cut mid-event"),
        "{run}"
    );

    let run = ssekit(&["tail", "--no-reconnect", &server.url("/unfinished")]).await;
    assert_eq!(run.code, Some(6), "{run}");
    assert!(
        run.stderr
            .contains("error: the stream ended inside an event"),
        "{run}"
    );

    // With a reconnection left it reconnects first (from id 1), then gives up.
    let run = ssekit(&[
        "tail",
        "--json",
        "--max-reconnects",
        "1",
        "--retry",
        "50ms",
        &server.url("/cut"),
    ])
    .await;
    assert_eq!(run.code, Some(6), "{run}");
    let reconnect = run
        .json_lines()
        .into_iter()
        .find(|line| line["kind"] == "reconnect")
        .unwrap_or_else(|| panic!("no reconnect: {run}"));
    assert_eq!(reconnect["last_event_id"], "1", "{run}");
    assert_eq!(run.json_events().len(), 2, "{run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn https_to_a_plain_port_exits_4() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut hello = [0u8; 1024];
            let _ = socket.read(&mut hello).await;
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    for command in ["tail", "check"] {
        let run = ssekit(&[command, &format!("https://{addr}/events")]).await;
        assert_eq!(run.code, Some(4), "{run}");
        assert!(
            run.stderr
                .starts_with(&format!("error: TLS handshake with {addr} failed:")),
            "{run}"
        );
        assert!(run.stderr.contains("use http:// for a plain one"), "{run}");
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2() {
    for (args, says) in [
        (
            &["tail", "ftp://example.com/"][..],
            "give an http:// or https:// URL",
        ),
        (
            &["tail", "http://127.0.0.1:1/", "-H", "no colon"],
            "has no colon",
        ),
        (
            &["check", "http://127.0.0.1:1/", "--heartbeat-within", "soon"],
            "is not a duration",
        ),
        (&["tail", "http://user:pw@127.0.0.1:1/"], "credentials"),
        (
            &["tail", "--json", "--raw", "http://127.0.0.1:1/"],
            "cannot be used with",
        ),
        (&["check"], "required"),
    ] {
        let run = ssekit(args).await;
        assert_eq!(run.code, Some(2), "{args:?}: {run}");
        assert!(run.stderr.contains(says), "{args:?}: {run}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn help_documents_the_exit_codes() {
    for args in [&["--help"][..], &["tail", "--help"], &["check", "--help"]] {
        let run = ssekit(args).await;
        assert_eq!(run.code, Some(0), "{run}");
        assert!(run.stdout.contains("Exit codes:"), "{run}");
        assert!(run.stdout.contains("6  tail: the stream broke"), "{run}");
    }
    let run = ssekit(&["check", "--help"]).await;
    assert!(
        run.stdout.contains("--heartbeat-within <DURATION>"),
        "{run}"
    );
}
