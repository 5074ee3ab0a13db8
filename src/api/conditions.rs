//! Condition names and the list-map schema that lets server-side apply merge conditions by `type`.

use schemars::Schema;
use serde_json::json;

/// The condition types this operator writes (kstatus conventions, read by `kubectl wait`, Flux and Argo CD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    /// The provider holds what the spec asks for.
    Ready,
    /// Work is pending or being retried.
    Reconciling,
    /// Nothing will change until the user changes something.
    Stalled,
}

impl ConditionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Ready => "Ready",
            ConditionType::Reconciling => "Reconciling",
            ConditionType::Stalled => "Stalled",
        }
    }
}

/// `True`, `False` or `Unknown`, as Kubernetes spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// Schema for `status.conditions`: a list of metav1.Condition merged by `type`.
pub fn conditions_schema(_: &mut schemars::SchemaGenerator) -> Schema {
    serde_json::from_value(json!({
        "description": "Ready, Reconciling and Stalled, each with a CamelCase reason and a human message.",
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["type", "status", "lastTransitionTime", "reason", "message"],
            "properties": {
                "type": {"type": "string", "description": "Ready, Reconciling or Stalled."},
                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
                "lastTransitionTime": {"type": "string", "format": "date-time", "description": "When the status last flipped."},
                "reason": {"type": "string", "description": "A CamelCase machine reason."},
                "message": {"type": "string", "description": "A human message; never contains a secret."}
            }
        }
    }))
    .expect("a static schema")
}
