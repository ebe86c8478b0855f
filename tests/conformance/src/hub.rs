//! The `/hub/*` endpoints' logic, written once for every adapter: the hub
//! each server runs, publishing a request body, and the stats document.

use ssekit::Event;
use ssekit::hub::{Hub, Subscription};
use ssekit_redis::RedisBackplane;

use crate::Options;
use crate::params::{BadRequest, HubParams};

/// Why a hub endpoint did not do what was asked.
#[derive(Debug)]
pub(crate) enum HubError {
    /// 400: the request is wrong.
    Bad(BadRequest),
    /// 503: the backplane is unreachable; try again later.
    Unavailable(String),
}

impl std::fmt::Display for HubError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reply().1)
    }
}

impl From<BadRequest> for HubError {
    fn from(err: BadRequest) -> Self {
        Self::Bad(err)
    }
}

impl HubError {
    /// The status and the `text/plain` body to answer with.
    pub(crate) fn reply(&self) -> (u16, String) {
        match self {
            Self::Bad(err) => (400, err.0.clone()),
            Self::Unavailable(why) => (503, why.clone()),
        }
    }
}

/// The server's hub: in process, or on Redis with `--redis`. Call it
/// inside the server's tokio runtime: the Redis reader starts on it.
///
/// # Errors
///
/// When the `--redis` URL is not one.
pub(crate) fn build(options: &Options) -> Result<Hub, String> {
    let builder = Hub::builder().capacity(options.hub_capacity);
    let builder = match &options.redis {
        None => builder,
        Some(url) => builder
            .backplane(RedisBackplane::new(url).map_err(|err| format!("--redis {url}: {err}"))?),
    };
    Ok(builder.build())
}

/// `GET /hub/subscribe?topic=T`, resuming after `last_event_id`.
///
/// # Errors
///
/// [`HubError`] for a missing topic or an unreachable backplane.
pub(crate) async fn subscribe(
    hub: &Hub,
    query: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<Subscription, HubError> {
    let params = HubParams::parse(query)?;
    hub.subscribe(&params.topic, last_event_id)
        .await
        .map_err(|err| HubError::Unavailable(err.to_string()))
}

/// `POST /hub/publish?topic=T`: the body, as UTF-8, is one event's data.
/// Answers the JSON `{"id":"…"}`.
///
/// # Errors
///
/// [`HubError`] for a missing topic, a body that is not UTF-8, or an
/// unreachable backplane.
pub(crate) async fn publish(
    hub: &Hub,
    query: Option<&str>,
    body: &[u8],
) -> Result<String, HubError> {
    let params = HubParams::parse(query)?;
    let data = std::str::from_utf8(body)
        .map_err(|_| BadRequest("the request body is not UTF-8".to_owned()))?;
    let id = hub
        .publish(&params.topic, Event::default().data(data))
        .await
        .map_err(|err| HubError::Unavailable(err.to_string()))?;
    Ok(serde_json::json!({ "id": id.to_string() }).to_string())
}

/// `GET /hub/stats`: `{"subscribers":N}`, open subscriptions on all topics.
pub(crate) fn stats(hub: &Hub) -> String {
    serde_json::json!({ "subscribers": hub.stats().subscribers }).to_string()
}
