//! Turning plans and capacity reports into tables for people or JSON for programs.

use std::fmt::Write as _;

use ipam_core::{Action, NodeCapacity, Plan, Snapshot, node_capacity};
use serde::Serialize;

/// Pretty JSON with a trailing newline.
pub(crate) fn json<T: Serialize>(value: &T) -> String {
    // Serializing these plain data types cannot fail (no maps with non-string keys).
    let mut text = serde_json::to_string_pretty(value)
        .unwrap_or_else(|err| format!("{{\"error\": \"failed to serialize the output: {err}\"}}"));
    text.push('\n');
    text
}

/// The plan as a table: one row per node, totals, subnets, then every shortfall in words.
pub(crate) fn plan_table(plan: &Plan) -> String {
    let mut rows = vec![[
        "NODE".to_owned(),
        "POOL".to_owned(),
        "USED".to_owned(),
        "NEEDED".to_owned(),
        "EXCESS".to_owned(),
        "ACTIONS".to_owned(),
        "SHORTFALL".to_owned(),
    ]];
    for node in &plan.nodes {
        let actions: Vec<String> = node.actions.iter().map(describe_action).collect();
        rows.push([
            node.name.to_string(),
            node.available.to_string(),
            node.used.to_string(),
            node.needed.to_string(),
            node.excess.to_string(),
            if actions.is_empty() {
                "-".to_owned()
            } else {
                actions.join("; ")
            },
            node.shortfall
                .as_ref()
                .map_or_else(|| "-".to_owned(), |s| format!("{} ({})", s.ips, reason(s))),
        ]);
    }

    let mut out = table(&rows, &[false, true, true, true, true, false, false]);

    let t = &plan.totals;
    let _ = writeln!(
        out,
        "\nTotals: {}, assign {}, attach {}, release {}, {}, {} short",
        count(plan.nodes.len() as u64, "node", "nodes"),
        count(t.assign, "address", "addresses"),
        count(t.attach, "VNIC", "VNICs"),
        count(t.release, "address", "addresses"),
        count(t.api_calls, "OCI call", "OCI calls"),
        count(t.nodes_short, "node", "nodes"),
    );

    let mut subnets = vec![[
        "SUBNET".to_owned(),
        "FREE BEFORE".to_owned(),
        "FREE AFTER".to_owned(),
    ]];
    for subnet in &plan.subnets {
        subnets.push([
            subnet.id.to_string(),
            subnet.free_before.to_string(),
            subnet.free_after.to_string(),
        ]);
    }
    out.push('\n');
    out.push_str(&table(&subnets, &[false, true, true]));

    let short: Vec<_> = plan
        .nodes
        .iter()
        .filter_map(|n| n.shortfall.as_ref())
        .collect();
    if !short.is_empty() {
        out.push_str("\nShortfalls:\n");
        for shortfall in short {
            let _ = writeln!(out, "  - {}", shortfall.message);
        }
    }
    out
}

