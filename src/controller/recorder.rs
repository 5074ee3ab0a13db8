//! Publishes events.k8s.io/v1 Events, aggregating an Event equal to the previous one about the same object into a
//! series (the first Event is patched: `series.count` and `series.lastObservedTime`), and keeping every field within
//! the API's limits (a name of at most 253 characters, a note of at most 1 KiB).
//!
//! kube-runtime's `Recorder` keeps every Event it published for six minutes, and sweeps that cache only when it
//! publishes again; at 10,000 registrations that held one Event per object at rest (tens of MiB) and every publish
//! scanned all of it. Here only the *last* Event per object is remembered (its name, a hash of what makes it equal,
//! its count), for at most `SERIES_WINDOW`, in a map capped at `MAX_REMEMBERED` entries and forgotten when the object
//! is deleted: "two equal Events in a row" is what the operator repeats (a re-assertion, the same drift, the same
//! failure on every retry after a restart), and that needs no more.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};
use serde_json::json;

// Cut on a character boundary, in bytes (the API's limits are in bytes), marked with `…` when cut.
use crate::providers::cap_bytes as truncate;

use super::uid::Uid;

/// An Event equal to the previous one within this long joins its series; later it starts a new Event.
pub const SERIES_WINDOW: Duration = Duration::from_secs(10 * 60);
/// At most this many objects' last Events are remembered (a flood of objects restarts their series, nothing worse).
const MAX_REMEMBERED: usize = 4096;
/// The API's limits (events.k8s.io/v1 validation).
const NOTE_LIMIT: usize = 1024;
const NAME_LIMIT: usize = 253;
const FIELD_LIMIT: usize = 128;

/// The last Event about one object, without a string: its name is the object's name and `stamp`
/// (`event_name`), its namespace the object's.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Last {
    /// Hash of what makes two Events equal (type, reason, action, note).
    key: u64,
    /// The creation time the Event's name carries, in nanoseconds.
    stamp: i128,
    count: i32,
    at: Instant,
}

/// What to do with an Event, given the last one published about the same object.
#[derive(Debug, PartialEq)]
pub enum Publish {
    /// A new Event.
    Create,
    /// Patch the Event created at `stamp` to this series count.
    Repeat { stamp: i128, count: i32 },
}

/// Pure: a repeat of `last` (equal and recent) joins its series.
fn decide(last: Option<&Last>, key: u64, now: Instant) -> Publish {
    match last {
        Some(last) if last.key == key && now.duration_since(last.at) < SERIES_WINDOW => Publish::Repeat {
            stamp: last.stamp,
            count: last.count.saturating_add(1),
        },
        _ => Publish::Create,
    }
}

#[derive(Clone)]
pub struct EventRecorder {
    client: kube::Client,
    controller: String,
    instance: String,
    last: std::sync::Arc<Mutex<HashMap<Uid, Last>>>,
}

impl EventRecorder {
    pub fn new(client: kube::Client, controller: &str, instance: Option<String>) -> Self {
        Self {
            client,
            controller: truncate(controller, FIELD_LIMIT),
            instance: truncate(&instance.unwrap_or_else(|| controller.to_string()), FIELD_LIMIT),
            last: Default::default(),
        }
    }

    pub async fn publish(&self, ev: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let object = Uid::of(regarding.uid.as_deref().unwrap_or_default());
        let key = event_key(ev);
        let now = Instant::now();
        let decision = decide(self.lock().get(&object), key, now);
        if let Publish::Repeat { stamp, count } = decision {
            let name = event_name(&self.controller, regarding, stamp);
            let series = json!({"series": {
                "count": count,
                "lastObservedTime": MicroTime(Timestamp::now()),
            }});
            match api.patch(&name, &PatchParams::default(), &Patch::Merge(&series)).await {
                Ok(_) => {
                    self.remember(
                        object,
                        Last {
                            key,
                            stamp,
                            count,
                            at: now,
                        },
                    );
                    return Ok(());
                }
                // The Event expired (the apiserver keeps them an hour) or was deleted: start a new one.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(err) => return Err(err),
            }
        }
        let created = Timestamp::now();
        let event = build_event(&self.controller, &self.instance, ev, regarding, created);
        api.create(&PostParams::default(), &event).await?;
        self.remember(
            object,
            Last {
                key,
                stamp: created.as_nanosecond(),
                count: 1,
                at: now,
            },
        );
        Ok(())
    }

    /// The object is gone: its series ends.
    pub fn forget(&self, uid: &str) {
        self.lock().remove(&Uid::of(uid));
    }

