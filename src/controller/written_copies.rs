//! Copies of registrations a pass already wrote from, until the watch delivers what was written.
//!
//! Why: a pass reads the cached copy, and a second trigger queued while the first pass ran (a claim index wake, a
//! Secret event) runs the object again on the same copy when the watch has not yet delivered the first pass's
//! write. Two writes are repeated that way at scale:
//!
//! - the finalizer: kube-runtime's helper adds it with a JSON patch that first tests the copy's finalizer list, so
//!   the patch is sent again and refused (422): 0.04 wasted requests per registration at 10,000. The pass waits for
//!   the watch instead: the finalizer change wakes the object.
//! - the status and the provider write behind it: the copy carries no record of what the pass before applied, so
//!   edna, which cannot be read back, was written again (1.04 `callback/set` per registration at 10,000) and the
//!   status applied again. The pass is retried shortly instead: our own status change does not wake the object
//!   (the change filter passes only spec, finalizer and deletion changes), so waiting for the watch would lose the
//!   wake.
//!
//! Only that exact copy (uid and resourceVersion) is held back: any other version — ours, or a newer one someone
//! else wrote — is reconciled as usual, and the watch delivering any other version ends the memory, so it holds only
//! writes in flight. And only for [`STALE_WINDOW`]: a write the apiserver took without a new version (nothing
//! changed, e.g. a field an older CRD schema prunes) never brings another copy, and the object must not wait for one
//! forever.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::{Resource, ResourceExt};

use crate::api::{CallbackRegistration, FINALIZER};

/// More entries than this means the watch delivered writes before they were remembered (they stay until the
/// object's next event); forgetting them all costs at most one repeated write each.
const MAX_REMEMBERED: usize = 10_000;

/// How soon a pass over a copy older than its own status write is retried: the watch delivers within milliseconds
/// unless it is reconnecting.
pub const STALE_RETRY: Duration = Duration::from_secs(1);

/// How long after a write a pass over the copy it was made from is held back; later, the copy is reconciled as usual
/// (a watch this late has reconnected and relisted, or the write made no new version).
const STALE_WINDOW: Duration = Duration::from_secs(10);

/// What a pass wrote from a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wrote {
    Finalizer,
    Status,
}

/// What a pass over a copy does, as far as writes already made from it go.
#[derive(Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Nothing was written from this copy: reconcile it.
    Fresh,
    /// The finalizer was added to this copy: the watch brings the patched object and wakes it.
    AwaitWatch,
    /// Status was written from this copy: retry after [`STALE_RETRY`], when the cache holds what was written.
    RetrySoon,
}

/// A write made from one copy of an object.
#[derive(Debug)]
struct Written {
    /// The resourceVersion of the copy written from.
    version: String,
    wrote: Wrote,
    at: Instant,
}

/// uid → the write made from a copy of it.
#[derive(Debug, Default)]
pub struct WrittenCopies {
    written: Mutex<HashMap<String, Written>>,
}

/// The copy a pass reads, as far as this decision goes.
#[derive(Debug, PartialEq)]
struct Copy<'a> {
    uid: &'a str,
    resource_version: &'a str,
    has_finalizer: bool,
    deleting: bool,
}

impl<'a> Copy<'a> {
    fn of(obj: &'a CallbackRegistration) -> Option<Self> {
        Some(Self {
            uid: obj.meta().uid.as_deref()?,
            resource_version: obj.meta().resource_version.as_deref()?,
            has_finalizer: obj.finalizers().iter().any(|f| f == FINALIZER),
            deleting: obj.meta().deletion_timestamp.is_some(),
        })
    }

    /// A pass over this copy adds the finalizer (kube-runtime's helper does, before anything else).
    fn adds_finalizer(&self) -> bool {
        !self.has_finalizer && !self.deleting
    }
}

