//! One reconciliation, top to bottom: finalizer → the gates (suspend, desired state, credentials, breaker,
//! ownership; `gates.rs`) → provider sync → status (only when it changed) → Events → requeue. Cleanup: ownership
//! → remove at the provider (policy `Delete`); the watch's Delete then hands the identity to waiting claimants.
//!
//! The provider is chosen once, by `Providers::dispatch`; everything below is generic over `Provider`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::{debug, info, instrument, warn};

use super::backoff::jittered;
use super::cached::CachedRegistration;
use super::conditions::{Verdict, ready_state};
use super::events::{events_for, publish};
use super::gates::{Admitted, BlockClass, Blocked, Gatekeeper, admit};
use super::ownership::{Claimant, conflicting_owner};
use super::secrets::NamespaceSecrets;
use super::status::{PassResult, Synced, next_status};
use super::written_copies::{Freshness, STALE_RETRY, WrittenCopies};
use super::{Context, Error};
use crate::api::{CallbackRegistration, EventReason, FINALIZER, ManagementPolicy, Reason};
use crate::providers::{
    Account, Change, EndpointPolicy, ErrorClass, Provider, ProviderTask, Recorded, SecretSource, SecretValues, redact,
};

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "callback-operator";

type Pass<'a> = Pin<Box<dyn Future<Output = Result<Action, Error>> + Send + 'a>>;

/// The controller's entry point: the finalizer decides whether this is an apply or a cleanup.
#[instrument(skip_all, fields(namespace = obj.namespace().as_deref().unwrap_or(""), name = %obj.name_any()))]
pub async fn reconcile(obj: Arc<CachedRegistration>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let _in_flight = super::progress::InFlight::start(&ctx.progress);
    // A trigger that came while the controller held this object runs it once more afterwards (`trigger_queue.rs`).
    let meta = obj.meta();
    ctx.triggers.started(
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    );
    let obj = Arc::new(obj.unpack()?);
    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;
    if let Some(guard) = ctx.guard.as_ref().filter(|_| obj.meta().deletion_timestamp.is_none()) {
        // Before the finalizer goes on: cleanup must keep its permissions if the namespace is deleted.
        guard.ensure(&namespace).await;
    }
    // A pass before this one wrote from this very copy; the watch has not delivered the write yet (`written_copies.rs`).
    match ctx.written.check(&obj) {
        Freshness::Fresh => {}
        Freshness::AwaitWatch => {
            debug!(name = %obj.name_any(), "finalizer already added to this copy; waiting for the watch to catch up");
            return Ok(Action::await_change());
        }
        Freshness::RetrySoon => {
            debug!(name = %obj.name_any(), "status already written from this copy; retrying once the watch caught up");
            return Ok(Action::requeue(STALE_RETRY));
        }
    }
    let adds_finalizer = WrittenCopies::would_add_finalizer(&obj).then(|| obj.clone());
    let api: Api<CallbackRegistration> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            FinalizerEvent::Apply(obj) => apply(&obj, &ctx).await,
            FinalizerEvent::Cleanup(obj) => super::cleanup::cleanup(&obj, &ctx).await,
        }
    })
    .await
    .map_err(|err| Error::Finalizer(Box::new(err)));
    if let (Some(copy), Ok(_)) = (&adds_finalizer, &result) {
        ctx.written.finalizer_added(copy);
    }
    ctx.metrics.reconciled(result.is_ok(), started.elapsed().as_secs_f64());
    result
}

