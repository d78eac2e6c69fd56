//! Wire keys: the strings one part writes and another reads back — a queue message's group and
//! deduplication keys, the value a Slack alert's buttons carry. Each is a type whose `Display`
//! writes the wire form and whose `FromStr` reads it, so the format lives in one place.

use std::fmt;
use std::str::FromStr;

use crate::PortError;

/// The group of an account's queue messages (`tenant#account`): every queue keeps one account's
/// events in order, and different accounts' run side by side.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// The tenant.
    pub tenant: String,
    /// The AWS account.
    pub account_id: String,
}

impl GroupKey {
    /// The group of `account_id`'s messages for `tenant`.
    pub fn new(tenant: &str, account_id: &str) -> Self {
        GroupKey {
            tenant: tenant.to_owned(),
            account_id: account_id.to_owned(),
        }
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.tenant, self.account_id)
    }
}

/// `tenant#rest` as its two parts, both non-empty; tenant names hold no `#` (see
/// [`crate::domain::valid_tenant_name`]). `what` names the key in the error.
fn tenant_and<'a>(s: &'a str, what: &str) -> Result<(&'a str, &'a str), PortError> {
    s.split_once('#')
        .filter(|(tenant, rest)| !tenant.is_empty() && !rest.is_empty())
        .ok_or_else(|| PortError::Invalid(format!("{what} {s:?} is not tenant#…")))
}

impl FromStr for GroupKey {
    type Err = PortError;

    /// Account ids are digits: a second `#` is refused.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tenant, account_id) = tenant_and(s, "group key")?;
        if account_id.contains('#') {
            return Err(PortError::Invalid(format!(
                "group key {s:?} is not tenant#account"
            )));
        }
        Ok(GroupKey::new(tenant, account_id))
    }
}

/// A queue message's deduplication key (`tenant#id`): a second send of the same id for the same
/// tenant within the queue's window is dropped. The id is a cost event's or a CloudTrail
/// record's event id, or an anomaly id for a notifier wake-up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupKey {
    /// The tenant.
    pub tenant: String,
    /// What is sent once.
    pub id: String,
}

impl DedupKey {
    /// The key of `id` for `tenant`.
    pub fn new(tenant: &str, id: &str) -> Self {
        DedupKey {
            tenant: tenant.to_owned(),
            id: id.to_owned(),
        }
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.tenant, self.id)
    }
}

impl FromStr for DedupKey {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tenant, id) = tenant_and(s, "deduplication key")?;
        Ok(DedupKey::new(tenant, id))
    }
}

/// What a Slack alert's buttons carry (`tenant/id,id,…`): the anomalies a click acts on. The
/// tenant is checked against the workspace the click came from before anything is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionValue {
    /// The alert's tenant.
    pub tenant: String,
    /// Its anomalies.
    pub anomaly_ids: Vec<String>,
}

impl fmt::Display for ActionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.anomaly_ids.join(","))
    }
}

impl FromStr for ActionValue {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tenant, ids) = s
            .split_once('/')
            .filter(|(tenant, _)| !tenant.is_empty())
            .ok_or_else(|| PortError::Invalid(format!("action value {s:?} is not tenant/ids")))?;
        Ok(ActionValue {
            tenant: tenant.to_owned(),
            anomaly_ids: ids
                .split(',')
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// One action of one tenant (`tenant/act_…`): the body of a run on the actions queue, and the
/// value of a Slack approval's buttons (the tenant is checked against the workspace the click
/// came from before anything is done).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActionRef {
    /// The action's tenant.
    pub tenant: String,
    /// The action.
    pub action_id: crate::remediation::ActionId,
}

impl fmt::Display for ActionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.action_id)
    }
}

impl FromStr for ActionRef {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tenant, id) = s
            .split_once('/')
            .filter(|(tenant, _)| !tenant.is_empty())
            .ok_or_else(|| PortError::Invalid(format!("{s:?} is not tenant/action id")))?;
        Ok(ActionRef {
            tenant: tenant.to_owned(),
            action_id: id.parse()?,
        })
    }
}

crate::serde_as_text!(ActionRef);

/// Where a page of a list ordered by time, newest first, resumes
/// (`{unix seconds}.{nanoseconds}~{id}`): after the item with this time and id — an anomaly by
/// its event time, an action by the time it was requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The last listed item's time.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The shape of a cursor, for documents that describe it; [`FromStr`] accepts exactly this.
    pub const PATTERN: &'static str = r"^[0-9]{1,11}\.[0-9]{9}~[A-Za-z0-9_.:#-]{1,128}$";
}

/// Whether `id` has the shape of an anomaly id (what [`Cursor::PATTERN`] allows after `~`).
pub fn is_anomaly_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:#-".contains(&b))
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}~{}",
            self.at.timestamp(),
            self.at.timestamp_subsec_nanos(),
            self.id
        )
    }
}

