//! Circuit-breaker transitions per channel (the state lives in the flags port, shared by every
//! replica): after [`TRIP_AFTER`] consecutive failures the channel opens for a backoff that
//! doubles with each trip (from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`]); when it lapses one
//! attempt goes through (half-open): success closes the breaker, failure reopens it for longer.

use chrono::{DateTime, TimeDelta, Utc};
use dd0c_ports::flags::BreakerState;

/// Consecutive failures that open a breaker.
pub const TRIP_AFTER: u32 = 3;
/// How long a breaker first stays open.
pub const FIRST_BACKOFF: TimeDelta = TimeDelta::seconds(30);
/// The longest it stays open.
pub const MAX_BACKOFF: TimeDelta = TimeDelta::minutes(30);

/// Whether the channel may be tried at `now`.
pub fn allows(state: Option<&BreakerState>, now: DateTime<Utc>) -> bool {
    state
        .and_then(|s| s.open_until)
        .is_none_or(|until| until <= now)
}

/// The state after a successful send: closed.
pub fn after_success() -> BreakerState {
    BreakerState {
        consecutive_failures: 0,
        open_until: None,
        trips: 0,
    }
}

/// The state after a failed send at `now`.
pub fn after_failure(state: Option<&BreakerState>, now: DateTime<Utc>) -> BreakerState {
    let mut next = state.copied().unwrap_or_else(after_success);
    next.consecutive_failures += 1;
    if next.consecutive_failures >= TRIP_AFTER {
        let backoff = FIRST_BACKOFF * 2i32.saturating_pow(next.trips.min(10));
        next.open_until = Some(now + backoff.min(MAX_BACKOFF));
        next.trips += 1;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_three_failures_and_backs_off_longer_each_trip() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let mut state = None;
        for _ in 0..2 {
            state = Some(after_failure(state.as_ref(), now));
            assert!(allows(state.as_ref(), now), "still closed");
        }
        state = Some(after_failure(state.as_ref(), now));
        assert!(!allows(state.as_ref(), now), "open after the third");
        assert!(
            allows(state.as_ref(), now + FIRST_BACKOFF),
            "half-open after the backoff"
        );
        // The trial fails: open again, twice as long.
        let later = now + FIRST_BACKOFF;
        state = Some(after_failure(state.as_ref(), later));
        assert!(!allows(state.as_ref(), later + FIRST_BACKOFF));
        assert!(allows(state.as_ref(), later + FIRST_BACKOFF * 2));
        for _ in 0..20 {
            state = Some(after_failure(state.as_ref(), later));
        }
        assert_eq!(
            state.and_then(|s| s.open_until),
            Some(later + MAX_BACKOFF),
            "capped"
        );
        assert!(allows(Some(&after_success()), now));
    }
}
