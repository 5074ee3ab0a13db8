//! One reconciliation, top to bottom: finalizer → suspend → desired state → credentials → circuit breaker →
//! ownership → provider sync → status (only when it changed) → Events → requeue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::{debug, info, instrument, warn};

use super::backoff::jittered;
use super::conditions::{Verdict, ready_state};
use super::credentials::{AccountError, NamespaceSecrets, account_from};
use super::duration::parse_duration;
use super::events::{event, events_for, publish};
use super::ownership::{Claimant, conflicting_owner, contenders};
use super::status::{CONFLICT_REASON, PassResult, Synced, next_status};
use super::{Context, Error};
use crate::api::{CallbackRegistration, DeletionPolicy, FINALIZER, ProviderKind, ProviderSpec};
use crate::providers::edna::EdnaProvider;
use crate::providers::envelope::EnvelopeProvider;
use crate::providers::mail::MailProvider;
use crate::providers::{Account, ChangeReason, DesiredError, ErrorClass, Provider, Recorded, Removal, redact};

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "callback-operator";

/// The controller's entry point: the finalizer decides whether this is an apply or a cleanup.
#[instrument(skip_all, fields(namespace = obj.namespace().as_deref().unwrap_or(""), name = %obj.name_any()))]
pub async fn reconcile(obj: Arc<CallbackRegistration>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;
    let api: Api<CallbackRegistration> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            FinalizerEvent::Apply(obj) => apply(&obj, &ctx).await,
            FinalizerEvent::Cleanup(obj) => cleanup(&obj, &ctx).await,
        }
    })
    .await
    .map_err(|err| Error::Finalizer(Box::new(err)));
    ctx.metrics.reconciled(result.is_ok(), started.elapsed().as_secs_f64());
    result
}

/// Retries a failed reconciliation with per-object backoff (kube errors, cleanup that must be retried).
pub fn error_policy(obj: Arc<CallbackRegistration>, err: &Error, ctx: Arc<Context>) -> Action {
    let retry_after = match err {
        Error::Finalizer(inner) => match inner.as_ref() {
            kube::runtime::finalizer::Error::CleanupFailed(Error::CleanupRetry(_, after)) => *after,
            _ => None,
        },
        _ => None,
    };
    let delay = ctx.backoff.next_delay(&object_key(&obj), retry_after);
    warn!(name = %obj.name_any(), error = %err, retry_in = ?delay, "reconciliation failed");
    ctx.metrics.reconcile_error("Error");
    Action::requeue(delay)
}

// ---------------------------------------------------------------------------------------------------------------
// Apply
// ---------------------------------------------------------------------------------------------------------------

async fn apply(obj: &CallbackRegistration, ctx: &Context) -> Result<Action, Error> {
    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;
    ctx.secret_index
        .record(&namespace, &obj.name_any(), &referenced_secrets(obj));
    match obj.spec.provider() {
        Some(ProviderSpec::Mail(_)) => apply_with(&ctx.providers.mail, obj, ctx).await,
        Some(ProviderSpec::Edna(_)) => apply_with(&ctx.providers.edna, obj, ctx).await,
        Some(ProviderSpec::Envelope(_)) => apply_with(&ctx.providers.envelope, obj, ctx).await,
        None => {
            let pass = stalled(
                None,
                None,
                "InvalidSpec",
                "exactly one of spec.edna, spec.mail, spec.envelope must be set".into(),
            );
            settle(obj, ctx, pass).await
        }
    }
}

