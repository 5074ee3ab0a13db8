//! Cleanup of a deleted registration: ownership → remove at the provider (policy `Delete`) → let the object go. The
//! watch's Delete then hands the identity to waiting claimants (`indexes.rs`).
//!
//! A cleanup that cannot remove what the object registered — credentials gone (a namespace being deleted takes its
//! Secrets along), provider down, apiserver refusing — is retried with backoff until `--cleanup-deadline` after the
//! deletion, then **abandoned**: the finalizer goes, a Warning Event `CleanupAbandoned` says what stays at the
//! provider, `callback_operator_cleanup_abandoned_total{provider,reason}` counts it and a log line records it (the
//! Event cannot be written into a namespace that is terminating; the metric and the log survive). The annotation
//! `callback-operator.io/orphan: "true"` abandons at once. Blocking deletion forever helps nobody: a namespace would
//! stay Terminating, and GitOps tools would wait on it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use tracing::warn;

use super::events::{event, publish_now};
use super::ownership::{Claimant, conflicting_owner};
use super::reconcile::{object_key, target_of};
use super::secrets::NamespaceSecrets;
use super::{Context, Error};
use crate::api::{CallbackRegistration, DeletionPolicy, EventReason, ManagementPolicy, ORPHAN_ANNOTATION};
use crate::providers::{Account, ErrorClass, Provider, ProviderTask, Removal, redact};

type Pass<'a> = Pin<Box<dyn Future<Output = Result<Action, Error>> + Send + 'a>>;

/// Why a cleanup was abandoned: the `reason` label of `cleanup_abandoned_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abandoned {
    /// `--cleanup-deadline` passed while the cleanup kept failing.
    Deadline,
    /// The user set `callback-operator.io/orphan: "true"`.
    Annotation,
    /// The provider refused the removal in a way a retry cannot change.
    Rejected,
}

impl Abandoned {
    pub const ALL: [Abandoned; 3] = [Abandoned::Deadline, Abandoned::Annotation, Abandoned::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            Abandoned::Deadline => "deadline",
            Abandoned::Annotation => "annotation",
            Abandoned::Rejected => "rejected",
        }
    }
}

/// Whether the user asked to orphan this object at once.
pub fn orphan_requested(obj: &CallbackRegistration) -> bool {
    obj.annotations()
        .get(ORPHAN_ANNOTATION)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The time a failing cleanup has left before it is abandoned, counted from the deletion; `None` once it passed.
/// An object without a deletion time (never from a real apiserver) is given the whole deadline.
pub fn time_left(deleted: Option<Timestamp>, now: Timestamp, deadline: Duration) -> Option<Duration> {
    let Some(deleted) = deleted else {
        return Some(deadline);
    };
    let elapsed = Duration::try_from(now.duration_since(deleted)).unwrap_or(Duration::ZERO);
    deadline.checked_sub(elapsed).filter(|left| !left.is_zero())
}

pub async fn cleanup(obj: &CallbackRegistration, ctx: &Context) -> Result<Action, Error> {
    if let Some(pass) = ctx.providers.dispatch(&obj.spec, CleanupTask { obj, ctx }) {
        pass.await?;
    }
    ctx.backoff.reset(&object_key(obj));
    ctx.budget.forget(&object_key(obj)); // write budget
    Ok(Action::await_change())
}

struct CleanupTask<'a> {
    obj: &'a CallbackRegistration,
    ctx: &'a Context,
}

impl<'a> ProviderTask<'a> for CleanupTask<'a> {
    type Output = Pass<'a>;
    fn run<P: Provider>(self, provider: &'a P, block: &'a P::Spec) -> Pass<'a> {
        Box::pin(async move {
            match cleanup_with(provider, block, self.obj, self.ctx).await {
                Ok(()) => Ok(Action::await_change()),
                Err(failure) => give_up_or_retry::<P>(self.obj, self.ctx, failure).await,
            }
        })
    }
}

/// Why one cleanup attempt failed (to retry until the deadline).
struct Failure {
    message: String,
    retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure {
            message: err.to_string(),
            retry_after: None,
        }
    }
}

