//! Which watch events should wake the reconciler: only those that change what it acts on (the generation, i.e. the
//! spec; the finalizers; the deletion mark; the annotations, where a user asks for things such as orphaning). Our own
//! status writes must not wake the object again: that would double every pass and cost a reconcile per write at
//! scale. The filter must see an object before the watch strips the annotations it does not keep.
//!
//! kube-runtime's `predicate_filter` does the same, but keys its memory by a full object reference (four owned
//! strings, ~860 bytes per object with the map); this keeps two integers per object.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use crate::api::CallbackRegistration;

#[derive(Debug, Default)]
pub struct ChangeFilter {
    /// Hash of the uid → hash of what wakes the reconciler, as last seen.
    seen: Mutex<HashMap<u64, u64>>,
}

impl ChangeFilter {
    /// Whether `obj` differs from the last version seen in what wakes the reconciler (always true the first time).
    pub fn changed(&self, obj: &CallbackRegistration) -> bool {
        let (key, fingerprint) = (uid_key(obj), fingerprint(obj));
        self.lock().insert(key, fingerprint) != Some(fingerprint)
    }

    /// The object is gone: forget it.
    pub fn forget(&self, obj: &CallbackRegistration) {
        self.lock().remove(&uid_key(obj));
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u64>> {
        self.seen.lock().expect("change filter lock")
    }
}

// A 64-bit hash stands in for the uid: two of 10,000 objects colliding has odds near 1 in 10^11, and even then the
// only effect is a skipped wake-up that the periodic resync makes up for.
fn uid_key(obj: &CallbackRegistration) -> u64 {
    let mut hasher = DefaultHasher::new();
    obj.metadata.uid.hash(&mut hasher);
    hasher.finish()
}

fn fingerprint(obj: &CallbackRegistration) -> u64 {
    let mut hasher = DefaultHasher::new();
    obj.metadata.generation.hash(&mut hasher);
    obj.metadata.finalizers.hash(&mut hasher);
    obj.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    obj.metadata.annotations.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn obj(uid: &str, generation: i64) -> CallbackRegistration {
        let spec = serde_json::from_value(serde_json::json!({"credentialsRef": {"name": "s"}})).unwrap();
        let mut obj = CallbackRegistration::new("r", spec);
        obj.metadata.uid = Some(uid.into());
        obj.metadata.generation = Some(generation);
        obj
    }

    #[test]
    fn a_new_object_passes_and_an_unchanged_one_does_not() {
        let filter = ChangeFilter::default();
        assert!(filter.changed(&obj("a", 1)));
        assert!(!filter.changed(&obj("a", 1)), "a status write keeps the generation");
        assert!(filter.changed(&obj("b", 1)), "another object");
    }

    #[test]
    fn spec_finalizer_and_deletion_changes_pass() {
        let filter = ChangeFilter::default();
        let mut o = obj("a", 1);
        assert!(filter.changed(&o));
        o.metadata.generation = Some(2);
        assert!(filter.changed(&o), "spec change");
        o.metadata.finalizers = Some(vec!["callback-operator.io/cleanup".into()]);
        assert!(filter.changed(&o), "finalizer added");
        o.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        assert!(filter.changed(&o), "deletion requested");
        o.metadata.annotations = Some([(crate::api::ORPHAN_ANNOTATION.to_string(), "true".to_string())].into());
        assert!(filter.changed(&o), "annotation added");
        o.status = Some(Default::default());
        assert!(!filter.changed(&o), "status alone does not wake");
    }

    #[test]
    fn a_new_reconcile_request_passes_and_the_same_value_again_does_not() {
        let filter = ChangeFilter::default();
        let mut o = obj("a", 1);
        assert!(filter.changed(&o));
        let request =
            |value: &str| Some([(crate::api::RECONCILE_REQUEST_ANNOTATION.to_string(), value.to_string())].into());
        o.metadata.annotations = request("1");
        assert!(filter.changed(&o), "reconcile requested");
        assert!(!filter.changed(&o), "the same value again");
        o.metadata.annotations = request("2");
        assert!(filter.changed(&o), "requested again");
    }

    #[test]
    fn a_forgotten_object_passes_again_and_leaves_nothing_behind() {
        let filter = ChangeFilter::default();
        filter.changed(&obj("a", 1));
        filter.forget(&obj("a", 1));
        assert!(filter.is_empty());
        assert!(filter.changed(&obj("a", 1)));
    }
}
