//! The `CallbackRegistration` kind: common spec fields, the one-provider rule, and the status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::validation::DURATION_PATTERN;
use super::{EdnaSpec, EnvelopeSpec, MailSpec};

/// A webhook/callback registration that the operator keeps true at one external provider.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "callback-operator.io",
    version = "v1alpha1",
    kind = "CallbackRegistration",
    plural = "callbackregistrations",
    shortname = "cbr",
    category = "callbacks",
    namespaced,
    cel,
    status = "CallbackRegistrationStatus",
    doc = "A webhook/callback registration kept true at edna Pulse, Unisender Go (mail) or DocStudio (envelope).",
    printcolumn = r#"{"name":"Provider","type":"string","jsonPath":".status.provider","description":"edna, mail or envelope"}"#,
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".status.target","description":"The callback URL registered"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(
    validation = Rule::new("(has(self.edna) ? 1 : 0) + (has(self.mail) ? 1 : 0) + (has(self.envelope) ? 1 : 0) == 1")
        .message("exactly one provider block must be set: edna, mail or envelope"),
    validation = Rule::new("has(self.edna) == has(oldSelf.edna) && has(self.mail) == has(oldSelf.mail) && has(self.envelope) == has(oldSelf.envelope)")
        .message("the provider block cannot be switched after creation; create a new CallbackRegistration instead")
        .reason(Reason::FieldValueForbidden)
)]
#[serde(rename_all = "camelCase")]
pub struct CallbackRegistrationSpec {
    /// The Secret, in this object's namespace, holding the provider credentials: `apiKey` for edna and mail;
    /// `token`, or `login` and `password`, for envelope; optionally `endpoint`, a provider base URL that the cluster
    /// admin allows (regional hosts, white-label instances).
    pub credentials_ref: CredentialsRef,

    /// What happens at the provider when this object is deleted: `Delete` (the default when absent) removes the
    /// registration; `Orphan` leaves it in place. edna has no delete method, so there both leave it (with an Event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// `Observe`: the operator only reads the provider — it adopts the matching provider-side object into status and
    /// reports whether it matches this spec (Ready when it does, Stalled with reason `Drifted` naming the differing
    /// fields when not) — and makes no provider write and no provider delete, also when this object is deleted.
    /// `Full` (the meaning when absent) creates, repairs and removes. Switching to `Full` converges with the fewest
    /// writes the provider allows. edna cannot be read back: there Observe reports `ObserveUnsupported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<ManagementPolicy>,

    /// When true the operator makes no provider calls for this object until it is set back to false
    /// (deleting the object still honours `deletionPolicy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,

    /// How often the provider's state is re-checked and drift repaired, as a duration such as `10m` or `1h`
    /// (at least 10s). Absent means the operator's default (its `--resync-interval`; edna re-asserts on its own,
    /// longer interval because it cannot read state back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN), length(max = 32))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('10s')").message("resyncInterval must be at least 10s"))]
    pub resync_interval: Option<String>,

    // The provider blocks are boxed: exactly one is ever set, and the watch cache holds every object for the
    // operator's lifetime, so inline blocks would cost ~550 bytes per object (5 MiB at 10,000 registrations).
    /// edna Pulse callback URLs (delivery status, incoming messages, template events) for one channel or the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edna: Option<Box<EdnaSpec>>,

    /// A Unisender Go (transactional email) webhook, identified at the provider by its URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<Box<MailSpec>>,

    /// A DocStudio envelope callback in one mailbox, identified by (mailbox, url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Box<EnvelopeSpec>>,
}

/// A reference to a Secret in the same namespace as the CallbackRegistration.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CredentialsRef {
    /// The Secret's name. Secrets in other namespaces cannot be referenced.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub name: String,
}

/// What to do at the provider when the object is deleted.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Remove the registration at the provider (where the provider can).
    Delete,
    /// Leave the registration at the provider.
    Orphan,
}

/// How far the operator manages the provider-side object. `Observe`: only read the provider — adopt the matching
/// object into status, report whether it matches this spec (Ready, reason Observed; or Stalled, reason Drifted,
/// naming the differing fields) — and never write or delete there, also when this object is deleted. `Full` (the
/// meaning when absent): create, repair and remove. edna cannot be read back: Observe reports ObserveUnsupported.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagementPolicy {
    /// Read, compare and report; never write or delete at the provider.
    Observe,
    /// Create, repair and remove at the provider.
    Full,
}

impl CallbackRegistrationSpec {
    /// A spec reading its credentials from Secret `name`, every option at its default and no provider block yet
    /// (callers set one: `CallbackRegistrationSpec { mail: …, ..CallbackRegistrationSpec::with_credentials(name) }`).
    pub fn with_credentials(name: &str) -> Self {
        CallbackRegistrationSpec {
            credentials_ref: CredentialsRef { name: name.to_string() },
            deletion_policy: None,
            management_policy: None,
            suspend: None,
            resync_interval: None,
            edna: None,
            mail: None,
            envelope: None,
        }
    }

    /// Absent means full management.
    pub fn management_policy(&self) -> ManagementPolicy {
        self.management_policy.unwrap_or(ManagementPolicy::Full)
    }

    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.deletion_policy.unwrap_or(DeletionPolicy::Delete)
    }

    pub fn is_suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }
}

/// What the operator observed and did; written only by the operator, through server-side apply.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallbackRegistrationStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Ready, Reconciling and Stalled (kstatus), each with a CamelCase reason and a human message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::conditions_schema")]
    pub conditions: Vec<Condition>,

    /// The provider this object targets (edna, mail or envelope), for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,

    /// The callback URL(s) this object registers, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,

    // Boxed for the same reason as the provider blocks: it is absent until the first sync.
    /// What the provider holds for this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Box<Registration>>,

    /// A hash of the last desired state applied at the provider, including salted hashes of write-only values
    /// (API key fingerprint, basic-auth password), so a rotated secret is re-pushed though nothing can read it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_hash: Option<String>,

    /// A fingerprint of the provider's own answer for this registration after the operator's last write (or the
    /// last read that matched the spec). Drift is judged against it, not against the spec's rendering: a provider
    /// that normalises, drops or reformats fields never causes a repeat write. Absent where the provider cannot be
    /// read back (edna).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_hash: Option<String>,

    /// The last value of the `reconcile.fluxcd.io/requestedAt` annotation that a full pass handled (as Flux's own
    /// objects report it): a script or tool that set the annotation waits for this to show its value. Not moved while
    /// `spec.suspend` is true (no provider calls are made then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// The provider-side identity and state of a registration.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// The provider account: its base URL and a keyed fingerprint of the credential (never the credential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,

    /// The provider's id for the registration, where it issues one (mail's webhook id, envelope's callback id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,

    /// The URL(s) registered at the provider. Cleanup and URL changes use this, not the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,

    /// edna only: the channel the URLs are set for; absent means every channel of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<i64>,

    /// envelope only: the mailbox holding the callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<String>,

    /// The provider-side status where the provider reports one (mail: active, disabled or stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_status: Option<String>,

    /// When the operator last changed something at the provider for this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_time: Option<Time>,
}