/// A failed attempt: retried (no later than the deadline), or abandoned once the deadline passed.
async fn give_up_or_retry<P: Provider>(
    obj: &CallbackRegistration,
    ctx: &Context,
    failure: Failure,
) -> Result<Action, Error> {
    let deleted = obj.meta().deletion_timestamp.as_ref().map(|t| t.0);
    match time_left(deleted, Timestamp::now(), ctx.settings.cleanup_deadline) {
        Some(left) => Err(Error::CleanupRetry(failure.message, failure.retry_after, left)),
        None => {
            let why = format!(
                "cleanup kept failing for --cleanup-deadline {}: {}",
                humantime::format_duration(ctx.settings.cleanup_deadline),
                failure.message
            );
            abandon::<P>(obj, ctx, Abandoned::Deadline, &why).await;
            Ok(Action::await_change())
        }
    }
}

/// Lets the object go without removing what it registered; records it in an Event, a metric and the log.
async fn abandon<P: Provider>(obj: &CallbackRegistration, ctx: &Context, reason: Abandoned, why: &str) {
    let note = format!("{} stays at {}: {why}", target_of(obj), P::LABEL);
    ctx.metrics.cleanup_abandoned(P::NAME, reason.as_str());
    warn!(
        provider = P::NAME,
        reason = reason.as_str(),
        namespace = obj.namespace().unwrap_or_default(),
        name = obj.name_any(),
        note = %note,
        "cleanup abandoned"
    );
    publish_now(
        &ctx.events,
        obj,
        vec![event(EventType::Warning, EventReason::CleanupAbandoned, note)],
    )
    .await;
}

/// Removes the registration at the provider (policy `Delete`) unless another object owns it or the user asked to
/// orphan it.
async fn cleanup_with<P: Provider>(
    provider: &P,
    block: &P::Spec,
    obj: &CallbackRegistration,
    ctx: &Context,
) -> Result<(), Failure> {
    if obj.spec.management_policy() == ManagementPolicy::Observe {
        // Observed, never managed: deleting the object never deletes what the provider holds.
        let note = format!(
            "managementPolicy Observe: nothing removed at {}; {} stays",
            P::LABEL,
            target_of(obj)
        );
        leave_be(ctx, obj, EventReason::Orphaned, note).await;
        return Ok(());
    }
    if obj.spec.deletion_policy() == DeletionPolicy::Orphan {
        let note = format!("deletionPolicy Orphan: left {} at {}", target_of(obj), P::LABEL);
        leave_be(ctx, obj, EventReason::Orphaned, note).await;
        return Ok(());
    }
    if orphan_requested(obj) {
        let why = format!("annotation {ORPHAN_ANNOTATION}: \"true\" asked to leave it");
        abandon::<P>(obj, ctx, Abandoned::Annotation, &why).await;
        return Ok(());
    }

    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;
    let registration = obj.status.as_ref().and_then(|s| s.registration.as_ref());
    let secrets = NamespaceSecrets::new(ctx.client.clone(), &namespace, ctx.settings.secret_selector.as_ref());
    let secret_name = &obj.spec.credentials_ref.name;
    let credentials = secrets.read(secret_name).await.map_err(Error::from)?;
    let account = credentials.as_ref().and_then(|(values, _)| {
        Account::<P::Credentials>::from_secret::<P>(secret_name, values, &ctx.settings.endpoints).ok()
    });
    let account_id = account
        .as_ref()
        .map(Account::id)
        .or_else(|| registration.and_then(|r| r.account.clone()))
        .unwrap_or_default();

    let me = Claimant::of(obj, P::claims(block), Some(&account_id)).spanning_accounts(P::IDENTITY_SPANS_ACCOUNTS);
    let others = ctx.indexes.claims.sharing(&me.claims);
    if let Some((owner, claim)) = conflicting_owner(&me, &account_id, others.iter().map(Arc::as_ref)) {
        // What this object once registered may be exactly what the owner holds now: removing it would break the
        // owner's registration. Leaving it is the lesser harm, and the Event says so.
        let note = format!(
            "{claim} belongs to {owner}: nothing removed at {} for this object ({} stays if it was registered)",
            P::LABEL,
            target_of(obj)
        );
        leave_be(ctx, obj, EventReason::CleanupSkipped, note).await;
        return Ok(());
    }
    remove_at_provider(provider, block, obj, ctx, &secrets, account).await
}

