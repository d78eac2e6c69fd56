//! What a record may hold before it is priced and queued: every value that reaches a cost event
//! must be storable (no NUL, which Postgres refuses in text and JSONB), printable (no control
//! characters to forge log lines), of a sane length, and every count must be one a real call
//! could make. A record outside these bounds is rejected naming its field, so nothing that
//! cannot be stored or scored ever reaches the queue.

use chrono::{DateTime, Utc};
use dd0c_ports::domain::{is_account_id, CostEvent};

use crate::classify::Line;

/// Most records one push may hold: a CloudTrail log file holds far fewer, and a push is
/// priced whole before it is answered.
pub const MAX_RECORDS_PER_PUSH: usize = 10_000;

/// Most resources one call may create (in one line of its cost, or counted in one field).
pub const MAX_COUNT: u32 = 100_000;

/// Longest ARN, as IAM documents it.
pub const MAX_ARN: usize = 2048;

/// Longest id, name, type or region.
pub const MAX_NAME: usize = 256;

/// A field and what is wrong with it.
pub(crate) type Refusal = (String, String);

/// `value` of `field` is at most `max` characters long and holds no control character and no
/// invisible one that changes how it reads (a bidirectional override, a zero-width space).
pub(crate) fn text(field: &str, value: &str, max: usize) -> Result<(), Refusal> {
    if let Some(c) = value.chars().find(|c| dd0c_ports::text::is_unprintable(*c)) {
        let kind = if c.is_control() {
            "control"
        } else {
            "invisible formatting"
        };
        return Err((
            field.to_owned(),
            format!("holds the {kind} character U+{:04X}", u32::from(c)),
        ));
    }
    let length = value.chars().count();
    if length > max {
        return Err((
            field.to_owned(),
            format!("is {length} characters long, more than {max}"),
        ));
    }
    Ok(())
}

/// The header fields every record has: text bounds, the account id's and the region's shape,
/// and the event time no later than `latest`.
pub(crate) fn header(
    source: &str,
    name: &str,
    region: &str,
    account: &str,
    event_time: DateTime<Utc>,
    latest: Option<DateTime<Utc>>,
) -> Result<(), Refusal> {
    text("eventSource", source, MAX_NAME)?;
    text("eventName", name, MAX_NAME)?;
    let region_shape = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_shape {
        return Err((
            "awsRegion".to_owned(),
            format!("{} is not an AWS region", crate::preview(region)),
        ));
    }
    if !is_account_id(account) {
        return Err((
            "recipientAccountId".to_owned(),
            format!(
                "{} is not a 12-digit AWS account id",
                crate::preview(account)
            ),
        ));
    }
    if let Some(latest) = latest.filter(|l| event_time > *l) {
        return Err((
            "eventTime".to_owned(),
            format!(
                "{} is later than {}, the latest accepted now",
                event_time.to_rfc3339(),
                latest.to_rfc3339()
            ),
        ));
    }
    Ok(())
}

/// The priced lines: no more than [`MAX_COUNT`] resources each, and a finite cost.
pub(crate) fn lines(lines: &[Line]) -> Result<(), Refusal> {
    for line in lines {
        if line.quantity > MAX_COUNT {
            return Err((
                "(record)".to_owned(),
                format!(
                    "creates {} {}, more than the {MAX_COUNT} resources one call can create",
                    line.quantity, line.resource_type
                ),
            ));
        }
        if !(line.unit.hourly_usd * f64::from(line.quantity)).is_finite() {
            return Err((
                "(record)".to_owned(),
                format!(
                    "the cost of {} {} is out of range",
                    line.quantity, line.resource_type
                ),
            ));
        }
    }
    Ok(())
}

/// The text a cost event carries from its record, each named by the record field it came from.
pub(crate) fn event(event: &CostEvent) -> Result<(), Refusal> {
    text("eventID", &event.event_id, MAX_NAME)?;
    text("userIdentity.arn", &event.actor_arn, MAX_ARN)?;
    if let Some(session) = &event.actor_session {
        text("userIdentity (session name)", session, MAX_NAME)?;
    }
    text("userIdentity.type", &event.actor_type, MAX_NAME)?;
    text(
        "requestParameters (resource type)",
        &event.resource_type,
        MAX_NAME,
    )?;
    for id in &event.resource_ids {
        text("responseElements (resource id)", id, MAX_ARN)?;
    }
    Ok(())
}
