//! Prometheus metrics of the operator, named after Cilium's `ipam_*` operator metrics.
//!
//! One [`Metrics`] value owns the registry; the engine updates it, the HTTP server encodes it.
//! Labels are bounded: node names, subnet OCIDs, OCI operation names, outcome categories.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels naming one node.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabels {
    /// The node name.
    pub target_node: String,
}

/// Labels of an allocation or release operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    /// The subnet OCID.
    pub subnet_id: String,
    /// `success` or an error category.
    pub status: String,
}

/// Labels of an operation duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DurationLabels {
    /// `allocateIp`, `attachVnic` or `releaseIp`.
    pub r#type: String,
    /// `success` or an error category.
    pub status: String,
}

/// Labels of an OCI call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// The OCI operation, e.g. `CreatePrivateIp`.
    pub operation: String,
    /// The HTTP status, or `error` for transport failures.
    pub response_code: String,
}

/// Labels of a rate-limit wait.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The OCI operation.
    pub operation: String,
}

/// Labels of a node category count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CategoryLabels {
    /// `total`, `in-deficit` or `at-capacity`.
    pub category: String,
}

/// Labels of a blocked node.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BlockedLabels {
    /// The node name.
    pub target_node: String,
    /// Why it is short: `vnicLimit`, `subnetExhausted`, `maxAllocate`, `noSubnet`, ...
    pub reason: String,
}

/// Labels of a failed reconcile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The bounded error category.
    pub category: String,
}

/// Every metric the operator exports.
#[derive(Debug)]
#[non_exhaustive]
pub struct Metrics {
    registry: Registry,
    /// Addresses in each node's pool.
    pub available_ips: Family<NodeLabels, Gauge>,
    /// Addresses in use on each node.
    pub used_ips: Family<NodeLabels, Gauge>,
    /// Addresses each node still needs.
    pub needed_ips: Family<NodeLabels, Gauge>,
    /// Private IPs created, by subnet and outcome.
    pub allocation_ops: Family<OpLabels, Counter>,
    /// Private IPs deleted, by subnet and outcome.
    pub release_ops: Family<OpLabels, Counter>,
    /// VNIC attaches, by subnet and outcome.
    pub interface_creation_ops: Family<OpLabels, Counter>,
    /// Allocation durations.
    pub allocation_duration: Family<DurationLabels, Histogram>,
    /// Release durations.
    pub release_duration: Family<DurationLabels, Histogram>,
    /// OCI call durations.
    pub api_duration: Family<ApiLabels, Histogram>,
    /// Time spent waiting for the rate limiter.
    pub api_rate_limit_duration: Family<OperationLabels, Histogram>,
    /// Nodes by category.
    pub nodes: Family<CategoryLabels, Gauge>,
    /// Nodes blocked from getting what they need (1 while blocked).
    pub node_blocked: Family<BlockedLabels, Gauge>,
    /// Reconcile passes.
    pub reconciles: Counter,
    /// Failed node reconciles, by category.
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    /// 1 while this replica leads.
    pub is_leader: Gauge,
}

impl Metrics {
    /// Creates and registers every metric under the `oci_ipam_` prefix.
    #[must_use]
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("oci_ipam");
        let buckets = || Histogram::new([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]);
        let api_buckets = || {
            Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        };

        let metrics = Self {
            available_ips: Family::default(),
            used_ips: Family::default(),
            needed_ips: Family::default(),
            allocation_ops: Family::default(),
            release_ops: Family::default(),
            interface_creation_ops: Family::default(),
            allocation_duration: Family::new_with_constructor(buckets),
            release_duration: Family::new_with_constructor(buckets),
            api_duration: Family::new_with_constructor(api_buckets),
            api_rate_limit_duration: Family::new_with_constructor(api_buckets),
            nodes: Family::default(),
            node_blocked: Family::default(),
            reconciles: Counter::default(),
            reconcile_errors: Family::default(),
            is_leader: Gauge::default(),
            registry: Registry::default(),
        };

