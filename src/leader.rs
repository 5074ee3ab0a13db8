//! Leader election through a `coordination.k8s.io` Lease (kube-lease-manager), so two replicas never both reconcile.
//!
//! kube-lease-manager acquires, renews (`grace` before expiry) and releases the Lease, and reports changes on a
//! watch channel. It reports a loss only when a renewal *succeeds* in reading someone else's name: a leader that
//! cannot reach the apiserver keeps retrying and never hears it lost. So while leading we also read the Lease
//! ourselves and step down once our own last renewal is about to expire (client-go calls this the renew deadline),
//! before any follower may take over.

use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::Api;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// Where the Lease lives and who we are.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// Unique among replicas (the pod name in a cluster).
    pub identity: String,
    /// How long a renewal keeps the Lease; a follower takes over at most this long after the leader's last renewal.
    pub duration: Duration,
}

impl LeaseConfig {
    /// The holder renews this long before its Lease expires: a third of the duration (client-go's 15 s / 10 s).
    pub fn grace(&self) -> Duration {
        Duration::from_secs((self.duration.as_secs() / 3).max(1))
    }

    /// A leader steps down when its last renewal is older than this (halfway through the grace period): a
    /// healthy leader has renewed long before, and no follower may take over until the full duration has passed.
    /// Enforced by a timer, not by the next check: nothing can delay it.
    pub fn step_down_after(&self) -> Duration {
        self.duration.saturating_sub(self.grace() / 2)
    }

    /// After stepping down, in-flight reconciliations get this long before they are abandoned and the process
    /// exits: a quarter of the grace period. `step_down_after() + drain()` is `duration − grace/4`, strictly inside
    /// the Lease (15 s: 12.5 s + 1.25 s = 13.75 s), so the old leader has stopped before a follower may acquire it.
    pub fn drain(&self) -> Duration {
        self.grace() / 4
    }

    /// How often a leader reads the Lease back (several times per grace period); also the timeout of that read,
    /// so a hung apiserver connection never holds the check up.
    fn check_every(&self) -> Duration {
        (self.grace() / 4).max(Duration::from_millis(200))
    }

    /// How often a standby reads the Lease to notice it was released: client-go's retry period (2 s of a 15 s
    /// Lease), at least 0.5 s.
    fn standby_poll(&self) -> Duration {
        (self.duration * 2 / 15).max(Duration::from_millis(500))
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.duration < Duration::from_secs(3) {
            bail!(
                "the leader election lease duration must be at least 3s (got {:?})",
                self.duration
            );
        }
        if self.name.is_empty() || self.namespace.is_empty() || self.identity.is_empty() {
            bail!("the leader Lease needs a name, a namespace and an identity");
        }
        Ok(())
    }
}

/// What the Lease says about us, read from its spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseView {
    /// We hold it; our last renewal (written with our own clock, so comparable with it).
    Held { renewed: SystemTime },
    /// Someone else holds it.
    HeldByOther(String),
    /// Nobody holds it (released, or cleared as expired by a follower).
    Free,
}

/// Reads a Lease spec from this replica's point of view.
pub fn view_of(spec: Option<&LeaseSpec>, identity: &str) -> LeaseView {
    let Some(spec) = spec else { return LeaseView::Free };
    match spec.holder_identity.as_deref() {
        None | Some("") => LeaseView::Free,
        Some(holder) if holder != identity => LeaseView::HeldByOther(holder.to_string()),
        Some(_) => match &spec.renew_time {
            Some(time) => LeaseView::Held {
                renewed: SystemTime::from(time.0),
            },
            // Held without a renewal time cannot be trusted to last: treat as lost.
            None => LeaseView::Free,
        },
    }
}

