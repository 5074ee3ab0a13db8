//! What a read of the provider found and what a full sync would do about it, decided without writing: the one
//! answer behind `managementPolicy: Observe` (the controller reports it) and `callback-operator plan` (the CLI
//! prints it). Each provider builds it in its own folder from the same pure planning function its `sync` executes,
//! so what `plan` says and what the operator does cannot drift apart.

use crate::api::Registration;

/// One field in which the provider's object differs from the spec, both sides rendered for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDiff {
    /// The provider's field name (`max_parallel`, `filter`).
    pub field: &'static str,
    pub provider: String,
    pub spec: String,
}

impl FieldDiff {
    pub fn new(field: &'static str, provider: impl Into<String>, spec: impl Into<String>) -> Self {
        FieldDiff {
            field,
            provider: provider.into(),
            spec: spec.into(),
        }
    }
}

/// What one read found and what a full sync would write now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// The provider-side object with this registration's identity, as status records it (`None`: nothing found).
    pub found: Option<Registration>,
    /// The fingerprint of the provider's answer for `found` (`status.observedHash`).
    pub observed_hash: Option<String>,
    /// `found` was found by its identity, not by what status recorded: a sync would adopt it.
    pub adopt: bool,
    /// How `found` differs from the spec (empty: it matches, or nothing was found).
    pub diff: Vec<FieldDiff>,
    /// The writes a full sync would make now, in words, in order (empty: none).
    pub writes: Vec<String>,
    /// Why the provider could not be read (edna): then `found` and `diff` say nothing, `writes` come from status.
    pub unreadable: Option<String>,
}

/// What a full sync would do, in one word (the first line of `plan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Nothing at the provider, nothing new in status.
    Nothing,
    /// Take over what the provider holds, writing nothing.
    Adopt,
    /// Nothing found: create it.
    Create,
    /// Found, but writes are due (a field differs, duplicates, a write-only value that cannot be verified).
    Update,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Nothing => "nothing",
            Intent::Adopt => "adopt",
            Intent::Create => "create",
            Intent::Update => "update",
        }
    }
}

impl Observation {
    /// What a full sync would do.
    pub fn intent(&self) -> Intent {
        match (&self.found, self.writes.is_empty()) {
            (_, true) if self.adopt => Intent::Adopt,
            (_, true) => Intent::Nothing,
            (None, false) => Intent::Create,
            (Some(_), false) => Intent::Update,
        }
    }

    /// The provider was read, holds this registration, and a full sync would write nothing: what Ready means under
    /// `managementPolicy: Observe`.
    pub fn matches(&self) -> bool {
        self.unreadable.is_none() && self.found.is_some() && self.writes.is_empty()
    }

    /// The differing fields, `field (provider → spec)`, for condition messages; the pending writes when no field
    /// differs but writes are still due (duplicates, an unverifiable password).
    pub fn drift_summary(&self) -> String {
        if self.diff.is_empty() {
            return self.writes.join("; ");
        }
        self.diff
            .iter()
            .map(|d| format!("{} ({} → {})", d.field, d.provider, d.spec))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> Option<Registration> {
        Some(Registration::default())
    }

    #[test]
    fn intent_follows_what_was_found_and_what_would_be_written() {
        let nothing = Observation {
            found: found(),
            ..Observation::default()
        };
        assert_eq!(nothing.intent(), Intent::Nothing);
        assert!(nothing.matches());
        let adopt = Observation {
            adopt: true,
            ..nothing.clone()
        };
        assert_eq!(adopt.intent(), Intent::Adopt);
        assert!(adopt.matches());
        let create = Observation {
            writes: vec!["set".into()],
            ..Observation::default()
        };
        assert_eq!(create.intent(), Intent::Create);
        assert!(!create.matches());
        let update = Observation {
            found: found(),
            writes: vec!["set".into()],
            diff: vec![FieldDiff::new("max_parallel", "50", "10")],
            ..Observation::default()
        };
        assert_eq!(update.intent(), Intent::Update);
        assert_eq!(update.drift_summary(), "max_parallel (50 → 10)");
    }

    #[test]
    fn an_unreadable_provider_never_matches() {
        let edna = Observation {
            unreadable: Some("cannot be read".into()),
            found: found(),
            ..Observation::default()
        };
        assert!(!edna.matches());
    }

    #[test]
    fn writes_without_a_differing_field_are_named_in_the_summary() {
        let dupes = Observation {
            found: found(),
            writes: vec!["remove duplicate callback b".into()],
            ..Observation::default()
        };
        assert_eq!(dupes.drift_summary(), "remove duplicate callback b");
        assert!(!dupes.matches());
    }
}
