//! The form a registration takes in the controller's cache: the metadata kube-runtime's store and scheduler key on
//! (name and namespace) and the rest packed — the object's JSON, LZ4-compressed — unpacked once
//! per reconciliation and at the few places that read every object (the readiness gauge, a relist's sweep).
//!
//! Why: the cache holds every registration of the shard for the operator's lifetime. A typed object costs ~1.8 KB
//! of heap in ~35 allocations (18 MiB at 10,000, a third of the operator's resident memory); packed it is the
//! metadata plus a few hundred bytes in one allocation. The compressor is primed with a dictionary of what every
//! object spells the same way (field names, the finalizer, the provider names, condition reasons): a single object
//! is too short for LZ4 to find much repetition in it alone. Everything upstream of the cache (the change filter, the
//! indexes, the relist sweep) still sees typed objects; everything downstream (the reconciler) gets one back.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Deserializer};

use super::conditions::ready_state;
use crate::api::CallbackRegistration;
use crate::providers::Providers;

/// A CallbackRegistration as the controller's cache holds it.
#[derive(Clone, Debug)]
pub struct CachedRegistration {
    /// Only what the store's keys and the scheduler's references are compared by (name and namespace); everything
    /// else is in `packed`. The uid and resourceVersion stay out: the store would copy both into every key, where
    /// nothing reads them (their equality and hash are name and namespace), ~130 bytes per object twice over.
    metadata: ObjectMeta,
    /// The whole object as JSON, LZ4-compressed (with its uncompressed size in front).
    packed: Box<[u8]>,
    /// What the readiness gauge counts, kept beside the packed form so that reading every object costs no unpacking.
    summary: Summary,
}

/// An object's provider and Ready status, for `callback_operator_registrations{provider,ready}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// `None` when not exactly one provider block is set.
    pub provider: Option<&'static str>,
    /// `True`, `False` or `Unknown` (also when no Ready condition was written yet).
    pub ready: &'static str,
}

impl Summary {
    fn of(obj: &CallbackRegistration) -> Self {
        let ready = obj
            .status
            .as_ref()
            .and_then(|status| ready_state(&status.conditions))
            .map(|(status, _)| status);
        Self {
            provider: Providers::name_for(&obj.spec),
            ready: match ready {
                Some("True") => "True",
                Some("False") => "False",
                _ => "Unknown",
            },
        }
    }
}

impl CachedRegistration {
    /// `obj` packed for the cache.
    pub fn pack(obj: &CallbackRegistration) -> Self {
        // Serializing a typed object cannot fail: every field is a string, number, bool, list or map.
        let json = serde_json::to_vec(obj).expect("a CallbackRegistration serializes");
        let meta = obj.meta();
        Self {
            metadata: ObjectMeta {
                name: meta.name.clone(),
                namespace: meta.namespace.clone(),
                ..ObjectMeta::default()
            },
            packed: lz4_flex::block::compress_prepend_size_with_dict(&json, DICTIONARY.as_bytes()).into_boxed_slice(),
            summary: Summary::of(obj),
        }
    }

    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The object as it was packed.
    pub fn unpack(&self) -> Result<CallbackRegistration, UnpackError> {
        let json = lz4_flex::block::decompress_size_prepended_with_dict(&self.packed, DICTIONARY.as_bytes())
            .map_err(|err| UnpackError(err.to_string()))?;
        serde_json::from_slice(&json).map_err(|err| UnpackError(err.to_string()))
    }

    #[cfg(test)]
    fn packed_len(&self) -> usize {
        self.packed.len()
    }
}

/// What registrations share, as their JSON spells it: the compressor refers back to it instead of repeating it in
/// every object. Only this process reads what it packs, so the dictionary may change from one version to the next.
const DICTIONARY: &str = concat!(
    r#"{"apiVersion":"callback-operator.io/v1alpha1","kind":"CallbackRegistration","metadata":{"annotations":{"#,
    r#""callback-operator.io/orphan":"true","reconcile.fluxcd.io/requestedAt":""},"creationTimestamp":"2026-01-01T"#,
    r#"00:00:00Z","deletionTimestamp":"2026-01-01T00:00:00Z","finalizers":["callback-operator.io/cleanup"],"#,
    r#""generation":1,"labels":{"sharding.callback-operator.io/key":""},"name":"","namespace":"","#,
    r#""resourceVersion":"","uid":""},"spec":{"credentialsRef":{"name":""},"deletionPolicy":"Orphan","#,
    r#""managementPolicy":"Observe","suspend":true,"resyncInterval":"","edna":{"subjectId":1,"#,
    r#""statusCallbackUrl":"https://","inMessageCallbackUrl":"https://","messageMatcherCallbackUrl":"https://"},"#,
    r#""mail":{"events":{"emailStatus":["delivered","hard_bounced","soft_bounced","opened","clicked","#,
    r#""unsubscribed","spam"],"spamBlock":["*"]},"url":"https://"},"envelope":{"mailbox":"","retries":3,"#,
    r#""timeoutMs":5000,"url":"https://"}},"status":{"appliedHash":"","conditions":[{"lastTransitionTime":"#,
    r#""2026-01-01T00:00:00Z","message":"Unisender Go holds https://","observedGeneration":1,"reason":"Synced","#,
    r#""status":"True","type":"Ready"},{"message":"edna Pulse holds https://","reason":"Progressing","#,
    r#""status":"False","type":"Reconciling"},{"message":"DocStudio holds https://","status":"Unknown","#,
    r#""type":"Stalled"}],"observedGeneration":1,"observedHash":"","provider":"envelope","registration":{"#,
    r#""account":"https://#","id":"","lastSyncedTime":"2026-01-01T00:00:00Z","mailbox":"","#,
    r#""providerStatus":"active","subjectId":1,"urls":["https://"]},"target":"https://"}}"#,
);

