use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::keys::TraceParent;
use crate::queue::{OutgoingMessage, Queue, SendOutcome};
use crate::PortError;

const LONG: Duration = Duration::from_secs(60);

fn message(group: &str, dedup: &str) -> OutgoingMessage {
    OutgoingMessage {
        trace: None,
        group_key: group.into(),
        dedup_key: dedup.into(),
        body: format!("{{\"id\":\"{dedup}\"}}"),
    }
}

/// Runs every queue case; `fresh` must return a new, empty queue each call.
pub async fn queue_suite<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Queue>>,
{
    send_receive_ack(fresh().await).await;
    duplicates_are_dropped(fresh().await).await;
    groups_are_fifo_and_wait_for_their_in_flight_messages(fresh().await).await;
    invisible_until_timeout_then_redelivered(fresh().await).await;
    dead_letters_keep_error_and_redrive(fresh().await).await;
    batches_keep_order_and_dedup(fresh().await).await;
    acknowledging_all_skips_stale_receipts(fresh().await).await;
    a_backlog_does_not_hold_another_group_behind_it(fresh().await).await;
    a_messages_trace_comes_back_with_it(fresh().await).await;
}

/// A message's trace parent, sent beside its body, comes back with each delivery; a message
/// sent without one comes back without one.
async fn a_messages_trace_comes_back_with_it(queue: Arc<dyn Queue>) {
    let parent: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        .parse()
        .expect("a traceparent");
    let traced = OutgoingMessage {
        trace: Some(parent),
        ..message("g1", "traced")
    };
    queue
        .send_batch(vec![traced, message("g2", "untraced")])
        .await
        .expect("send");
    let mut got = queue.receive(10, LONG).await.expect("receive");
    got.sort_by(|a, b| a.group_key.cmp(&b.group_key));
    let traces: Vec<(&str, Option<TraceParent>)> = got
        .iter()
        .map(|d| (d.group_key.as_str(), d.trace))
        .collect();
    assert_eq!(traces, [("g1", Some(parent)), ("g2", None)]);
}

/// Fairness, stated as a property every queue keeps (SQS FIFO by its own means): a message of
/// one tenant's group sent behind a long backlog of another tenant's is received within two
/// receives, nothing acknowledged — it does not wait for the backlog to drain.
async fn a_backlog_does_not_hold_another_group_behind_it(queue: Arc<dyn Queue>) {
    let backlog: Vec<OutgoingMessage> = (0..40)
        .map(|i| message("alpha#111111111111", &format!("bf{i}")))
        .collect();
    queue.send_batch(backlog).await.expect("send");
    queue
        .send(message("beta#222222222222", "launch"))
        .await
        .expect("send");
    let mut received = Vec::new();
    for _ in 0..2 {
        received.extend(queue.receive(5, LONG).await.expect("receive"));
    }
    assert!(
        received.iter().any(|d| d.group_key == "beta#222222222222"),
        "the launch waited behind the backlog: {:?}",
        received.iter().map(|d| &d.group_key).collect::<Vec<_>>()
    );
    let backfill: Vec<&str> = received
        .iter()
        .filter(|d| d.group_key == "alpha#111111111111")
        .map(|d| d.body.as_str())
        .collect();
    let first: Vec<String> = (0..backfill.len())
        .map(|i| format!("{{\"id\":\"bf{i}\"}}"))
        .collect();
    assert_eq!(backfill, first, "the backlog's oldest, in order");
}