/// The lifecycle for one provider.
async fn apply_with<P: Provider>(provider: &P, obj: &CallbackRegistration, ctx: &Context) -> Result<Action, Error> {
    let kind = provider.kind();
    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;

    // 1. Suspended objects make no provider calls.
    if obj.spec.is_suspended() {
        let pass = PassResult {
            verdict: Verdict::Suspended,
            provider: Some(kind),
            target: None,
            synced: None,
        };
        return finish(obj, ctx, pass, Vec::new(), Next::AwaitChange).await;
    }

    // 2. The desired state, from the spec and any Secret it references besides the credentials.
    let secrets = NamespaceSecrets::new(ctx.client.clone(), &namespace);
    let desired = match provider.desired(&obj.spec, &secrets).await {
        Ok(desired) => desired,
        Err(DesiredError::InvalidSpec(message)) => {
            return settle(obj, ctx, stalled(Some(kind), None, "InvalidSpec", message)).await;
        }
        Err(DesiredError::SecretMissing(message)) => {
            return settle(obj, ctx, progressing(Some(kind), None, "SecretNotFound", message)).await;
        }
        Err(DesiredError::Kube(message)) => return Err(Error::SecretRead(message)),
    };
    let target = Some(P::target(&desired));

    // 3. Credentials, read now and never cached.
    let secret_name = &obj.spec.credentials_ref.name;
    let Some((values, secret_version)) = secrets.read(secret_name).await? else {
        let message = format!("Secret {namespace}/{secret_name} does not exist; waiting for it");
        return settle(
            obj,
            ctx,
            progressing(Some(kind), target, "CredentialsNotFound", message),
        )
        .await;
    };
    let account = match account_from(kind, secret_name, &values, &ctx.settings.endpoints) {
        Ok(account) => account,
        Err(AccountError::Incomplete(message)) => {
            return settle(obj, ctx, stalled(Some(kind), target, "CredentialsIncomplete", message)).await;
        }
        Err(AccountError::EndpointNotAllowed(err)) => {
            return settle(
                obj,
                ctx,
                stalled(Some(kind), target, "EndpointNotAllowed", err.to_string()),
            )
            .await;
        }
    };

    // 4. A credential the provider rejected is not tried again until its Secret changes.
    let secret_key = format!("{namespace}/{secret_name}");
    if let Some(message) = ctx.breaker.rejected(&secret_key, &secret_version) {
        let message = format!("{message} (not retried until Secret {secret_key} changes)");
        return settle(obj, ctx, stalled(Some(kind), target, "InvalidCredentials", message)).await;
    }

    // 5. Two objects claiming one provider-side identity: the older owns it.
    let me = claimant(obj, None);
    let others = ctx.claims.sharing(&me.claims);
    if let Some((owner, claim)) = conflicting_owner(&me, &account.id(), others.iter().map(Arc::as_ref)) {
        let message = format!(
            "{claim} is already owned by {owner} (the older registration); this object waits until {owner} releases it"
        );
        return settle(obj, ctx, stalled(Some(kind), target, CONFLICT_REASON, message)).await;
    }

    // 6. Observe the provider and apply only what differs.
    let desired_hash = desired_hash(&account, &desired);
    let status = obj.status.as_ref();
    let recorded = Recorded {
        registration: status.and_then(|s| s.registration.as_deref()),
        applied_hash: status.and_then(|s| s.applied_hash.as_deref()),
    };
    match provider.sync(&account, &desired, &desired_hash, recorded).await {
        Ok(outcome) => {
            ctx.backoff.reset(&object_key(obj));
            if outcome
                .changes
                .iter()
                .any(|c| matches!(c.reason, ChangeReason::DriftCorrected | ChangeReason::Reactivated))
            {
                ctx.metrics.drift_corrected(kind);
            }
            let message = match outcome.repaired {
                Some(repaired) => format!(
                    "{} holds {} (repaired: {repaired})",
                    kind_label(kind),
                    target.clone().unwrap_or_default()
                ),
                None => format!("{} holds {}", kind_label(kind), target.clone().unwrap_or_default()),
            };
            let pass = PassResult {
                verdict: Verdict::Ready { message },
                provider: Some(kind),
                target,
                synced: Some(Synced {
                    registration: outcome.registration,
                    applied_hash: desired_hash,
                    wrote: outcome.changes.iter().any(|c| c.reason.wrote()),
                }),
            };
            let resync = resync_interval(obj, provider, ctx);
            finish(obj, ctx, pass, outcome.changes, Next::Resync(jittered(resync))).await
        }
        Err(err) => {
            let message = redact(&err.to_string(), &account.secrets());
            ctx.metrics.reconcile_error(err.reason());
            match err.class() {
                ErrorClass::Transient => {
                    let delay = ctx.backoff.next_delay(&object_key(obj), err.retry_after());
                    debug!(reason = err.reason(), retry_in = ?delay, "transient provider error");
                    let pass = progressing(Some(kind), target, err.reason(), message);
                    finish(obj, ctx, pass, Vec::new(), Next::Retry(delay)).await
                }
                ErrorClass::Credentials => {
                    ctx.breaker.trip(&secret_key, &secret_version, &message);
                    let message = format!("{message} (not retried until Secret {secret_key} changes)");
                    settle(obj, ctx, stalled(Some(kind), target, err.reason(), message)).await
                }
                ErrorClass::Permanent => settle(obj, ctx, stalled(Some(kind), target, err.reason(), message)).await,
            }
        }
    }
}

