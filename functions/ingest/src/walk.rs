//! Walks CloudTrail in every shape it arrives in down to its records: concatenated JSON values
//! (one document or NDJSON, resynchronizing after a line that does not parse), arrays, S3 log
//! files `{"Records": [...]}`, EventBridge envelopes, SQS messages and SNS notifications.

use serde_json::value::RawValue;

use crate::inflate::{InflateError, InflateLimit};
use crate::record::Node;
use crate::{explain_bad_record, preview, reject, Rejection};

/// How deep wrappers may nest (SQS body → SNS message → envelope → …) before the input is
/// treated as hostile.
const MAX_DEPTH: usize = 8;

/// What the walk finds: a record object (parsed, with its text) or something unusable.
pub(crate) enum Leaf<'n, 'a> {
    Record {
        node: &'n Node<'a>,
        text: &'a str,
        index: usize,
    },
    Rejected(Rejection),
}

/// Walks one input (gzip detected by its magic bytes, inflated within `limit`), calling `leaf`
/// per record in order. An input that inflates past `limit` is refused whole, before any leaf.
pub(crate) fn document(
    bytes: &[u8],
    limit: InflateLimit,
    origin: &str,
    leaf: &mut dyn FnMut(Leaf<'_, '_>),
) -> Result<(), InflateError> {
    let mut index = 0;
    match limit.inflate(bytes) {
        Ok(text) => walk_stream(&text, origin, &mut index, leaf),
        Err(corrupt @ InflateError::Corrupt(_)) => leaf(Leaf::Rejected(reject(
            origin,
            0,
            "(file)",
            corrupt.to_string(),
        ))),
        Err(too_large) => return Err(too_large),
    }
    Ok(())
}

/// Reads concatenated JSON values (one document, or NDJSON), resynchronizing at the next
/// line after a value that does not parse.
fn walk_stream(bytes: &[u8], origin: &str, index: &mut usize, leaf: &mut dyn FnMut(Leaf<'_, '_>)) {
    let mut offset = 0;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<&RawValue>();
        let mut failed_at = None;
        for value in stream.by_ref() {
            match value {
                Ok(raw) => walk(raw, origin, index, 0, leaf),
                Err(e) => {
                    failed_at = Some(e);
                    break;
                }
            }
        }
        let Some(error) = failed_at else { return };
        let consumed = stream.byte_offset();
        let line_end = rest[consumed..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |p| consumed + p + 1);
        leaf(Leaf::Rejected(reject(
            origin,
            *index,
            "(record)",
            format!("not valid JSON: {error}"),
        )));
        *index += 1;
        offset += line_end.max(1);
    }
}

fn walk(
    raw: &RawValue,
    origin: &str,
    index: &mut usize,
    depth: usize,
    leaf: &mut dyn FnMut(Leaf<'_, '_>),
) {
    let text = raw.get();
    if depth > MAX_DEPTH {
        leaf(Leaf::Rejected(reject(
            origin,
            *index,
            "(record)",
            format!("wrappers nested deeper than {MAX_DEPTH}"),
        )));
        *index += 1;
        return;
    }
    match text.as_bytes().first() {
        Some(b'[') => match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(elements) => elements
                .into_iter()
                .for_each(|e| walk(e, origin, index, depth + 1, leaf)),
            Err(e) => {
                leaf(Leaf::Rejected(reject(
                    origin,
                    *index,
                    "(record)",
                    e.to_string(),
                )));
                *index += 1;
            }
        },
        Some(b'{') => match serde_json::from_str::<Node>(text) {
            Ok(node) => walk_node(node, text, origin, index, depth, leaf),
            Err(_) => {
                leaf(Leaf::Rejected(explain_bad_record(text, origin, *index)));
                *index += 1;
            }
        },
        _ => {
            leaf(Leaf::Rejected(reject(
                origin,
                *index,
                "(record)",
                format!("expected a JSON object, got {}", preview(text)),
            )));
            *index += 1;
        }
    }
}

fn walk_node(
    node: Node<'_>,
    text: &str,
    origin: &str,
    index: &mut usize,
    depth: usize,
    leaf: &mut dyn FnMut(Leaf<'_, '_>),
) {
    if let Some(records) = node.records {
        records
            .into_iter()
            .for_each(|r| walk(r, origin, index, depth + 1, leaf));
    } else if let Some(detail) = node.detail {
        walk(detail, origin, index, depth + 1, leaf);
    } else if let Some(inner) = node.body.as_ref().or(node.message.as_ref()) {
        let field = if node.body.is_some() {
            "body"
        } else {
            "Message"
        };
        match serde_json::from_str::<&RawValue>(inner) {
            Ok(raw) => walk(raw, origin, index, depth + 1, leaf),
            Err(e) => {
                leaf(Leaf::Rejected(reject(
                    origin,
                    *index,
                    field,
                    format!("does not hold JSON: {e}"),
                )));
                *index += 1;
            }
        }
    } else {
        leaf(Leaf::Record {
            node: &node,
            text,
            index: *index,
        });
        *index += 1;
    }
}