/// Whether a leader that last saw its renewal at `renewed` must step down at `now`; `Some(reason)` if so.
pub fn must_step_down(
    view: Option<&LeaseView>,
    last_renewed: SystemTime,
    config: &LeaseConfig,
    now: SystemTime,
) -> Option<String> {
    match view {
        Some(LeaseView::HeldByOther(holder)) => return Some(format!("the Lease is now held by {holder}")),
        Some(LeaseView::Free) => return Some("the Lease was released or cleared as expired".into()),
        Some(LeaseView::Held { .. }) | None => {}
    }
    let age = now.duration_since(last_renewed).unwrap_or(Duration::ZERO);
    (age > config.step_down_after()).then(|| {
        format!(
            "the Lease was last renewed {:.1}s ago (it expires after {}s): renewals are failing",
            age.as_secs_f64(),
            config.duration.as_secs()
        )
    })
}

/// This replica's part in the election.
pub struct Leadership {
    config: LeaseConfig,
    leading: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    api: Api<Lease>,
    client: kube::Client,
}

/// Whether a standby should compete again at once: the Lease is free (its holder released it on the way out, or a
/// follower cleared it as expired). kube-lease-manager's follower sleeps until the holder's Lease would have
/// expired even when it was released early, so after a leader pod is deleted its replacement pod — which reads the
/// free Lease on its first step — used to win over the standby that had been waiting (issue 18's failover test).
pub fn should_rejoin(view: &LeaseView) -> bool {
    *view == LeaseView::Free
}

impl Leadership {
    /// Joins the election (creating the Lease if it does not exist yet) and starts competing for it.
    pub async fn join(client: kube::Client, config: LeaseConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let (leading, task) = Self::compete(&client, &config).await?;
        info!(
            lease = %format!("{}/{}", config.namespace, config.name),
            identity = %config.identity,
            duration = ?config.duration,
            "standing by for the leader Lease"
        );
        Ok(Self {
            api: Api::namespaced(client.clone(), &config.namespace),
            client,
            config,
            leading,
            task,
        })
    }

    /// A lease manager competing for the Lease (creating it if it does not exist yet), and its task.
    async fn compete(
        client: &kube::Client,
        config: &LeaseConfig,
    ) -> anyhow::Result<(
        watch::Receiver<bool>,
        JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    )> {
        let manager = LeaseManagerBuilder::new(client.clone(), &config.name)
            .with_namespace(&config.namespace)
            .with_identity(&config.identity)
            .with_duration(config.duration.as_secs())
            .with_grace(config.grace().as_secs())
            .build()
            .await
            .with_context(|| format!("joining the election for Lease {}/{}", config.namespace, config.name))?;
        Ok(manager.watch().await)
    }

