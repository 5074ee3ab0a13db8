//! Quiescent points: wait until the operator is idle and every object settled, snapshot the simulators and the
//! objects, check them against the model, then watch a quiet window for a hot loop.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use callback_operator::api::CallbackRegistration;

use super::checker::{MailHook, ObjState, Snapshot, TRANSIENT, Violation, check, credentials_in, hot_loop, in_flight};
use super::defaults::RESYNC;
use super::model::{Expected, Provider};
use super::world::{MAILBOX, SUBJECT_ID, World};
use crate::support::metrics::{scrape, total};

/// How many polls (0.5 s apart) in a row must see no provider call and no new pass of the operator: longer than
/// the watch's reconnect backoff after an apiserver restart (at most 5 s), so an event still on its way is waited for.
const QUIET_POLLS: u32 = 12;
/// How long a quiet window at rest lasts (the hot-loop check).
pub const IDLE_WINDOW: Duration = Duration::from_secs(3);
/// How long after the last provider call a quiescent point may still take to arrive: an object that ate several
/// injected faults in a row waits out the shipped backoff (2 s doubling, at most 5 min) plus a 30 s provider
/// timeout before its next call.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(360);
/// The longest any quiescent point waits, however busy the providers stay (a hot loop is reported, not waited out).
pub const SETTLE_CAP: Duration = Duration::from_secs(900);

fn state_of(obj: &CallbackRegistration) -> Option<ObjState> {
    let status = obj.status.as_ref()?;
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some(ObjState {
        reason: ready.reason.clone(),
        message: ready.message.clone(),
        observed: status.observed_generation == obj.metadata.generation,
    })
}

impl World {
    /// Every object in the soak's namespaces, by (namespace, name).
    async fn objects(&self) -> BTreeMap<(String, String), Option<ObjState>> {
        let mut out = BTreeMap::new();
        for ns in &self.namespaces {
            let Ok(list) = self.cluster.registrations(ns).list(&Default::default()).await else {
                continue;
            };
            for obj in list.items {
                out.insert((ns.clone(), obj.metadata.name.clone().unwrap()), state_of(&obj));
            }
        }
        out
    }

    /// Every object acted on its generation with a settled reason. At an intermediate check an object still
    /// retrying with backoff counts as settled once the providers are quiet (it waits minutes after a run of faults,
    /// at the shipped backoff): the checker exempts what it is working on. The final check waits it out.
    ///
    /// An object whose reason is not yet the model's is waited for too (until the settle deadline): a retry after
    /// an apiserver outage may be due half a minute later with no provider call and no pass in between (soak seed 1:
    /// a Secret deleted just before an apiserver restart; the object's pass failed on the restart and its retry came
    /// after the 6 s quiet window). One still wrong at the deadline is reported stuck.
    fn settled(&self, objects: &BTreeMap<(String, String), Option<ObjState>>, final_check: bool) -> bool {
        objects
            .iter()
            .all(|(key, state)| match (self.model.objects.get(key), state) {
                (None, _) => false, // deleted, finalizer not done yet
                (Some(_), None) => false,
                (Some(_), Some(s)) => {
                    let transient = TRANSIENT.contains(&s.reason.as_str());
                    s.observed
                        && if transient {
                            !final_check
                        } else {
                            self.model.expected(key).reasons().contains(&s.reason.as_str())
                        }
                }
            })
            && self.model.objects.keys().all(|k| objects.contains_key(k))
    }

    /// Waits until the objects settled and the providers saw no call for a second; then snapshots. Bounded by
    /// [`SETTLE_TIMEOUT`] after the last provider call, and by [`SETTLE_CAP`] in all.
    async fn settle_and_snapshot(&self, final_check: bool) -> Snapshot {
        let started = Instant::now();
        let mut deadline = started + SETTLE_TIMEOUT;
        let mut last_calls = u64::MAX;
        let mut last_passes = f64::NAN;
        let mut quiet_polls = 0;
        loop {
            let objects = self.objects().await;
            let calls = self.provider_calls();
            // The operator's own count of passes too: a Secret change bumps no generation and may make no provider
            // call (a Secret deleted: CredentialsNotFound), so only its passes show it has acted on one.
            let passes = match scrape(self.operator.metrics_port).await {
                Some(text) => total(&text, "callback_operator_reconciliations_total"),
                None => f64::NAN,
            };
            let still = calls == last_calls && passes == last_passes;
            quiet_polls = if still { quiet_polls + 1 } else { 0 };
            last_passes = passes;
            if calls != last_calls {
                deadline = (Instant::now() + SETTLE_TIMEOUT).min(started + SETTLE_CAP);
            }
            last_calls = calls;
            if (self.settled(&objects, final_check) && quiet_polls >= QUIET_POLLS) || Instant::now() > deadline {
                return self.snapshot(objects, !final_check);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn snapshot(&self, objects: BTreeMap<(String, String), Option<ObjState>>, in_flight_allowed: bool) -> Snapshot {
        let valid = |p: Provider| {
            let pool = &self.keys[&p];
            pool[..pool.len() - 1].to_vec()
        };
        let mail = valid(Provider::Mail)
            .into_iter()
            .map(|k| {
                let hooks = self
                    .mail
                    .webhooks(&k)
                    .into_iter()
                    .map(|w| MailHook {
                        url: w.url,
                        status: w.status,
                        max_parallel: w.max_parallel,
                    })
                    .collect();
                (k, hooks)
            })
            .collect();
        let edna = valid(Provider::Edna)
            .into_iter()
            .map(|k| {
                let urls = self.edna.effective_callbacks(&k, SUBJECT_ID);
                let mut fields = BTreeMap::new();
                if let Some(u) = urls.status_callback_url {
                    fields.insert("statusCallbackUrl".to_string(), u);
                }
                if let Some(u) = urls.in_message_callback_url {
                    fields.insert("inMessageCallbackUrl".to_string(), u);
                }
                (k, fields)
            })
            .collect();
        let envelope = self.envelope.callbacks(MAILBOX).into_iter().map(|c| c.url).collect();
        Snapshot {
            mail,
            edna,
            envelope,
            objects,
            in_flight_allowed,
        }
    }

    /// One quiescent check: settle, compare with the model, watch a quiet window. Returns the violations.
    pub async fn quiescent_check(&mut self, final_check: bool) -> Vec<Violation> {
        self.figures.checks += 1;
        let snap = self.settle_and_snapshot(final_check).await;
        let mut violations = check(&self.model, &snap);
        let before = self.provider_calls();
        tokio::time::sleep(IDLE_WINDOW).await;
        let at_rest = self.provider_calls() - before;
        violations.extend(hot_loop(
            at_rest,
            self.model.objects.len(),
            in_flight(&snap),
            IDLE_WINDOW,
            RESYNC,
        ));
        let log = format!("{}{}", self.logs, self.operator.log());
        violations.extend(credentials_in(&log, &self.credentials()));
        if violations.is_empty() {
            let synced: Vec<_> = self
                .model
                .objects
                .keys()
                .filter(|k| self.model.expected(k) == Expected::Synced)
                .filter(|k| {
                    snap.objects
                        .get(*k)
                        .cloned()
                        .flatten()
                        .is_some_and(|s| s.reason == "Synced")
                })
                .cloned()
                .collect();
            for key in synced {
                self.model.verified(&key);
            }
        }
        self.figures.violations += violations.len();
        violations
    }
}
