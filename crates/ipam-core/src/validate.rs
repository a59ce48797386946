//! Consistency checks beyond what parsing enforces: references resolve, addresses sit inside
//! their subnets, nothing is listed twice, limits are not already exceeded.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::snapshot::{ReleaseState, Snapshot, Subnet};

/// One inconsistency in a snapshot: where it is (a path like `nodes[2].vnics[1].primaryIp`)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Problem {
    /// The field, as a path from the document root.
    pub path: String,
    /// What is wrong and what to fix.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every consistency problem in `snapshot`, in document order; empty when it is sound.
///
/// Checks: subnet OCIDs, node names, instance and VNIC OCIDs are unique; policy subnets
/// exist; each node has exactly one primary VNIC (index 0) and unique VNIC indexes; each
/// VNIC's subnet exists and is in the node's availability domain or regional; every address
/// lies inside its subnet's CIDR, is not one OCI reserves, and appears once in the snapshot;
/// no VNIC holds more than `ipsPerVnic` secondary addresses; used and handshake addresses
/// are in the node's pool; the node's VNIC limit is known and not exceeded; each subnet's
/// `allocatedIps` covers the addresses the snapshot places in it and fits its CIDR.
pub fn validate(snapshot: &Snapshot) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut report = |path: String, message: String| problems.push(Problem { path, message });
    let policy = &snapshot.policy;

    let mut subnets: HashMap<&str, &Subnet> = HashMap::new();
    for (i, subnet) in snapshot.subnets.iter().enumerate() {
        if subnets.insert(subnet.id.as_str(), subnet).is_some() {
            report(
                format!("subnets[{i}].id"),
                format!("subnet {} is listed twice", subnet.id),
            );
        }
        if u64::from(subnet.allocated_ips) > subnet.cidr.usable() {
            report(
                format!("subnets[{i}].allocatedIps"),
                format!(
                    "{} allocated but {} holds only {} usable ones",
                    crate::plan::count(subnet.allocated_ips, "address", "addresses"),
                    subnet.cidr,
                    subnet.cidr.usable()
                ),
            );
        }
    }

    for (i, id) in policy.subnet_ids.iter().enumerate() {
        if !subnets.contains_key(id.as_str()) {
            report(
                format!("policy.subnetIds[{i}]"),
                format!("subnet {id} is not in the snapshot's subnets; add it or drop it"),
            );
        }
    }

    let mut node_names = HashSet::new();
    let mut instances = HashSet::new();
    let mut vnic_ids = HashSet::new();
    let mut addresses: HashMap<Ipv4Addr, String> = HashMap::new();
    let mut per_subnet: HashMap<&str, u64> = HashMap::new();

    for (n, node) in snapshot.nodes.iter().enumerate() {
        let at = |field: &str| format!("nodes[{n}].{field}");

        if !node_names.insert(&node.name) {
            report(at("name"), format!("node {} is listed twice", node.name));
        }
        if !instances.insert(&node.instance_id) {
            report(
                at("instanceId"),
                format!("instance {} belongs to two nodes", node.instance_id),
            );
        }

        match vnic_limits::vnic_limit(&node.shape, node.ocpus, node.max_vnic_attachments) {
            Ok(limit) => {
                let attached = node.vnics.len() as u64 + u64::from(node.attaching_vnics);
                if attached > u64::from(limit.max_vnics) {
                    report(
                        at("vnics"),
                        format!(
                            "{attached} VNICs attached or attaching but the instance allows {}",
                            limit.max_vnics
                        ),
                    );
                }
            }
            Err(err) => report(at("shape"), err.to_string()),
        }

        let primaries = node.vnics.iter().filter(|vnic| vnic.index == 0).count();
        if primaries != 1 {
            report(
                at("vnics"),
                format!(
                    "node {} has {primaries} primary VNICs (index 0); it needs one",
                    node.name
                ),
            );
        }

        let mut indexes = HashSet::new();
        let mut pool = HashSet::new();
        for (v, vnic) in node.vnics.iter().enumerate() {
            let at_vnic = |field: &str| format!("nodes[{n}].vnics[{v}].{field}");

            if !vnic_ids.insert(&vnic.id) {
                report(at_vnic("id"), format!("VNIC {} is listed twice", vnic.id));
            }
            if !indexes.insert(vnic.index) {
                report(
                    at_vnic("index"),
                    format!("index {} is used by two VNICs", vnic.index),
                );
            }
            if vnic.secondary_ips.len() as u64 > u64::from(policy.ips_per_vnic.get()) {
                report(
                    at_vnic("secondaryIps"),
                    format!(
                        "VNIC {} holds {} secondary addresses, more than ipsPerVnic {}; raise \
                         ipsPerVnic if the tenancy allows it",
                        vnic.id,
                        vnic.secondary_ips.len(),
                        policy.ips_per_vnic
                    ),
                );
            }

            if vnic.index >= policy.first_vnic_index {
                pool.extend(vnic.secondary_ips.iter().copied());
            }

            let Some(subnet) = subnets.get(vnic.subnet_id.as_str()) else {
                report(
                    at_vnic("subnetId"),
                    format!("subnet {} is not in the snapshot's subnets", vnic.subnet_id),
                );
                continue;
            };
            if subnet
                .availability_domain
                .as_ref()
                .is_some_and(|ad| *ad != node.availability_domain)
            {
                report(
                    at_vnic("subnetId"),
                    format!(
                        "subnet {} is in another availability domain than node {} ({})",
                        subnet.id, node.name, node.availability_domain
                    ),
                );
            }

            let ips = std::iter::once(("primaryIp".to_owned(), vnic.primary_ip)).chain(
                vnic.secondary_ips
                    .iter()
                    .enumerate()
                    .map(|(s, ip)| (format!("secondaryIps[{s}]"), *ip)),
            );
            for (field, ip) in ips {
                *per_subnet.entry(subnet.id.as_str()).or_default() += 1;
                if !subnet.cidr.contains(ip) {
                    report(
                        at_vnic(&field),
                        format!("{ip} is outside subnet {} ({})", subnet.id, subnet.cidr),
                    );
                } else if subnet.cidr.is_reserved(ip) {
                    report(
                        at_vnic(&field),
                        format!(
                            "{ip} is one of the 3 addresses OCI reserves in {}",
                            subnet.cidr
                        ),
                    );
                }
                let here = at_vnic(&field);
                if let Some(first) = addresses.get(&ip) {
                    report(here, format!("{ip} is also at {first}"));
                } else {
                    addresses.insert(ip, here);
                }
            }
        }

        for (u, ip) in node.used.iter().enumerate() {
            if !pool.contains(ip) {
                report(
                    format!("nodes[{n}].used[{u}]"),
                    format!(
                        "{ip} is in use but not a secondary address of a pool VNIC of {}",
                        node.name
                    ),
                );
            }
        }
        for (ip, state) in &node.release_ips {
            if *state != ReleaseState::Released && !pool.contains(ip) {
                report(
                    format!("nodes[{n}].releaseIps.{ip}"),
                    format!(
                        "{ip} is in the release handshake but not in the pool of {}",
                        node.name
                    ),
                );
            }
        }
    }

    for (i, subnet) in snapshot.subnets.iter().enumerate() {
        let placed = per_subnet.get(subnet.id.as_str()).copied().unwrap_or(0);
        if placed > u64::from(subnet.allocated_ips) {
            report(
                format!("subnets[{i}].allocatedIps"),
                format!(
                    "{} but the snapshot places {} in subnet {}; it counts every address taken",
                    subnet.allocated_ips,
                    crate::plan::count(placed, "address", "addresses"),
                    subnet.id
                ),
            );
        }
    }

    problems
}
