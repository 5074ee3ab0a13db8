//! Publishes events.k8s.io/v1 Events without a cache.
//!
//! kube-runtime's `Recorder` keeps every Event it published for six minutes to aggregate repeats, and sweeps that
//! cache only when it publishes again. This operator publishes only on transitions and provider-side mutations, so
//! repeats are rare; at 10,000 registrations the cache held one Event per object at rest (tens of MiB) and every
//! publish scanned all of it. Creating Events directly costs one request each and keeps nothing.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;
use kube::runtime::events::{Event, EventType};

/// events.k8s.io/v1 `note` limit, in bytes.
const NOTE_MAX: usize = 1024;

#[derive(Clone)]
pub struct EventRecorder {
    client: kube::Client,
    controller: String,
    instance: String,
}

impl EventRecorder {
    pub fn new(client: kube::Client, controller: &str, instance: Option<String>) -> Self {
        Self {
            client,
            controller: controller.to_string(),
            instance: instance.unwrap_or_else(|| controller.to_string()),
        }
    }

    pub async fn publish(&self, ev: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let event = build_event(&self.controller, &self.instance, ev, regarding, Timestamp::now());
        api.create(&PostParams::default(), &event).await.map(|_| ())
    }
}

/// The Event about `regarding`; pure.
fn build_event(controller: &str, instance: &str, ev: &Event, regarding: &ObjectReference, now: Timestamp) -> K8sEvent {
    K8sEvent {
        action: Some(ev.action.clone()),
        reason: Some(ev.reason.clone()),
        // The apiserver refuses a note over 1 KiB (and the whole Event with it).
        note: ev
            .note
            .as_deref()
            .map(|note| crate::providers::cap_bytes(note, NOTE_MAX)),
        event_time: Some(MicroTime(now)),
        regarding: Some(regarding.clone()),
        related: ev.secondary.clone(),
        reporting_controller: Some(controller.to_string()),
        reporting_instance: Some(instance.to_string()),
        type_: Some(
            match ev.type_ {
                EventType::Normal => "Normal",
                EventType::Warning => "Warning",
            }
            .into(),
        ),
        metadata: ObjectMeta {
            namespace: regarding.namespace.clone(),
            name: Some(format!(
                "{}.{:x}",
                regarding.name.as_deref().unwrap_or(controller),
                now.as_nanosecond()
            )),
            ..ObjectMeta::default()
        },
        ..K8sEvent::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_about_the_object_and_names_the_reporter() {
        let regarding = ObjectReference {
            name: Some("orders".into()),
            namespace: Some("shop".into()),
            ..ObjectReference::default()
        };
        let ev = Event {
            type_: EventType::Warning,
            reason: "InvalidCredentials".into(),
            note: Some("rejected".into()),
            action: "Sync".into(),
            secondary: None,
        };
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let built = build_event("callback-operator", "pod-1", &ev, &regarding, now);
        assert_eq!(built.type_.as_deref(), Some("Warning"));
        assert_eq!(built.reason.as_deref(), Some("InvalidCredentials"));
        assert_eq!(built.note.as_deref(), Some("rejected"));
        assert_eq!(built.metadata.namespace.as_deref(), Some("shop"));
        assert!(built.metadata.name.unwrap().starts_with("orders."));
        assert_eq!(built.regarding, Some(regarding));
        assert_eq!(built.reporting_controller.as_deref(), Some("callback-operator"));
        assert_eq!(built.reporting_instance.as_deref(), Some("pod-1"));
    }
}
