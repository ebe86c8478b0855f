//! Durations as a person writes them on a command line: `250ms`, `2s`, `1.5s`, `1m`.
//!
//! ```
//! use std::time::Duration;
//! use ssekit_cli::duration;
//!
//! let within = duration::parse("1.5s")?;
//! assert_eq!(within, Duration::from_millis(1500));
//! assert_eq!(duration::show(within), "1.5s");
//! # Ok::<(), String>(())
//! ```

use std::time::Duration;

/// Parses `250ms`, `2s`, `1.5s`, `1m` or a bare number of seconds.
///
/// ```
/// use std::time::Duration;
/// use ssekit_cli::duration::parse;
///
/// assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
/// assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
/// assert!(parse("soon").is_err());
/// ```
///
/// # Errors
///
/// A message naming the accepted forms, for anything else (negative,
/// not a number, an unknown unit, or more than a day).
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        _ => return Err(invalid(text)),
    };
    let value: f64 = number.parse().map_err(|_| invalid(text))?;
    let seconds = value * scale;
    // A day is far more than any interval a stream check waits for; the
    // bound also keeps the float well inside Duration's range.
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err(invalid(text));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn invalid(text: &str) -> String {
    format!("`{text}` is not a duration: write e.g. `250ms`, `2s`, `1.5s` or `1m` (at most a day)")
}

/// A duration for messages: `250ms`, `1.5s`, `20s`.
///
/// ```
/// use std::time::Duration;
/// use ssekit_cli::duration::show;
///
/// assert_eq!(show(Duration::from_millis(250)), "250ms");
/// assert_eq!(show(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(show(Duration::from_secs(20)), "20s");
/// ```
#[must_use]
pub fn show(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}
