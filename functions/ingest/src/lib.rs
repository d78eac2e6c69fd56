//! # dd0c-ingest
//!
//! The CloudTrail normalizer: reads CloudTrail in every shape it arrives in and turns each call
//! that creates, starts, resizes, stops or ends priced resources into [`CostEvent`]s (their
//! [`Change`](dd0c_ports::domain::Change) says which).
//!
//! Map:
//! - [`Normalizer`] — the entry point: [`Normalizer::normalize_document`] walks any shape
//!   (S3 log file `{"Records":[…]}`, EventBridge envelope, SQS message, SNS notification, bare
//!   record, JSON array, NDJSON; gzip detected by magic bytes) and reports each record as a
//!   [`Item`]: cost events, a skip with its [`SkipReason`], or a [`Rejection`] naming where it is
//!   wrong. [`Normalizer::normalize_account`] does the same for an ingress that admits one
//!   account's records and prices them on arrival.
//! - [`bounds`] — what a record may hold (storable, printable text; real counts; no future
//!   event time) before it is priced and queued.
//! - [`inflate`] — gzip inflated under a bound, on every path that inflates.
//! - [`catalog`] — the bundled (or user-supplied) price catalog and price estimation.
//! - [`input`] — files, directories (recursive) and stdin.
//! - [`normalizers`] — one normalizer per tenant, what each learns kept in the recall store:
//!   what the services use, so no tenant's records can teach, read or evict another's facts.
//! - [`handler`] — the ingest function: a queued record in, cost events out to the score queue.
//! - [`admit`] — one account's records admitted at an edge that prices on arrival (push, the
//!   trail poller, the agents); [`archive`] — the raw archive's layout and retention.
//! - [`trail`] — the trail poller: a customer's CloudTrail bucket read by checkpoint, and its
//!   scheduled job; [`retention`] — the job forgetting what is kept only for a while.
//! - `classify` — one pricing function per AWS API; `json` — lenient access to CloudTrail's
//!   parameter dialects; `record` — the zero-copy record type and actor derivation.

pub mod admit;
pub mod archive;
pub mod bounds;
pub mod catalog;
pub mod handler;
pub mod inflate;
pub mod input;
pub mod limit;
pub mod normalizers;
pub mod retention;
pub mod trail;

mod classify;
mod json;
mod record;
mod walk;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use dd0c_ports::domain::{CostEvent, HOURS_PER_MONTH};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use catalog::{CatalogError, Current, Price, PriceCatalog};
pub use classify::{priced_calls, Recall, MAX_FACTS_PER_RECORD};

use classify::{Call, Classified, Ctx};
use dd0c_ports::domain::Change;
use inflate::{InflateError, InflateLimit};
use json::J;
use record::Node;
use walk::Leaf;

/// Why a valid record produced no cost event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The call failed (`errorCode` present, `Client.DryRunOperation` included).
    FailedCall,
    /// The call only reads.
    ReadOnly,
    /// The call changes something but creates no cost.
    NotCost,
}

/// A record that is not valid CloudTrail, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The input it came from (file path, `-` for stdin, or the caller's label).
    pub origin: String,
    /// 0-based position of the record within its input.
    pub index: usize,
    /// The offending field (`eventTime`, `requestParameters.instancesSet[0].maxCount`), or
    /// `(record)` when the record as a whole is unusable.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: record {}: field {}: {}",
            self.origin, self.index, self.field, self.reason
        )
    }
}

/// What one record amounted to.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Resources created, started, resized, stopped or ended (one event per resource group of
    /// the call).
    Cost(Vec<CostEvent>),
    /// Valid, but nothing to price.
    Skipped(SkipReason),
    /// Not valid CloudTrail.
    Rejected(Rejection),
}

/// What [`Normalizer::normalize_account`] made of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// A record of the admitted account, or one that is not valid CloudTrail.
    Item(Item),
    /// A valid record of another account: not priced.
    OtherAccount {
        /// 0-based position within the document.
        index: usize,
        /// Its `recipientAccountId` (or `userIdentity.accountId`).
        account_id: String,
    },
    /// A record past the most one document may hold: not read further.
    OverLimit {
        /// 0-based position within the document.
        index: usize,
    },
}

