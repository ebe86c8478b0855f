//! Fields the event builder refuses: 400 `text/plain` with the error's
//! message, never a 200 with a broken stream.

use crate::support::{
    Adapter, Fetched, PATIENCE, Server, concat, decompress, fetch, h1, h2, has_word, read_body,
};

/// The response must be a 400 `text/plain` whose body names `field`.
fn check(fetched: &Fetched, field: &str, context: &str) {
    let text = fetched.text();
    assert_eq!(
        fetched.head.status,
        400,
        "{context}: expected 400; head:\n{}body {text:?}",
        fetched.head.dump()
    );
    assert_eq!(
        fetched.head.essence().as_deref(),
        Some("text/plain"),
        "{context}: a refusal must be text/plain; head:\n{}",
        fetched.head.dump()
    );
    assert!(
        !text.trim().is_empty() && has_word(&text, field),
        "{context}: the message must name the field `{field}`: {text:?}"
    );
}

async fn refused(adapter: Adapter, target: &str, field: &str) {
    let context = format!("{} GET {target}", adapter.name());
    let server = Server::start(adapter).await;
    let fetched = fetch(
        &server,
        &h1::Request::get(target).header("Accept", "text/event-stream"),
    )
    .await
    .unwrap_or_else(|err| panic!("{context}: {err}"));
    check(&fetched, field, &context);
}

pub(crate) async fn id_with_lf(adapter: Adapter) {
    refused(adapter, "/echo?data=x&id=a%0Ab", "id").await;
}

pub(crate) async fn id_with_cr(adapter: Adapter) {
    refused(adapter, "/echo?data=x&id=a%0Db", "id").await;
}

pub(crate) async fn id_with_nul(adapter: Adapter) {
    refused(adapter, "/echo?data=x&id=a%00b", "id").await;
}

pub(crate) async fn event_with_lf(adapter: Adapter) {
    refused(adapter, "/echo?data=x&event=a%0Ab", "event").await;
}

pub(crate) async fn event_with_cr(adapter: Adapter) {
    refused(adapter, "/echo?data=x&event=a%0Db", "event").await;
}

pub(crate) async fn id_with_lf_h2(adapter: Adapter) {
    let target = "/echo?data=x&id=a%0Ab";
    let context = format!("{} GET {target} over h2c", adapter.name());
    let server = Server::start(adapter).await;
    let mut client = h2::Client::connect(server.addr)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    let mut response = tokio::time::timeout(PATIENCE, client.get(target, &[]))
        .await
        .unwrap_or_else(|_| panic!("{context}: no response within {PATIENCE:?}"))
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    let chunks = read_body(&mut response, PATIENCE)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    let body = decompress(&response.head, &concat(&chunks))
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    check(
        &Fetched {
            head: response.head,
            body,
        },
        "id",
        &context,
    );
}
