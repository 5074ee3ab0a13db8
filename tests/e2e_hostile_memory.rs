//! Issue #12 end to end: an allowed endpoint answering 300 MiB bodies costs the operator less than 32 MiB of peak
//! RSS, stalls only the registration that uses it (retrying, reason ProviderResponseTooLarge), and every other
//! registration keeps reconciling. The operator runs at the shipped resync (`--resync-interval 10m`).

mod support;

use std::time::Duration;

use provider_simulators::Fault;
use provider_simulators::mail::{MailConfig, MailSimulator};
use support::eventually;
use support::mail::{self, MailBench};

/// Peak resident set (VmHWM) of `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_300_mib_answer_costs_under_32_mib_and_other_registrations_keep_reconciling() {
    let bench = MailBench::start_with("hostile-huge", &["--resync-interval", "10m"]).await;
    // The baseline: the operator has done real work (one registration Ready) before the huge answers start.
    bench.apply("warm-up", &mail::block(&bench.receiver.url("/warm"), ""));
    bench.wait_ready("warm-up");
    let before = peak_rss_kib(bench.operator.pid());

    // A second, hostile endpoint (allowed: it is on 127.0.0.1) that answers every call with 300 MiB.
    let hostile = MailSimulator::start(MailConfig {
        keys: vec![bench.creds.key.clone()],
        ..MailConfig::default()
    })
    .await
    .unwrap();
    hostile.inject(Fault::huge_body_mib(300), 1000);
    let endpoint = hostile.base_url().to_string();
    bench
        .ns
        .put_secret("huge", &[("apiKey", &bench.creds.key), ("endpoint", &endpoint)])
        .await;
    bench.cluster.apply_ok(&bench.registration_using(
        "huge",
        "huge",
        &mail::block(&bench.receiver.url("/huge"), ""),
        "",
    ));
    let (status, message) = bench.wait_reason("huge", "ProviderResponseTooLarge").await;
    assert_eq!(status, "False");
    assert!(message.contains("1024 KiB"), "{message}");
    assert!(
        bench.condition_true("huge", "Reconciling").await,
        "retrying, not stalled"
    );

    // While it keeps retrying, other registrations reconcile.
    for i in 0..5 {
        bench.apply(
            &format!("steady-{i}"),
            &mail::block(&bench.receiver.url(&format!("/s{i}")), ""),
        );
    }
    for i in 0..5 {
        bench.wait_ready(&format!("steady-{i}"));
    }
    eventually("three huge answers refused", Duration::from_secs(60), || async {
        (hostile.requests().len() >= 3).then_some(())
    })
    .await;

    let after = peak_rss_kib(bench.operator.pid());
    let grown = after.saturating_sub(before);
    eprintln!(
        "peak RSS: {before} KiB before, {after} KiB after {} answers of 300 MiB (+{grown} KiB)",
        hostile.requests().len()
    );
    assert!(grown < 32 * 1024, "peak RSS grew by {grown} KiB");
    bench.wait_ready("warm-up");
}
