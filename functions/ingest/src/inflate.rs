//! Inflating gzip under a bound. A megabyte of gzip can hold a gibibyte of text, so every path
//! that inflates what a tenant sends — a push's `Content-Encoding` and body, an agent's batch, a
//! file in a trail bucket, a backfill, `analyze` — stops at [`InflateLimit`] and refuses the
//! input whole, before anything of it is priced or queued.

use std::borrow::Cow;
use std::io::Read;

use crate::bounds::MAX_RECORDS_PER_PUSH;

/// Room per record in the default bound: CloudTrail records run to a few KiB; the rare large
/// one (a long policy document in its parameters) is paid for by the many small ones.
const BYTES_PER_RECORD: usize = 8 << 10;

/// The most bytes one input may inflate to, by default: the most records one push may hold,
/// at [`BYTES_PER_RECORD`] each.
pub const DEFAULT_MAX_INFLATED_BYTES: usize = MAX_RECORDS_PER_PUSH * BYTES_PER_RECORD;

/// gzip's magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The most bytes one input may inflate to (`DD0C_MAX_INFLATED_BYTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InflateLimit(pub usize);

impl Default for InflateLimit {
    fn default() -> Self {
        InflateLimit(DEFAULT_MAX_INFLATED_BYTES)
    }
}

/// Why an input was not inflated.
#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    /// It holds more than the bound.
    #[error("it inflates beyond {limit} bytes, the most one input may (DD0C_MAX_INFLATED_BYTES)")]
    TooLarge {
        /// The bound.
        limit: usize,
    },
    /// It says gzip and is not.
    #[error("not a readable gzip stream: {0}")]
    Corrupt(#[source] std::io::Error),
}

/// Whether `bytes` begin as gzip does.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

impl InflateLimit {
    /// `bytes` inflated when they are gzip (detected by their magic bytes), as they are when
    /// not. One layer only: gzip found inside is text to the reader, not inflated again.
    pub fn inflate<'a>(&self, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, InflateError> {
        if !is_gzip(bytes) {
            return Ok(Cow::Borrowed(bytes));
        }
        self.gunzip(bytes).map(Cow::Owned)
    }

    /// `bytes`, which must be gzip, inflated: at most the bound is ever held, however much
    /// the stream would give.
    pub fn gunzip(&self, bytes: &[u8]) -> Result<Vec<u8>, InflateError> {
        let limit = self.0;
        let mut inflated = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(limit as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(InflateError::Corrupt)?;
        if inflated.len() > limit {
            return Err(InflateError::TooLarge { limit });
        }
        Ok(inflated)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).expect("compressed");
        encoder.finish().expect("compressed")
    }

    #[test]
    fn plain_input_is_borrowed_as_it_is() {
        let inflated = InflateLimit(4).inflate(b"{\"a\": 1}").expect("inflated");
        assert!(matches!(inflated, Cow::Borrowed(b"{\"a\": 1}")));
    }

    #[test]
    fn gzip_within_the_bound_is_inflated() {
        let text = vec![b'x'; 1000];
        assert_eq!(
            InflateLimit(1000)
                .inflate(&gzip(&text))
                .expect("inflated")
                .as_ref(),
            &text[..]
        );
    }

    #[test]
    fn gzip_past_the_bound_is_refused() {
        let error = InflateLimit(999)
            .inflate(&gzip(&[b'x'; 1000]))
            .expect_err("refused");
        assert!(
            matches!(error, InflateError::TooLarge { limit: 999 }),
            "{error}"
        );
        assert!(error.to_string().contains("DD0C_MAX_INFLATED_BYTES"));
    }

    #[test]
    fn gzip_inside_gzip_is_inflated_once() {
        let inner = gzip(b"{}");
        assert_eq!(
            InflateLimit(1 << 20)
                .inflate(&gzip(&inner))
                .expect("inflated")
                .as_ref(),
            &inner[..]
        );
    }

    #[test]
    fn a_broken_stream_is_corrupt() {
        let mut broken = gzip(&[b'x'; 100]);
        broken.truncate(12);
        assert!(matches!(
            InflateLimit(1 << 20).inflate(&broken),
            Err(InflateError::Corrupt(_))
        ));
    }
}