impl FromStr for Cursor {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || PortError::Invalid(format!("malformed cursor {s:?}"));
        let (time, anomaly_id) = s.split_once('~').ok_or_else(malformed)?;
        let (seconds, nanos) = time.split_once('.').ok_or_else(malformed)?;
        let digits = |text: &str, range: std::ops::RangeInclusive<usize>| {
            range.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(seconds, 1..=11) || !digits(nanos, 9..=9) || !is_anomaly_id(anomaly_id) {
            return Err(malformed());
        }
        let seconds: i64 = seconds.parse().map_err(|_| malformed())?;
        let nanos: u32 = nanos.parse().map_err(|_| malformed())?;
        let at = chrono::DateTime::from_timestamp(seconds, nanos).ok_or_else(malformed)?;
        Ok(Cursor {
            at,
            id: anomaly_id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_reads_back_what_it_writes() {
        let group = GroupKey::new("acme", "123456789012");
        assert_eq!(group.to_string(), "acme#123456789012");
        assert_eq!(group.to_string().parse::<GroupKey>().expect("group"), group);

        let dedup = DedupKey::new("acme", "evt#2");
        assert_eq!(dedup.to_string(), "acme#evt#2");
        assert_eq!(dedup.to_string().parse::<DedupKey>().expect("dedup"), dedup);

        let value = ActionValue {
            tenant: "acme".into(),
            anomaly_ids: vec!["a1".into(), "a2".into()],
        };
        assert_eq!(value.to_string(), "acme/a1,a2");
        assert_eq!(
            value.to_string().parse::<ActionValue>().expect("value"),
            value
        );
    }

    #[test]
    fn a_traceparent_reads_back_what_it_writes_and_refuses_what_w3c_does() {
        let sample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parent: TraceParent = sample.parse().expect("the W3C example");
        assert_eq!(parent.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!((parent.span_id, parent.flags), (0x00f067aa0ba902b7, 1));
        assert_eq!(parent.to_string(), sample);
        let json = serde_json::to_string(&parent).expect("json");
        assert_eq!(json, format!("\"{sample}\""));
        assert_eq!(
            serde_json::from_str::<TraceParent>(&json).expect("json"),
            parent
        );
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            let error = bad.parse::<TraceParent>().expect_err(bad).to_string();
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn malformed_keys_are_refused_with_the_text() {
        for bad in ["acme", "#1", "acme#", "a#b#c"] {
            let error = bad.parse::<GroupKey>().expect_err(bad).to_string();
            assert!(error.contains(bad), "{error}");
        }
        for bad in ["acme", "#x", "acme#"] {
            assert!(bad.parse::<DedupKey>().is_err(), "{bad}");
        }
        for bad in ["acme", "/a1"] {
            assert!(bad.parse::<ActionValue>().is_err(), "{bad}");
        }
        for bad in [
            "1.000000000",
            "1.5~an",
            "x.000000000~an",
            "1.000000000~a b",
            "1.000000000~",
        ] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad}");
        }
    }
}

/// A W3C trace context `traceparent` (`00-{trace id}-{span id}-{flags}`): where a queue message
/// or an outbox row was made in a trace, so the step that takes it up continues that trace
/// (ingest → score → notify). Carried beside a message's body, never in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TraceParent {
    /// The trace (never zero).
    pub trace_id: u128,
    /// The span the message was made in (never zero).
    pub span_id: u64,
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

impl TraceParent {
    /// The name it goes by beside a message: W3C's header, a pgmq header, an SQS message
    /// attribute.
    pub const NAME: &'static str = "traceparent";
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

impl FromStr for TraceParent {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, PortError> {
        let invalid = |why: &str| PortError::Invalid(format!("traceparent {s:?}: {why}"));
        let parts: Vec<&str> = s.split('-').collect();
        let [version, trace, span, flags] = parts[..] else {
            return Err(invalid("not four parts separated by -"));
        };
        fn hex<'a>(part: &'a str, len: usize, what: &str) -> Result<&'a str, String> {
            if part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                Ok(part)
            } else {
                Err(format!("{what} is not {len} lowercase hex digits"))
            }
        }
        let hex = |part, len, what| hex(part, len, what).map_err(|why| invalid(&why));
        if hex(version, 2, "the version")? != "00" {
            return Err(invalid("only version 00 is read"));
        }
        let parse_error = |e: std::num::ParseIntError| invalid(&e.to_string());
        let parent = TraceParent {
            trace_id: u128::from_str_radix(hex(trace, 32, "the trace id")?, 16)
                .map_err(parse_error)?,
            span_id: u64::from_str_radix(hex(span, 16, "the span id")?, 16).map_err(parse_error)?,
            flags: u8::from_str_radix(hex(flags, 2, "the flags")?, 16).map_err(parse_error)?,
        };
        if parent.trace_id == 0 || parent.span_id == 0 {
            return Err(invalid("a trace or span id of zeros"));
        }
        Ok(parent)
    }
}

crate::serde_as_text!(TraceParent);