/// Counts over everything read; `Display` prints the summary line of `dd0c-cost normalize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Every record read, valid or not.
    pub records: u64,
    /// Priced cost events produced (creations, starts, resizes).
    pub cost_events: u64,
    /// Stops and ends of resources produced.
    pub ends: u64,
    /// Records skipped as failed calls.
    pub failed_calls: u64,
    /// Records skipped as read-only.
    pub read_only: u64,
    /// Records skipped as creating no cost.
    pub not_cost: u64,
    /// Records rejected as invalid.
    pub rejected: u64,
}

impl Summary {
    /// Counts one item.
    pub fn add(&mut self, item: &Item) {
        self.records += 1;
        match item {
            Item::Cost(events) => {
                for event in events {
                    if event.change.is_priced() {
                        self.cost_events += 1;
                    } else {
                        self.ends += 1;
                    }
                }
            }
            Item::Skipped(SkipReason::FailedCall) => self.failed_calls += 1,
            Item::Skipped(SkipReason::ReadOnly) => self.read_only += 1,
            Item::Skipped(SkipReason::NotCost) => self.not_cost += 1,
            Item::Rejected(_) => self.rejected += 1,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "records={} cost_events={} ends={} failed_calls={} read_only={} not_cost={} rejected={}",
            self.records,
            self.cost_events,
            self.ends,
            self.failed_calls,
            self.read_only,
            self.not_cost,
            self.rejected
        )
    }
}

/// Turns CloudTrail into cost events. Keeps a [`Recall`] of facts earlier records taught it
/// (SageMaker endpoint configs, ECS task sizes, Lambda memory, instance types), so feed it
/// records of one stream in order.
#[derive(Debug)]
pub struct Normalizer {
    catalog: Arc<PriceCatalog>,
    tenant: String,
    recall: Recall,
    /// How far past the clock an event time may be; `None`: any time (reading old files).
    max_skew: Option<chrono::TimeDelta>,
    /// The most a gzip input may inflate to.
    inflate: InflateLimit,
}

impl Normalizer {
    /// A normalizer pricing with `catalog` for `tenant`.
    pub fn new(catalog: Arc<PriceCatalog>, tenant: &str) -> Self {
        Normalizer {
            catalog,
            tenant: tenant.to_owned(),
            recall: Recall::default(),
            max_skew: None,
            inflate: InflateLimit::default(),
        }
    }

    /// Rejects records whose `eventTime` is more than `skew` past the clock: what a service
    /// that scores live events wants, so a forged far-future record cannot head every list.
    pub fn refusing_future(mut self, skew: chrono::TimeDelta) -> Self {
        self.max_skew = Some(skew);
        self
    }

    /// Refuses inputs that inflate past `limit` (the default is [`inflate::DEFAULT_MAX_INFLATED_BYTES`]).
    pub fn inflating_at_most(mut self, limit: InflateLimit) -> Self {
        self.inflate = limit;
        self
    }

    /// What this normalizer learned and missed, for a caller that keeps it in a store
    /// ([`normalizers::Normalizers`]).
    pub fn recall_mut(&mut self) -> &mut Recall {
        &mut self.recall
    }

    /// Normalizes one input of any shape (gzip-compressed or not), calling `sink` once per
    /// record in input order. `origin` names the input in rejections. Never fails: what cannot
    /// be read is reported as rejections, an input that inflates past the bound as one.
    pub fn normalize_document(&mut self, bytes: &[u8], origin: &str, sink: &mut dyn FnMut(Item)) {
        let walked = walk::document(bytes, self.inflate, origin, &mut |leaf| {
            sink(match leaf {
                Leaf::Record { node, text, index } => {
                    self.record(node, text).unwrap_or_else(|(field, reason)| {
                        Item::Rejected(reject(origin, index, &field, reason))
                    })
                }
                Leaf::Rejected(rejection) => Item::Rejected(rejection),
            })
        });
        if let Err(e) = walked {
            sink(Item::Rejected(reject(origin, 0, "(file)", e.to_string())));
        }
    }