async fn acknowledging_all_skips_stale_receipts(queue: Arc<dyn Queue>) {
    for (group, id) in [("a", "a1"), ("a", "a2"), ("b", "b1"), ("c", "c1")] {
        queue.send(message(group, id)).await.expect("send");
    }
    let short = Duration::from_secs(1);
    let stale = queue.receive(1, short).await.expect("receive");
    tokio::time::sleep(short + Duration::from_millis(800)).await;
    let got = queue.receive(10, LONG).await.expect("receive");
    assert_eq!(got.len(), 4, "every group's waiting messages");
    let mut receipts: Vec<String> = got.iter().map(|d| d.receipt.clone()).collect();
    receipts.push(stale[0].receipt.clone());
    assert_eq!(
        queue.ack_all(&receipts).await.expect("ack all"),
        4,
        "the stale receipt of a redelivered message is skipped"
    );
    assert_eq!(
        queue.depth().await.expect("depth"),
        crate::queue::QueueDepth::default()
    );
    assert_eq!(queue.ack_all(&[]).await.expect("nothing"), 0);
}

async fn batches_keep_order_and_dedup(queue: Arc<dyn Queue>) {
    queue.send(message("g", "b0")).await.expect("send");
    let outcomes = queue
        .send_batch(vec![
            message("g", "b1"),
            message("g", "b0"),
            message("g", "b2"),
            message("g", "b1"),
        ])
        .await
        .expect("batch");
    let expected = [true, false, true, false];
    assert_eq!(outcomes.len(), expected.len());
    for (outcome, enqueued) in outcomes.iter().zip(expected) {
        assert!(says(*outcome, enqueued), "{outcome:?}");
    }
    let mut order = Vec::new();
    for _ in 0..4 {
        for delivery in queue.receive(10, LONG).await.expect("receive") {
            order.push(delivery.body.clone());
            queue.ack(&delivery.receipt).await.expect("ack");
        }
    }
    assert_eq!(
        order,
        vec!["{\"id\":\"b0\"}", "{\"id\":\"b1\"}", "{\"id\":\"b2\"}"]
    );
    assert_eq!(
        queue.send_batch(Vec::new()).await.expect("empty batch"),
        Vec::new()
    );
}

async fn send_receive_ack(queue: Arc<dyn Queue>) {
    let sent = queue.send(message("g1", "a")).await.expect("send");
    assert!(says(sent, true), "{sent:?}");
    assert_eq!(queue.depth().await.expect("depth").visible, 1);
    let got = queue.receive(10, LONG).await.expect("receive");
    assert_eq!(got.len(), 1);
    let delivery = &got[0];
    assert_eq!(
        (
            delivery.group_key.as_str(),
            delivery.body.as_str(),
            delivery.receive_count
        ),
        ("g1", "{\"id\":\"a\"}", 1)
    );
    let depth = queue.depth().await.expect("depth");
    assert_eq!((depth.visible, depth.in_flight), (0, 1));
    assert!(
        queue.receive(10, LONG).await.expect("receive").is_empty(),
        "an in-flight message is hidden"
    );
    queue.ack(&delivery.receipt).await.expect("ack");
    let depth = queue.depth().await.expect("depth");
    assert_eq!((depth.visible, depth.in_flight, depth.dead), (0, 0, 0));
}

/// Whether a send's outcome agrees with it having been enqueued (`true`) or dropped; a queue
/// that answers `Accepted` lets the deliveries tell.
fn says(outcome: SendOutcome, enqueued: bool) -> bool {
    match outcome {
        SendOutcome::Accepted => true,
        SendOutcome::Enqueued => enqueued,
        SendOutcome::Duplicate => !enqueued,
    }
}

async fn duplicates_are_dropped(queue: Arc<dyn Queue>) {
    let first = queue.send(message("g1", "same")).await.expect("send");
    assert!(says(first, true), "{first:?}");
    let second = queue.send(message("g2", "same")).await.expect("send");
    assert!(says(second, false), "{second:?}");
    let got = queue.receive(10, LONG).await.expect("receive");
    assert_eq!(
        got.len(),
        1,
        "one delivery for two sends with one dedup key"
    );
    queue.ack(&got[0].receipt).await.expect("ack");
    // A queue that dedups by itself (SQS) keeps the key through the window too; its emulator
    // (moto) forgets it with the message, so only queues that answer for themselves are held to it.
    if first != SendOutcome::Accepted {
        assert_eq!(
            queue.send(message("g1", "same")).await.expect("send"),
            SendOutcome::Duplicate,
            "still a duplicate after ack, within the window"
        );
    }
}

