//! The two layers of an edna field: tenant-wide and per channel.
//!
//! The seed says a `set` without `subjectId` writes the fields "for all channels of the tenant": it overwrites a URL
//! another object set for one channel. Objects for the same field at both levels must still end with exactly what
//! each asks for, so (docs/providers/edna.md, "Tenant-wide and per-channel objects"):
//! - after every tenant-wide write, the per-channel owners of the written fields are re-asserted, in that order,
//!   within the same pass (this map tells the tenant-wide object who they are and what they ask for);
//! - when a per-channel object is deleted, its channel's fields are handed back to the tenant-wide URL;
//! - a per-channel object that finds a tenant-wide write newer than its own last write (one made before it was
//!   known here, e.g. right after a restart) re-asserts itself.
//!
//! Under the other reading (a separate tenant default) every one of these writes is redundant but harmless.
//!
//! The map is in memory and fed by every pass of every edna object (no call needed), so after a restart it is
//! complete once each object has been reconciled once. Entries are added before a write and read after one: a
//! per-channel object known before a tenant-wide write completes is always re-asserted after it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use k8s_openapi::jiff::Timestamp;

use super::desired::{EdnaDesired, UrlField};
use crate::api::Registration;

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    url: String,
    /// When this URL was last written for this layer (by its owner, or re-asserted after a tenant-wide write).
    written: Option<Timestamp>,
}

/// One account's layers. `None` = the tenant-wide layer, `Some(subjectId)` = one channel.
#[derive(Default)]
struct AccountLayers {
    entries: BTreeMap<(Option<i64>, UrlField), Entry>,
}

/// Every account's layers, shared by all edna objects of the process.
#[derive(Default)]
pub struct Layers {
    accounts: Mutex<HashMap<String, AccountLayers>>,
}

/// The URLs one channel's owners ask for.
pub type ChannelUrls = (i64, BTreeMap<UrlField, String>);

impl Layers {
    /// Records what an object asks for at `scope` (`None`: tenant-wide), dropping what it recorded before at
    /// another scope or account, or for fields it no longer owns.
    pub fn register(&self, account: &str, scope: Option<i64>, desired: &EdnaDesired, previous: Option<&Registration>) {
        let mut accounts = self.accounts.lock().expect("layers lock");
        if let Some(previous) = previous.filter(|p| !p.urls.is_empty()) {
            let previous_account = previous.account.as_deref().unwrap_or(account);
            if let Some(layers) = accounts.get_mut(previous_account) {
                // Each (account, scope, field) has one owner, so an entry holding a URL this object recorded, in a
                // place it no longer asks for, was its own.
                layers.entries.retain(|(s, field), entry| {
                    let mine = *s == previous.subject_id && previous.urls.contains(&entry.url);
                    let still_wanted =
                        previous_account == account && *s == scope && desired.urls.get(field) == Some(&entry.url);
                    !mine || still_wanted
                });
            }
        }
        let layers = accounts.entry(account.to_string()).or_default();
        for (field, url) in &desired.urls {
            let entry = layers.entries.entry((scope, *field)).or_insert_with(|| Entry {
                url: url.clone(),
                written: None,
            });
            if &entry.url != url {
                *entry = Entry {
                    url: url.clone(),
                    written: None,
                };
            }
        }
    }

    /// Drops what a deleted object asked for at `scope`.
    pub fn forget(&self, account: &str, scope: Option<i64>, desired: &EdnaDesired) {
        let mut accounts = self.accounts.lock().expect("layers lock");
        if let Some(layers) = accounts.get_mut(account) {
            for (field, url) in &desired.urls {
                if layers.entries.get(&(scope, *field)).is_some_and(|e| &e.url == url) {
                    layers.entries.remove(&(scope, *field));
                }
            }
        }
    }

    /// Records that `fields` were written at `scope` at `at`.
    pub fn written(&self, account: &str, scope: Option<i64>, fields: impl IntoIterator<Item = UrlField>, at: Timestamp) {
        let mut accounts = self.accounts.lock().expect("layers lock");
        let layers = accounts.entry(account.to_string()).or_default();
        for field in fields {
            if let Some(entry) = layers.entries.get_mut(&(scope, field)) {
                entry.written = Some(at);
            }
        }
    }

    /// The per-channel owners of any of `fields`, by channel: whom a tenant-wide write of `fields` overwrote.
    pub fn channel_owners(&self, account: &str, fields: &[UrlField]) -> Vec<ChannelUrls> {
        let accounts = self.accounts.lock().expect("layers lock");
        let mut by_channel: BTreeMap<i64, BTreeMap<UrlField, String>> = BTreeMap::new();
        if let Some(layers) = accounts.get(account) {
            for ((scope, field), entry) in &layers.entries {
                if let (Some(subject), true) = (scope, fields.contains(field)) {
                    by_channel.entry(*subject).or_default().insert(*field, entry.url.clone());
                }
            }
        }
        by_channel.into_iter().collect()
    }

