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
