//! The batch policy, one behaviour per test, with a function whose failures are chosen by the
//! message body and a settlement that records what the runtime was told.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use dd0c_function::{run_batch, FunctionError, Handled, Outcome, QueueFunction, Received, Settle};
use dd0c_ports::queue::Delivery;

/// Bodies: `ok`, `fail` (fails one by one), `bad` (does not decode), `removed` (done in the
/// function's own commit). `whole` says whether it takes a batch at once.
struct Scripted {
    whole: bool,
    handled: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(whole: bool) -> Self {
        Scripted {
            whole,
            handled: Mutex::default(),
        }
    }

    fn handled(&self) -> Vec<String> {
        self.handled.lock().expect("lock").clone()
    }
}

#[async_trait]
impl QueueFunction for Scripted {
    type Message = String;

    fn name(&self) -> &'static str {
        "scripted"
    }

    fn decode(&self, delivery: &Delivery) -> Result<String, FunctionError> {
        match delivery.body.as_str() {
            "bad" => Err(FunctionError::malformed(delivery, "not a scripted body")),
            body => Ok(body.to_owned()),
        }
    }

    async fn handle_all(&self, batch: &[Received<'_, String>]) -> Result<Handled, FunctionError> {
        if !self.whole || batch.iter().any(|r| r.message == "fail") {
            return Err(FunctionError::NotWhole("not whole".into()));
        }
        let mut handled = self.handled.lock().expect("lock");
        handled.extend(batch.iter().map(|r| r.delivery.message_id.clone()));
        Ok(Handled::Done)
    }

    async fn handle(&self, received: &Received<'_, String>) -> Result<Handled, FunctionError> {
        match received.message.as_str() {
            "fail" => Err(FunctionError::Invalid("scripted failure".into())),
            body => {
                self.handled
                    .lock()
                    .expect("lock")
                    .push(received.delivery.message_id.clone());
                Ok(if body == "removed" {
                    Handled::Removed
                } else {
                    Handled::Done
                })
            }
        }
    }
}

#[derive(Default)]
struct Recorded {
    done: Mutex<Vec<Vec<String>>>,
    dead: Mutex<Vec<(String, String)>>,
    dead_letter_works: bool,
}

impl Recorded {
    fn working() -> Self {
        Recorded {
            dead_letter_works: true,
            ..Default::default()
        }
    }
}

#[async_trait]
impl Settle for Recorded {
    async fn done(&self, deliveries: &[&Delivery]) {
        self.done
            .lock()
            .expect("lock")
            .push(deliveries.iter().map(|d| d.message_id.clone()).collect());
    }

    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> bool {
        if self.dead_letter_works {
            self.dead
                .lock()
                .expect("lock")
                .push((delivery.message_id.clone(), error.to_owned()));
        }
        self.dead_letter_works
    }

    fn observe(&self, _: &Outcome, _: usize, _: Duration) {}
}

/// Deliveries `(id, group, body, receive count)`.
fn deliveries(specs: &[(&str, &str, &str, u32)]) -> Vec<Delivery> {
    specs
        .iter()
        .map(|(id, group, body, receives)| Delivery {
            trace: None,
            message_id: (*id).into(),
            receipt: format!("r-{id}"),
            group_key: (*group).into(),
            body: (*body).into(),
            receive_count: *receives,
        })
        .collect()
}

#[tokio::test]
async fn a_batch_the_function_takes_whole_is_settled_in_one_step() {
    let (function, settle) = (Scripted::new(true), Recorded::working());
    let batch = deliveries(&[
        ("1", "a", "ok", 1),
        ("2", "b", "ok", 1),
        ("3", "a", "ok", 1),
    ]);
    let outcomes = run_batch(&function, &batch, 5, &settle).await;
    assert_eq!(outcomes, vec![Outcome::Done; 3]);
    assert_eq!(
        *settle.done.lock().expect("lock"),
        vec![vec!["1", "2", "3"]]
    );
}

#[tokio::test]
async fn a_failure_holds_the_rest_of_its_group_and_no_other_group() {
    let (function, settle) = (Scripted::new(true), Recorded::working());
    let batch = deliveries(&[
        ("1", "a", "ok", 1),
        ("2", "a", "fail", 1),
        ("3", "b", "ok", 1),
        ("4", "a", "ok", 1),
    ]);
    let outcomes = run_batch(&function, &batch, 5, &settle).await;
    assert_eq!(
        outcomes,
        vec![
            Outcome::Done,
            Outcome::Retry("scripted failure".into()),
            Outcome::Done,
            Outcome::Held
        ]
    );
    let mut handled = function.handled();
    handled.sort();
    assert_eq!(handled, ["1", "3"], "message 4 waits behind 2");
    assert!(settle.dead.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_message_failing_on_its_last_delivery_is_dead_lettered_and_its_group_goes_on() {
    let (function, settle) = (Scripted::new(false), Recorded::working());
    let batch = deliveries(&[("1", "a", "bad", 3), ("2", "a", "ok", 1)]);
    let outcomes = run_batch(&function, &batch, 3, &settle).await;
    assert_eq!(
        outcomes,
        vec![
            Outcome::DeadLettered("message 1: not a scripted body".into()),
            Outcome::Done
        ]
    );
    assert_eq!(
        *settle.dead.lock().expect("lock"),
        vec![("1".to_owned(), "message 1: not a scripted body".to_owned())]
    );
}

#[tokio::test]
async fn before_its_last_delivery_a_failing_message_is_only_retried() {
    let (function, settle) = (Scripted::new(false), Recorded::working());
    let batch = deliveries(&[("1", "a", "fail", 2)]);
    let outcomes = run_batch(&function, &batch, 3, &settle).await;
    assert_eq!(outcomes, vec![Outcome::Retry("scripted failure".into())]);
    assert!(settle.dead.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_dead_letter_that_cannot_be_written_leaves_the_message_for_redelivery() {
    let (function, settle) = (Scripted::new(false), Recorded::default());
    let batch = deliveries(&[("1", "a", "fail", 9), ("2", "a", "ok", 1)]);
    let outcomes = run_batch(&function, &batch, 3, &settle).await;
    assert_eq!(
        outcomes,
        vec![Outcome::Retry("scripted failure".into()), Outcome::Held]
    );
    assert!(outcomes.iter().all(Outcome::redeliver));
}

#[tokio::test]
async fn a_message_removed_by_the_functions_commit_is_not_acknowledged_again() {
    let (function, settle) = (Scripted::new(false), Recorded::working());
    let batch = deliveries(&[("1", "a", "removed", 1), ("2", "a", "ok", 1)]);
    let outcomes = run_batch(&function, &batch, 3, &settle).await;
    assert_eq!(outcomes, vec![Outcome::Removed, Outcome::Done]);
    assert_eq!(*settle.done.lock().expect("lock"), vec![vec!["2"]]);
}

#[tokio::test]
async fn an_undecodable_message_sends_the_batch_one_by_one() {
    let (function, settle) = (Scripted::new(true), Recorded::working());
    let batch = deliveries(&[("1", "a", "ok", 1), ("2", "b", "bad", 1)]);
    let outcomes = run_batch(&function, &batch, 3, &settle).await;
    assert_eq!(outcomes[0], Outcome::Done);
    assert!(matches!(&outcomes[1], Outcome::Retry(e) if e.contains("not a scripted body")));
    assert_eq!(*settle.done.lock().expect("lock"), vec![vec!["1"]]);
}