    /// Resolves once this replica holds the Lease. An error means the election itself stopped. While standing by it
    /// reads the Lease every `standby_poll` and competes again at once when the Lease is free ([`should_rejoin`]).
    pub async fn acquired(&mut self) -> anyhow::Result<()> {
        let mut polls = tokio::time::interval(self.config.standby_poll());
        polls.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *self.leading.borrow_and_update() {
                info!(identity = %self.config.identity, "acquired the leader Lease");
                return Ok(());
            }
            tokio::select! {
                changed = self.leading.changed() => {
                    if changed.is_err() {
                        bail!("the leader election task stopped");
                    }
                }
                _ = polls.tick() => {
                    let read = tokio::time::timeout(self.config.standby_poll(), self.api.get(&self.config.name)).await;
                    let Ok(Ok(lease)) = read else { continue };
                    if should_rejoin(&view_of(lease.spec.as_ref(), &self.config.identity)) {
                        self.rejoin().await;
                    }
                }
            }
        }
    }

    /// Replaces the sleeping lease manager with a fresh one, whose first step takes the free Lease. The old one is
    /// aborted, not told to stop: it holds nothing, and a stopping manager releases a Lease held under our identity —
    /// which would be the new manager's.
    async fn rejoin(&mut self) {
        match Self::compete(&self.client, &self.config).await {
            Ok((leading, task)) => {
                debug!("the leader Lease is free: competing for it now");
                std::mem::replace(&mut self.task, task).abort();
                self.leading = leading;
            }
            Err(err) => debug!(error = %format!("{err:#}"), "competing again for the free Lease failed"),
        }
    }

    /// Resolves with a reason once this replica must assume it no longer leads: someone else holds or cleared the
    /// Lease, or the last renewal read back is `step_down_after` old. The deadline is a timer of its own; each read
    /// of the Lease is bounded by `check_every` and by the time left before the deadline, so a hung connection to
    /// the apiserver delays nothing.
    pub async fn lost(&mut self) -> String {
        let mut last_renewed = SystemTime::now();
        let mut ticks = tokio::time::interval(self.config.check_every());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let left = (last_renewed + self.config.step_down_after())
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let deadline = tokio::time::Instant::now() + left;
            tokio::select! {
                changed = self.leading.changed() => match changed {
                    Err(_) => return "the leader election task stopped".into(),
                    Ok(()) if !*self.leading.borrow_and_update() => return "another replica holds the Lease".into(),
                    Ok(()) => {}
                },
                () = tokio::time::sleep_until(deadline) => {
                    if let Some(reason) = must_step_down(None, last_renewed, &self.config, SystemTime::now()) {
                        return reason;
                    }
                }
                _ = ticks.tick() => {
                    let bound = self.config.check_every().min(left).max(Duration::from_millis(1));
                    let view = match tokio::time::timeout(bound, self.api.get(&self.config.name)).await {
                        Ok(Ok(lease)) => Some(view_of(lease.spec.as_ref(), &self.config.identity)),
                        Ok(Err(err)) => {
                            debug!(error = %err, "reading the leader Lease failed");
                            None
                        }
                        Err(_) => {
                            debug!(timeout = ?bound, "reading the leader Lease timed out");
                            None
                        }
                    };
                    if let Some(LeaseView::Held { renewed }) = view {
                        last_renewed = last_renewed.max(renewed);
                    }
                    if let Some(reason) = must_step_down(view.as_ref(), last_renewed, &self.config, SystemTime::now()) {
                        return reason;
                    }
                }
            }
        }
    }

    /// Leaves the election, releasing the Lease if we hold it, so a successor need not wait for it to expire.
    pub async fn release(self, timeout: Duration) {
        drop(self.leading); // closing the channel makes the manager release the Lease and end
        match tokio::time::timeout(timeout, self.task).await {
            Ok(Ok(Ok(_))) => info!("left the leader election (Lease released if held)"),
            Ok(Ok(Err(err))) => warn!(error = %err, "releasing the leader Lease failed; it expires on its own"),
            Ok(Err(err)) => warn!(error = %err, "the leader election task failed"),
            Err(_) => warn!(?timeout, "releasing the leader Lease timed out; it expires on its own"),
        }
    }
}