/// Retries a failed reconciliation with per-object backoff (kube errors, cleanup that must be retried).
pub fn error_policy(obj: Arc<CachedRegistration>, err: &Error, ctx: Arc<Context>) -> Action {
    if added_finalizer_to_a_stale_copy(err) {
        // The change that made the copy stale wakes the object again (the change filter passes finalizer changes):
        // a backoff here only delayed Ready by seconds for a few percent of new objects at scale.
        debug!(name = %obj.name_any(), "finalizer patch on a stale copy; waiting for the watch to catch up");
        return Action::await_change();
    }
    let (retry_after, not_after) = match err {
        Error::Finalizer(inner) => match inner.as_ref() {
            kube::runtime::finalizer::Error::CleanupFailed(Error::CleanupRetry(_, after, deadline)) => {
                (*after, Some(*deadline))
            }
            _ => (None, None),
        },
        _ => (None, None),
    };
    // A cleanup is retried no later than its deadline, where it is abandoned.
    let delay = ctx.backoff.next_delay(&object_key(obj.as_ref()), retry_after);
    let delay = not_after.map_or(delay, |limit| delay.min(limit));
    warn!(name = %obj.name_any(), error = %err, retry_in = ?delay, "reconciliation failed");
    ctx.metrics.reconcile_error("Error");
    Action::requeue(delay)
}

/// Whether adding the finalizer failed because the cached copy is behind the apiserver: kube-runtime's patch tests
/// the copy's finalizers first, and a 422 `Invalid` means they differ — almost always our own finalizer patch of the
/// pass before, which the watch has not delivered yet (a second trigger ran the object again at once).
fn added_finalizer_to_a_stale_copy(err: &Error) -> bool {
    matches!(err, Error::Finalizer(inner) if matches!(
        inner.as_ref(),
        kube::runtime::finalizer::Error::AddFinalizer(kube::Error::Api(status)) if status.code == 422
    ))
}

// ---------------------------------------------------------------------------------------------------------------
// Apply
// ---------------------------------------------------------------------------------------------------------------

async fn apply(obj: &CallbackRegistration, ctx: &Context) -> Result<Action, Error> {
    match ctx.providers.dispatch(&obj.spec, ApplyTask { obj, ctx }) {
        Some(pass) => pass.await,
        None => {
            let message = format!(
                "exactly one provider block must be set: {}",
                crate::providers::Providers::NAMES.join(", ")
            );
            let blocked = Blocked {
                class: BlockClass::Stalled,
                reason: Reason::InvalidSpec,
                message,
                target: None,
                account: None,
            };
            hold(obj, ctx, None, blocked).await
        }
    }
}

struct ApplyTask<'a> {
    obj: &'a CallbackRegistration,
    ctx: &'a Context,
}

impl<'a> ProviderTask<'a> for ApplyTask<'a> {
    type Output = Pass<'a>;
    fn run<P: Provider>(self, provider: &'a P, block: &'a P::Spec) -> Pass<'a> {
        Box::pin(apply_with(provider, block, self.obj, self.ctx))
    }
}

