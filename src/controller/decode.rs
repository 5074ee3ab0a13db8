//! Decoding watched CallbackRegistrations one object at a time, so one malformed object cannot stop the watch.
//!
//! A typed watch decodes a whole list page at once: one object the Rust types cannot read (stored under an older or
//! looser schema, or written around the schema) fails the list, the watcher retries forever, and no registration is
//! reconciled any more. The watch therefore reads `DynamicObject`s and decodes each; an object that does not decode
//! is logged, counted (`callback_operator_malformed_objects_total`) and skipped, and the others carry on.

use kube::ResourceExt;
use kube::api::DynamicObject;
use kube::runtime::watcher::Event as WatchEvent;
use tracing::warn;

use crate::api::CallbackRegistration;
use crate::telemetry::Metrics;

/// `obj` as a CallbackRegistration, or why it is not one.
///
/// The metadata is already typed (every watched object's is, whatever its spec): it is moved over as it is, and only
/// the spec and the status are decoded. Going through one `serde_json::Value` of the whole object instead wrote the
/// metadata out and read it back for every watch event (its managed fields too: three writers' worth on a new
/// registration), operator CPU on a 2-core machine that the apiserver needed during a burst.
pub fn registration(obj: DynamicObject) -> Result<CallbackRegistration, String> {
    let DynamicObject { metadata, mut data, .. } = obj;
    let mut take = |field: &str| data.get_mut(field).map(serde_json::Value::take);
    let spec = take("spec").ok_or("missing field `spec`")?;
    let spec = serde_json::from_value(spec).map_err(|err| format!("spec: {err}"))?;
    let status = match take("status") {
        None | Some(serde_json::Value::Null) => None,
        Some(status) => Some(serde_json::from_value(status).map_err(|err| format!("status: {err}"))?),
    };
    let mut registration = CallbackRegistration::new("", spec);
    registration.metadata = metadata;
    registration.status = status;
    Ok(registration)
}

/// Decodes the objects of one watch event; an event whose object does not decode is dropped (and reported).
pub fn event(event: WatchEvent<DynamicObject>, metrics: &Metrics) -> Option<WatchEvent<CallbackRegistration>> {
    let decode = |obj: DynamicObject| {
        let (namespace, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
        registration(obj)
            .inspect_err(|error| {
                warn!(%namespace, %name, %error, "skipping a CallbackRegistration that does not decode");
                metrics.malformed_object();
            })
            .ok()
    };
    Some(match event {
        WatchEvent::Apply(obj) => WatchEvent::Apply(decode(obj)?),
        WatchEvent::InitApply(obj) => WatchEvent::InitApply(decode(obj)?),
        WatchEvent::Delete(obj) => WatchEvent::Delete(decode(obj)?),
        WatchEvent::Init => WatchEvent::Init,
        WatchEvent::InitDone => WatchEvent::InitDone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamic(spec: serde_json::Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "callback-operator.io/v1alpha1", "kind": "CallbackRegistration",
            "metadata": {"name": "r", "namespace": "shop", "uid": "u"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn decodes_to_what_the_whole_object_reads_as() {
        let whole = serde_json::json!({
            "apiVersion": "callback-operator.io/v1alpha1", "kind": "CallbackRegistration",
            "metadata": {"name": "r", "namespace": "shop", "uid": "u", "generation": 3, "resourceVersion": "7",
                "labels": {"team": "a"}, "finalizers": ["callback-operator.io/cleanup"],
                "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {}}}]},
            "spec": {"credentialsRef": {"name": "s"}, "mail": {"url": "https://a/x", "events": {"emailStatus": ["spam"]}}},
            "status": {"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True",
                "reason": "Synced", "message": "m", "lastTransitionTime": "2026-12-04T10:00:00Z"}]},
        });
        let expected: CallbackRegistration = serde_json::from_value(whole.clone()).unwrap();
        let decoded = registration(serde_json::from_value(whole).unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(&decoded).unwrap(),
            serde_json::to_value(&expected).unwrap()
        );
        assert!(decoded.status.is_some());
    }

    #[test]
    fn an_object_without_spec_or_with_a_malformed_status_says_which_part() {
        let mut no_spec = dynamic(serde_json::json!({}));
        no_spec.data = serde_json::json!({});
        assert!(registration(no_spec).unwrap_err().contains("spec"));

        let spec = serde_json::json!({"credentialsRef": {"name": "s"},
            "mail": {"url": "https://a/x", "events": {"emailStatus": ["spam"]}}});
        let mut bad_status = dynamic(spec.clone());
        bad_status.data["status"] = serde_json::json!("none");
        assert!(registration(bad_status).unwrap_err().starts_with("status:"));

        let mut null_status = dynamic(spec);
        null_status.data["status"] = serde_json::Value::Null;
        assert!(registration(null_status).unwrap().status.is_none());
    }

    #[test]
    fn a_well_formed_object_decodes_and_a_malformed_one_is_skipped_and_counted() {
        let metrics = Metrics::new();
        let good = dynamic(serde_json::json!({"credentialsRef": {"name": "s"},
            "mail": {"url": "https://a/x", "events": {"emailStatus": ["spam"]}}}));
        let decoded = event(WatchEvent::Apply(good), &metrics);
        assert!(matches!(decoded, Some(WatchEvent::Apply(ref o)) if o.spec.mail.is_some()));

        let bad = dynamic(serde_json::json!({"credentialsRef": {"name": "s"},
            "mail": {"url": "https://a/x", "maxParallel": "twenty"}}));
        assert!(event(WatchEvent::InitApply(bad), &metrics).is_none());
        assert!(
            metrics.encode().contains("callback_operator_malformed_objects_total 1"),
            "{}",
            metrics.encode()
        );
        assert!(matches!(
            event(WatchEvent::InitDone, &metrics),
            Some(WatchEvent::InitDone)
        ));
    }
}
