//! Random damage to CloudTrail records, for the property tests that feed them to the normalizer
//! and to `POST /v1/events`: every position of a record's JSON tree can be replaced by a value a
//! careless or hostile writer might put there, and the text truncated anywhere.

use proptest::prelude::*;
use serde_json::{json, Value};

/// Values that break assumptions: wrong types, huge and negative numbers, control characters.
pub fn nasty() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!("")),
        Just(json!("-1")),
        Just(json!("1e400")),
        Just(json!("ℵ\u{0}\u{202e}")),
        Just(json!(-5)),
        Just(json!(1.5)),
        Just(json!(u64::MAX)),
        Just(json!(f64::MAX)),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"value": {"value": {}}})),
        Just(json!({"items": "x"})),
        Just(json!({"item": [null, 1]})),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(|s| json!(s)),
    ]
}

/// Every (path, value) position of a JSON tree, so a mutation can target any of them.
pub fn positions(value: &Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(path.clone());
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            let mut p = path.clone();
            p.push(k.clone());
            positions(v, p, out);
        }),
        Value::Array(list) => list.iter().enumerate().for_each(|(i, v)| {
            let mut p = path.clone();
            p.push(i.to_string());
            positions(v, p, out);
        }),
        _ => {}
    }
}

pub fn replace(value: &mut Value, path: &[String], with: Value) {
    let Some((last, parents)) = path.split_last() else {
        *value = with;
        return;
    };
    let mut target = value;
    for key in parents {
        target = match target {
            Value::Object(map) => map.get_mut(key).expect("path exists"),
            Value::Array(list) => &mut list[key.parse::<usize>().expect("index")],
            _ => return,
        };
    }
    match target {
        Value::Object(map) => {
            map.insert(last.clone(), with);
        }
        Value::Array(list) => list[last.parse::<usize>().expect("index")] = with,
        _ => {}
    }
}

/// `value` with each of `picks` (a position, drawn over the positions there are at that step,
/// and its replacement) applied, then its text cut at `truncate` (on a character boundary).
pub fn mutate(
    mut value: Value,
    picks: Vec<(prop::sample::Index, Value)>,
    truncate: Option<prop::sample::Index>,
) -> String {
    for (at, with) in picks {
        let mut all = Vec::new();
        positions(&value, Vec::new(), &mut all);
        let path = at.get(&all).clone();
        replace(&mut value, &path, with);
    }
    let mut text = value.to_string();
    if let Some(cut) = truncate {
        let mut end = cut.index(text.len() + 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
