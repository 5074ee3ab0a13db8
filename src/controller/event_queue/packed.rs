//! An Event waiting in the queue, with the object it is about, packed into one allocation.
//!
//! Why: during a burst thousands of Events wait at once (9,489 at all Ready for 10,000 new registrations), each made
//! of a dozen small strings allocated among the registrations the cache keeps. Freed when posted seconds later, they
//! left partly used pages behind, which the allocator cannot return: ~6 MiB more resident memory at rest with all
//! work on one thread (docs/benchmark.md, fourteenth session). Packed, a waiting Event is one block of its own size,
//! and the pages the waiting Events filled are empty, and returned, once they are posted.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType};

/// The string fields of an object reference, in the order they are packed.
const REFERENCE_FIELDS: usize = 7;
/// The Event's own string fields (reason, note, action), then the regarding object's, then the secondary's.
const FIELDS: usize = 3 + 2 * REFERENCE_FIELDS;
/// The end of a field that is absent (`None`).
const ABSENT: u32 = u32::MAX;

/// One waiting Event: its strings back to back in `text`, where each field ends in `ends`.
pub struct PackedEvent {
    text: Box<str>,
    ends: [u32; FIELDS],
    type_: EventType,
    has_secondary: bool,
}

impl PackedEvent {
    /// Packs `event` about `regarding`; `None` if its strings together do not fit the offsets (4 GiB: never for a
    /// valid Event, whose note is at most 1 KiB).
    pub fn pack(regarding: &ObjectReference, event: &Event) -> Option<Self> {
        let fields = [
            Some(event.reason.as_str()),
            event.note.as_deref(),
            Some(event.action.as_str()),
        ]
        .into_iter()
        .chain(reference_fields(Some(regarding)))
        .chain(reference_fields(event.secondary.as_ref()));

        let mut text = String::with_capacity(fields.clone().flatten().map(str::len).sum());
        let mut ends = [ABSENT; FIELDS];
        for (end, field) in ends.iter_mut().zip(fields) {
            if let Some(field) = field {
                text.push_str(field);
                *end = u32::try_from(text.len()).ok().filter(|&e| e != ABSENT)?;
            }
        }
        Some(Self {
            text: text.into_boxed_str(),
            ends,
            type_: event.type_,
            has_secondary: event.secondary.is_some(),
        })
    }

    /// The object reference and the Event, as they were handed in.
    pub fn unpack(&self) -> (ObjectReference, Event) {
        let mut fields = self.fields();
        let mut next = || fields.next().flatten();
        let (reason, note, action) = (next(), next(), next());
        let regarding = reference(&mut next);
        let secondary = reference(&mut next);
        let event = Event {
            type_: self.type_,
            reason: reason.unwrap_or_default(),
            note,
            action: action.unwrap_or_default(),
            secondary: self.has_secondary.then_some(secondary),
        };
        (regarding, event)
    }

    /// Every field in order, `None` where absent.
    fn fields(&self) -> impl Iterator<Item = Option<String>> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            if end == ABSENT {
                return None;
            }
            let end = end as usize;
            let field = self.text.get(start..end).map(str::to_owned);
            start = end;
            field
        })
    }
}

fn reference_fields(reference: Option<&ObjectReference>) -> [Option<&str>; REFERENCE_FIELDS] {
    let Some(r) = reference else {
        return [None; REFERENCE_FIELDS];
    };
    [
        r.api_version.as_deref(),
        r.kind.as_deref(),
        r.name.as_deref(),
        r.namespace.as_deref(),
        r.uid.as_deref(),
        r.resource_version.as_deref(),
        r.field_path.as_deref(),
    ]
}

fn reference(next: &mut impl FnMut() -> Option<String>) -> ObjectReference {
    ObjectReference {
        api_version: next(),
        kind: next(),
        name: next(),
        namespace: next(),
        uid: next(),
        resource_version: next(),
        field_path: next(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regarding() -> ObjectReference {
        ObjectReference {
            api_version: Some("callback-operator.io/v1alpha1".into()),
            kind: Some("CallbackRegistration".into()),
            name: Some("orders".into()),
            namespace: Some("shop".into()),
            uid: Some("0b7c9a52-6d55-4f5e-9a43-3c1f2e8d7a10".into()),
            resource_version: Some("4711".into()),
            field_path: None,
        }
    }

    fn event(type_: EventType, reason: &str, note: Option<&str>) -> Event {
        Event {
            type_,
            reason: reason.into(),
            note: note.map(Into::into),
            action: "Sync".into(),
            secondary: None,
        }
    }

    fn assert_round_trip(regarding: &ObjectReference, event: &Event) {
        let packed = PackedEvent::pack(regarding, event).expect("packs");
        let (unpacked_regarding, unpacked) = packed.unpack();
        assert_eq!(&unpacked_regarding, regarding);
        assert_eq!(unpacked.type_, event.type_);
        assert_eq!(unpacked.reason, event.reason);
        assert_eq!(unpacked.note, event.note);
        assert_eq!(unpacked.action, event.action);
        assert_eq!(unpacked.secondary, event.secondary);
    }

    #[test]
    fn an_event_comes_back_as_it_was_handed_in() {
        let event = event(
            EventType::Warning,
            "InvalidCredentials",
            Some("Unisender Go rejected the API key (HTTP 401) — ключ отклонён"),
        );
        assert_round_trip(&regarding(), &event);
    }

    #[test]
    fn absent_and_empty_fields_stay_apart() {
        // An empty note is not a missing one, and an empty secondary reference is not a missing secondary.
        let event = Event {
            action: "Cleanup".into(),
            secondary: Some(ObjectReference::default()),
            ..event(EventType::Normal, "", Some(""))
        };
        assert_round_trip(&ObjectReference::default(), &event);
        let event = Event {
            note: None,
            secondary: Some(ObjectReference {
                name: Some("credentials".into()),
                kind: Some("Secret".into()),
                ..ObjectReference::default()
            }),
            ..event
        };
        assert_round_trip(&regarding(), &event);
    }

    #[test]
    fn the_strings_share_one_allocation_of_their_size() {
        let event = event(
            EventType::Normal,
            "Registered",
            Some("Unisender Go holds https://hooks.example.com/orders"),
        );
        let packed = PackedEvent::pack(&regarding(), &event).expect("packs");
        let r = regarding();
        let expected = [
            "Registered",
            "Unisender Go holds https://hooks.example.com/orders",
            "Sync",
            r.api_version.as_deref().unwrap(),
            r.kind.as_deref().unwrap(),
            r.name.as_deref().unwrap(),
            r.namespace.as_deref().unwrap(),
            r.uid.as_deref().unwrap(),
            r.resource_version.as_deref().unwrap(),
        ]
        .concat();
        assert_eq!(&*packed.text, expected);
    }
}
