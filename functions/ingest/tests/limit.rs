//! The intake rate over memory buckets: live pushes granted or told to wait, tenants apart,
//! and background work that yields to live traffic.

use std::sync::Arc;
use std::time::Duration;

use dd0c_adapters_memory::MemoryBuckets;
use dd0c_ingest::limit::IntakeLimit;

fn limit(per_second: f64, burst: f64) -> IntakeLimit {
    IntakeLimit::new(Arc::new(MemoryBuckets::new()), per_second, burst)
}

#[tokio::test]
async fn a_push_past_the_rate_is_told_how_long_to_wait() {
    let limit = limit(10.0, 100.0);
    assert_eq!(limit.live("t", 100).await.expect("draw"), None, "a burst");
    let over = limit
        .live("t", 10)
        .await
        .expect("draw")
        .expect("the burst is spent");
    assert_eq!(
        over.to_string(),
        "over the tenant's intake rate of 10 records a second (bursts of 100); nothing was \
         queued: send again in 1 s"
    );
    let wait = over.wait;
    assert!(
        wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
        "ten records at ten a second: {wait:?}"
    );
    assert_eq!(
        limit.live("u", 100).await.expect("draw"),
        None,
        "another tenant has its own rate"
    );
}

#[tokio::test]
async fn a_push_larger_than_the_burst_passes_whole_and_is_repaid() {
    let limit = limit(100.0, 100.0);
    assert_eq!(
        limit.live("t", 300).await.expect("draw"),
        None,
        "a full bucket admits a push of any size"
    );
    let over = limit
        .live("t", 1)
        .await
        .expect("draw")
        .expect("two hundred owed");
    assert_eq!(over.retry_after_secs(), 3, "Retry-After rounds up");
    let wait = over.wait;
    assert!(
        wait > Duration::from_millis(1900) && wait <= Duration::from_millis(2010),
        "two hundred owed and one needed, at a hundred a second: {wait:?}"
    );
}

#[tokio::test]
async fn background_work_yields_to_live_pushes() {
    let limit = limit(1000.0, 100.0);
    let background = {
        let limit = limit.clone();
        tokio::spawn(async move { limit.background("t", 600).await })
    };
    // Live traffic at half the rate: fifty records every tenth of a second, beside a backfill
    // that would take the whole rate if it could.
    for push in 0..15 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            limit.live("t", 50).await.expect("draw"),
            None,
            "live push {push} waits for nobody's backfill"
        );
    }
    background.await.expect("joins").expect("draws");
}

#[tokio::test]
async fn background_work_takes_a_bucket_too_small_to_split() {
    let limit = limit(1000.0, 1.0);
    tokio::time::timeout(Duration::from_secs(10), limit.background("t", 20))
        .await
        .expect("a burst of one still lets background work through")
        .expect("draws");
}
