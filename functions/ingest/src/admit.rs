//! Admitting one account's CloudTrail at an edge that prices on arrival — `POST /v1/events`,
//! the trail poller and the agents' gRPC stream alike: records of the account are priced, the
//! raw records archived where an archive is configured, and only cost events queued for scoring.
//!
//! Two steps, so an edge can refuse a document between them with nothing queued:
//! [`Admitter::price`] tallies what each record became; [`Admitter::queue`] archives and queues.
//! Between them a live edge draws the records on the tenant's intake rate
//! ([`Admitter::draw_live`]); [`Admitter::admit`], for background sources, waits for it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dd0c_ports::archive::Archive;
use dd0c_ports::queue::{OutgoingMessage, Queue, SendOutcome};
use dd0c_ports::PortError;

use crate::handler::{score_message, send_for_scoring};
use crate::inflate::InflateError;
use crate::limit::{IntakeLimit, OverRate};
use crate::normalizers::Normalizers;
use crate::{Admitted, Item};
use dd0c_function::step_span;
use tracing::Instrument;

/// How many rejection reasons a tally keeps.
const REASONS_KEPT: usize = 20;

/// Prices, archives and queues one account's records.
#[allow(missing_debug_implementations)]
pub struct Admitter {
    /// Each tenant's normalizer, shared with the ingest function.
    pub normalizers: Arc<Normalizers>,
    /// Where cost events go.
    pub score_queue: Arc<dyn Queue>,
    /// Where raw records are kept, if anywhere.
    pub archive: Option<Arc<dyn Archive>>,
    /// Each tenant's intake rate, if one is set.
    pub limit: Option<IntakeLimit>,
}

/// What one document's records became, before anything is queued.
#[derive(Debug, Default)]
pub struct Priced {
    /// The tenant.
    pub tenant: String,
    /// The account admitted.
    pub account_id: String,
    /// Valid records of the account.
    pub accepted: usize,
    /// Accepted records that create nothing billable.
    pub skipped: usize,
    /// Records refused, of another account or invalid.
    pub rejected: usize,
    /// Of `rejected`, those valid but of another account.
    pub other_account: usize,
    /// Records past the most one document may hold.
    pub over_limit: usize,
    /// Why the document was refused whole, before any record (it inflates past the bound):
    /// then every count is zero and nothing is queued.
    pub refused: Option<InflateError>,
    /// Why records were refused, for the first few.
    pub reasons: Vec<String>,
    /// The newest `eventTime` among the cost events.
    pub newest_event_time: Option<DateTime<Utc>>,
    /// A cost event that could not be encoded, if any.
    pub encode_error: Option<String>,
    messages: Vec<OutgoingMessage>,
    /// Per message: whether it is a stop or an end (followed, not scored).
    ends: Vec<bool>,
    /// The document's `ingest` span, while it is priced and queued (when traced).
    span: Option<tracing::Span>,
    raw: Vec<String>,
}

impl Priced {
    /// Counts one record; a refused record's reason names its field.
    fn admit(&mut self, admitted: Admitted) {
        match admitted {
            Admitted::OtherAccount { index, account_id } => {
                self.other_account += 1;
                self.refuse(format!(
                    "record {index}: recipientAccountId {account_id} is not account {}",
                    self.account_id
                ));
            }
            Admitted::OverLimit { .. } => self.over_limit += 1,
            Admitted::Item(Item::Cost(events)) => {
                self.accepted += 1;
                for event in &events {
                    self.newest_event_time = self.newest_event_time.max(Some(event.event_time));
                    match score_message(event) {
                        Ok(message) => {
                            self.messages.push(message);
                            self.ends.push(!event.change.is_priced());
                        }
                        Err(e) => self.encode_error = Some(e.to_string()),
                    }
                }
            }
            Admitted::Item(Item::Skipped(_)) => {
                self.accepted += 1;
                self.skipped += 1;
            }
            Admitted::Item(Item::Rejected(r)) => self.refuse(format!(
                "record {}: field {}: {}",
                r.index, r.field, r.reason
            )),
        }
    }

