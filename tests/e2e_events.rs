//! Events on the real apiserver: two equal Events in a row about one object become one Event with a series
//! (count 2, then 3, ...), not one object per repetition.

mod support;

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use support::edna::{EdnaBench, on_shop};
use support::eventually;

#[tokio::test(flavor = "multi_thread")]
async fn two_equal_events_in_a_row_become_one_event_with_count_2() {
    // edna URLs are re-asserted (Event Reasserted, the same note each time) every reassert interval: shortened so
    // two re-assertions fit in the test.
    let bench = EdnaBench::start_with("events-series", &["--edna-reassert-interval", "3s"]).await;
    let url = bench.receiver.url("/mine");
    bench.apply("mine", &on_shop(&format!("    statusCallbackUrl: {url}\n")));
    bench.wait_ready("mine");

    let api: kube::Api<Event> = kube::Api::namespaced(bench.cluster.client.clone(), &bench.ns.name);
    let reasserted = || async {
        api.list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("Reasserted"))
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("mine"))
            .collect::<Vec<_>>()
    };
    let series = eventually("a Reasserted Event with count 2", Duration::from_secs(30), || async {
        let events = reasserted().await;
        events
            .iter()
            .find_map(|e| e.series.as_ref().filter(|s| s.count >= 2).cloned())
    })
    .await;
    let events = reasserted().await;
    assert_eq!(events.len(), 1, "one Event for the repetitions: {events:?}");
    assert!(series.count >= 2);
    let event = &events[0];
    assert!(event.note.as_deref().unwrap_or_default().contains(&url));
    let first = event.event_time.as_ref().expect("eventTime").0;
    assert!(series.last_observed_time.0 > first, "lastObservedTime moves on");
}