/// Pure: what a pass over `copy` does at `now`, given the write made from a version of it (`written`).
fn freshness(copy: &Copy, written: Option<&Written>, now: Instant) -> Freshness {
    match written {
        Some(Written { version, wrote, at })
            if version == copy.resource_version && now.saturating_duration_since(*at) < STALE_WINDOW =>
        {
            match wrote {
                Wrote::Finalizer if copy.adds_finalizer() => Freshness::AwaitWatch,
                // A deletion is never held back: cleanup reads what it needs from the provider's side.
                Wrote::Status if !copy.deleting => Freshness::RetrySoon,
                _ => Freshness::Fresh,
            }
        }
        _ => Freshness::Fresh,
    }
}

impl WrittenCopies {
    /// What a pass over `obj` does. Any copy other than the one written from ends the memory of the write.
    pub fn check(&self, obj: &CallbackRegistration) -> Freshness {
        let Some(copy) = Copy::of(obj) else {
            return Freshness::Fresh;
        };
        let mut written = self.lock();
        let freshness = freshness(&copy, written.get(copy.uid), Instant::now());
        if freshness == Freshness::Fresh {
            written.remove(copy.uid);
        }
        freshness
    }

    /// Whether a pass over `obj` adds the finalizer; if it succeeds, call [`WrittenCopies::finalizer_added`].
    pub fn would_add_finalizer(obj: &CallbackRegistration) -> bool {
        Copy::of(obj).is_some_and(|copy| copy.adds_finalizer())
    }

    /// The finalizer was added to `obj` (this copy).
    pub fn finalizer_added(&self, obj: &CallbackRegistration) {
        self.remember(obj, Wrote::Finalizer);
    }

    /// Status was written from `obj` (this copy).
    pub fn status_written(&self, obj: &CallbackRegistration) {
        self.remember(obj, Wrote::Status);
    }

    /// The watch delivered `obj`: a version other than the one written from ends the memory.
    pub fn observed(&self, obj: &CallbackRegistration) {
        let Some(copy) = Copy::of(obj) else {
            return;
        };
        let mut written = self.lock();
        if written
            .get(copy.uid)
            .is_some_and(|w| w.version != copy.resource_version)
        {
            written.remove(copy.uid);
        }
    }

    /// The object is gone.
    pub fn forget(&self, uid: &str) {
        self.lock().remove(uid);
    }