    fn remember(&self, object: Uid, last: Last) {
        let mut map = self.lock();
        if map.len() >= MAX_REMEMBERED && !map.contains_key(&object) {
            let now = Instant::now();
            map.retain(|_, l| now.duration_since(l.at) < SERIES_WINDOW);
            if map.len() >= MAX_REMEMBERED {
                map.clear();
            }
        }
        map.insert(object, last);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uid, Last>> {
        self.last.lock().expect("event recorder lock")
    }
}

fn event_key(ev: &Event) -> u64 {
    let mut hasher = DefaultHasher::new();
    matches!(ev.type_, EventType::Warning).hash(&mut hasher);
    ev.reason.hash(&mut hasher);
    ev.action.hash(&mut hasher);
    ev.note.hash(&mut hasher);
    hasher.finish()
}

/// The name of the Event about `regarding` created at `stamp` (nanoseconds); pure. The object's name (shortened
/// when needed) and the time.
fn event_name(controller: &str, regarding: &ObjectReference, stamp: i128) -> String {
    let suffix = format!(".{stamp:x}");
    let base = regarding.name.as_deref().unwrap_or(controller);
    // Object names are DNS subdomains: cutting one keeps it valid unless the cut ends on a dot or a dash.
    let mut base = truncate(base, NAME_LIMIT - suffix.len()).replace('…', "");
    while base.ends_with(['.', '-']) {
        base.pop();
    }
    format!("{base}{suffix}")
}

/// The Event about `regarding`; pure. Named by `event_name`.
fn build_event(controller: &str, instance: &str, ev: &Event, regarding: &ObjectReference, now: Timestamp) -> K8sEvent {
    K8sEvent {
        action: Some(truncate(&ev.action, FIELD_LIMIT)),
        reason: Some(truncate(&ev.reason, FIELD_LIMIT)),
        note: ev.note.as_deref().map(|note| truncate(note, NOTE_LIMIT)),
        event_time: Some(MicroTime(now)),
        regarding: Some(regarding.clone()),
        related: ev.secondary.clone(),
        reporting_controller: Some(controller.to_string()),
        reporting_instance: Some(instance.to_string()),
        series: None::<EventSeries>,
        type_: Some(
            match ev.type_ {
                EventType::Normal => "Normal",
                EventType::Warning => "Warning",
            }
            .into(),
        ),
        metadata: ObjectMeta {
            namespace: regarding.namespace.clone(),
            name: Some(event_name(controller, regarding, now.as_nanosecond())),
            ..ObjectMeta::default()
        },
        ..K8sEvent::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(note: &str) -> Event {
        Event {
            type_: EventType::Warning,
            reason: "InvalidCredentials".into(),
            note: Some(note.into()),
            action: "Sync".into(),
            secondary: None,
        }
    }

    #[test]
    fn an_event_is_about_the_object_and_names_the_reporter() {
        let regarding = ObjectReference {
            name: Some("orders".into()),
            namespace: Some("shop".into()),
            ..ObjectReference::default()
        };
        let ev = warning("rejected");
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

    #[test]
    fn names_and_notes_stay_within_the_api_limits() {
        let regarding = ObjectReference {
            name: Some(format!("{}-x", "a".repeat(251))),
            namespace: Some("shop".into()),
            ..ObjectReference::default()
        };
        let ev = warning(&"é".repeat(2000));
        let built = build_event("c", "i", &ev, &regarding, Timestamp::now());
        let name = built.metadata.name.unwrap();
        assert!(name.len() <= NAME_LIMIT, "{}", name.len());
        assert!(!name.contains("-."), "{name}");
        let note = built.note.unwrap();
        assert!(note.len() <= NOTE_LIMIT, "{}", note.len());
        assert!(note.ends_with('…'));
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn an_equal_event_in_a_row_joins_the_series_and_a_different_or_late_one_does_not() {
        let now = Instant::now();
        let key = event_key(&warning("rejected"));
        let last = Last {
            key,
            stamp: 7,
            count: 1,
            at: now,
        };
        assert_eq!(decide(None, key, now), Publish::Create);
        assert_eq!(
            decide(Some(&last), key, now + Duration::from_secs(5)),
            Publish::Repeat { stamp: 7, count: 2 }
        );
        assert_eq!(decide(Some(&last), event_key(&warning("other")), now), Publish::Create);
        assert_eq!(decide(Some(&last), key, now + SERIES_WINDOW), Publish::Create);
    }

    #[test]
    fn a_repeat_patches_the_event_the_first_publish_named() {
        let regarding = ObjectReference {
            name: Some("orders".into()),
            namespace: Some("shop".into()),
            ..ObjectReference::default()
        };
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let built = build_event("c", "i", &warning("x"), &regarding, now);
        assert_eq!(
            built.metadata.name,
            Some(event_name("c", &regarding, now.as_nanosecond()))
        );
    }
}