/// A Lease identity for this process: the pod name when known, else the host name with a random suffix (two
/// processes on one host must never share an identity, or both would believe they lead).
pub fn identity(instance: Option<&str>) -> String {
    match instance.map(str::trim).filter(|s| !s.is_empty()) {
        Some(name) => name.to_string(),
        None => {
            let host = std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "callback-operator".into());
            format!("{host}-{:08x}", rand::random::<u32>())
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn config(duration_secs: u64) -> LeaseConfig {
        LeaseConfig {
            namespace: "ops".into(),
            name: "callback-operator".into(),
            identity: "pod-a".into(),
            duration: Duration::from_secs(duration_secs),
        }
    }

    fn spec(holder: Option<&str>, renewed: Option<SystemTime>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: renewed.map(|t| MicroTime(Timestamp::try_from(t).unwrap())),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn grace_is_a_third_of_the_duration_and_never_zero() {
        assert_eq!(config(15).grace(), Duration::from_secs(5));
        assert_eq!(config(3).grace(), Duration::from_secs(1));
        assert_eq!(config(15).step_down_after(), Duration::from_millis(12_500));
    }

    #[test]
    fn step_down_plus_drain_end_strictly_before_the_lease_expires() {
        for secs in [3, 5, 10, 15, 30, 60, 137] {
            let c = config(secs);
            let stopped = c.step_down_after() + c.drain();
            assert!(stopped < c.duration, "{secs}s: stopped at {stopped:?}");
            assert!(
                c.duration - stopped >= c.grace() / 4,
                "{secs}s: a margin of a quarter grace period"
            );
            assert!(c.check_every() <= c.grace() / 4 || c.check_every() == Duration::from_millis(200));
        }
        let c = config(15);
        assert_eq!(c.step_down_after() + c.drain(), Duration::from_millis(13_750));
    }

    #[test]
    fn durations_too_short_for_a_grace_period_are_refused() {
        assert!(config(2).validate().is_err());
        assert!(config(3).validate().is_ok());
    }

    #[test]
    fn lease_view_tells_ours_from_someone_elses_and_free() {
        let now = SystemTime::now();
        match view_of(Some(&spec(Some("pod-a"), Some(now))), "pod-a") {
            LeaseView::Held { renewed } => {
                assert!(renewed.duration_since(now).unwrap_or_else(|e| e.duration()) < Duration::from_millis(1))
            }
            other => panic!("expected Held, got {other:?}"),
        }
        assert_eq!(
            view_of(Some(&spec(Some("pod-b"), Some(now))), "pod-a"),
            LeaseView::HeldByOther("pod-b".into())
        );
        assert_eq!(view_of(Some(&spec(None, None)), "pod-a"), LeaseView::Free);
        assert_eq!(view_of(None, "pod-a"), LeaseView::Free);
        assert_eq!(view_of(Some(&spec(Some("pod-a"), None)), "pod-a"), LeaseView::Free);
    }

    #[test]
    fn a_leader_steps_down_when_someone_else_holds_or_cleared_the_lease() {
        let now = SystemTime::now();
        let c = config(15);
        assert!(must_step_down(Some(&LeaseView::HeldByOther("pod-b".into())), now, &c, now).is_some());
        assert!(must_step_down(Some(&LeaseView::Free), now, &c, now).is_some());
        assert!(must_step_down(Some(&LeaseView::Held { renewed: now }), now, &c, now).is_none());
    }

    #[test]
    fn a_leader_that_cannot_renew_steps_down_before_a_follower_may_take_over() {
        let c = config(15);
        let renewed = SystemTime::now();
        // Unreadable Lease (None): decided on the last renewal seen.
        assert!(must_step_down(None, renewed, &c, renewed + Duration::from_secs(10)).is_none());
        let reason = must_step_down(None, renewed, &c, renewed + Duration::from_secs(13)).expect("overdue");
        assert!(reason.contains("renewals are failing"), "{reason}");
        // Strictly before the Lease expires for everyone else.
        assert!(c.step_down_after() < c.duration);
    }

    #[test]
    fn a_standby_competes_again_only_when_the_lease_is_free() {
        assert!(should_rejoin(&LeaseView::Free));
        assert!(!should_rejoin(&LeaseView::HeldByOther("other".into())));
        assert!(!should_rejoin(&LeaseView::Held {
            renewed: SystemTime::now()
        }));
        let config = |secs| LeaseConfig {
            namespace: "ns".into(),
            name: "lease".into(),
            identity: "me".into(),
            duration: Duration::from_secs(secs),
        };
        assert_eq!(
            config(15).standby_poll(),
            Duration::from_secs(2),
            "client-go's retry period"
        );
        assert_eq!(config(3).standby_poll(), Duration::from_millis(500));
    }

    #[test]
    fn identity_prefers_the_pod_name_and_is_unique_otherwise() {
        assert_eq!(identity(Some("operator-7d9f-abcde")), "operator-7d9f-abcde");
        let a = identity(None);
        let b = identity(Some("  "));
        assert_ne!(a, b, "two processes on one host get different identities");
    }
}
