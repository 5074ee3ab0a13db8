//! The verdict of one reconciliation and the kstatus conditions it becomes. Pure: no IO, no clock reads.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::{ConditionStatus, ConditionType, Reason};

/// How a reconciliation ended, as far as the user is concerned.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The provider holds the desired state.
    Ready { message: String },
    /// `managementPolicy: Observe`: the provider holds an object matching the spec (Ready, reason `Observed`).
    Observed { message: String },
    /// Work is pending or being retried; it will resolve without the user (a Secret appearing, a provider recovering).
    Progressing { reason: Reason, message: String },
    /// Nothing will change until the user changes the spec or a Secret.
    Stalled { reason: Reason, message: String },
    /// `spec.suspend` is true.
    Suspended,
}

impl Verdict {
    pub fn reason(&self) -> Reason {
        match self {
            Verdict::Ready { .. } => Reason::Synced,
            Verdict::Observed { .. } => Reason::Observed,
            Verdict::Progressing { reason, .. } | Verdict::Stalled { reason, .. } => *reason,
            Verdict::Suspended => Reason::Suspended,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Verdict::Ready { message }
            | Verdict::Observed { message }
            | Verdict::Progressing { message, .. }
            | Verdict::Stalled { message, .. } => message,
            Verdict::Suspended => SUSPENDED_MESSAGE,
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Verdict::Ready { .. } | Verdict::Observed { .. })
    }
}

const SUSPENDED_MESSAGE: &str = "spec.suspend is true: no provider calls are made";

/// The conditions for `verdict`, keeping `lastTransitionTime` of every condition whose status did not flip.
pub fn conditions_for(
    verdict: &Verdict,
    previous: &[Condition],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let (ready, reconciling, stalled) = match verdict {
        Verdict::Ready { .. } | Verdict::Observed { .. } => (ConditionStatus::True, None, None),
        Verdict::Progressing { .. } => (ConditionStatus::False, Some(ConditionStatus::True), None),
        Verdict::Stalled { .. } => (ConditionStatus::False, None, Some(ConditionStatus::True)),
        Verdict::Suspended => (ConditionStatus::Unknown, None, None),
    };
    let mut conditions = vec![condition(
        ConditionType::Ready,
        ready,
        verdict,
        previous,
        generation,
        now,
    )];
    if let Some(status) = reconciling {
        conditions.push(condition(
            ConditionType::Reconciling,
            status,
            verdict,
            previous,
            generation,
            now,
        ));
    }
    if let Some(status) = stalled {
        conditions.push(condition(
            ConditionType::Stalled,
            status,
            verdict,
            previous,
            generation,
            now,
        ));
    }
    conditions
}

fn condition(
    kind: ConditionType,
    status: ConditionStatus,
    verdict: &Verdict,
    previous: &[Condition],
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == kind.as_str() && c.status == status.as_str())
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: kind.as_str().to_string(),
        status: status.as_str().to_string(),
        reason: verdict.reason().as_str().to_string(),
        message: verdict.message().to_string(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// The Ready condition's (status, reason), to tell a transition from a repeat.
pub fn ready_state(conditions: &[Condition]) -> Option<(&str, &str)> {
    conditions
        .iter()
        .find(|c| c.type_ == ConditionType::Ready.as_str())
        .map(|c| (c.status.as_str(), c.reason.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn ready_has_no_reconciling_or_stalled_condition() {
        let c = conditions_for(&Verdict::Ready { message: "ok".into() }, &[], Some(1), &at(10));
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].type_.as_str(), c[0].status.as_str(), c[0].reason.as_str()),
            ("Ready", "True", "Synced")
        );
    }

    #[test]
    fn stalled_sets_ready_false_and_stalled_true_with_the_reason() {
        let v = Verdict::Stalled {
            reason: Reason::InvalidCredentials,
            message: "rejected".into(),
        };
        let c = conditions_for(&v, &[], Some(2), &at(10));
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].status, "False");
        assert_eq!(c[1].type_, "Stalled");
        assert!(
            c.iter()
                .all(|c| c.reason == "InvalidCredentials" && c.observed_generation == Some(2))
        );
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let progressing = Verdict::Progressing {
            reason: Reason::ProviderUnavailable,
            message: "503".into(),
        };
        let first = conditions_for(&progressing, &[], Some(1), &at(10));
        let again = conditions_for(&progressing, &first, Some(1), &at(20));
        assert_eq!(
            first, again,
            "a repeat must not change anything, or the status would be rewritten"
        );
        let ready = conditions_for(&Verdict::Ready { message: "ok".into() }, &again, Some(1), &at(30));
        assert_eq!(ready[0].last_transition_time, at(30));
    }
}
