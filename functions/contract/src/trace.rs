//! Traces across the pipeline: one trace per batch of CloudTrail records, from the edge that
//! admits it (or the ingest function) through the score queue to the scorer and the notifier,
//! exported over OTLP (HTTP, protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set ([`install`]).
//! Off, nothing is made: the steps ask [`enabled`] before making a span.
//!
//! A step's span is a `tracing` span under [`TARGET`], named for the step (`ingest`, `queue`,
//! `score`, `notify`) with the tenant, account, event id, anomaly id and severity as its fields.
//! What one step hands the next carries the span it was made in as a W3C [`TraceParent`] beside
//! its body — a queue message's, an outbox row's — and the next step's span continues from it
//! ([`continue_from`]), so every span of one record shares its trace id in both runtimes.

use std::sync::atomic::{AtomicBool, Ordering};

use dd0c_ports::keys::TraceParent;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;

/// The target of the pipeline's spans: only these are exported.
pub const TARGET: &str = "dd0c.pipeline";

/// Whether traces are exported (set once by [`install`]).
static ON: AtomicBool = AtomicBool::new(false);

/// Whether the steps make spans: traces are exported.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("OTEL_EXPORTER_OTLP_ENDPOINT {endpoint:?}: {why}")]
pub struct TelemetryError {
    /// The endpoint given.
    pub endpoint: String,
    /// What is wrong.
    pub why: String,
}

/// The exporter of this process's traces: flush it where a process may be frozen between
/// invocations (Lambda), shut it down on exit so the last spans leave.
#[derive(Debug, Clone)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Sends every finished span now.
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "traces could not be sent");
        }
    }

    /// Sends what is left and stops.
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "the trace exporter did not stop cleanly");
        }
    }
}

/// The layer that exports the pipeline's spans to the OTLP receiver at `endpoint`
/// (`http://collector:4318`; traces go to its `/v1/traces`) as service `service`, and its
/// exporter; with `endpoint` unset, none, and [`enabled`] stays false.
#[allow(clippy::type_complexity)]
pub fn install<S>(
    endpoint: Option<&str>,
    service: &str,
) -> Result<Option<(Box<dyn Layer<S> + Send + Sync>, Telemetry)>, TelemetryError>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
{
    let Some(endpoint) = endpoint.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let failed = |why: String| TelemetryError {
        endpoint: endpoint.to_owned(),
        why,
    };
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(failed("not an http:// or https:// URL".into()));
    }
    // The exporter's blocking HTTP client may not be made on an async runtime's thread (a
    // Lambda's main is one): it is made on a thread of its own.
    let provider = std::thread::scope(|scope| {
        scope
            .spawn(|| provider(endpoint, service))
            .join()
            .unwrap_or_else(|_| Err("making the exporter panicked".into()))
    })
    .map_err(failed)?;
    let tracer = provider.tracer("dd0c");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
            metadata.target() == TARGET
        }));
    ON.store(true, Ordering::Relaxed);
    Ok(Some((Box::new(layer), Telemetry { provider })))
}

/// The tracer provider exporting to `endpoint` in batches, as `service`.
fn provider(endpoint: &str, service: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build())
}

/// Where in its trace `span` is, as the parent a message made in it carries; `None` when
/// nothing is traced.
pub fn parent_of(span: &Span) -> Option<TraceParent> {
    if !enabled() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| TraceParent {
        trace_id: u128::from_be_bytes(span_context.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(span_context.span_id().to_bytes()),
        flags: span_context.trace_flags().to_u8(),
    })
}

/// [`parent_of`] the current span.
pub fn current() -> Option<TraceParent> {
    parent_of(&Span::current())
}

/// Makes `span` a child of `parent`, the span a message was made in (in another process,
/// maybe); without one, `span` begins a trace of its own.
pub fn continue_from(span: &Span, parent: Option<TraceParent>) {
    let Some(parent) = parent.filter(|_| enabled()) else {
        return;
    };
    let remote = SpanContext::new(
        TraceId::from_bytes(parent.trace_id.to_be_bytes()),
        SpanId::from_bytes(parent.span_id.to_be_bytes()),
        TraceFlags::new(parent.flags),
        true,
        TraceState::default(),
    );
    span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}

/// A step's span under [`TARGET`] when traces are exported ([`enabled`]), else
/// `Span::none()` (nothing made): `step_span!("score", tenant = %tenant, anomaly_id =
/// dd0c_function::tracing::field::Empty)`.
#[macro_export]
macro_rules! step_span {
    ($name:literal $(, $($fields:tt)*)?) => {
        if $crate::trace::enabled() {
            $crate::tracing::info_span!(target: $crate::trace::TARGET, $name $(, $($fields)*)?)
        } else {
            $crate::tracing::Span::none()
        }
    };
}
