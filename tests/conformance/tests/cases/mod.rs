//! The cases, one module per group; `suite!` runs each on every adapter.

use std::time::Duration;

pub(crate) mod disconnect;
pub(crate) mod echo;
pub(crate) mod events;
pub(crate) mod headers;
pub(crate) mod heartbeat;
pub(crate) mod hub;
pub(crate) mod last_event_id;
pub(crate) mod params;
pub(crate) mod redis;
pub(crate) mod refusals;
pub(crate) mod resume;
pub(crate) mod shutdown;
pub(crate) mod status;
pub(crate) mod timing;

/// The most any one test may take, server start included. Cases take far
/// less (under 3 s); this only turns a hang into a failure.
pub(crate) const TEST_TIME_LIMIT: Duration = Duration::from_secs(30);
