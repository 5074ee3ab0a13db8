//! Resolving `spec.edna.subject` (a sender name) to the channel's subjectId through `GET /api/channel-profile`.
//! The lookup itself is pure: it takes the channel list edna returned.

use crate::api::Reason;
use serde::Deserialize;
use serde_json::Value;

use crate::providers::ProviderError;

/// One channel as `channel-profile` lists it; only the fields the resolution needs, all optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelProfile {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub subject: Option<String>,
    /// Present only for active, registered channels.
    #[serde(default)]
    pub subject_id: Option<i64>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default, rename = "type")]
    pub channel_type: Option<String>,
}

impl ChannelProfile {
    fn usable_subject_id(&self) -> Option<i64> {
        self.subject_id.filter(|_| self.active != Some(false))
    }
}

/// The channel list from a `channel-profile` body: a JSON array, or (tolerated) an object wrapping one.
pub fn parse_channels(body: &[u8]) -> Option<Vec<ChannelProfile>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let list = match value {
        Value::Array(items) => items,
        Value::Object(map) => map.into_iter().find_map(|(_, v)| match v {
            Value::Array(items) => Some(items),
            _ => None,
        })?,
        _ => return None,
    };
    // One odd entry must not hide the others.
    Some(
        list.into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
    )
}

/// The subjectId behind `subject`, or why there is none.
pub fn resolve(subject: &str, channels: &[ChannelProfile]) -> Result<i64, ProviderError> {
    let named: Vec<&ChannelProfile> = channels
        .iter()
        .filter(|c| c.subject.as_deref() == Some(subject))
        .collect();
    let mut ids: Vec<i64> = named.iter().filter_map(|c| c.usable_subject_id()).collect();
    ids.sort_unstable();
    ids.dedup();
    match ids.as_slice() {
        [id] => Ok(*id),
        [] if named.is_empty() => Err(ProviderError::rejected(
            Reason::SubjectNotFound,
            format!("edna Pulse lists no channel with subject {subject:?}"),
        )),
        [] => Err(ProviderError::transient(
            Reason::ChannelNotActive,
            format!(
                "the edna Pulse channel {subject:?} is not active yet (it has no subjectId); waiting for it to be \
                 activated"
            ),
        )),
        many => Err(ProviderError::rejected(
            Reason::SubjectAmbiguous,
            format!(
                "subject {subject:?} names several active edna Pulse channels ({}): set spec.edna.subjectId instead",
                describe(&named, many)
            ),
        )),
    }
}

fn describe(named: &[&ChannelProfile], ids: &[i64]) -> String {
    ids.iter()
        .map(|id| {
            let kind = named
                .iter()
                .find(|c| c.usable_subject_id() == Some(*id))
                .and_then(|c| c.channel_type.clone())
                .unwrap_or_else(|| "channel".into());
            format!("{kind} subjectId {id}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ErrorClass;

    fn channels() -> Vec<ChannelProfile> {
        parse_channels(
            br#"[
                {"id": 1, "name": "Shop", "subject": "shop_wa", "subjectId": 1001, "active": true, "type": "WHATSAPP"},
                {"id": 2, "name": "Late", "subject": "late_wa", "active": false, "registrationStatus": "IN_PROGRESS"},
                {"id": 3, "subject": "twin", "subjectId": 7, "active": true, "type": "WHATSAPP"},
                {"id": 4, "subject": "twin", "subjectId": 8, "active": true, "type": "VIBER"},
                {"id": "odd"}
            ]"#,
        )
        .unwrap()
    }

    #[test]
    fn an_active_channel_resolves_to_its_subject_id() {
        assert_eq!(resolve("shop_wa", &channels()), Ok(1001));
    }

    #[test]
    fn a_channel_without_subject_id_is_not_active_yet_and_retried() {
        let err = resolve("late_wa", &channels()).unwrap_err();
        assert_eq!((err.reason().as_str(), err.class()), ("ChannelNotActive", ErrorClass::Transient));
    }

    #[test]
    fn an_unknown_subject_is_not_found() {
        let err = resolve("nope", &channels()).unwrap_err();
        assert_eq!((err.reason().as_str(), err.class()), ("SubjectNotFound", ErrorClass::Permanent));
    }

    #[test]
    fn a_name_of_two_active_channels_is_ambiguous() {
        let err = resolve("twin", &channels()).unwrap_err();
        assert_eq!(err.reason().as_str(), "SubjectAmbiguous");
        assert!(err.to_string().contains("VIBER subjectId 8"), "{err}");
    }

    #[test]
    fn a_wrapped_list_is_read_and_garbage_is_not() {
        let wrapped = parse_channels(br#"{"content": [{"subject": "a", "subjectId": 1}]}"#).unwrap();
        assert_eq!(resolve("a", &wrapped), Ok(1));
        assert!(parse_channels(b"<html>").is_none());
        assert_eq!(channels().len(), 4, "the odd entry is skipped, not fatal");
    }
}
