//! Lenient access to `requestParameters` / `responseElements`, which real CloudTrail serializes
//! in several dialects: camelCase or PascalCase keys, newer EC2 APIs wrapped in
//! `CreateXxxRequest` / `CreateXxxResponse`, scalars wrapped as `{"value": …}` or `{"content": …}`,
//! lists as `{"items": […]}` or `{"item": …}`, numbers as strings.

use serde_json::Value;

/// The largest size, IOPS, throughput or capacity figure accepted.
pub(crate) const MAX_QUANTITY: f64 = 1e9;

/// A possibly-missing JSON value and the path that led to it (for error messages).
#[derive(Debug, Clone)]
pub(crate) struct J<'v> {
    value: Option<&'v Value>,
    path: String,
}

impl<'v> J<'v> {
    pub(crate) fn root(value: Option<&'v Value>, path: &str) -> Self {
        J {
            value: value.filter(|v| !v.is_null()),
            path: path.to_owned(),
        }
    }

    /// The member `key`: exact match, else case-insensitive, else inside a lone
    /// `…Request` / `…Response` wrapper object.
    pub(crate) fn get(&self, key: &str) -> J<'v> {
        let path = format!("{}.{key}", self.path);
        let Some(Value::Object(map)) = self.value else {
            return J { value: None, path };
        };
        let found = map
            .get(key)
            .or_else(|| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
            .or_else(|| {
                let (wrapper, inner) = map.iter().next().filter(|_| map.len() == 1)?;
                let is_wrapper = wrapper.ends_with("Request") || wrapper.ends_with("Response");
                is_wrapper
                    .then(|| {
                        J {
                            value: Some(inner),
                            path: String::new(),
                        }
                        .get(key)
                        .value
                    })
                    .flatten()
            });
        J {
            value: found.filter(|v| !v.is_null()),
            path,
        }
    }

    /// Follows several keys.
    pub(crate) fn at(&self, keys: &[&str]) -> J<'v> {
        keys.iter().fold(self.clone(), |j, key| j.get(key))
    }

    pub(crate) fn is_present(&self) -> bool {
        self.value.is_some()
    }

    /// Unwraps `{"value": x}` / `{"content": x}` scalar wrappers.
    fn scalar(&self) -> Option<&'v Value> {
        match self.value? {
            Value::Object(map) if map.len() <= 2 => map.get("value").or_else(|| map.get("content")),
            other => Some(other),
        }
    }

    /// A string (numbers and booleans are rendered as text).
    pub(crate) fn str(&self) -> Option<&'v str> {
        match self.scalar()? {
            Value::String(s) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        }
    }

    /// An owned string, accepting numbers too.
    pub(crate) fn text(&self) -> Option<String> {
        match self.scalar()? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A non-negative whole count, from a number or a numeric string. Absent: `Ok(None)`;
    /// present but not a count: an error naming the field.
    pub(crate) fn count(&self) -> Result<Option<u32>, FieldError> {
        let Some(value) = self.scalar() else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if n > u64::from(crate::bounds::MAX_COUNT) => Err(self.error(format!(
                "count {n} is more than the {} resources one call can create",
                crate::bounds::MAX_COUNT
            ))),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| self.error(format!("count {n} is out of range"))),
            None => Err(self.error(format!("expected a whole number, got {value}"))),
        }
    }

    /// A number (or numeric string), for sizes and capacities that may be fractional. Values
    /// above [`MAX_QUANTITY`] are errors: no AWS size, IOPS or capacity comes near it.
    pub(crate) fn number(&self) -> Result<Option<f64>, FieldError> {
        let Some(value) = self.scalar() else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(f) if f.is_finite() && (0.0..=MAX_QUANTITY).contains(&f) => Ok(Some(f)),
            _ => Err(self.error(format!(
                "expected a number from 0 to {MAX_QUANTITY}, got {value}"
            ))),
        }
    }

    /// A boolean, from `true`/`false` or their string forms.
    pub(crate) fn bool(&self) -> Option<bool> {
        match self.scalar()? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The elements of a list in any of its dialects; a lone object is a list of one.
    pub(crate) fn items(&self) -> Vec<J<'v>> {
        let element = |(i, v): (usize, &'v Value)| J {
            value: Some(v),
            path: format!("{}[{i}]", self.path),
        };
        match self.value {
            None => Vec::new(),
            Some(Value::Array(list)) => list.iter().enumerate().map(element).collect(),
            Some(Value::Object(map)) => match map.get("items").or_else(|| map.get("item")) {
                Some(Value::Array(list)) => list.iter().enumerate().map(element).collect(),
                Some(single) => vec![J {
                    value: Some(single),
                    path: format!("{}.item", self.path),
                }],
                None => vec![self.clone()],
            },
            Some(other) => vec![J {
                value: Some(other),
                path: self.path.clone(),
            }],
        }
    }

    /// Every string in a list (of strings or wrapped strings).
    pub(crate) fn strings(&self) -> Vec<String> {
        self.items().iter().filter_map(J::text).collect()
    }

    pub(crate) fn error(&self, reason: String) -> FieldError {
        FieldError {
            field: self.path.trim_start_matches('.').to_owned(),
            reason,
        }
    }
}

/// A field of a record that is present but unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_dialect() {
        let v = json!({
            "CreateNatGatewayRequest": {"SubnetId": "subnet-1", "MaxCount": "3"},
        });
        let j = J::root(Some(&v), "requestParameters");
        assert_eq!(j.get("subnetId").str(), Some("subnet-1"));
        assert_eq!(j.get("maxCount").count(), Ok(Some(3)));

        let wrapped = json!({"instanceType": {"value": "m5.large"}, "set": {"items": [{"id": "a"}, {"id": "b"}]}, "one": {"item": {"id": "c"}}});
        let j = J::root(Some(&wrapped), "requestParameters");
        assert_eq!(j.get("instanceType").str(), Some("m5.large"));
        assert_eq!(
            j.get("set")
                .items()
                .iter()
                .filter_map(|i| i.get("id").text())
                .collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        assert_eq!(j.get("one").items().len(), 1);
    }

    #[test]
    fn a_bad_count_names_its_field() {
        let v = json!({"instancesSet": {"items": [{"maxCount": "lots"}]}});
        let j = J::root(Some(&v), "requestParameters");
        let item = &j.get("instancesSet").items()[0];
        let err = item.get("maxCount").count().expect_err("not a count");
        assert_eq!(err.field, "requestParameters.instancesSet[0].maxCount");
        assert!(err.reason.contains("lots"));
        assert_eq!(
            J::root(Some(&json!({"n": -1})), "r")
                .get("n")
                .count()
                .map_err(|e| e.field),
            Err("r.n".into())
        );
        assert_eq!(
            J::root(Some(&json!({"n": 2.0})), "r").get("n").count(),
            Ok(Some(2))
        );
    }
}