    /// Normalizes, for `tenant`, the records of a pushed document that belong to `account_id`,
    /// parsing each record once: what an ingress that prices on arrival needs. A valid record of
    /// another account is reported as [`Admitted::OtherAccount`] and not priced, a record past
    /// the first `max_records` as [`Admitted::OverLimit`]; everything else as its [`Item`], in
    /// input order, each with the record's text (empty where no record could be read). An
    /// input that inflates past the bound is refused whole, before any record.
    pub fn normalize_account(
        &mut self,
        tenant: &str,
        account_id: &str,
        bytes: &[u8],
        origin: &str,
        max_records: usize,
        sink: &mut dyn FnMut(Admitted, &str),
    ) -> Result<(), InflateError> {
        self.serve_tenant(tenant);
        let limit = self.inflate;
        walk::document(bytes, limit, origin, &mut |leaf| {
            let text = match &leaf {
                Leaf::Record { text, .. } => *text,
                Leaf::Rejected(_) => "",
            };
            let admitted = match leaf {
                Leaf::Record { index, .. } if index >= max_records => Admitted::OverLimit { index },
                Leaf::Record { node, text, index } => match header(node) {
                    Ok(h) if h.account != account_id => Admitted::OtherAccount {
                        index,
                        account_id: h.account,
                    },
                    read => Admitted::Item(
                        read.and_then(|h| self.headed_record(node, text, h))
                            .unwrap_or_else(|(field, reason)| {
                                Item::Rejected(reject(origin, index, &field, reason))
                            }),
                    ),
                },
                Leaf::Rejected(rejection) => Admitted::Item(Item::Rejected(rejection)),
            };
            sink(admitted, text);
        })
    }

    /// Normalizes one bare record for `tenant` (the ingest function serves every tenant with
    /// one normalizer, so the record's own tenant is set per call).
    pub fn normalize_for(&mut self, tenant: &str, text: &str) -> Item {
        self.serve_tenant(tenant);
        self.normalize_record(text, "queue", 0)
    }

    /// Prices what follows for `tenant`.
    fn serve_tenant(&mut self, tenant: &str) {
        if self.tenant != tenant {
            self.tenant = tenant.to_owned();
        }
    }

    /// Normalizes one bare CloudTrail record (JSON text).
    pub fn normalize_record(&mut self, text: &str, origin: &str, index: usize) -> Item {
        match serde_json::from_str::<Node>(text) {
            Ok(node) => self.record(&node, text).unwrap_or_else(|(field, reason)| {
                Item::Rejected(reject(origin, index, &field, reason))
            }),
            Err(_) => Item::Rejected(explain_bad_record(text, origin, index)),
        }
    }

    fn record(&mut self, node: &Node<'_>, text: &str) -> Result<Item, (String, String)> {
        let header = header(node)?;
        self.headed_record(node, text, header)
    }

    /// [`Normalizer::record`] with the record's header already read. A rejected record teaches
    /// nothing.
    fn headed_record(
        &mut self,
        node: &Node<'_>,
        text: &str,
        header: Header,
    ) -> Result<Item, (String, String)> {
        self.recall.begin_record();
        let item = self.price(node, text, header);
        if item.is_err() {
            self.recall.reject_record();
        }
        item
    }