        registry.register(
            "available_ips",
            "Addresses in the node's pool",
            metrics.available_ips.clone(),
        );
        registry.register(
            "used_ips",
            "Addresses in use on the node",
            metrics.used_ips.clone(),
        );
        registry.register(
            "needed_ips",
            "Addresses the node still needs",
            metrics.needed_ips.clone(),
        );
        registry.register(
            "ip_allocation_ops",
            "Private IPs created",
            metrics.allocation_ops.clone(),
        );
        registry.register(
            "ip_release_ops",
            "Private IPs deleted",
            metrics.release_ops.clone(),
        );
        registry.register(
            "interface_creation_ops",
            "VNICs attached",
            metrics.interface_creation_ops.clone(),
        );
        registry.register(
            "allocation_duration_seconds",
            "Duration of address allocation",
            metrics.allocation_duration.clone(),
        );
        registry.register(
            "release_duration_seconds",
            "Duration of address release",
            metrics.release_duration.clone(),
        );
        registry.register(
            "oci_api_duration_seconds",
            "Duration of OCI API calls",
            metrics.api_duration.clone(),
        );
        registry.register(
            "oci_api_rate_limit_duration_seconds",
            "Time OCI calls waited for the client-side rate limiter",
            metrics.api_rate_limit_duration.clone(),
        );
        registry.register("nodes", "Nodes by category", metrics.nodes.clone());
        registry.register(
            "node_blocked",
            "1 while a node cannot get the addresses it needs, by reason",
            metrics.node_blocked.clone(),
        );
        registry.register(
            "reconciles",
            "Node reconciles run",
            metrics.reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Node reconciles that failed, by category",
            metrics.reconcile_errors.clone(),
        );
        registry.register(
            "is_leader",
            "1 while this replica leads",
            metrics.is_leader.clone(),
        );

        Arc::new(Self {
            registry,
            ..metrics
        })
    }

    /// Records one OCI call.
    pub fn observe_api_call(&self, operation: &str, response_code: &str, took: Duration) {
        self.api_duration
            .get_or_create(&ApiLabels {
                operation: operation.to_owned(),
                response_code: response_code.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Records a rate-limit wait.
    pub fn observe_rate_limit_wait(&self, operation: &str, waited: Duration) {
        self.api_rate_limit_duration
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .observe(waited.as_secs_f64());
    }

    /// Sets the per-node pool gauges.
    pub fn set_node_pool(&self, node: &str, available: usize, used: usize, needed: usize) {
        let labels = NodeLabels {
            target_node: node.to_owned(),
        };
        self.available_ips
            .get_or_create(&labels)
            .set(gauge_value(available));
        self.used_ips.get_or_create(&labels).set(gauge_value(used));
        self.needed_ips
            .get_or_create(&labels)
            .set(gauge_value(needed));
    }

    /// Marks a node as blocked for `reason`, or clears every reason when `None`.
    pub fn set_node_blocked(&self, node: &str, reason: Option<&str>) {
        for known in BLOCK_REASONS {
            let labels = BlockedLabels {
                target_node: node.to_owned(),
                reason: (*known).to_owned(),
            };
            let value = i64::from(reason == Some(*known));
            if value == 1 {
                self.node_blocked.get_or_create(&labels).set(1);
            } else {
                self.node_blocked.remove(&labels);
            }
        }
    }

    /// Forgets a deleted node's series.
    pub fn forget_node(&self, node: &str) {
        let labels = NodeLabels {
            target_node: node.to_owned(),
        };
        self.available_ips.remove(&labels);
        self.used_ips.remove(&labels);
        self.needed_ips.remove(&labels);
        self.set_node_blocked(node, None);
    }

    /// Encodes the registry in the OpenMetrics text format.
    ///
    /// # Errors
    ///
    /// Only if formatting into a `String` fails, which it does not in practice.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Reasons a node can be blocked, as in the plan's `shortfall.reason`, plus OCI errors.
pub const BLOCK_REASONS: &[&str] = &[
    "vnicLimit",
    "subnetExhausted",
    "maxAllocate",
    "noSubnet",
    "attachPending",
    "attachTimeout",
    "ociError",
    "instanceNotFound",
];

fn gauge_value(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_pool_and_blocked_series() {
        let metrics = Metrics::new();

        metrics.set_node_pool("node-a", 10, 3, 0);
        metrics.set_node_blocked("node-a", Some("subnetExhausted"));
        metrics.observe_api_call("CreatePrivateIp", "200", Duration::from_millis(20));
        let text = metrics.encode().expect("encodes");

        assert!(
            text.contains("oci_ipam_available_ips{target_node=\"node-a\"} 10"),
            "{text}"
        );
        assert!(text.contains(
            "oci_ipam_node_blocked{target_node=\"node-a\",reason=\"subnetExhausted\"} 1"
        ));
        assert!(
            text.contains("oci_ipam_oci_api_duration_seconds_count{operation=\"CreatePrivateIp\"")
        );
    }

    #[test]
    fn clearing_a_block_removes_the_series() {
        let metrics = Metrics::new();

        metrics.set_node_blocked("node-a", Some("vnicLimit"));
        metrics.set_node_blocked("node-a", None);
        let text = metrics.encode().expect("encodes");

        assert!(!text.contains("target_node=\"node-a\",reason="), "{text}");
    }
}