async fn groups_are_fifo_and_wait_for_their_in_flight_messages(queue: Arc<dyn Queue>) {
    for (group, key) in [
        ("a", "a1"),
        ("a", "a2"),
        ("b", "b1"),
        ("a", "a3"),
        ("b", "b2"),
    ] {
        queue.send(message(group, key)).await.expect("send");
    }
    // One message per receive: a group's next message waits while its head is in flight.
    let first = queue.receive(1, LONG).await.expect("receive");
    assert_eq!(
        first.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        vec!["{\"id\":\"a1\"}"]
    );
    let second = queue.receive(10, LONG).await.expect("receive");
    let bodies: Vec<&str> = second.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["{\"id\":\"b1\"}", "{\"id\":\"b2\"}"],
        "group a waits for a1; group b comes in order"
    );
    queue.ack(&first[0].receipt).await.expect("ack");
    for d in &second {
        queue.ack(&d.receipt).await.expect("ack");
    }
    let rest = queue.receive(10, LONG).await.expect("receive");
    let bodies: Vec<&str> = rest.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["{\"id\":\"a2\"}", "{\"id\":\"a3\"}"],
        "group a in send order, several per receive"
    );
    for d in &rest {
        queue.ack(&d.receipt).await.expect("ack");
    }
}

async fn invisible_until_timeout_then_redelivered(queue: Arc<dyn Queue>) {
    queue.send(message("g", "m")).await.expect("send");
    let short = Duration::from_secs(1);
    let first = queue.receive(1, short).await.expect("receive");
    assert_eq!(first.len(), 1);
    assert!(queue.receive(1, short).await.expect("receive").is_empty());
    tokio::time::sleep(short + Duration::from_millis(800)).await;
    let second = queue.receive(1, LONG).await.expect("receive");
    assert_eq!(
        second.len(),
        1,
        "redelivered once the visibility timeout passed"
    );
    assert_eq!(second[0].message_id, first[0].message_id);
    assert_eq!(second[0].receive_count, 2);
    assert!(
        matches!(
            queue.ack(&first[0].receipt).await,
            Err(PortError::Conflict(_))
        ),
        "the first delivery's receipt is stale"
    );
    queue.ack(&second[0].receipt).await.expect("ack");
}

async fn dead_letters_keep_error_and_redrive(queue: Arc<dyn Queue>) {
    queue.send(message("g", "poison")).await.expect("send");
    queue.send(message("g", "next")).await.expect("send");
    let got = queue.receive(1, LONG).await.expect("receive");
    queue
        .dead_letter(
            &got[0].receipt,
            "field requestParameters.instanceType: not a string",
        )
        .await
        .expect("dead-letter");
    let dead = queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id, got[0].message_id);
    assert_eq!(
        dead[0].error,
        "field requestParameters.instanceType: not a string"
    );
    assert_eq!(dead[0].body, "{\"id\":\"poison\"}");
    assert_eq!(dead[0].receive_count, 1);
    assert_eq!(queue.depth().await.expect("depth").dead, 1);

    let next = queue.receive(10, LONG).await.expect("receive");
    assert_eq!(next.len(), 1, "a dead-lettered head unblocks its group");
    assert_eq!(next[0].body, "{\"id\":\"next\"}");
    queue.ack(&next[0].receipt).await.expect("ack");

    queue.redrive(&dead[0].message_id).await.expect("redrive");
    assert!(matches!(
        queue.redrive(&dead[0].message_id).await,
        Err(PortError::NotFound(_))
    ));
    let again = queue.receive(10, LONG).await.expect("receive");
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].body.as_str(), again[0].receive_count),
        ("{\"id\":\"poison\"}", 1)
    );
    assert_eq!(queue.depth().await.expect("depth").dead, 0);
}
