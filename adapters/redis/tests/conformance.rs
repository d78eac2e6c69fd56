//! RedisFlags against a real redis-server on loopback (`scripts/test.sh` starts one and sets
//! `DD0C_TEST_REDIS_URL`).

use dd0c_adapters_redis::RedisFlags;
use dd0c_ports::conformance;
use dd0c_ports::flags::Flags;

async fn flags() -> RedisFlags {
    let url = std::env::var("DD0C_TEST_REDIS_URL")
        .expect("DD0C_TEST_REDIS_URL: run the tests with scripts/test.sh, which starts Redis");
    RedisFlags::connect(&url).await.expect("connects")
}

#[tokio::test]
async fn redis_attempts_pass_the_attempts_suite() {
    conformance::attempts_suite(&dd0c_adapters_redis::RedisAttempts::of(&flags().await)).await;
}

#[tokio::test]
async fn redis_flags_pass_the_flags_suite() {
    conformance::flags_suite(&flags().await).await;
}

#[tokio::test]
async fn two_replicas_see_one_panic_switch() {
    let (a, b) = (flags().await, flags().await);
    let tenant = conformance::unique("t");
    a.set_panic_mode(&tenant, true).await.expect("on");
    assert!(
        b.panic_mode(&tenant).await.expect("read"),
        "the other replica sees it"
    );
    b.set_panic_mode(&tenant, false).await.expect("off");
    assert!(!a.panic_mode(&tenant).await.expect("read"));
}

#[tokio::test]
async fn a_bad_url_names_the_setting() {
    let error = RedisFlags::connect("http://nope")
        .await
        .err()
        .expect("refused");
    assert!(error.to_string().contains("DD0C_REDIS_URL"), "{error}");
}

#[tokio::test]
async fn redis_buckets_pass_the_buckets_suite() {
    conformance::buckets_suite(&dd0c_adapters_redis::RedisBuckets::of(&flags().await)).await;
}