    fn remember(&self, obj: &CallbackRegistration, wrote: Wrote) {
        let Some(copy) = Copy::of(obj) else {
            return;
        };
        let mut written = self.lock();
        if written.len() >= MAX_REMEMBERED {
            written.clear();
        }
        let entry = Written {
            version: copy.resource_version.to_string(),
            wrote,
            at: Instant::now(),
        };
        written.insert(copy.uid.to_string(), entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Written>> {
        self.written.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn copy(resource_version: &str, finalizers: &[&str]) -> CallbackRegistration {
        let mut obj: CallbackRegistration = serde_json::from_value(serde_json::json!({
            "apiVersion": "callback-operator.io/v1alpha1",
            "kind": "CallbackRegistration",
            "metadata": {"name": "a", "namespace": "shop", "uid": "u-1", "resourceVersion": resource_version},
            "spec": {"credentialsRef": {"name": "creds"},
                "mail": {"events": {"emailStatus": ["delivered"]}, "url": "https://hooks.example.com/a"}},
        }))
        .unwrap();
        obj.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
        obj
    }

    fn deleting(mut obj: CallbackRegistration) -> CallbackRegistration {
        obj.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        obj
    }

    #[test]
    fn a_second_pass_over_the_patched_copy_waits_for_the_watch() {
        let written = WrittenCopies::default();
        let stale = copy("10", &[]);
        assert!(WrittenCopies::would_add_finalizer(&stale));
        assert_eq!(written.check(&stale), Freshness::Fresh, "nothing patched yet");
        written.finalizer_added(&stale);
        assert_eq!(written.check(&stale), Freshness::AwaitWatch);
        assert_eq!(written.check(&stale), Freshness::AwaitWatch, "still the same copy");
    }

    #[test]
    fn any_newer_copy_is_reconciled_and_ends_the_memory() {
        let written = WrittenCopies::default();
        written.finalizer_added(&copy("10", &[]));
        // Ours arrived: the finalizer is on.
        let patched = copy("11", &[FINALIZER]);
        assert!(!WrittenCopies::would_add_finalizer(&patched));
        assert_eq!(written.check(&patched), Freshness::Fresh);
        // Someone removed it again since: a newer copy without it is patched again, not skipped.
        assert_eq!(written.check(&copy("12", &[])), Freshness::Fresh);
        // And the old copy is no longer remembered either.
        assert_eq!(written.check(&copy("10", &[])), Freshness::Fresh);
    }

    #[test]
    fn a_pass_over_the_copy_status_was_written_from_is_retried_until_the_watch_delivers() {
        let written = WrittenCopies::default();
        let stale = copy("11", &[FINALIZER]);
        written.status_written(&stale);
        assert_eq!(written.check(&stale), Freshness::RetrySoon);
        assert_eq!(
            written.check(&stale),
            Freshness::RetrySoon,
            "the cache still holds the same copy"
        );
        // The watch delivers the written status: the memory ends, and the new copy is reconciled as usual.
        let current = copy("12", &[FINALIZER]);
        written.observed(&current);
        assert!(written.lock().is_empty());
        assert_eq!(written.check(&current), Freshness::Fresh);
    }

    #[test]
    fn the_watch_redelivering_the_written_copy_keeps_the_memory() {
        let written = WrittenCopies::default();
        let stale = copy("11", &[FINALIZER]);
        written.status_written(&stale);
        // A relist hands the same version again: it is still older than the write.
        written.observed(&stale);
        assert_eq!(written.check(&stale), Freshness::RetrySoon);
    }

    #[test]
    fn a_deleted_copy_is_never_held_back() {
        let written = WrittenCopies::default();
        let finalized = copy("10", &[]);
        written.finalizer_added(&finalized);
        assert!(!WrittenCopies::would_add_finalizer(&deleting(finalized.clone())));
        assert_eq!(written.check(&deleting(finalized)), Freshness::Fresh);

        let with_status = copy("11", &[FINALIZER]);
        written.status_written(&with_status);
        assert_eq!(written.check(&deleting(with_status)), Freshness::Fresh);
    }

    #[test]
    fn a_copy_is_held_back_only_for_a_while_after_the_write() {
        // A write that made no new version (nothing changed at the apiserver) never brings another copy.
        let stale = copy("11", &[FINALIZER]);
        let stale = Copy::of(&stale).unwrap();
        let at = Instant::now();
        let written = Written {
            version: "11".into(),
            wrote: Wrote::Status,
            at,
        };
        assert_eq!(
            freshness(&stale, Some(&written), at + STALE_RETRY),
            Freshness::RetrySoon
        );
        assert_eq!(freshness(&stale, Some(&written), at + STALE_WINDOW), Freshness::Fresh);
        let patched = Written {
            wrote: Wrote::Finalizer,
            ..written
        };
        let unpatched = copy("11", &[]);
        let unpatched = Copy::of(&unpatched).unwrap();
        assert_eq!(freshness(&unpatched, Some(&patched), at), Freshness::AwaitWatch);
        assert_eq!(
            freshness(&unpatched, Some(&patched), at + STALE_WINDOW),
            Freshness::Fresh
        );
    }

    #[test]
    fn a_deleted_object_is_forgotten() {
        let written = WrittenCopies::default();
        written.status_written(&copy("11", &[FINALIZER]));
        written.forget("u-1");
        assert!(written.lock().is_empty());
    }

    #[test]
    fn the_memory_is_bounded() {
        let written = WrittenCopies::default();
        for i in 0..MAX_REMEMBERED + 5 {
            let mut obj = copy("1", &[]);
            obj.metadata.uid = Some(format!("u-{i}"));
            written.finalizer_added(&obj);
        }
        assert!(written.lock().len() <= MAX_REMEMBERED);
    }
}