/// A cached object that does not unpack: only a bug in [`CachedRegistration::pack`] could cause one.
#[derive(Debug, thiserror::Error)]
#[error("unpacking the cached object: {0}")]
pub struct UnpackError(String);

impl Resource for CachedRegistration {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        CallbackRegistration::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        CallbackRegistration::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        CallbackRegistration::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        CallbackRegistration::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// kube-runtime's `Controller` asks every kind it runs to be deserializable (for the watch it would start itself;
/// this operator hands it its own stream): read as a CallbackRegistration, then packed.
impl<'de> Deserialize<'de> for CachedRegistration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CallbackRegistration::deserialize(deserializer).map(|obj| Self::pack(&obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::ResourceExt;
    use kube::runtime::reflector::ObjectRef;

    fn ready_mail_registration() -> CallbackRegistration {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "callback-operator.io/v1alpha1", "kind": "CallbackRegistration",
            "metadata": {"name": "r0", "namespace": "shop", "uid": "46d9c664-4957-41d2-a959-a350e5007da0",
                "resourceVersion": "816", "generation": 1, "creationTimestamp": "2026-12-03T00:19:02Z",
                "finalizers": ["callback-operator.io/cleanup"], "labels": {"callback-operator.io/shard": "a"},
                "annotations": {"reconcile.fluxcd.io/requestedAt": "now"}},
            "spec": {"credentialsRef": {"name": "mail"}, "mail": {"events": {"emailStatus": ["delivered"]},
                "url": "https://hooks.example.com/shop/r0"}},
            "status": {"appliedHash": "89e12ff02c101dd0e9415743", "observedGeneration": 1,
                "observedHash": "393083076495c0bf0c584c85", "provider": "mail",
                "target": "https://hooks.example.com/shop/r0",
                "conditions": [{"lastTransitionTime": "2026-12-03T00:19:03Z", "observedGeneration": 1,
                    "message": "Unisender Go holds https://hooks.example.com/shop/r0", "reason": "Synced",
                    "status": "True", "type": "Ready"}],
                "registration": {"account": "https://go1.unisender.ru/ru/transactional/api/v1#9963f31dd1764f8a",
                    "id": "1", "lastSyncedTime": "2026-12-03T00:19:03Z", "providerStatus": "active",
                    "urls": ["https://hooks.example.com/shop/r0"]}}
        }))
        .unwrap()
    }

    fn json(obj: &CallbackRegistration) -> serde_json::Value {
        serde_json::to_value(obj).unwrap()
    }

    #[test]
    fn unpacking_gives_back_the_object_that_was_packed() {
        let obj = ready_mail_registration();
        let cached = CachedRegistration::pack(&obj);
        assert_eq!(json(&cached.unpack().unwrap()), json(&obj));
    }

    #[test]
    fn the_cache_keys_on_the_same_reference_as_the_object() {
        let obj = ready_mail_registration();
        let cached = CachedRegistration::pack(&obj);
        assert_eq!(cached.name_any(), "r0");
        assert_eq!(cached.namespace().as_deref(), Some("shop"));
        let (a, b) = (ObjectRef::from_obj(&cached), ObjectRef::from_obj(&obj));
        // Equal as keys (name and namespace), and the key carries no copies of the uid and resourceVersion.
        assert_eq!(a.clone().into_kind_unchecked::<CallbackRegistration>(()), b);
        assert_eq!((a.extra.uid, a.extra.resource_version), (None, None));
        // Both are still there for the reconciler, in the object it unpacks.
        let unpacked = cached.unpack().unwrap();
        assert_eq!(
            (unpacked.metadata.uid, unpacked.metadata.resource_version),
            (obj.metadata.uid.clone(), obj.metadata.resource_version.clone())
        );
        assert_eq!(CachedRegistration::plural(&()), "callbackregistrations");
    }

    #[test]
    fn the_summary_says_provider_and_ready_status_without_unpacking() {
        let mut obj = ready_mail_registration();
        let summary = CachedRegistration::pack(&obj).summary();
        assert_eq!((summary.provider, summary.ready), (Some("mail"), "True"));
        obj.status = None;
        // A second provider block: only an object that bypassed the schema's CEL rule has one.
        obj.spec.edna =
            serde_json::from_value(serde_json::json!({"statusCallbackUrl": "https://hooks.example.com/e"})).unwrap();
        let summary = CachedRegistration::pack(&obj).summary();
        assert_eq!((summary.provider, summary.ready), (None, "Unknown"));
    }

    #[test]
    fn a_typical_object_packs_to_less_than_half_its_json() {
        // Without the dictionary LZ4 finds little to refer back to in one object: ~70 % of the JSON.
        let obj = ready_mail_registration();
        let json = serde_json::to_vec(&obj).unwrap().len();
        let packed = CachedRegistration::pack(&obj).packed_len();
        assert!(packed * 2 < json, "packed {packed} bytes, JSON {json}");
    }

    #[test]
    fn deserializing_packs() {
        let obj = ready_mail_registration();
        let cached: CachedRegistration = serde_json::from_value(serde_json::to_value(&obj).unwrap()).unwrap();
        assert_eq!(json(&cached.unpack().unwrap()), json(&obj));
    }
}