/// Per-node and per-subnet capacity, with the subnet that runs out first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CapacityReport {
    nodes: Vec<NodeRow>,
    subnets: Vec<SubnetRow>,
    /// Among the subnets the plan draws down (fewer free addresses after it than now, net of
    /// the addresses it releases), the one with the fewest free after it, ties by OCID;
    /// `None` when the plan draws down no subnet. A subnet the plan leaves as it is does not
    /// run out because of the plan, however few free addresses it has.
    runs_out_first: Option<SubnetRow>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeRow {
    shape: String,
    #[serde(flatten)]
    capacity: NodeCapacity,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SubnetRow {
    id: String,
    cidr: String,
    availability_domain: Option<String>,
    free_now: u64,
    free_after_plan: u64,
}

impl CapacityReport {
    pub(crate) fn new(snapshot: &Snapshot) -> Self {
        let plan = ipam_core::plan(snapshot);

        let mut nodes: Vec<NodeRow> = snapshot
            .nodes
            .iter()
            .map(|node| NodeRow {
                shape: node.shape.to_string(),
                capacity: node_capacity(&snapshot.policy, node),
            })
            .collect();
        nodes.sort_by(|a, b| a.capacity.name.cmp(&b.capacity.name));

        let mut subnets: Vec<SubnetRow> = snapshot
            .subnets
            .iter()
            .map(|subnet| {
                let after = plan.subnets.iter().find(|p| p.id == subnet.id);
                SubnetRow {
                    id: subnet.id.to_string(),
                    cidr: subnet.cidr.to_string(),
                    availability_domain: subnet.availability_domain.as_ref().map(|d| d.to_string()),
                    free_now: subnet.free(),
                    free_after_plan: after.map_or(subnet.free(), |p| p.free_after),
                }
            })
            .collect();
        subnets.sort_by(|a, b| a.id.cmp(&b.id));

        let runs_out_first = subnets
            .iter()
            .filter(|subnet| subnet.free_after_plan < subnet.free_now)
            .min_by(|a, b| {
                a.free_after_plan
                    .cmp(&b.free_after_plan)
                    .then_with(|| a.id.cmp(&b.id))
            })
            .cloned();

        Self {
            nodes,
            subnets,
            runs_out_first,
        }
    }
}

/// The capacity report as tables.
pub(crate) fn capacity_table(report: &CapacityReport) -> String {
    let mut rows = vec![[
        "NODE".to_owned(),
        "SHAPE".to_owned(),
        "VNICS USED/ALLOWED".to_owned(),
        "ADDRESSES POOL/MAX".to_owned(),
        "USED".to_owned(),
        "MAX PODS".to_owned(),
    ]];
    for row in &report.nodes {
        let c = &row.capacity;
        let allowed = c
            .vnics_allowed
            .map_or_else(|| "?".to_owned(), |n| n.to_string());
        rows.push([
            c.name.to_string(),
            row.shape.clone(),
            format!("{}/{allowed}", c.vnics_attached),
            format!("{}/{}", c.addresses, c.max_addresses),
            c.used.to_string(),
            c.max_pods.to_string(),
        ]);
    }
    let mut out = table(&rows, &[false, false, true, true, true, true]);

    let mut subnets = vec![[
        "SUBNET".to_owned(),
        "CIDR".to_owned(),
        "AVAILABILITY DOMAIN".to_owned(),
        "FREE NOW".to_owned(),
        "FREE AFTER PLAN".to_owned(),
    ]];
    for row in &report.subnets {
        subnets.push([
            row.id.clone(),
            row.cidr.clone(),
            row.availability_domain
                .clone()
                .unwrap_or_else(|| "(regional)".to_owned()),
            row.free_now.to_string(),
            row.free_after_plan.to_string(),
        ]);
    }
    out.push('\n');
    out.push_str(&table(&subnets, &[false, false, false, true, true]));

    match &report.runs_out_first {
        Some(first) => {
            let _ = writeln!(
                out,
                "\nRuns out first: {} ({}), {} free now, {} after the plan.",
                first.id, first.cidr, first.free_now, first.free_after_plan
            );
        }
        None => out.push_str("\nRuns out first: none; the plan draws down no subnet.\n"),
    }
    out
}

fn describe_action(action: &Action) -> String {
    match action {
        Action::AssignPrivateIps { vnic_id, count } => {
            format!("assign {count} on {}", short_ocid(vnic_id.as_str()))
        }
        Action::AttachVnic {
            subnet_id,
            index,
            then_assign,
        } => format!(
            "attach VNIC #{index} in {} +{then_assign}",
            short_ocid(subnet_id.as_str())
        ),
        Action::MarkForRelease { ips } => format!("mark {} for release", ips.len()),
        Action::ReleasePrivateIps { vnic_id, ips } => {
            format!("release {} on {}", ips.len(), short_ocid(vnic_id.as_str()))
        }
        other => format!("{other:?}"),
    }
}

fn reason(shortfall: &ipam_core::Shortfall) -> String {
    serde_json::to_value(shortfall.reason)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{:?}", shortfall.reason))
}

/// `n` and the noun in the singular for 1, else the plural: "1 node", "2 nodes".
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The tail of an OCID, enough to tell resources apart in a table (`…pods1`).
fn short_ocid(ocid: &str) -> String {
    let unique = ocid.rsplit('.').next().unwrap_or(ocid);
    let chars: Vec<char> = unique.chars().collect();
    if chars.len() <= 12 {
        unique.to_owned()
    } else {
        let tail: String = chars[chars.len() - 12..].iter().collect();
        format!("…{tail}")
    }
}

/// Left- or right-aligned columns separated by two spaces.
fn table<const N: usize>(rows: &[[String; N]], right: &[bool; N]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if right[i] {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if i + 1 < N {
                    line.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
