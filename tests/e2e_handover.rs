//! Handover at the operator's default resync (10 min): when the owner of a provider-side identity is deleted, the
//! younger claimant waiting with `Conflict` is reconciled at once — woken by the watch's Delete after the owner left
//! the claim index — and is Ready within 5 s, for each provider's notion of identity.

mod support;

use std::time::{Duration, Instant};

use kube::api::DeleteParams;
use support::bench::{Bench, SimulatedProvider};
use support::edna::{EdnaBench, on_shop};
use support::envelope::{self, EnvelopeBench, PLAIN_FIELDS};
use support::mail::{self, MailBench};
use support::ready_condition;

/// Generous for an event path (one watch event, one reconciliation, one provider write), hopeless for a resync.
const HANDOVER: Duration = Duration::from_secs(5);

/// Applies `owner`, waits for it, applies `young` (a second later: creation times have one-second resolution),
/// waits for its Conflict, deletes the owner and measures until `young` is Ready.
async fn handover<S: SimulatedProvider>(bench: &Bench<S>, owner: &str, young: &str) -> Duration {
    bench.apply("owner", owner);
    bench.wait_ready("owner");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    bench.apply("young", young);
    bench.wait_reason("young", "Conflict").await;

    bench.api().delete("owner", &DeleteParams::default()).await.unwrap();
    let deleted = Instant::now();
    let api = bench.api();
    loop {
        let ready = api.get_opt("young").await.unwrap().as_ref().and_then(ready_condition);
        if ready.as_ref().is_some_and(|(status, _, _)| status == "True") {
            return deleted.elapsed();
        }
        assert!(
            deleted.elapsed() < HANDOVER,
            "the younger claimant is not Ready {HANDOVER:?} after the owner's deletion: {ready:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_the_younger_claimant_of_a_url_is_ready_within_5s_of_the_owners_deletion() {
    let bench = MailBench::start("handover-mail").await;
    let url = bench.receiver.url("/shared");
    let took = handover(
        &bench,
        &mail::block(&url, "    maxParallel: 20\n"),
        &mail::block(&url, "    maxParallel: 50\n"),
    )
    .await;
    eprintln!("mail handover took {took:?}");
    assert_eq!(bench.sim.webhook(&bench.creds.key, &url).unwrap().max_parallel, 50);
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_the_younger_claimant_of_a_mailbox_url_is_ready_within_5s_of_the_owners_deletion() {
    let bench = EnvelopeBench::start("handover-envelope").await;
    let url = bench.receiver.url("/shared");
    let took = handover(
        &bench,
        &envelope::block(&url, PLAIN_FIELDS),
        &envelope::block(&url, "    retries: 5\n    timeoutMs: 5000\n"),
    )
    .await;
    eprintln!("envelope handover took {took:?}");
    let callbacks = bench.callbacks();
    assert_eq!(callbacks.len(), 1, "exactly one callback: {callbacks:?}");
    assert_eq!(callbacks[0].url, url);
    assert_eq!(callbacks[0].retries, 5, "the younger claimant's fields");
}

#[tokio::test(flavor = "multi_thread")]
async fn edna_the_younger_claimant_of_a_channel_field_is_ready_within_5s_of_the_owners_deletion() {
    let bench = EdnaBench::start("handover-edna").await;
    let owner = bench.receiver.url("/owner-status");
    let young = bench.receiver.url("/young-status");
    let took = handover(
        &bench,
        &on_shop(&format!("    statusCallbackUrl: {owner}\n")),
        &on_shop(&format!("    statusCallbackUrl: {young}\n")),
    )
    .await;
    eprintln!("edna handover took {took:?}");
    let urls = bench.shop_urls().expect("the channel's URLs");
    assert_eq!(urls.status_callback_url.as_deref(), Some(young.as_str()));
}