    fn refuse(&mut self, reason: String) {
        self.rejected += 1;
        if self.reasons.len() < REASONS_KEPT {
            self.reasons.push(reason);
        }
    }
}

/// What queueing a priced document did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Queued {
    /// Priced cost events (creations, starts, resizes) queued for scoring.
    pub priced: usize,
    /// Stops and ends of resources queued, to be followed (not scored).
    pub ends: usize,
    /// Cost events already queued within the deduplication window (not queued again).
    pub duplicates: usize,
}

impl Admitter {
    /// Prices the records of `bytes` (any CloudTrail shape) that belong to `account_id`, for
    /// `tenant`; past the first `max_records` records are only counted (`over_limit`).
    pub async fn price(
        &self,
        tenant: &str,
        account_id: &str,
        bytes: Vec<u8>,
        origin: &str,
        max_records: usize,
    ) -> Result<Priced, PortError> {
        let span = step_span!(
            "ingest",
            tenant,
            account_id,
            source = origin,
            records = dd0c_function::tracing::field::Empty,
            cost_events = dd0c_function::tracing::field::Empty,
        );
        let document = self
            .normalizers
            .normalize_account(
                tenant,
                account_id,
                bytes,
                origin,
                max_records,
                self.archive.is_some(),
            )
            .instrument(span.clone())
            .await?;
        let mut priced = Priced {
            tenant: tenant.to_owned(),
            account_id: account_id.to_owned(),
            raw: document.raw,
            refused: document.refused,
            ..Priced::default()
        };
        for admitted in document.admitted {
            priced.admit(admitted);
        }
        span.record("records", (priced.accepted + priced.rejected) as u64);
        span.record("cost_events", priced.messages.len() as u64);
        priced.span = Some(span);
        Ok(priced)
    }

    /// Draws `priced`'s accepted records on its tenant's intake rate, for a live edge: `None`
    /// when the document may be queued (or no rate is set), else how long to wait before it is
    /// sent again.
    pub async fn draw_live(&self, priced: &Priced) -> Result<Option<OverRate>, PortError> {
        match &self.limit {
            Some(limit) => limit.live(&priced.tenant, priced.accepted).await,
            None => Ok(None),
        }
    }

    /// Archives the accepted raw records (where an archive is configured), then queues the
    /// cost events, taking both out of `priced` (its counts stay): a failure leaves nothing
    /// queued, and the caller may try the document again (the archive key and the queue's
    /// deduplication make a retry harmless).
    pub async fn queue(
        &self,
        priced: &mut Priced,
        now: DateTime<Utc>,
    ) -> Result<Queued, PortError> {
        if let Some(archive) = &self.archive {
            crate::archive::put_raw(
                archive.as_ref(),
                &priced.tenant,
                &priced.account_id,
                now,
                &std::mem::take(&mut priced.raw),
            )
            .await?;
        }
        let outcomes = send_for_scoring(
            self.score_queue.as_ref(),
            std::mem::take(&mut priced.messages),
        )
        .instrument(priced.span.clone().unwrap_or_else(tracing::Span::none))
        .await?;
        let mut queued = Queued::default();
        for (outcome, is_end) in outcomes.iter().zip(std::mem::take(&mut priced.ends)) {
            match (outcome, is_end) {
                (SendOutcome::Duplicate, _) => queued.duplicates += 1,
                (_, true) => queued.ends += 1,
                (_, false) => queued.priced += 1,
            }
        }
        Ok(queued)
    }

    /// Both steps, for sources that answer no one (the poller, `backfill`): a document refused
    /// whole (`refused`) queues nothing; the others wait for their tenant's intake rate, after
    /// live traffic ([`IntakeLimit::background`]).
    pub async fn admit(
        &self,
        tenant: &str,
        account_id: &str,
        bytes: Vec<u8>,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<(Priced, Queued), PortError> {
        let mut priced = self
            .price(tenant, account_id, bytes, origin, usize::MAX)
            .await?;
        if priced.refused.is_some() {
            return Ok((priced, Queued::default()));
        }
        if let Some(limit) = &self.limit {
            limit.background(tenant, priced.accepted).await?;
        }
        let queued = self.queue(&mut priced, now).await?;
        Ok((priced, queued))
    }
}