/// The lifecycle for one provider: the gates, then observe the provider and apply only what differs.
async fn apply_with<P: Provider>(
    provider: &P,
    block: &P::Spec,
    obj: &CallbackRegistration,
    ctx: &Context,
) -> Result<Action, Error> {
    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;
    let gates = ReconcileGates {
        ctx,
        secrets: NamespaceSecrets::new(ctx.client.clone(), &namespace, ctx.settings.secret_selector.as_ref())
            .cached(ctx.indexes.secret_values.clone()),
    };
    let Admitted {
        desired,
        target,
        account,
        secret_key,
        secret_version,
    } = match admit(provider, block, obj, &gates).await? {
        Ok(admitted) => admitted,
        Err(blocked) => return hold(obj, ctx, Some(P::NAME), blocked).await,
    };

    let desired_hash = desired_hash(&account, &desired)?;
    let status = obj.status.as_ref();
    // Write budget (budget.rs): once spent, the provider withholds writes that would only correct it.
    let key = object_key(obj);
    let spent = ctx.budget.spent(&key, &desired_hash, Instant::now());
    // A younger claimant wrote on its identity (`ownership.rs`): edna, which cannot be read, writes again — unless
    // that claimant is known to be in another account than the one this pass uses (the index marked it before
    // this object's account was known; an extra edna write per such pair at scale).
    let written_over = ctx.indexes.claims.take_contested(&namespace, &obj.name_any())
        && ctx
            .indexes
            .claims
            .written_over(&namespace, &obj.name_any(), &account.id());
    let recorded = Recorded {
        registration: status.and_then(|s| s.registration.as_deref()),
        applied_hash: status.and_then(|s| s.applied_hash.as_deref()),
        observed_hash: status.and_then(|s| s.observed_hash.as_deref()),
        corrections_spent: spent.as_deref(),
        reconcile_requested: super::reconcile_request::is_new(obj) || written_over,
    };
    let observe_only = obj.spec.management_policy() == ManagementPolicy::Observe;
    let result = if observe_only {
        // No provider write: read, compare, report (`observe.rs`).
        provider
            .observe(&account, &desired, &desired_hash, recorded)
            .await
            .map(Read::Observed)
    } else {
        provider
            .sync(&account, &desired, &desired_hash, recorded)
            .await
            .map(Read::Synced)
    };
    match result {
        Ok(Read::Observed(observation)) => {
            let observed = super::observe::observed(P::LABEL, &target, observation, recorded);
            let pass = PassResult {
                verdict: observed.verdict,
                provider: Some(P::NAME),
                target: Some(target),
                synced: observed.synced,
                account_now: None,
            };
            let resync = resync_interval(obj, provider, ctx);
            let action = finish(obj, ctx, pass, observed.changes, Next::Resync(jittered(resync))).await?;
            ctx.backoff.reset(&key);
            Ok(action)
        }
        Ok(Read::Synced(outcome)) => {
            // Write budget: a write without a spec or Secret change spends it.
            if !outcome.corrected.is_empty() {
                ctx.budget.record(&key, &desired_hash, Instant::now());
            }
            if outcome
                .changes
                .iter()
                .any(|c| matches!(c.reason, EventReason::DriftCorrected | EventReason::Reactivated))
            {
                ctx.metrics.drift_corrected(P::NAME);
            }
            let message = match outcome.repaired {
                Some(repaired) => format!("{} holds {target} (repaired: {repaired})", P::LABEL),
                None => format!("{} holds {target}", P::LABEL),
            };
            let pass = PassResult {
                verdict: Verdict::Ready { message },
                provider: Some(P::NAME),
                target: Some(target),
                synced: Some(Synced {
                    registration: outcome.registration,
                    applied_hash: Some(desired_hash),
                    observed_hash: outcome.observed_hash,
                    wrote: outcome.changes.iter().any(|c| c.reason.wrote()),
                }),
                account_now: None,
            };
            let resync = resync_interval(obj, provider, ctx);
            let action = finish(obj, ctx, pass, outcome.changes, Next::Resync(jittered(resync))).await?;
            // The backoff is forgotten only once status recorded the pass: while the apiserver refuses the status
            // write, each retry repeats the provider call, and those retries must keep growing apart (soak seed 2:
            // a `set` every 2 s through a 30 s apiserver restart, the backoff reset by each successful call).
            ctx.backoff.reset(&key);
            Ok(action)
        }
        Err(err) => {
            let message = redact(&err.to_string(), &account.secrets());
            ctx.metrics.reconcile_error(err.reason().as_str());
            // Write budget: the first withheld write of a loop is counted once.
            if err.reason() == Reason::DriftLoop && ctx.budget.trip(&key, &desired_hash, Instant::now()) {
                ctx.metrics.drift_loop(P::NAME);
            }
            let target = Some(target);
            match err.class() {
                ErrorClass::Transient => {
                    let delay = ctx.backoff.next_delay(&object_key(obj), err.retry_after());
                    debug!(reason = err.reason().as_str(), retry_in = ?delay, "transient provider error");
                    let pass = pass_result(
                        P::NAME,
                        target,
                        Verdict::Progressing {
                            reason: err.reason(),
                            message,
                        },
                    );
                    finish(obj, ctx, pass, Vec::new(), Next::Retry(delay)).await
                }
                ErrorClass::Credentials => {
                    ctx.breaker.trip(P::NAME, &secret_key, &secret_version, &message);
                    ctx.metrics
                        .set_credential_breakers_open(ctx.breaker.open_by_provider(crate::providers::Providers::NAMES));
                    let message = format!("{message} (not retried until Secret {secret_key} changes)");
                    let verdict = Verdict::Stalled {
                        reason: err.reason(),
                        message,
                    };
                    settle(obj, ctx, pass_result(P::NAME, target, verdict)).await
                }
                ErrorClass::Permanent => {
                    let verdict = Verdict::Stalled {
                        reason: err.reason(),
                        message,
                    };
                    settle(obj, ctx, pass_result(P::NAME, target, verdict)).await
                }
            }
        }
    }
}