/// Ends a pass that made no provider change: status (when it changed) and the default resync. Stalled objects are
/// re-checked on the slow resync too: a user may fix things the watch cannot see.
async fn settle(obj: &CallbackRegistration, ctx: &Context, pass: PassResult) -> Result<Action, Error> {
    let resync = jittered(ctx.settings.resync_interval);
    finish(obj, ctx, pass, Vec::new(), Next::Resync(resync)).await
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
    changes: Vec<crate::providers::Change>,
    then: Next,
) -> Result<Action, Error> {
    let now = Time(Timestamp::from_second(Timestamp::now().as_second()).expect("now is in range"));
    let previous = obj.status.as_ref();
    let next = next_status(previous, &pass, obj.meta().generation, &now);
    if previous != Some(&next) {
        write_status(obj, ctx, &next).await?;
        if !pass.verdict.is_ready() {
            info!(
                reason = pass.verdict.reason(),
                message = pass.verdict.message(),
                "not ready"
            );
        }
    }
    let previous_ready = previous.and_then(|s| ready_state(&s.conditions));
    publish(&ctx.recorder, obj, events_for(previous_ready, &pass.verdict, &changes)).await;
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
    ctx.metrics.status_written();
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Cleanup
// ---------------------------------------------------------------------------------------------------------------

async fn cleanup(obj: &CallbackRegistration, ctx: &Context) -> Result<Action, Error> {
    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;
    match obj.spec.provider() {
        Some(ProviderSpec::Mail(_)) => cleanup_with(&ctx.providers.mail, obj, ctx).await?,
        Some(ProviderSpec::Edna(_)) => cleanup_with(&ctx.providers.edna, obj, ctx).await?,
        Some(ProviderSpec::Envelope(_)) => cleanup_with(&ctx.providers.envelope, obj, ctx).await?,
        _ => {}
    }
    ctx.secret_index.forget(&namespace, &obj.name_any());
    ctx.backoff.reset(&object_key(obj));
    Ok(Action::await_change())
}

/// Removes the registration at the provider (policy `Delete`), then lets waiting contenders take over.
async fn cleanup_with<P: Provider>(provider: &P, obj: &CallbackRegistration, ctx: &Context) -> Result<(), Error> {
    let kind = provider.kind();
    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;
    let registration = obj.status.as_ref().and_then(|s| s.registration.as_ref());
    let secrets = NamespaceSecrets::new(ctx.client.clone(), &namespace);
    let secret_name = &obj.spec.credentials_ref.name;
    let credentials = secrets.read(secret_name).await?;
    let account = credentials
        .as_ref()
        .and_then(|(values, _)| account_from(kind, secret_name, values, &ctx.settings.endpoints).ok());
    let account_id = account
        .as_ref()
        .map(Account::id)
        .or_else(|| registration.and_then(|r| r.account.clone()))
        .unwrap_or_default();

    // Contenders are computed before anything else so the identity is handed over however cleanup ends.
    let me = claimant(obj, Some(&account_id));
    let others = ctx.claims.sharing(&me.claims);
    let owner = conflicting_owner(&me, &account_id, others.iter().map(Arc::as_ref));

    if obj.spec.deletion_policy() == DeletionPolicy::Orphan {
        let note = format!("deletionPolicy Orphan: left {} at {}", target_of(obj), kind_label(kind));
        publish(&ctx.recorder, obj, vec![event(EventType::Normal, "Orphaned", note)]).await;
    } else if let Some((owner, claim)) = &owner {
        // What this object once registered may be exactly what the owner holds now: removing it would break the
        // owner's registration. Leaving it is the lesser harm, and the Event says so.
        let note = format!(
            "{claim} belongs to {owner}: nothing removed at {} for this object ({} stays if it was registered)",
            kind_label(kind),
            target_of(obj)
        );
        publish(
            &ctx.recorder,
            obj,
            vec![event(EventType::Normal, "CleanupSkipped", note)],
        )
        .await;
    } else {
        remove_at_provider(provider, obj, ctx, account).await?;
    }

    for (ns, name) in contenders(&me, &account_id, others.iter().map(Arc::as_ref)) {
        let _ = ctx
            .retrigger
            .unbounded_send(kube::runtime::reflector::ObjectRef::new(&name).within(&ns));
    }
    Ok(())
}

async fn remove_at_provider<P: Provider>(
    provider: &P,
    obj: &CallbackRegistration,
    ctx: &Context,
    account: Option<Account>,
) -> Result<(), Error> {
    let kind = provider.kind();
    let registration = obj.status.as_ref().and_then(|s| s.registration.as_deref());
    let Some(account) = account else {
        // Without usable credentials nothing can be removed; blocking deletion forever (a namespace being deleted
        // takes the Secret with it) helps nobody. Say loudly what stays behind.
        let note = format!(
            "cannot remove {} at {}: the credentials Secret {} is missing, incomplete or its endpoint is not allowed",
            target_of(obj),
            kind_label(kind),
            obj.spec.credentials_ref.name
        );
        publish(
            &ctx.recorder,
            obj,
            vec![event(EventType::Warning, "CleanupAbandoned", note)],
        )
        .await;
        return Ok(());
    };
    let secrets = NamespaceSecrets::new(ctx.client.clone(), &obj.namespace().ok_or(Error::NoNamespace)?);
    // The desired state names the registration when a status write was lost after the provider call (only owners
    // get here, so it is theirs to remove).
    let desired = provider.desired(&obj.spec, &secrets).await.ok();
    match provider.remove(&account, registration, desired.as_ref()).await {
        Ok(Removal::Removed(changes)) => {
            let events = changes
                .into_iter()
                .map(|c| event(EventType::Normal, c.reason.as_str(), c.message))
                .collect();
            publish(&ctx.recorder, obj, events).await;
            Ok(())
        }
        Ok(Removal::Unsupported(note)) => {
            publish(
                &ctx.recorder,
                obj,
                vec![event(EventType::Warning, "RemoteDeletionUnsupported", note)],
            )
            .await;
            Ok(())
        }
        Err(err) if err.class() == ErrorClass::Transient => {
            let message = redact(&err.to_string(), &account.secrets());
            Err(Error::CleanupRetry(message, err.retry_after()))
        }
        Err(err) => {
            let message = redact(&err.to_string(), &account.secrets());
            let note = format!("cannot remove {} at {}: {message}", target_of(obj), kind_label(kind));
            publish(
                &ctx.recorder,
                obj,
                vec![event(EventType::Warning, "CleanupAbandoned", note)],
            )
            .await;
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

fn progressing(provider: Option<ProviderKind>, target: Option<String>, reason: &str, message: String) -> PassResult {
    PassResult {
        verdict: Verdict::Progressing {
            reason: reason.to_string(),
            message,
        },
        provider,
        target,
        synced: None,
    }
}

fn stalled(provider: Option<ProviderKind>, target: Option<String>, reason: &str, message: String) -> PassResult {
    PassResult {
        verdict: Verdict::Stalled {
            reason: reason.to_string(),
            message,
        },
        provider,
        target,
        synced: None,
    }
}

fn kind_label(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Edna => "edna Pulse",
        ProviderKind::Mail => "Unisender Go",
        ProviderKind::Envelope => "DocStudio",
    }
}

fn target_of(obj: &CallbackRegistration) -> String {
    obj.status
        .as_ref()
        .and_then(|s| s.registration.as_ref())
        .filter(|r| !r.urls.is_empty())
        .map(|r| r.urls.join(", "))
        .or_else(|| obj.status.as_ref().and_then(|s| s.target.clone()))
        .unwrap_or_else(|| "the registration".into())
}

fn object_key(obj: &CallbackRegistration) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// The Secrets a registration reads (for the Secret → registration index).
fn referenced_secrets(obj: &CallbackRegistration) -> Vec<String> {
    let mut secrets = vec![obj.spec.credentials_ref.name.clone()];
    if let Some(basic) = obj
        .spec
        .envelope
        .as_ref()
        .and_then(|e| e.basic_auth_secret_ref.as_ref())
    {
        secrets.push(basic.name.clone());
    }
    secrets
}

/// This object's claim on provider-side identities.
pub fn claimant(obj: &CallbackRegistration, account: Option<&str>) -> Claimant {
    Claimant {
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        uid: obj.uid().unwrap_or_default(),
        created: obj.meta().creation_timestamp.clone(),
        secret: obj.spec.credentials_ref.name.clone(),
        account: account.map(str::to_string).or_else(|| {
            obj.status
                .as_ref()
                .and_then(|s| s.registration.as_ref())
                .and_then(|r| r.account.clone())
        }),
        claims: claims_of(&obj.spec),
        synced: obj.status.as_ref().is_some_and(|s| s.applied_hash.is_some()),
    }
}

/// The resync interval for this object: its own, else the provider's default (edna re-asserts on a long interval).
fn resync_interval<P: Provider>(obj: &CallbackRegistration, provider: &P, ctx: &Context) -> Duration {
    obj.spec
        .resync_interval
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or_else(|| provider.default_resync(ctx.settings.resync_interval))
}

/// A hash of the desired state and the account, so a rotated key or password is re-pushed. Secret values enter
/// only as salted fingerprints (their `Serialize`).
pub fn desired_hash<D: serde::Serialize>(account: &Account, desired: &D) -> String {
    let mut hasher = Sha256::new();
    hasher.update(account.id().as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(desired).unwrap_or_default());
    hex::encode(&hasher.finalize()[..12])
}

/// The identities a spec claims, whatever its provider.
fn claims_of(spec: &crate::api::CallbackRegistrationSpec) -> Vec<String> {
    match spec.provider() {
        Some(ProviderSpec::Mail(_)) => MailProvider::claims(spec),
        Some(ProviderSpec::Edna(_)) => EdnaProvider::claims(spec),
        Some(ProviderSpec::Envelope(_)) => EnvelopeProvider::claims(spec),
        _ => Vec::new(),
    }
}
