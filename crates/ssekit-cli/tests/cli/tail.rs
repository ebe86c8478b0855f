//! `ssekit tail` against the good server.

use std::time::Duration;

use crate::good;
use crate::support::{ssekit, ssekit_env, ssekit_for};

#[tokio::test(flavor = "multi_thread")]
async fn prints_each_event_readably() {
    let server = good::start().await;
    let run = ssekit(&["tail", &server.url("/ticks"), "-n", "3"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    let events: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| !line.starts_with("--"))
        .collect();
    assert_eq!(
        events,
        [
            "message id=1  tick 1",
            "message id=2  tick 2",
            "message id=3  tick 3"
        ],
        "{run}"
    );
    assert!(run.stdout.starts_with("-- connected: 200\n"), "{run}");
    // Not a terminal: no colour.
    assert!(!run.stdout.contains('\x1b'), "{run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn escapes_what_would_drive_the_terminal_and_indents_data_lines() {
    let server = good::start().await;
    let run = ssekit(&["tail", &server.url("/odd"), "-n", "1"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .contains("greeting id=x7  line one\n  line two \\u{1b}[2J\n"),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_is_one_object_per_line() {
    let server = good::start().await;
    let run = ssekit(&["tail", "--json", &server.url("/ticks"), "-n", "3"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    let lines = run.json_lines();
    assert_eq!(lines[0]["kind"], "open", "{run}");
    assert_eq!(lines[0]["status"], 200, "{run}");
    assert_eq!(
        run.json_events(),
        (1..=3)
            .map(|n| ("message".to_owned(), n.to_string(), format!("tick {n}")))
            .collect::<Vec<_>>(),
        "{run}"
    );
    // The keys come in a fixed order, kind first.
    assert!(
        run.stdout
            .contains(r#"{"kind":"event","type":"message","id":"1","data":"tick 1"}"#),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_shows_the_bytes() {
    let server = good::start().await;
    let run = ssekit(&["tail", "--raw", &server.url("/counter/100"), "-n", "2"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        run.stdout, "retry: 100\n\nid: 1\ndata: count 1\n\nid: 2\ndata: count 2\n\n",
        "{run}"
    );
    // Connection notes go to stderr, so stdout holds only the body.
    assert!(run.stderr.contains("-- connected: 200"), "{run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_are_shown() {
    let server = good::start().await;
    let run = ssekit_for(&["tail", &server.url("/idle")], Duration::from_millis(1000)).await;
    assert_eq!(run.code, None, "tail should still be following: {run}");
    let heartbeats = run.stdout.matches(": (heartbeat)").count();
    assert!(
        heartbeats >= 2,
        "{heartbeats} heartbeat(s) in a second at {:?}: {run}",
        good::HEARTBEAT
    );

    let run = ssekit_for(
        &["tail", "--json", &server.url("/idle")],
        Duration::from_millis(600),
    )
    .await;
    assert!(
        run.stdout.contains(r#"{"kind":"comment","text":""}"#),
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnects_with_last_event_id_after_the_retry_time() {
    let server = good::start().await;
    // Each connection brings two events, then ends; `retry: 400` sets the wait.
    let run = ssekit(&["tail", "--json", &server.url("/counter/400"), "-n", "5"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    let ids: Vec<String> = run.json_events().into_iter().map(|(_, id, _)| id).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"], "{run}");

    let seen = server.seen();
    let sent: Vec<Option<&str>> = seen.iter().map(|s| s.last_event_id.as_deref()).collect();
    assert_eq!(sent, [None, Some("2"), Some("4")], "{run}");
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        // At least the server's 400 ms, and well short of the 3 s default.
        assert!(
            gap >= Duration::from_millis(400) && gap < Duration::from_millis(2500),
            "reconnected after {gap:?}: {run}"
        );
    }
    let reconnects: Vec<_> = run
        .json_lines()
        .into_iter()
        .filter(|line| line["kind"] == "reconnect")
        .collect();
    assert_eq!(reconnects.len(), 2, "{run}");
    assert_eq!(reconnects[0]["after_ms"], 400, "{run}");
    assert_eq!(reconnects[0]["last_event_id"], "2", "{run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn starts_from_the_given_last_event_id() {
    let server = good::start().await;
    let run = ssekit(&[
        "tail",
        "--json",
        "--last-event-id",
        "41",
        "-H",
        "X-Trace: abc",
        &server.url("/counter/100"),
        "-n",
        "1",
    ])
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.json_events()[0].1, "42", "{run}");
    assert_eq!(server.seen()[0].last_event_id.as_deref(), Some("41"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_end_without_reconnecting_exits_zero() {
    let server = good::start().await;
    let run = ssekit(&["tail", "--no-reconnect", &server.url("/counter/100")]).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("message id=2  count 2"), "{run}");
    assert!(run.stdout.contains("retry: 100ms"), "{run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_204_stops_it() {
    let server = good::start().await;
    let run = ssekit(&["tail", &server.url("/stop")]).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout.contains("204 No Content: stop reconnecting"),
        "{run}"
    );
}

/// On a terminal (a pseudo-terminal from script(1)) the output is coloured,
/// unless `NO_COLOR` says otherwise.
#[tokio::test(flavor = "multi_thread")]
async fn colour_only_on_a_terminal_without_no_color() {
    let server = good::start().await;
    let command = format!(
        "{} tail {} -n 1",
        env!("CARGO_BIN_EXE_ssekit"),
        server.url("/ticks")
    );
    let on_terminal = move |no_color: Option<&str>| {
        let mut script = std::process::Command::new("script");
        script.args(["-qec", &command, "/dev/null"]);
        script.env_remove("NO_COLOR");
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        let output = script
            .output()
            .expect("script(1) from util-linux runs (apt-get install util-linux)");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let coloured = tokio::task::spawn_blocking(move || (on_terminal(None), on_terminal(Some("1"))))
        .await
        .unwrap();
    assert!(
        coloured.0.contains("\x1b[36mmessage\x1b[0m"),
        "{:?}",
        coloured.0
    );
    assert!(
        coloured.0.contains("\x1b[2m-- connected"),
        "{:?}",
        coloured.0
    );
    assert!(
        coloured.1.contains("message id=1  tick 1"),
        "{:?}",
        coloured.1
    );
    assert!(!coloured.1.contains("\x1b[36m"), "{:?}", coloured.1);

    // And NO_COLOR off a terminal changes nothing.
    let run = ssekit_env(
        &["tail", &server.url("/ticks"), "-n", "1"],
        &[("NO_COLOR", "1")],
    )
    .await;
    assert!(run.stdout.contains("message id=1  tick 1"), "{run}");
}
