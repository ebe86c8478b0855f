//! Reading Redis's answers to the stream commands, in RESP2 or RESP3 shape,
//! without trusting them: an answer of the wrong shape is an error, never a
//! panic.

use bytes::Bytes;
use redis::Value;
use ssekit::hub::{BackplaneError, EventId};

/// The one field of a stream entry: the event's wire bytes.
pub(crate) const FIELD: &str = "event";

/// A stream entry. `event` is `None` when the entry has no [`FIELD`]: it was
/// not written by a backplane.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: EventId,
    pub(crate) event: Option<Bytes>,
}

fn bad(what: &str, value: &Value) -> BackplaneError {
    BackplaneError::new(format!("unexpected answer from Redis to {what}: {value:?}"))
}

fn text(value: Value, what: &str) -> Result<String, BackplaneError> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes).map_err(|_| BackplaneError::new(format!("{what}: not UTF-8")))
        }
        Value::SimpleString(text) => Ok(text),
        other => Err(bad(what, &other)),
    }
}

/// An entry id, as `XADD` answers or inside an entry.
pub(crate) fn id(value: Value) -> Result<EventId, BackplaneError> {
    let text = text(value, "a stream entry id")?;
    text.parse()
        .map_err(|_| BackplaneError::new(format!("Redis gave {text:?} as a stream entry id")))
}

/// The entries of `XRANGE`, `XREVRANGE`, or one stream of `XREAD`.
pub(crate) fn entries(value: Value) -> Result<Vec<Entry>, BackplaneError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Nil => return Ok(Vec::new()),
        other => return Err(bad("a stream range", &other)),
    };
    items.into_iter().map(entry).collect()
}

fn entry(value: Value) -> Result<Entry, BackplaneError> {
    let Value::Array(parts) = value else {
        return Err(bad("a stream entry", &value));
    };
    let mut parts = parts.into_iter();
    let (Some(entry_id), fields, None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(BackplaneError::new(
            "a stream entry that is not [id, fields]",
        ));
    };
    let id = id(entry_id)?;
    let pairs: Vec<(Value, Value)> = match fields {
        Some(Value::Array(flat)) => {
            let mut flat = flat.into_iter();
            std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect()
        }
        Some(Value::Map(pairs)) => pairs,
        // An entry that was deleted but still listed (a consumer group's
        // pending list) has no fields; nothing else sends it here.
        Some(Value::Nil) | None => Vec::new(),
        Some(other) => return Err(bad("a stream entry's fields", &other)),
    };
    let event = pairs
        .into_iter()
        .find_map(|(name, value)| match (name, value) {
            (Value::BulkString(name), Value::BulkString(bytes)) if name == FIELD.as_bytes() => {
                Some(Bytes::from(bytes))
            }
            _ => None,
        });
    Ok(Entry { id, event })
}

/// The streams of an `XREAD` answer, by key; empty when it timed out or was
/// unblocked.
pub(crate) fn streams(value: Value) -> Result<Vec<(String, Vec<Entry>)>, BackplaneError> {
    let pairs = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(pairs) => pairs,
        Value::Array(items) => {
            let mut pairs = Vec::with_capacity(items.len());
            for item in items {
                let Value::Array(pair) = item else {
                    return Err(bad("XREAD", &item));
                };
                let mut pair = pair.into_iter();
                let (Some(key), Some(entries), None) = (pair.next(), pair.next(), pair.next())
                else {
                    return Err(BackplaneError::new(
                        "an XREAD stream that is not [key, entries]",
                    ));
                };
                pairs.push((key, entries));
            }
            pairs
        }
        other => return Err(bad("XREAD", &other)),
    };
    pairs
        .into_iter()
        .map(|(key, stream)| Ok((text(key, "a stream key")?, entries(stream)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn resp2_entry(id: &str, fields: &[&str]) -> Value {
        Value::Array(vec![
            bulk(id),
            Value::Array(fields.iter().map(|f| bulk(f)).collect()),
        ])
    }

    #[test]
    fn reads_both_protocols_and_refuses_odd_shapes() {
        let resp2 = Value::Array(vec![Value::Array(vec![
            bulk("ssekit:a"),
            Value::Array(vec![
                resp2_entry("1-1", &["event", "data: x\n\n"]),
                resp2_entry("1-2", &["other", "y"]),
            ]),
        ])]);
        let read = streams(resp2).unwrap();
        assert_eq!(read[0].0, "ssekit:a");
        assert_eq!(read[0].1[0].id, EventId::new(1, 1));
        assert_eq!(read[0].1[0].event.as_deref(), Some(&b"data: x\n\n"[..]));
        assert_eq!(read[0].1[1].event, None);

        let resp3 = Value::Map(vec![(
            bulk("ssekit:b"),
            Value::Array(vec![Value::Array(vec![
                bulk("2-0"),
                Value::Map(vec![(bulk("event"), bulk("data: z\n\n"))]),
            ])]),
        )]);
        let read = streams(resp3).unwrap();
        assert_eq!(read[0].1[0].event.as_deref(), Some(&b"data: z\n\n"[..]));

        assert!(streams(Value::Nil).unwrap().is_empty());
        for odd in [
            Value::Int(3),
            Value::Array(vec![Value::Int(3)]),
            Value::Array(vec![Value::Array(vec![bulk("k")])]),
            Value::Array(vec![Value::Array(vec![
                bulk("k"),
                Value::Array(vec![resp2_entry("x", &[])]),
            ])]),
        ] {
            assert!(streams(odd).is_err());
        }
        assert_eq!(
            id(Value::SimpleString("5-6".into())).unwrap(),
            EventId::new(5, 6)
        );
        assert!(id(Value::Okay).is_err());
    }
}
