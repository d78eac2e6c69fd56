//! The token-bucket cases: a bucket begins full, refills at its rate up to its burst, grants
//! a draw only when it holds what the draw needs, may be taken below zero and is then repaid
//! before the next grant, keeps keys apart, and never grants one token twice to draws made at
//! once (replicas drawing together).

use std::time::Duration;

use super::fixtures::unique;
use crate::rate::{Bucket, Draw, Drawn, TokenBuckets};

fn draw(need: f64, take: f64) -> Draw {
    Draw { need, take }
}

async fn drawn(buckets: &dyn TokenBuckets, key: &str, bucket: Bucket, d: Draw) -> Drawn {
    buckets.draw(key, bucket, d).await.expect("draw")
}

/// The wait of a refused draw, or a failure naming the case.
fn wait(drawn: Drawn, case: &str) -> Duration {
    match drawn {
        Drawn::Wait(wait) => wait,
        Drawn::Granted => panic!("{case}: granted, should wait"),
    }
}

/// Runs the token-bucket cases.
pub async fn buckets_suite(buckets: &dyn TokenBuckets) {
    let slow = Bucket {
        per_second: 1.0,
        burst: 5.0,
    };
    let (a, b) = (unique("bucket"), unique("bucket"));
    assert_eq!(
        drawn(buckets, &a, slow, draw(5.0, 5.0)).await,
        Drawn::Granted,
        "a new bucket is full"
    );
    let empty = wait(
        drawn(buckets, &a, slow, draw(1.0, 1.0)).await,
        "an emptied bucket",
    );
    assert!(
        empty > Duration::from_millis(500) && empty <= Duration::from_secs(1),
        "one token at one a second: {empty:?}"
    );
    assert_eq!(
        drawn(buckets, &b, slow, draw(5.0, 5.0)).await,
        Drawn::Granted,
        "another key has its own bucket"
    );

    let debt = unique("bucket");
    assert_eq!(
        drawn(buckets, &debt, slow, draw(5.0, 10.0)).await,
        Drawn::Granted,
        "a draw may take more than the bucket holds"
    );
    let repay = wait(
        drawn(buckets, &debt, slow, draw(1.0, 1.0)).await,
        "a bucket in debt",
    );
    assert!(
        repay > Duration::from_millis(5500) && repay <= Duration::from_secs(6),
        "five tokens owed and one needed, at one a second: {repay:?}"
    );

    let reserve = unique("bucket");
    assert_eq!(
        drawn(buckets, &reserve, slow, draw(4.0, 2.0)).await,
        Drawn::Granted,
        "two taken, three left"
    );
    wait(
        drawn(buckets, &reserve, slow, draw(4.0, 2.0)).await,
        "a draw needing more than it takes",
    );
    assert_eq!(
        drawn(buckets, &reserve, slow, draw(3.0, 3.0)).await,
        Drawn::Granted,
        "what one draw needs is not another's"
    );

    refills(buckets).await;
    at_once(buckets).await;
}

/// A bucket refills at its rate, to its burst and no more.
async fn refills(buckets: &dyn TokenBuckets) {
    let fast = Bucket {
        per_second: 20.0,
        burst: 2.0,
    };
    let key = unique("bucket");
    assert_eq!(
        drawn(buckets, &key, fast, draw(2.0, 2.0)).await,
        Drawn::Granted
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait(
        drawn(buckets, &key, fast, draw(3.0, 3.0)).await,
        "six tokens' time refills only the burst of two",
    );
    assert_eq!(
        drawn(buckets, &key, fast, draw(2.0, 2.0)).await,
        Drawn::Granted,
        "refilled"
    );
}

/// Draws made at once never share a token.
async fn at_once(buckets: &dyn TokenBuckets) {
    let trickle = Bucket {
        per_second: 0.001,
        burst: 10.0,
    };
    let key = unique("bucket");
    let draws = (0..25).map(|_| buckets.draw(&key, trickle, draw(1.0, 1.0)));
    let granted = futures_util::future::join_all(draws)
        .await
        .into_iter()
        .filter(|d| *d.as_ref().expect("draw") == Drawn::Granted)
        .count();
    assert_eq!(granted, 10, "ten tokens, twenty-five draws at once");
}
