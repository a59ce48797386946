//! Prometheus metrics of the node agent (namespace `oci_ipam_node_`).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::reconcile::{Readiness, ReconcileReport};

/// Outcome of a reconcile pass.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Outcome {
    /// Every VNIC ready.
    Ready,
    /// The pass ran; some VNIC is not ready.
    Degraded,
    /// The pass could not run (category in `failures`).
    Failed,
}

/// Labels of the pass counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The outcome.
    pub outcome: Outcome,
}

/// Labels of the change counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChangeLabels {
    /// `rule_added`, `route_deleted`, …
    pub change: &'static str,
}

/// Labels of the failure counter and the not-ready gauge: a bounded category.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CategoryLabels {
    /// A PascalCase category, never error text.
    pub category: &'static str,
}

/// The agent's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    passes: Family<OutcomeLabels, Counter>,
    failures: Family<CategoryLabels, Counter>,
    duration: Histogram,
    changes: Family<ChangeLabels, Counter>,
    vnics_ready: Gauge,
    vnics_not_ready: Family<CategoryLabels, Gauge>,
    addresses: Gauge,
    skipped: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("oci_ipam_node");
        let passes = Family::<OutcomeLabels, Counter>::default();
        let failures = Family::<CategoryLabels, Counter>::default();
        let duration = Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
        let changes = Family::<ChangeLabels, Counter>::default();
        let vnics_ready = Gauge::default();
        let vnics_not_ready = Family::<CategoryLabels, Gauge>::default();
        let addresses = Gauge::default();
        let skipped = Gauge::default();

        registry.register("reconciles", "Reconcile passes by outcome", passes.clone());
        registry.register("failures", "Failed passes by category", failures.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile pass took",
            duration.clone(),
        );
        registry.register(
            "changes",
            "Kernel objects changed, by kind",
            changes.clone(),
        );
        registry.register(
            "vnics_ready",
            "Secondary and primary VNICs ready",
            vnics_ready.clone(),
        );
        registry.register(
            "vnics_not_ready",
            "VNICs not ready, by reason",
            vnics_not_ready.clone(),
        );
        registry.register(
            "pool_addresses",
            "Pool addresses with rules",
            addresses.clone(),
        );
        registry.register(
            "skipped_addresses",
            "Pool addresses left without rules",
            skipped.clone(),
        );

        Self {
            registry,
            passes,
            failures,
            duration,
            changes,
            vnics_ready,
            vnics_not_ready,
            addresses,
            skipped,
        }
    }

    /// Records a pass that ran.
    pub fn record_pass(&self, report: &ReconcileReport, seconds: f64) {
        let outcome = if report.all_ready() {
            Outcome::Ready
        } else {
            Outcome::Degraded
        };
        self.passes.get_or_create(&OutcomeLabels { outcome }).inc();
        self.duration.observe(seconds);

        let c = &report.changes;
        for (change, count) in [
            ("rule_added", c.rules_added),
            ("rule_deleted", c.rules_deleted),
            ("route_added", c.routes_added),
            ("route_deleted", c.routes_deleted),
            ("link_updated", c.links_updated),
            ("link_created", c.links_created),
            ("link_deleted", c.links_deleted),
            ("sysctl_written", c.sysctls_written),
        ] {
            self.changes
                .get_or_create(&ChangeLabels { change })
                .inc_by(count as u64);
        }

        self.vnics_not_ready.clear();
        let mut ready = 0;
        for vnic in report.vnics.values() {
            match &vnic.readiness {
                Readiness::Ready => ready += 1,
                Readiness::NotReady { reason, .. } => {
                    self.vnics_not_ready
                        .get_or_create(&CategoryLabels {
                            category: reason.as_str(),
                        })
                        .inc();
                }
            }
        }
        self.vnics_ready.set(ready);
        self.addresses
            .set(report.vnics.values().map(|v| v.addresses as i64).sum());
        self.skipped.set(report.skipped.len() as i64);
    }

    /// Records a pass that could not run.
    pub fn record_failure(&self, category: &'static str, seconds: f64) {
        self.passes
            .get_or_create(&OutcomeLabels {
                outcome: Outcome::Failed,
            })
            .inc();
        self.failures
            .get_or_create(&CategoryLabels { category })
            .inc();
        self.duration.observe(seconds);
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VnicRole;
    use crate::reconcile::{NotReadyReason, VnicReport};

    #[test]
    fn a_pass_shows_up_in_the_text() {
        let metrics = Metrics::new();
        let mut report = ReconcileReport::default();
        report.changes.rules_added = 4;
        report.vnics.insert(
            "ocid1.vnic.oc1.phx.a".parse().unwrap(),
            VnicReport {
                role: VnicRole::Secondary,
                link: None,
                table: None,
                addresses: 0,
                readiness: Readiness::NotReady {
                    reason: NotReadyReason::AmbiguousLink,
                    message: String::new(),
                },
            },
        );

        metrics.record_pass(&report, 0.02);
        metrics.record_failure("ReadMetadata", 0.1);
        let text = metrics.encode().unwrap();

        assert!(
            text.contains("oci_ipam_node_reconciles_total{outcome=\"Degraded\"} 1"),
            "{text}"
        );
        assert!(text.contains("oci_ipam_node_reconciles_total{outcome=\"Failed\"} 1"));
        assert!(text.contains("oci_ipam_node_changes_total{change=\"rule_added\"} 4"));
        assert!(text.contains("oci_ipam_node_vnics_not_ready{category=\"AmbiguousLink\"} 1"));
        assert!(text.contains("oci_ipam_node_failures_total{category=\"ReadMetadata\"} 1"));
    }
}