    /// The tenant-wide URL of `field`, if an object asks for one.
    pub fn tenant_url(&self, account: &str, field: UrlField) -> Option<String> {
        let accounts = self.accounts.lock().expect("layers lock");
        accounts.get(account)?.entries.get(&(None, field)).map(|e| e.url.clone())
    }

    /// Whether a tenant-wide write of one of `fields` happened after this channel's URLs were last written (by
    /// its owner at `own_write`, or re-asserted here): the channel must be re-asserted.
    pub fn overwritten(&self, account: &str, subject: i64, fields: &[UrlField], own_write: Option<Timestamp>) -> bool {
        let accounts = self.accounts.lock().expect("layers lock");
        let Some(layers) = accounts.get(account) else {
            return false;
        };
        fields.iter().any(|field| {
            let tenant = layers.entries.get(&(None, *field)).and_then(|e| e.written);
            let channel = layers.entries.get(&(Some(subject), *field)).and_then(|e| e.written);
            overwritten(tenant, own_write.max(channel))
        })
    }
}

/// A tenant-wide write newer than the channel's last write overwrote it. Status times have one-second resolution,
/// so the tenant-wide write counts as newer only from the next second on.
pub fn overwritten(tenant_write: Option<Timestamp>, channel_write: Option<Timestamp>) -> bool {
    match (tenant_write, channel_write) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(t), Some(c)) => t.as_second() > c.as_second(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EdnaSpec;

    const ACCOUNT: &str = "https://edna/acct";

    fn desired(subject_id: Option<i64>, status: Option<&str>, in_message: Option<&str>) -> EdnaDesired {
        EdnaDesired::from_spec(&EdnaSpec {
            subject_id,
            subject: None,
            status_callback_url: status.map(str::to_string),
            in_message_callback_url: in_message.map(str::to_string),
            message_matcher_callback_url: None,
        })
        .unwrap()
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn a_tenant_wide_write_finds_the_channel_owners_of_its_fields_only() {
        let layers = Layers::default();
        layers.register(ACCOUNT, Some(1001), &desired(Some(1001), Some("https://b/s"), Some("https://b/i")), None);
        layers.register(ACCOUNT, Some(1002), &desired(Some(1002), None, Some("https://c/i")), None);
        layers.register(ACCOUNT, None, &desired(None, Some("https://a/s"), None), None);
        let owners = layers.channel_owners(ACCOUNT, &[UrlField::Status]);
        assert_eq!(owners, vec![(1001, BTreeMap::from([(UrlField::Status, "https://b/s".to_string())]))]);
        assert_eq!(layers.tenant_url(ACCOUNT, UrlField::Status).as_deref(), Some("https://a/s"));
        assert!(layers.channel_owners("other", &[UrlField::Status]).is_empty());
    }

    #[test]
    fn moving_to_another_channel_or_dropping_a_field_leaves_no_stale_owner() {
        let layers = Layers::default();
        let first = desired(Some(1001), Some("https://b/s"), Some("https://b/i"));
        layers.register(ACCOUNT, Some(1001), &first, None);
        let recorded = Registration {
            account: Some(ACCOUNT.into()),
            urls: first.distinct_urls(),
            subject_id: Some(1001),
            ..Registration::default()
        };
        let moved = desired(Some(1002), Some("https://b/s"), None);
        layers.register(ACCOUNT, Some(1002), &moved, Some(&recorded));
        assert_eq!(
            layers.channel_owners(ACCOUNT, &[UrlField::Status, UrlField::InMessage]),
            vec![(1002, BTreeMap::from([(UrlField::Status, "https://b/s".to_string())]))]
        );
        layers.forget(ACCOUNT, Some(1002), &moved);
        assert!(layers.channel_owners(ACCOUNT, &[UrlField::Status]).is_empty());
    }

    #[test]
    fn a_channel_is_overwritten_by_a_newer_tenant_wide_write_until_re_asserted() {
        let layers = Layers::default();
        layers.register(ACCOUNT, Some(1001), &desired(Some(1001), Some("https://b/s"), None), None);
        layers.register(ACCOUNT, None, &desired(None, Some("https://a/s"), None), None);
        let fields = [UrlField::Status];
        assert!(!layers.overwritten(ACCOUNT, 1001, &fields, Some(at(10))), "no tenant-wide write yet");
        layers.written(ACCOUNT, None, fields, at(20));
        assert!(layers.overwritten(ACCOUNT, 1001, &fields, Some(at(10))));
        assert!(!layers.overwritten(ACCOUNT, 1001, &[UrlField::InMessage], Some(at(10))), "other fields");
        layers.written(ACCOUNT, Some(1001), fields, at(21));
        assert!(!layers.overwritten(ACCOUNT, 1001, &fields, Some(at(10))), "re-asserted after it");
    }

    #[test]
    fn writes_within_one_second_are_not_ordered() {
        assert!(!overwritten(Some(at(5)), Some(at(5))));
        assert!(overwritten(Some(at(6)), Some(at(5))));
        assert!(overwritten(Some(at(6)), None));
        assert!(!overwritten(None, None));
    }
}