/// What the provider answered: a sync's outcome, or an observation (`managementPolicy: Observe`).
enum Read {
    Synced(crate::providers::SyncOutcome),
    Observed(crate::providers::Observation),
}

/// The gates' reads: this namespace's Secrets, the breaker and the claim index.
struct ReconcileGates<'a> {
    ctx: &'a Context,
    secrets: NamespaceSecrets,
}

impl SecretSource for ReconcileGates<'_> {
    async fn secret(&self, name: &str) -> Result<Option<SecretValues>, kube::Error> {
        self.secrets.secret(name).await
    }
}

impl Gatekeeper for ReconcileGates<'_> {
    async fn credentials(&self, name: &str) -> Result<Option<(SecretValues, String)>, kube::Error> {
        self.secrets.read(name).await
    }

    fn rejected(&self, secret_key: &str, version: &str) -> Option<String> {
        self.ctx.breaker.rejected(secret_key, version)
    }

    fn owner(&self, me: &Claimant, account: &str) -> Option<(String, String)> {
        let others = self.ctx.indexes.claims.sharing(&me.claims);
        conflicting_owner(me, account, others.iter().map(Arc::as_ref))
    }

    fn endpoints(&self) -> &EndpointPolicy {
        &self.ctx.settings.endpoints
    }

    async fn unlabelled(&self, name: &str) -> Result<Option<String>, kube::Error> {
        self.secrets.unlabelled(name).await
    }
}

/// Ends a pass that a gate stopped before the provider.
async fn hold(
    obj: &CallbackRegistration,
    ctx: &Context,
    provider: Option<&'static str>,
    blocked: Blocked,
) -> Result<Action, Error> {
    let Blocked {
        class,
        reason,
        message,
        target,
        account,
    } = blocked;
    let (verdict, then) = match class {
        BlockClass::Suspended => (Verdict::Suspended, Next::AwaitChange),
        BlockClass::Waiting => (
            Verdict::Progressing { reason, message },
            Next::Resync(jittered(ctx.settings.resync_interval)),
        ),
        BlockClass::Stalled => (
            Verdict::Stalled { reason, message },
            Next::Resync(jittered(ctx.settings.resync_interval)),
        ),
    };
    let pass = PassResult {
        verdict,
        provider,
        target,
        synced: None,
        account_now: account,
    };
    finish(obj, ctx, pass, Vec::new(), then).await
}

/// Ends a pass that made no provider change: status (when it changed) and the default resync. Stalled objects are
/// re-checked on the slow resync too: a user may fix things the watch cannot see.
async fn settle(obj: &CallbackRegistration, ctx: &Context, pass: PassResult) -> Result<Action, Error> {
    let resync = jittered(ctx.settings.resync_interval);
    finish(obj, ctx, pass, Vec::new(), Next::Resync(resync)).await
}

fn pass_result(provider: &'static str, target: Option<String>, verdict: Verdict) -> PassResult {
    PassResult {
        verdict,
        provider: Some(provider),
        target,
        synced: None,
        account_now: None,
    }
}

/// When the object is looked at again (besides any change to it).
enum Next {
    /// The periodic drift check (the resync queue holds it, not the controller's scheduler).
    Resync(Duration),
    /// A retry after a transient failure.
    Retry(Duration),
    /// Only when the object changes (suspended).
    AwaitChange,
}

