//! Every reason the operator writes, as types: condition reasons (`Reason`) and Event reasons (`EventReason`).
//! Rendered CamelCase. The README and the provider docs list them; `tests::documented_reasons_match_the_code`
//! fails when a documented reason is missing here or a reason here is documented nowhere.

/// The machine reason of the Ready / Reconciling / Stalled conditions (and of the Warning Event on a transition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter, strum::EnumString)]
pub enum Reason {
    /// The provider holds what the spec asks for.
    Synced,
    /// `spec.suspend` is true.
    Suspended,
    /// The spec is invalid in a way the schema could not catch.
    InvalidSpec,
    /// A Secret the spec references besides the credentials (or one of its keys) is missing.
    SecretNotFound,
    /// The credentials Secret does not exist.
    CredentialsNotFound,
    /// The credentials Secret lacks a key the provider needs.
    CredentialsIncomplete,
    /// The Secret's `endpoint` is not allowed by the cluster admin.
    EndpointNotAllowed,
    /// The provider rejected the credentials.
    InvalidCredentials,
    /// An older object owns the same provider-side identity.
    Conflict,
    /// The provider refused the request; retrying it unchanged cannot succeed.
    ProviderRejected,
    /// 5xx from the provider.
    ProviderUnavailable,
    /// The provider call timed out.
    ProviderTimeout,
    /// No connection to the provider.
    ProviderUnreachable,
    /// The provider answered something its contract does not describe.
    ProviderProtocolError,
    /// The provider asked to try again later (DocStudio's 425).
    ProviderBusy,
    /// HTTP 429.
    RateLimited,
    /// The endpoint answered with a redirect, which is never followed.
    ProviderRedirected,
    /// The endpoint's answer was larger than the operator reads.
    ProviderResponseTooLarge,
    /// A referenced Secret lacks the label `--secret-label-selector` requires; it was not read.
    SecretNotLabelled,
    /// The provider stopped the webhook and re-activating it failed (mail).
    StoppedByProvider,
    /// The provider's check of the callback URL failed (edna's HEAD).
    EndpointUnavailable,
    /// The channel named by `subject` is not active yet (edna).
    ChannelNotActive,
    /// No channel with that subject or subjectId (edna).
    SubjectNotFound,
    /// The subject names several active channels (edna).
    SubjectAmbiguous,
    /// The credentials have no access to the mailbox (envelope's 403).
    MailboxForbidden,
    /// The account's plan refuses the request (envelope's 402).
    PlanRestriction,
    /// Without a spec or Secret change the provider needed more corrective writes in the budget's window than the
    /// budget allows: something keeps changing it back (`src/controller/budget.rs`).
    DriftLoop,
    /// The provider refused a write with an undocumented code, most likely its check of the receiver URL (mail).
    ReceiverCheckFailed,
    /// `managementPolicy: Observe`: the provider holds an object matching the spec (found and adopted into status;
    /// full management would write nothing).
    Observed,
    /// `managementPolicy: Observe`: the provider's object differs from the spec; the message names the fields.
    /// Nothing is written until the spec changes or the policy becomes `Full`.
    Drifted,
    /// `managementPolicy: Observe`: the provider holds nothing with this object's identity; nothing is created.
    NotFoundAtProvider,
    /// `managementPolicy: Observe` on a provider that cannot be read back (edna): nothing can be compared, nothing
    /// is written.
    ObserveUnsupported,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason of an Event that records something done (or found, or left) at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter, strum::EnumString)]
pub enum EventReason {
    Created,
    Updated,
    Adopted,
    DriftCorrected,
    Reactivated,
    Deleted,
    DuplicateRemoved,
    /// Written again unchanged because the provider cannot be read back (edna's periodic re-assert).
    Reasserted,
    /// Ready again after a failure, without a provider change.
    Synced,
    /// Deleted with `deletionPolicy: Orphan`: left at the provider.
    Orphaned,
    /// Deleted while another object owns the identity: nothing removed.
    CleanupSkipped,
    /// Deleted, but the provider-side registration could not be removed.
    CleanupAbandoned,
    /// Deleted at a provider that has no delete method.
    RemoteDeletionUnsupported,
}

impl EventReason {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether this change wrote to the provider (`lastSyncedTime` moves).
    pub fn wrote(self) -> bool {
        matches!(
            self,
            EventReason::Created
                | EventReason::Updated
                | EventReason::DriftCorrected
                | EventReason::Reactivated
                | EventReason::Deleted
                | EventReason::DuplicateRemoved
                | EventReason::Reasserted
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::str::FromStr;

    use strum::IntoEnumIterator;

    use super::*;

    /// The backticked names in the first column of every table under a heading that `heading` accepts, in the
    /// README and every provider doc.
    fn documented(heading: impl Fn(&str) -> bool) -> BTreeSet<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("README.md")];
        for entry in std::fs::read_dir(root.join("docs/providers")).expect("docs/providers") {
            files.push(entry.expect("a directory entry").path());
        }
        let mut names = BTreeSet::new();
        for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "md")) {
            let text = std::fs::read_to_string(file).expect("a readable doc");
            let mut inside = false;
            for line in text.lines() {
                if let Some(title) = line.strip_prefix('#') {
                    inside = line.starts_with("##") && heading(title.trim_start_matches('#').trim());
                } else if inside && line.starts_with('|') {
                    let first = line.split('|').nth(1).unwrap_or_default();
                    names.extend(first.split('`').skip(1).step_by(2).map(str::to_string));
                }
            }
        }
        names
    }

    fn compare<T: IntoEnumIterator + FromStr + Into<&'static str>>(documented: BTreeSet<String>, what: &str) {
        let unknown: Vec<&String> = documented.iter().filter(|name| T::from_str(name).is_err()).collect();
        assert!(
            unknown.is_empty(),
            "documented {what} missing from the code: {unknown:?}"
        );
        let undocumented: Vec<&'static str> = T::iter()
            .map(Into::into)
            .filter(|name| !documented.contains(*name))
            .collect();
        assert!(
            undocumented.is_empty(),
            "{what} in the code but documented nowhere: {undocumented:?}"
        );
    }

    #[test]
    fn documented_reasons_match_the_code() {
        compare::<Reason>(
            documented(|h| h.to_lowercase().contains("reasons")),
            "condition reasons",
        );
    }

    #[test]
    fn documented_event_reasons_match_the_code() {
        compare::<EventReason>(documented(|h| h == "Events"), "Event reasons");
    }
}
