//! The queue against a stand-in apiserver that records each Event it is sent and answers only when the test lets
//! it: a pass does not wait for its Events, a full queue posts in the pass, and nothing is dropped.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use kube::runtime::events::EventType;
use tokio::sync::{Semaphore, watch};

use super::*;

/// The reasons of the Events posted, in the order the apiserver answered them.
type Posted = Arc<Mutex<Vec<String>>>;

/// A client whose apiserver answers one request per permit of `gate`, echoing the Event it was sent.
fn client(posted: Posted, gate: Arc<Semaphore>) -> kube::Client {
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let (posted, gate) = (posted.clone(), gate.clone());
        async move {
            let body = req.into_body().collect_bytes().await.expect("a request body");
            gate.acquire().await.expect("the gate stays open").forget();
            let event: serde_json::Value = serde_json::from_slice(&body).expect("an Event");
            posted
                .lock()
                .unwrap()
                .push(event["reason"].as_str().unwrap_or_default().to_string());
            let response = http::Response::builder()
                .status(201)
                .header("content-type", "application/json")
                .body(kube::client::Body::from(body.to_vec()))
                .unwrap();
            Ok::<_, Infallible>(response)
        }
    });
    kube::Client::new(service, "shop")
}

/// A queue with nothing to yield to (its backlog channel closed).
fn queue(capacity: usize) -> (EventQueue, Worker, Posted, Arc<Semaphore>) {
    queue_yielding_to(capacity, watch::channel(false).1)
}

fn queue_yielding_to(capacity: usize, backlog: watch::Receiver<bool>) -> (EventQueue, Worker, Posted, Arc<Semaphore>) {
    let (posted, gate) = (Posted::default(), Arc::new(Semaphore::new(0)));
    let recorder = EventRecorder::new(client(posted.clone(), gate.clone()), "callback-operator", None);
    let (queue, worker) = EventQueue::start(recorder, &Metrics::new(), capacity, backlog);
    (queue, worker, posted, gate)
}

/// Waits (in the test's clock) until the apiserver was sent `reasons`.
async fn until_posted(posted: &Posted, reasons: &[&str]) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while *posted.lock().unwrap() != reasons {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("posted {:?}, expected {reasons:?}", posted.lock().unwrap()));
}

fn regarding(name: &str) -> ObjectReference {
    ObjectReference {
        name: Some(name.into()),
        namespace: Some("shop".into()),
        uid: Some(format!("uid-{name}")),
        ..ObjectReference::default()
    }
}

fn event(reason: &str) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.into(),
        note: Some(format!("{reason} happened")),
        action: "Sync".into(),
        secondary: None,
    }
}

#[tokio::test]
async fn a_pass_hands_its_events_over_and_they_are_posted_in_order() {
    let (queue, worker, posted, gate) = queue(CAPACITY);
    // The apiserver answers nothing yet: handing the Events over must not wait for it.
    tokio::time::timeout(
        Duration::from_secs(5),
        queue.publish(&regarding("orders"), vec![event("Created"), event("Updated")]),
    )
    .await
    .expect("publish returns without the apiserver's answer");
    queue.publish(&regarding("billing"), vec![event("Adopted")]).await;
    assert_eq!(queue.pending(), 3);
    assert!(posted.lock().unwrap().is_empty());

    gate.add_permits(10);
    queue.drain(worker, Duration::from_secs(5)).await;
    assert_eq!(queue.pending(), 0);
    assert_eq!(*posted.lock().unwrap(), ["Created", "Updated", "Adopted"]);
}

#[tokio::test]
async fn a_full_queue_posts_in_the_pass_and_drops_nothing() {
    let (queue, worker, posted, gate) = queue(1);
    // The worker takes the first Event and waits for the apiserver; the second fills the queue's one place.
    queue.publish(&regarding("a"), vec![event("First")]).await;
    tokio::time::timeout(Duration::from_secs(5), async {
        while queue.sender.capacity() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the worker takes the first Event");
    queue.publish(&regarding("b"), vec![event("Second")]).await;
    // The third does not fit: the pass posts it, and so waits for the apiserver.
    let inline = tokio::spawn({
        let queue = queue.clone();
        async move { queue.publish(&regarding("c"), vec![event("Third")]).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!inline.is_finished(), "a pass whose Event did not fit posts it itself");

    gate.add_permits(10);
    inline.await.unwrap();
    queue.drain(worker, Duration::from_secs(5)).await;
    let mut reasons = posted.lock().unwrap().clone();
    reasons.sort();
    assert_eq!(reasons, ["First", "Second", "Third"], "each Event posted once");
}

#[tokio::test]
async fn stopping_gives_the_waiting_events_a_bounded_time() {
    let (queue, worker, posted, _gate) = queue(CAPACITY);
    queue.publish(&regarding("a"), vec![event("Created")]).await;
    // The apiserver never answers: the drain gives up at its deadline instead of holding the shutdown.
    tokio::time::timeout(Duration::from_secs(5), queue.drain(worker, Duration::from_millis(200)))
        .await
        .expect("the drain ends at its deadline");
    assert!(posted.lock().unwrap().is_empty());
}

/// A queue whose registrations wait for a slot, an apiserver that answers, and a `Created` Event handed in.
async fn holding_created() -> (watch::Sender<bool>, EventQueue, Worker, Posted) {
    let backlog = watch::Sender::new(true);
    let (queue, worker, posted, gate) = queue_yielding_to(CAPACITY, backlog.subscribe());
    gate.add_permits(10);
    queue.publish(&regarding("orders"), vec![event("Created")]).await;
    (backlog, queue, worker, posted)
}

#[tokio::test(start_paused = true)]
async fn events_wait_while_registrations_wait_for_a_slot_but_no_longer_than_the_hold() {
    let (backlog, queue, _worker, posted) = holding_created().await;
    tokio::time::sleep(HOLD / 2).await;
    assert!(posted.lock().unwrap().is_empty(), "held while registrations wait");
    backlog.send_replace(false);
    until_posted(&posted, &["Created"]).await;

    // A backlog that outlasts the hold: the Event goes once it has waited `HOLD`, not later.
    backlog.send_replace(true);
    queue.publish(&regarding("orders"), vec![event("Updated")]).await;
    tokio::time::sleep(HOLD - Duration::from_secs(1)).await;
    assert_eq!(*posted.lock().unwrap(), ["Created"], "still within the hold");
    tokio::time::sleep(Duration::from_secs(2)).await;
    until_posted(&posted, &["Created", "Updated"]).await;
    assert_eq!(queue.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_stop_posts_the_held_events_at_once() {
    let (_backlog, queue, worker, posted) = holding_created().await;
    let started = tokio::time::Instant::now();
    queue.drain(worker, DRAIN).await;
    assert_eq!(*posted.lock().unwrap(), ["Created"]);
    assert!(
        started.elapsed() < DRAIN,
        "posted at the stop, not at the drain's deadline"
    );
}
