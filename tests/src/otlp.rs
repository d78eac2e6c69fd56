//! [`OtlpReceiver`]: a real OTLP/HTTP trace receiver on loopback for the telemetry tests —
//! `otlp_receiver.py` beside this file, which decodes with OpenTelemetry's own protobufs (PyPI
//! `opentelemetry-proto`, in the test virtualenv `$DD0C_TEST_PYTHON`) and keeps each span as a
//! JSON line: `trace_id`, `span_id`, `parent_span_id` (hex), `name`, `service`, `attributes`,
//! `events` (their names).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The receiver; it stops when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl OtlpReceiver {
    /// Starts the receiver with `$DD0C_TEST_PYTHON` (set by `scripts/test.sh`).
    pub fn start() -> std::io::Result<OtlpReceiver> {
        let python = std::env::var("DD0C_TEST_PYTHON").map_err(|_| {
            std::io::Error::other("DD0C_TEST_PYTHON: run the tests with scripts/test.sh")
        })?;
        let out = std::env::temp_dir().join(format!(
            "dd0c-spans-{}-{}.jsonl",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let mut child = Command::new(python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/src/otlp_receiver.py"))
            .arg(&out)
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut line)?;
        }
        let port = line.trim().parse().map_err(|_| {
            std::io::Error::other(format!("the receiver said {line:?}, not a port"))
        })?;
        Ok(OtlpReceiver { child, port, out })
    }

    /// What `OTEL_EXPORTER_OTLP_ENDPOINT` says to reach it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The first `notify` span of `tenant` received so far and its ancestors, each the parent
    /// of the next: `[ingest, queue, score, notify]`, once all four are here.
    pub fn pipeline(&self, tenant: &str) -> Option<[Value; 4]> {
        let spans = self.spans();
        let parent = |span: &Value| {
            let id = span["parent_span_id"]
                .as_str()
                .filter(|id| !id.is_empty())?;
            spans.iter().find(|s| s["span_id"] == id).cloned()
        };
        let notify = spans
            .iter()
            .find(|s| s["name"] == "notify" && s["attributes"]["tenant"] == tenant)?
            .clone();
        let score = parent(&notify)?;
        let queue = parent(&score)?;
        let ingest = parent(&queue)?;
        Some([ingest, queue, score, notify])
    }
}

/// Asserts that `pipeline` ([`OtlpReceiver::pipeline`]) is `ingest`, `queue`, `score`,
/// `notify`, all of one trace.
pub fn assert_one_pipeline(pipeline: &[Value; 4]) {
    let names = pipeline.clone().map(|s| s["name"].clone());
    assert_eq!(
        names,
        ["ingest", "queue", "score", "notify"],
        "each the parent of the next"
    );
    for span in &pipeline[1..] {
        assert_eq!(
            span["trace_id"], pipeline[0]["trace_id"],
            "one trace: {span}"
        );
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.out);
    }
}