/// Writes status when it changed, publishes Events, and picks the requeue.
async fn finish(
    obj: &CallbackRegistration,
    ctx: &Context,
    pass: PassResult,
    changes: Vec<Change>,
    then: Next,
) -> Result<Action, Error> {
    let now = Time(Timestamp::from_second(Timestamp::now().as_second()).expect("now is in range"));
    let previous = obj.status.as_ref();
    let mut next = next_status(previous, &pass, obj.meta().generation, &now);
    next.last_handled_reconcile_at = super::reconcile_request::handled(
        previous.and_then(|s| s.last_handled_reconcile_at.as_deref()),
        super::reconcile_request::requested_at(obj),
        &pass.verdict,
    );
    if previous != Some(&next) {
        write_status(obj, ctx, &next).await?;
        if !pass.verdict.is_ready() {
            info!(
                reason = pass.verdict.reason().as_str(),
                message = pass.verdict.message(),
                "not ready"
            );
        }
    }
    let previous_ready = previous.and_then(|s| ready_state(&s.conditions));
    publish(&ctx.events, obj, events_for(previous_ready, &pass.verdict, &changes)).await;
    Ok(match then {
        Next::Resync(delay) => {
            ctx.resync.resync_after(obj, delay);
            Action::await_change()
        }
        Next::Retry(delay) => Action::requeue(delay),
        Next::AwaitChange => {
            ctx.resync.cancel(obj);
            Action::await_change()
        }
    })
}

async fn write_status(
    obj: &CallbackRegistration,
    ctx: &Context,
    status: &crate::api::CallbackRegistrationStatus,
) -> Result<(), Error> {
    let api: Api<CallbackRegistration> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().ok_or(Error::NoNamespace)?);
    let patch = json!({
        "apiVersion": "callback-operator.io/v1alpha1",
        "kind": "CallbackRegistration",
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    ctx.written.status_written(obj);
    ctx.metrics.status_written();
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

pub(super) fn target_of(obj: &CallbackRegistration) -> String {
    obj.status
        .as_ref()
        .and_then(|s| s.registration.as_ref())
        .filter(|r| !r.urls.is_empty())
        .map(|r| r.urls.join(", "))
        .or_else(|| obj.status.as_ref().and_then(|s| s.target.clone()))
        .unwrap_or_else(|| "the registration".into())
}

pub(super) fn object_key(obj: &impl Resource) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// The resync interval for this object: its own, else the provider's default (a provider that cannot be read
/// back re-asserts on a long interval). The schema allows only positive Go-style durations.
fn resync_interval<P: Provider>(obj: &CallbackRegistration, provider: &P, ctx: &Context) -> Duration {
    obj.spec
        .resync_interval
        .as_deref()
        .and_then(|text| text.parse::<kube::core::Duration>().ok())
        .filter(|d| !d.is_negative())
        .map(Duration::from)
        .unwrap_or_else(|| provider.default_resync(ctx.settings.resync_interval))
}

/// A hash of the desired state and the account, so a rotated key or password is re-pushed. Secret values enter
/// only as keyed fingerprints (their `Serialize`).
pub fn desired_hash<C: crate::providers::Credentials, D: serde::Serialize>(
    account: &Account<C>,
    desired: &D,
) -> Result<String, Error> {
    let mut hasher = Sha256::new();
    hasher.update(account.id().as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(desired)?);
    Ok(hex::encode(&hasher.finalize()[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use kube::runtime::finalizer::Error as FinalizerError;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure("m", "r").with_code(code)))
    }

    #[test]
    fn only_a_refused_finalizer_test_counts_as_a_stale_copy() {
        let stale = Error::Finalizer(Box::new(FinalizerError::AddFinalizer(api_error(422))));
        assert!(added_finalizer_to_a_stale_copy(&stale));
        for other in [
            Error::Finalizer(Box::new(FinalizerError::AddFinalizer(api_error(500)))),
            Error::Finalizer(Box::new(FinalizerError::AddFinalizer(api_error(403)))),
            Error::Finalizer(Box::new(FinalizerError::RemoveFinalizer(api_error(422)))),
        ] {
            assert!(!added_finalizer_to_a_stale_copy(&other), "{other}");
        }
    }
}
