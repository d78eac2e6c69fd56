//! CSV exports: the anomaly list and the zombie findings as `text/csv` when a request asks for
//! it (`Accept: text/csv`, or `format=csv`), every match of the list's filters, written as it is
//! read. Text a spreadsheet would evaluate as a formula — a cell beginning with `=`, `+`, `-`,
//! `@`, a tab or a carriage return, as OWASP lists them — is neutralised with a leading `'`:
//! resource names, actors and explanations come from the customer's CloudTrail, where anyone
//! with an API key can write them.

use axum::http::{header, HeaderMap, HeaderValue};
use dd0c_ports::ledger::FollowedAnomaly;
use dd0c_ports::zombie::Finding;
use serde::Serialize;

use crate::ApiError;

/// The media type of every export.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Whether the request asks for CSV: `format` (`json` or `csv`, absent meaning JSON unless
/// `Accept` names `text/csv`).
pub(crate) fn wanted(format: Option<&str>, headers: &HeaderMap) -> Result<bool, ApiError> {
    match format {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::BadRequest(format!(
            "format {other:?}: json or csv"
        ))),
        None => Ok(headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|range| {
                range
                    .split(';')
                    .next()
                    .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/csv"))
            })),
    }
}

/// The headers of an export named `name` (`anomalies`): its media type, and a file name a
/// browser saves it under.
pub(crate) fn headers(name: &str) -> [(header::HeaderName, HeaderValue); 2] {
    let disposition = format!("attachment; filename=\"dd0c-{name}.csv\"");
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition)
                .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
        ),
    ]
}

/// The anomaly export's header line.
pub fn anomaly_header() -> String {
    line([
        "anomaly_id",
        "event_time",
        "severity",
        "status",
        "account_id",
        "region",
        "actor_arn",
        "resource_kind",
        "resource_type",
        "quantity",
        "resource_ids",
        "hourly_usd",
        "monthly_usd",
        "running_count",
        "hourly_now_usd",
        "cost_so_far_usd",
        "forecast_month_end_usd",
        "ended_at",
        "ended_by",
        "actual_cost_usd",
        "explanation",
    ])
}

/// One anomaly as a line of [`anomaly_header`]'s columns.
pub fn anomaly_line(item: &FollowedAnomaly) -> String {
    let (a, f) = (&item.anomaly, &item.followed);
    line([
        text(&a.anomaly_id),
        a.event_time.to_rfc3339(),
        name(&a.severity),
        name(&a.status),
        text(&a.account_id),
        text(&a.region),
        text(&a.actor_arn),
        text(&a.resource_kind),
        text(&a.resource_type),
        a.quantity.to_string(),
        text(&a.resource_ids.join(" ")),
        a.hourly_usd.to_string(),
        a.monthly_usd.to_string(),
        f.running_count.to_string(),
        f.hourly_now_usd.to_string(),
        f.cost_so_far_usd.to_string(),
        f.forecast_month_end_usd.to_string(),
        f.ended_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        text(f.ended_by.as_deref().unwrap_or_default()),
        f.actual_cost_usd.map(|c| c.to_string()).unwrap_or_default(),
        text(&a.explanation),
    ])
}

/// The findings export's header line.
pub fn finding_header() -> String {
    line([
        "finding_id",
        "account_id",
        "region",
        "kind",
        "resource_id",
        "resource_arn",
        "resource_type",
        "state",
        "monthly_waste_usd",
        "first_seen",
        "last_seen",
        "status",
        "ignored_reason",
        "gone_at",
        "explanation",
    ])
}

/// One finding as a line of [`finding_header`]'s columns.
pub fn finding_line(f: &Finding) -> String {
    line([
        text(&f.finding_id),
        text(&f.account_id),
        text(&f.region),
        name(&f.kind),
        text(&f.resource_id),
        text(&f.resource_arn),
        text(&f.resource_type),
        name(&f.state),
        f.monthly_waste_usd.to_string(),
        f.first_seen.to_rfc3339(),
        f.last_seen.to_rfc3339(),
        name(&f.status),
        text(f.ignored_reason.as_deref().unwrap_or_default()),
        f.gone_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        text(&f.explanation),
    ])
}

/// A whole export of `items`: the header line, then one line each.
pub fn anomalies_csv(items: &[FollowedAnomaly]) -> String {
    std::iter::once(anomaly_header())
        .chain(items.iter().map(anomaly_line))
        .collect()
}

/// A whole export of `findings`: the header line, then one line each.
pub fn findings_csv(findings: &[Finding]) -> String {
    std::iter::once(finding_header())
        .chain(findings.iter().map(finding_line))
        .collect()
}

/// Text as a cell a spreadsheet shows and never evaluates.
fn text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

/// An enum's value as spelled in JSON (`critical`, `ebs.unattached`).
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// One record (RFC 4180): a cell holding a comma, a quote or a line break is quoted, its quotes
/// doubled; lines end with CRLF.
fn line<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let cell = cell.as_ref();
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_shown_not_evaluated() {
        for formula in ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(text(formula), format!("'{formula}"));
        }
        assert_eq!(text("i-0abc"), "i-0abc");
        assert_eq!(text("a=b"), "a=b", "only a leading sign is a formula");
    }

    #[test]
    fn cells_with_separators_are_quoted() {
        assert_eq!(
            line(["a", "b,c", "say \"hi\"", "two\nlines"]),
            "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
    }

    #[test]
    fn format_wins_over_accept_and_accept_is_read_by_media_range() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json;q=0.5, TEXT/CSV;q=0.9"),
        );
        assert!(wanted(None, &headers).expect("valid"));
        assert!(!wanted(Some("json"), &headers).expect("valid"));
        assert!(wanted(Some("csv"), &HeaderMap::new()).expect("valid"));
        assert!(!wanted(None, &HeaderMap::new()).expect("valid"));
        assert!(wanted(Some("xml"), &headers).is_err());
    }
}
