//! Logging (tracing, JSON or plain) and Prometheus metrics.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Installs the global tracing subscriber. `RUST_LOG`-style filter in `level`.
pub fn init_logging(level: &str, json: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).with_current_span(true).init();
    } else {
        builder.init();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderRequestLabels {
    provider: String,
    operation: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AbandonedLabels {
    provider: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReadinessLabels {
    pub provider: String,
    pub ready: String,
}

/// Every metric the operator exports, cheap to clone (all handles are `Arc`s inside).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    reconciliations: Family<ResultLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Histogram,
    provider_requests: Family<ProviderRequestLabels, Counter>,
    provider_throttled: Family<ProviderLabels, Counter>,
    drift_corrections: Family<ProviderLabels, Counter>,
    drift_loops: Family<ProviderLabels, Counter>,
    status_writes: Counter,
    registrations: Family<ReadinessLabels, Gauge>,
    credential_breakers_open: Family<ProviderLabels, Gauge>,
    leader: Gauge,
    malformed_objects: Counter,
    cleanup_abandoned: Family<AbandonedLabels, Counter>,
    events_pending: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("callback_operator");
        let reconciliations = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reconciliations",
            "Reconciliations by result (ok, error)",
            reconciliations.clone(),
        );
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Reconciliations that ended in an error, by condition reason",
            reconcile_errors.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "How long one reconciliation took",
            reconcile_duration.clone(),
        );
        let provider_requests = Family::<ProviderRequestLabels, Counter>::default();
        registry.register(
            "provider_requests",
            "Provider HTTP requests by provider, operation and HTTP code (timeout/error without an answer)",
            provider_requests.clone(),
        );
        let provider_throttled = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "provider_throttled_requests",
            "Provider answers of 429 Too Many Requests",
            provider_throttled.clone(),
        );
        let drift_corrections = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "drift_corrections",
            "Provider-side drift found and repaired",
            drift_corrections.clone(),
        );
        let drift_loops = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "drift_loops",
            "Registrations stalled with reason DriftLoop: the write budget was spent without a spec or Secret change",
            drift_loops.clone(),
        );
        let status_writes = Counter::default();
        registry.register(
            "status_writes",
            "Status patches sent to the apiserver",
            status_writes.clone(),
        );
        let registrations = Family::<ReadinessLabels, Gauge>::default();
        registry.register(
            "registrations",
            "Registrations by provider and Ready state",
            registrations.clone(),
        );
        let credential_breakers_open = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            "credential_breakers_open",
            "Credentials Secrets the provider rejected, by provider: their registrations make no provider calls until \
             the Secret changes",
            credential_breakers_open.clone(),
        );
        let leader = Gauge::default();
        registry.register("leader", "1 while this replica holds the leader Lease", leader.clone());
        let malformed_objects = Counter::default();
        registry.register(
            "malformed_objects",
            "Watched CallbackRegistrations that could not be decoded and were skipped",
            malformed_objects.clone(),
        );
        let cleanup_abandoned = Family::<AbandonedLabels, Counter>::default();
        registry.register(
            "cleanup_abandoned",
            "Deleted registrations let go without removing them at the provider, by provider and reason \
             (deadline, annotation, rejected)",
            cleanup_abandoned.clone(),
        );
        let events_pending = Gauge::default();
        registry.register(
            "events_pending",
            "Events handed to the background queue and not yet posted to the apiserver",
            events_pending.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            reconciliations,
            reconcile_errors,
            reconcile_duration,
            provider_requests,
            provider_throttled,
            drift_corrections,
            drift_loops,
            status_writes,
            registrations,
            credential_breakers_open,
            leader,
            malformed_objects,
            cleanup_abandoned,
            events_pending,
        }
    }

    /// Creates the per-provider series of rare events at 0, so the first event is an increase a rule can see
    /// (`increase()` over a series that appears at 1 is 0) and dashboards show a flat line instead of no data.
    pub fn start_event_counters_at_zero(&self, providers: &[&str], abandon_reasons: &[&str]) {
        for provider in providers {
            let labels = ProviderLabels {
                provider: (*provider).into(),
            };
            self.provider_throttled.get_or_create(&labels).inc_by(0);
            self.drift_corrections.get_or_create(&labels).inc_by(0);
            self.drift_loops.get_or_create(&labels).inc_by(0);
            for reason in abandon_reasons {
                self.cleanup_abandoned
                    .get_or_create(&AbandonedLabels {
                        provider: (*provider).into(),
                        reason: (*reason).into(),
                    })
                    .inc_by(0);
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    pub fn reconciled(&self, ok: bool, seconds: f64) {
        let result = if ok { "ok" } else { "error" };
        self.reconciliations
            .get_or_create(&ResultLabels { result: result.into() })
            .inc();
        self.reconcile_duration.observe(seconds);
    }

    pub fn reconcile_error(&self, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels { reason: reason.into() })
            .inc();
    }

    pub fn provider_request(&self, provider: &str, operation: &str, code: &str) {
        self.provider_requests
            .get_or_create(&ProviderRequestLabels {
                provider: provider.into(),
                operation: operation.into(),
                code: code.into(),
            })
            .inc();
    }

    pub fn provider_throttled(&self, provider: &str) {
        self.provider_throttled
            .get_or_create(&ProviderLabels {
                provider: provider.into(),
            })
            .inc();
    }

    pub fn drift_corrected(&self, provider: &str) {
        self.drift_corrections
            .get_or_create(&ProviderLabels {
                provider: provider.into(),
            })
            .inc();
    }

    pub fn drift_loop(&self, provider: &str) {
        self.drift_loops
            .get_or_create(&ProviderLabels {
                provider: provider.into(),
            })
            .inc();
    }

    pub fn status_written(&self) {
        self.status_writes.inc();
    }

    /// Replaces the registrations-by-readiness gauge with a fresh count.
    pub fn set_registrations(&self, counts: impl IntoIterator<Item = (ReadinessLabels, i64)>) {
        self.registrations.clear();
        for (labels, n) in counts {
            self.registrations.get_or_create(&labels).set(n);
        }
    }

    /// Sets the open credential breakers per provider (every provider is given, zeros included).
    pub fn set_credential_breakers_open<'a>(&self, open: impl IntoIterator<Item = (&'a str, i64)>) {
        for (provider, n) in open {
            self.credential_breakers_open
                .get_or_create(&ProviderLabels {
                    provider: provider.into(),
                })
                .set(n);
        }
    }

    pub fn malformed_object(&self) {
        self.malformed_objects.inc();
    }

    pub fn cleanup_abandoned(&self, provider: &str, reason: &str) {
        self.cleanup_abandoned
            .get_or_create(&AbandonedLabels {
                provider: provider.into(),
                reason: reason.into(),
            })
            .inc();
    }

    /// The Events-waiting gauge itself: the Event queue counts with it (`controller/event_queue.rs`).
    pub fn events_pending(&self) -> Gauge {
        self.events_pending.clone()
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_event_counters_start_at_zero_for_every_provider_and_reason() {
        let metrics = Metrics::new();
        metrics.start_event_counters_at_zero(&["mail", "edna"], &["deadline", "rejected"]);
        let text = metrics.encode();
        for line in [
            "callback_operator_drift_loops_total{provider=\"mail\"} 0",
            "callback_operator_drift_corrections_total{provider=\"edna\"} 0",
            "callback_operator_provider_throttled_requests_total{provider=\"mail\"} 0",
            "callback_operator_cleanup_abandoned_total{provider=\"edna\",reason=\"rejected\"} 0",
            "callback_operator_cleanup_abandoned_total{provider=\"mail\",reason=\"deadline\"} 0",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        metrics.drift_loop("mail");
        assert!(
            metrics
                .encode()
                .contains("callback_operator_drift_loops_total{provider=\"mail\"} 1")
        );
    }

    #[test]
    fn credential_breakers_open_is_a_gauge_per_provider_that_goes_back_to_zero() {
        let metrics = Metrics::new();
        metrics.set_credential_breakers_open([("mail", 2), ("edna", 0)]);
        let text = metrics.encode();
        assert!(
            text.contains("# TYPE callback_operator_credential_breakers_open gauge"),
            "{text}"
        );
        assert!(
            text.contains("callback_operator_credential_breakers_open{provider=\"mail\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("callback_operator_credential_breakers_open{provider=\"edna\"} 0"),
            "{text}"
        );

        metrics.set_credential_breakers_open([("mail", 0), ("edna", 0)]);
        let text = metrics.encode();
        assert!(
            text.contains("callback_operator_credential_breakers_open{provider=\"mail\"} 0"),
            "{text}"
        );
    }
}
