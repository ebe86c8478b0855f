//! `ssekit check` against the good server (every check passes or says why
//! it cannot be judged) and the broken one (each fault named).

use crate::support::ssekit;
use crate::{broken, good};

#[tokio::test(flavor = "multi_thread")]
async fn a_good_stream_passes_every_check() {
    let server = good::start().await;
    let run = ssekit(&["check", &server.url("/ticks"), "--heartbeat-within", "1s"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    for check in [
        "status",
        "content-type",
        "cache-control",
        "x-accel-buffering",
        "content-length",
        "compression",
        "heartbeat",
        "prompt",
        "framing",
    ] {
        run.assert_row(check, "PASS", &[]);
    }
    run.assert_row("end", "INFO", &["still open"]);
    run.assert_row("resume", "PASS", &["Last-Event-ID"]);
    assert!(
        run.stdout
            .contains("OK: every check that could be judged holds"),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resumption_without_ids_is_not_applicable_and_says_so() {
    let server = good::start().await;
    let run = ssekit(&["check", &server.url("/idle"), "--heartbeat-within", "500ms"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    run.assert_row("heartbeat", "PASS", &["0 event(s)"]);
    run.assert_row(
        "resume",
        "INFO",
        &["not applicable", "no event carried an id"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_report() {
    let server = good::start().await;
    let run = ssekit(&[
        "check",
        "--json",
        &server.url("/idle"),
        "--heartbeat-within",
        "300ms",
    ])
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    let report: serde_json::Value =
        serde_json::from_str(run.stdout.trim()).expect("one JSON object");
    assert_eq!(report["passed"], true, "{run}");
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 11, "{run}");
    assert_eq!(checks[0]["check"], "status");
    assert_eq!(checks[0]["result"], "pass");
    assert_eq!(checks[10]["result"], "info");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_heartbeat_is_named() {
    let server = broken::start().await;
    let run = ssekit(&[
        "check",
        &server.url("/no-heartbeat"),
        "--heartbeat-within",
        "500ms",
    ])
    .await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row("heartbeat", "FAIL", &["silent for", "longer than 500ms"]);
    assert!(
        run.stdout
            .contains("FAILED: 1 of 11 checks failed: heartbeat"),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compression_is_named_and_the_stream_still_checked() {
    let server = broken::start().await;
    let run = ssekit(&["check", &server.url("/gzip"), "--heartbeat-within", "1s"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row(
        "compression",
        "FAIL",
        &["asked for gzip", "Content-Encoding: gzip"],
    );
    // Undone, the gzip body is a fine stream that resumes.
    run.assert_row("heartbeat", "PASS", &[]);
    run.assert_row("prompt", "PASS", &[]);
    run.assert_row("framing", "PASS", &[]);
    run.assert_row("resume", "PASS", &[]);
    assert!(
        run.stdout
            .contains("FAILED: 1 of 11 checks failed: compression"),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn buffering_is_named() {
    let server = broken::start().await;
    let run = ssekit(&[
        "check",
        &server.url("/buffered"),
        "--heartbeat-within",
        "1s",
        "--prompt-within",
        "150ms",
    ])
    .await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row(
        "prompt",
        "FAIL",
        &["3 events/heartbeats arrived in one piece", "held back"],
    );
    run.assert_row("heartbeat", "PASS", &[]);
    assert!(
        run.stdout.contains("FAILED: 1 of 11 checks failed: prompt"),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_framing_is_named_fault_by_fault() {
    let server = broken::start().await;
    let run = ssekit(&[
        "check",
        &server.url("/bad-framing"),
        "--heartbeat-within",
        "500ms",
    ])
    .await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row(
        "framing",
        "FAIL",
        &[
            "3 line(s) end in a lone CR",
            "unknown field `injected`",
            "not UTF-8",
            "0xE9",
            "ended inside an event",
        ],
    );
    run.assert_row("end", "PASS", &["ended cleanly"]);
    run.assert_row("heartbeat", "INFO", &["ended after"]);
    assert!(
        run.stdout
            .contains("FAILED: 1 of 11 checks failed: framing"),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_headers_are_named() {
    let server = broken::start().await;
    let run = ssekit(&["check", &server.url("/bare"), "--heartbeat-within", "500ms"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row("cache-control", "FAIL", &["missing"]);
    run.assert_row("x-accel-buffering", "FAIL", &["missing"]);
    run.assert_row("content-length", "FAIL", &["Content-Length: 13"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn ignoring_last_event_id_is_named() {
    let server = broken::start().await;
    let run = ssekit(&[
        "check",
        &server.url("/forgets"),
        "--heartbeat-within",
        "500ms",
    ])
    .await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row(
        "resume",
        "FAIL",
        &["first event has id \"1\"", "already delivered"],
    );
    assert!(
        run.stdout.contains("FAILED: 1 of 11 checks failed: resume"),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_at_once_is_named() {
    let server = broken::start().await;
    let run = ssekit(&[
        "check",
        &server.url("/all"),
        "--heartbeat-within",
        "3s",
        "--prompt-within",
        "150ms",
    ])
    .await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row("cache-control", "FAIL", &["missing"]);
    run.assert_row("x-accel-buffering", "FAIL", &["missing"]);
    run.assert_row("compression", "FAIL", &["gzip"]);
    run.assert_row("heartbeat", "FAIL", &["silent for"]);
    run.assert_row("prompt", "FAIL", &["held back"]);
    run.assert_row(
        "framing",
        "FAIL",
        &["lone CR", "unknown field `injected`", "not UTF-8"],
    );
    run.assert_row("resume", "FAIL", &["already delivered"]);
    assert!(
        run.stdout.contains(
            "FAILED: 7 of 11 checks failed: cache-control, x-accel-buffering, compression, heartbeat, prompt, framing, resume"
        ),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_sse_response_fails_the_head_and_skips_the_rest() {
    let server = broken::start().await;
    let run = ssekit(&["check", &server.url("/html")]).await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row("status", "PASS", &["200"]);
    run.assert_row("content-type", "FAIL", &["text/html"]);
    run.assert_row("heartbeat", "SKIP", &["not an event stream"]);

    let run = ssekit(&["check", &server.url("/nowhere")]).await;
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_row("status", "FAIL", &["404 Not Found"]);
    run.assert_row("resume", "SKIP", &[]);
}
