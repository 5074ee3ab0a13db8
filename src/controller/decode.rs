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
pub fn registration(obj: DynamicObject) -> Result<CallbackRegistration, String> {
    let value = serde_json::to_value(obj).map_err(|err| err.to_string())?;
    serde_json::from_value(value).map_err(|err| err.to_string())
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