    /// Prices a record whose header has been read.
    fn price(
        &mut self,
        node: &Node<'_>,
        text: &str,
        header: Header,
    ) -> Result<Item, (String, String)> {
        let Header {
            source,
            full_name,
            event_time,
            region,
            account,
        } = header;
        let latest = self.max_skew.map(|skew| chrono::Utc::now() + skew);
        bounds::header(&source, &full_name, &region, &account, event_time, latest)?;

        if node.error_code.as_deref().is_some_and(|c| !c.is_empty()) {
            return Ok(Item::Skipped(SkipReason::FailedCall));
        }
        let name = record::base_event_name(&full_name);
        if node
            .read_only
            .unwrap_or_else(|| record::looks_read_only(name))
        {
            return Ok(Item::Skipped(SkipReason::ReadOnly));
        }
        let Some(rule) = classify::rule(&source, name) else {
            return Ok(Item::Skipped(SkipReason::NotCost));
        };

        let parse =
            |raw: Option<&RawValue>, field: &str| -> Result<Option<Value>, (String, String)> {
                raw.map(|r| serde_json::from_str::<Value>(r.get()))
                    .transpose()
                    .map_err(|e| (field.to_owned(), e.to_string()))
            };
        let request = parse(node.request_parameters, "requestParameters")?;
        let response = parse(node.response_elements, "responseElements")?;
        let call = Call {
            account: &account,
            region: &region,
            invoked_by: record::invoking_service(node),
            req: J::root(request.as_ref(), "requestParameters"),
            resp: J::root(response.as_ref(), "responseElements"),
        };
        let mut ctx = Ctx {
            catalog: &self.catalog,
            recall: &mut self.recall,
        };
        let (change, lines) = match rule
            .classify(&call, &mut ctx)
            .map_err(|e| (e.field, e.reason))?
        {
            Classified::NotCost => return Ok(Item::Skipped(SkipReason::NotCost)),
            Classified::Lines(lines) => (Change::Create, lines),
            Classified::Changed(change, lines) => (change, lines),
        };
        if lines.is_empty() {
            return Ok(Item::Skipped(SkipReason::NotCost));
        }

        bounds::lines(&lines)?;
        let base_id = match node.event_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => id.to_owned(),
            None => derived_event_id(text),
        };
        let actor = record::actor(node.user_identity.as_ref(), &account);
        let events = lines
            .into_iter()
            .enumerate()
            .map(|(i, line)| {
                let hourly = line.unit.hourly_usd * f64::from(line.quantity);
                CostEvent {
                    event_id: if i == 0 {
                        base_id.clone()
                    } else {
                        format!("{base_id}#{i}")
                    },
                    event_time,
                    tenant: self.tenant.clone(),
                    account_id: account.clone(),
                    region: region.clone(),
                    event_source: source.clone(),
                    event_name: name.to_owned(),
                    actor_arn: actor.arn.clone(),
                    actor_session: actor.session.clone(),
                    actor_type: actor.kind.clone(),
                    resource_kind: line.kind.to_owned(),
                    resource_type: line.resource_type,
                    resource_ids: line.ids,
                    quantity: line.quantity,
                    unit_hourly_usd: round_usd(line.unit.hourly_usd),
                    hourly_usd: round_usd(hourly),
                    monthly_usd: round_usd(hourly * HOURS_PER_MONTH),
                    price_source: line.unit.source,
                    change,
                }
            })
            .collect::<Vec<_>>();
        for event in &events {
            bounds::event(event)?;
        }
        Ok(Item::Cost(events))
    }
}

/// The fields every CloudTrail record must have, validated.
struct Header {
    source: String,
    full_name: String,
    event_time: chrono::DateTime<chrono::Utc>,
    region: String,
    account: String,
}

fn header(node: &Node<'_>) -> Result<Header, (String, String)> {
    let required =
        |value: &Option<Cow<'_, str>>, field: &str| -> Result<String, (String, String)> {
            match value.as_deref() {
                Some(v) if !v.trim().is_empty() => Ok(v.to_owned()),
                Some(_) => Err((field.to_owned(), "is empty".to_owned())),
                None => Err((field.to_owned(), "is missing".to_owned())),
            }
        };
    let source = required(&node.event_source, "eventSource")?;
    let full_name = required(&node.event_name, "eventName")?;
    let time_text = required(&node.event_time, "eventTime")?;
    let event_time = record::parse_time(&time_text).ok_or_else(|| {
        (
            "eventTime".to_owned(),
            format!("{time_text:?} is neither RFC 3339 nor a UTC \"YYYY-MM-DD HH:MM:SS\" time"),
        )
    })?;
    let region = required(&node.aws_region, "awsRegion")?;
    let account = node
        .recipient_account_id
        .as_deref()
        .or_else(|| {
            node.user_identity
                .as_ref()
                .and_then(|u| u.account_id.as_deref())
        })
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            (
                "recipientAccountId".to_owned(),
                "is missing (and userIdentity.accountId too)".to_owned(),
            )
        })?
        .to_owned();
    Ok(Header {
        source,
        full_name,
        event_time,
        region,
        account,
    })
}

/// One valid CloudTrail record of a document, as its JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// 0-based position within the document.
    pub index: usize,
    /// The bare record.
    pub text: &'a str,
    /// Its `recipientAccountId` (or `userIdentity.accountId`).
    pub account_id: String,
    /// Its `eventID`, when it has one.
    pub event_id: Option<String>,
    /// Its `eventTime`.
    pub event_time: chrono::DateTime<chrono::Utc>,
}