/// Lets the object go with nothing removed at the provider, and a Normal Event saying why.
async fn leave_be(ctx: &Context, obj: &CallbackRegistration, reason: EventReason, note: String) {
    publish_now(&ctx.events, obj, vec![event(EventType::Normal, reason, note)]).await;
}

async fn remove_at_provider<P: Provider>(
    provider: &P,
    block: &P::Spec,
    obj: &CallbackRegistration,
    ctx: &Context,
    secrets: &NamespaceSecrets,
    account: Option<Account<P::Credentials>>,
) -> Result<(), Failure> {
    let registration = obj.status.as_ref().and_then(|s| s.registration.as_deref());
    let Some(account) = account else {
        // The Secret may come back (its watch wakes this object); until the deadline, wait for it like for a
        // provider that is down.
        return Err(Failure {
            message: format!(
                "the credentials Secret {} is missing, incomplete or its endpoint is not allowed",
                obj.spec.credentials_ref.name
            ),
            retry_after: None,
        });
    };
    // The desired state names the registration when a status write was lost after the provider call (only owners
    // get here, so it is theirs to remove). A desired state that cannot be built names nothing more.
    let desired = provider.desired(block, secrets).await.ok();
    match provider.remove(&account, registration, desired.as_ref()).await {
        Ok(Removal::Removed(changes)) => {
            let events = changes
                .into_iter()
                .map(|c| event(EventType::Normal, c.reason, c.message))
                .collect();
            publish_now(&ctx.events, obj, events).await;
            Ok(())
        }
        Ok(Removal::Unsupported(note)) => {
            publish_now(
                &ctx.events,
                obj,
                vec![event(EventType::Warning, EventReason::RemoteDeletionUnsupported, note)],
            )
            .await;
            Ok(())
        }
        Err(err) if err.class() == ErrorClass::Permanent => {
            let message = redact(&err.to_string(), &account.secrets());
            abandon::<P>(
                obj,
                ctx,
                Abandoned::Rejected,
                &format!("the provider refused the removal: {message}"),
            )
            .await;
            Ok(())
        }
        // Transient failures, and credentials rejected (they may be fixed by a rotation): retried until the deadline.
        Err(err) => Err(Failure {
            message: redact(&err.to_string(), &account.secrets()),
            retry_after: err.retry_after(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    #[test]
    fn a_failing_cleanup_has_until_the_deadline_counted_from_the_deletion() {
        let deadline = Duration::from_secs(300);
        assert_eq!(time_left(Some(at(0)), at(0), deadline), Some(deadline));
        assert_eq!(
            time_left(Some(at(0)), at(100), deadline),
            Some(Duration::from_secs(200))
        );
        assert_eq!(
            time_left(Some(at(0)), at(300), deadline),
            None,
            "abandoned at the deadline"
        );
        assert_eq!(time_left(Some(at(0)), at(900), deadline), None);
        assert_eq!(
            time_left(Some(at(10)), at(0), deadline),
            Some(deadline),
            "clock skew gives the whole deadline"
        );
        assert_eq!(time_left(None, at(0), deadline), Some(deadline));
    }

    #[test]
    fn only_a_true_orphan_annotation_orphans() {
        let spec = serde_json::from_value(serde_json::json!({"credentialsRef": {"name": "s"}})).unwrap();
        let mut obj = CallbackRegistration::new("r", spec);
        assert!(!orphan_requested(&obj));
        for (value, expected) in [("true", true), ("True", true), ("false", false), ("", false)] {
            obj.metadata.annotations = Some([(ORPHAN_ANNOTATION.to_string(), value.to_string())].into());
            assert_eq!(orphan_requested(&obj), expected, "{value:?}");
        }
    }

    #[test]
    fn abandonment_reasons_are_metric_labels() {
        let labels: Vec<&str> = Abandoned::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels, ["deadline", "annotation", "rejected"]);
    }
}