/// Splits a document of any shape into its records, each checked for the fields every record
/// needs but not classified or priced: what an ingress needs to admit records by account before
/// queueing them for the normalizer. A document that inflates past `limit` is refused whole.
pub fn split_records(
    bytes: &[u8],
    origin: &str,
    limit: InflateLimit,
    sink: &mut dyn FnMut(Result<RawRecord<'_>, Rejection>),
) -> Result<(), InflateError> {
    walk::document(bytes, limit, origin, &mut |leaf| match leaf {
        Leaf::Record { node, text, index } => sink(match header(node) {
            Ok(h) => Ok(RawRecord {
                index,
                text,
                account_id: h.account,
                event_id: node.event_id.as_deref().map(str::to_owned),
                event_time: h.event_time,
            }),
            Err((field, reason)) => Err(reject(origin, index, &field, reason)),
        }),
        Leaf::Rejected(rejection) => sink(Err(rejection)),
    })
}

/// Rounds to 1/1,000,000 USD so output is stable across platforms and free of float noise.
fn round_usd(usd: f64) -> f64 {
    (usd * 1e6).round() / 1e6
}

pub(crate) fn reject(origin: &str, index: usize, field: &str, reason: String) -> Rejection {
    Rejection {
        origin: origin.to_owned(),
        index,
        field: field.to_owned(),
        reason,
    }
}

pub(crate) fn preview(text: &str) -> String {
    let mut shown: String = text.chars().take(40).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// `sha256:` + the first 32 hex digits of the SHA-256 of the record's canonical JSON (keys
/// sorted), so the same record always gets the same id however it was formatted.
pub fn derived_event_id(text: &str) -> String {
    let canonical = serde_json::from_str::<Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| text.to_owned());
    let digest = Sha256::digest(canonical.as_bytes());
    format!("sha256:{}", dd0c_ports::text::hex(&digest[..16]))
}

/// Names the first field of a record object whose type is wrong (the typed parse only says
/// "invalid type at column N").
pub(crate) fn explain_bad_record(text: &str, origin: &str, index: usize) -> Rejection {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return reject(origin, index, "(record)", format!("not valid JSON: {e}")),
    };
    let expectations: [(&str, &str, fn(&Value) -> bool); 14] = [
        ("Records", "an array", Value::is_array),
        ("body", "a string", Value::is_string),
        ("Body", "a string", Value::is_string),
        ("Message", "a string", Value::is_string),
        ("eventID", "a string", Value::is_string),
        ("eventTime", "a string", Value::is_string),
        ("eventSource", "a string", Value::is_string),
        ("eventName", "a string", Value::is_string),
        ("awsRegion", "a string", Value::is_string),
        ("recipientAccountId", "a string", Value::is_string),
        ("errorCode", "a string", Value::is_string),
        ("readOnly", "a boolean", |v| v.is_boolean() || v.is_string()),
        ("userIdentity", "an object", Value::is_object),
        ("detail", "an object", |v| v.is_object() || v.is_array()),
    ];
    for (field, expected, ok) in expectations {
        if let Some(v) = value.get(field).filter(|v| !v.is_null()) {
            if !ok(v) {
                return reject(
                    origin,
                    index,
                    field,
                    format!("expected {expected}, got {}", preview(&v.to_string())),
                );
            }
        }
    }
    if let Some(identity) = value.get("userIdentity") {
        for field in ["type", "arn", "principalId", "accountId", "invokedBy"] {
            if let Some(v) = identity
                .get(field)
                .filter(|v| !v.is_null() && !v.is_string())
            {
                return reject(
                    origin,
                    index,
                    &format!("userIdentity.{field}"),
                    format!("expected a string, got {}", preview(&v.to_string())),
                );
            }
        }
        let issuer = identity
            .pointer("/sessionContext/sessionIssuer/arn")
            .filter(|v| !v.is_null() && !v.is_string());
        if let Some(v) = issuer {
            return reject(
                origin,
                index,
                "userIdentity.sessionContext.sessionIssuer.arn",
                format!("expected a string, got {v}"),
            );
        }
        if let Some(v) = identity
            .get("sessionContext")
            .filter(|v| !v.is_null() && !v.is_object())
        {
            return reject(
                origin,
                index,
                "userIdentity.sessionContext",
                format!("expected an object, got {}", preview(&v.to_string())),
            );
        }
    }
    reject(
        origin,
        index,
        "(record)",
        "is not a CloudTrail record".to_owned(),
    )
}
