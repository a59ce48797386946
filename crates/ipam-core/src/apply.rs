//! Carrying a plan's effects into a snapshot, as if the operator had executed every action
//! and OCI had answered at once: the next state to plan from.
//!
//! Real OCI chooses the addresses it hands out; here the lowest addresses of the subnet that
//! the snapshot does not hold are taken. Addresses held outside the snapshot (counted only in
//! `allocatedIps`) are not known, so an applied snapshot may name one of them: it is a model
//! for tests and what-if runs, not a prediction of concrete addresses.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use crate::plan::{Action, Plan};
use crate::snapshot::{ReleaseState, Snapshot, Vnic};
use crate::{Error, Ipv4Cidr, SubnetId, VnicId};

/// The snapshot after every action of `plan` took effect.
///
/// Assignments add addresses to their VNIC; attaches add a VNIC (OCID
/// `ocid1.vnic.oc1..planned-<node>-<index>`) with a primary and `thenAssign` secondary
/// addresses; marks enter `marked-for-release`; releases remove the addresses and enter
/// `released`. Subnets' `allocatedIps` follow. VNICs counted in `attachingVnics` stay as
/// they are: the plan says nothing about them.
///
/// # Errors
///
/// [`Error::ApplyPlan`] when the plan names a node, VNIC or subnet the snapshot lacks, or a
/// subnet has no address left to hand out.
pub fn apply(snapshot: &Snapshot, plan: &Plan) -> Result<Snapshot, Error> {
    let mut next = snapshot.clone();

    let mut taken: HashSet<Ipv4Addr> = HashSet::new();
    for node in &next.nodes {
        for vnic in &node.vnics {
            taken.insert(vnic.primary_ip);
            taken.extend(vnic.secondary_ips.iter().copied());
        }
    }
    let mut picker = Picker {
        taken,
        cursors: HashMap::new(),
    };

    let nodes: HashMap<String, usize> = next
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.name.to_string(), i))
        .collect();
    let subnets: HashMap<SubnetId, usize> = next
        .subnets
        .iter()
        .enumerate()
        .map(|(i, subnet)| (subnet.id.clone(), i))
        .collect();

    for node_plan in &plan.nodes {
        let name = node_plan.name.to_string();
        let fail = |problem: String| Error::ApplyPlan {
            node: name.clone(),
            problem,
        };
        let node_index = *nodes
            .get(&name)
            .ok_or_else(|| fail("the node is not in the snapshot".to_owned()))?;

        for action in &node_plan.actions {
            let node = &mut next.nodes[node_index];
            match action {
                Action::AssignPrivateIps { vnic_id, count } => {
                    let vnic = find_vnic(&mut node.vnics, vnic_id).ok_or_else(|| {
                        fail(format!("VNIC {vnic_id} is not attached to the node"))
                    })?;
                    let subnet = *subnets.get(&vnic.subnet_id).ok_or_else(|| {
                        fail(format!("subnet {} is not in the snapshot", vnic.subnet_id))
                    })?;
                    let cidr = next.subnets[subnet].cidr;
                    for _ in 0..*count {
                        let ip = picker.pick(cidr).ok_or_else(|| fail(full(cidr)))?;
                        vnic.secondary_ips.push(ip);
                    }
                    next.subnets[subnet].allocated_ips += count;
                }

                Action::AttachVnic {
                    subnet_id,
                    index,
                    then_assign,
                } => {
                    let subnet = *subnets.get(subnet_id).ok_or_else(|| {
                        fail(format!("subnet {subnet_id} is not in the snapshot"))
                    })?;
                    let cidr = next.subnets[subnet].cidr;
                    let id: VnicId = format!("ocid1.vnic.oc1..planned-{}-{index}", node.name)
                        .parse()
                        .map_err(|_| fail("cannot name the new VNIC".to_owned()))?;
                    let primary_ip = picker.pick(cidr).ok_or_else(|| fail(full(cidr)))?;
                    let mut secondary_ips = Vec::with_capacity(*then_assign as usize);
                    for _ in 0..*then_assign {
                        secondary_ips.push(picker.pick(cidr).ok_or_else(|| fail(full(cidr)))?);
                    }
                    node.vnics.push(Vnic {
                        id,
                        index: *index,
                        subnet_id: subnet_id.clone(),
                        primary_ip,
                        secondary_ips,
                    });
                    next.subnets[subnet].allocated_ips += 1 + then_assign;
                }

                Action::MarkForRelease { ips } => {
                    for ip in ips {
                        node.release_ips.insert(*ip, ReleaseState::MarkedForRelease);
                    }
                }

                Action::ReleasePrivateIps { vnic_id, ips } => {
                    let vnic = find_vnic(&mut node.vnics, vnic_id).ok_or_else(|| {
                        fail(format!("VNIC {vnic_id} is not attached to the node"))
                    })?;
                    let before = vnic.secondary_ips.len();
                    vnic.secondary_ips.retain(|ip| !ips.contains(ip));
                    let removed = u32::try_from(before - vnic.secondary_ips.len()).unwrap_or(0);
                    let subnet_id = vnic.subnet_id.clone();
                    for ip in ips {
                        node.release_ips.insert(*ip, ReleaseState::Released);
                    }
                    if let Some(&subnet) = subnets.get(&subnet_id) {
                        let entry = &mut next.subnets[subnet];
                        entry.allocated_ips = entry.allocated_ips.saturating_sub(removed);
                    }
                }
            }
        }
    }

    Ok(next)
}

fn find_vnic<'a>(vnics: &'a mut [Vnic], id: &VnicId) -> Option<&'a mut Vnic> {
    vnics.iter_mut().find(|vnic| vnic.id == *id)
}

fn full(cidr: Ipv4Cidr) -> String {
    format!("subnet {cidr} has no address left that the snapshot does not already hold")
}

/// Hands out the lowest unreserved addresses of a block that nothing in the snapshot holds.
struct Picker {
    taken: HashSet<Ipv4Addr>,
    cursors: HashMap<Ipv4Cidr, u64>,
}

impl Picker {
    fn pick(&mut self, cidr: Ipv4Cidr) -> Option<Ipv4Addr> {
        let cursor = self.cursors.entry(cidr).or_insert(2);
        while *cursor + 1 < cidr.size() {
            let ip = cidr.nth(*cursor)?;
            *cursor += 1;
            if self.taken.insert(ip) {
                return Some(ip);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;

    fn snapshot() -> Snapshot {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "oci-ipam/v1", "kind": "ClusterSnapshot",
            "policy": { "releaseExcess": true, "preAllocate": 2 },
            "subnets": [{"id": "ocid1.subnet.oc1.phx.a", "cidr": "10.0.0.0/28",
                         "allocatedIps": 4}],
            "nodes": [{
                "name": "n1", "instanceId": "ocid1.instance.oc1.phx.a",
                "shape": "VM.Standard2.2", "availabilityDomain": "AD-1",
                "vnics": [{"id": "ocid1.vnic.oc1.phx.a", "index": 0,
                           "subnetId": "ocid1.subnet.oc1.phx.a", "primaryIp": "10.0.0.2",
                           "secondaryIps": ["10.0.0.3", "10.0.0.5", "10.0.0.6"]}],
                "used": ["10.0.0.3"],
                "releaseIps": { "10.0.0.6": "ready-for-release" }
            }]
        }))
        .unwrap()
    }

    #[test]
    fn assignments_take_the_lowest_free_addresses_and_count_them() {
        let mut before = snapshot();
        before.nodes[0].release_ips.clear();
        before.policy.pre_allocate = 3;

        let plan = plan(&before);
        let after = apply(&before, &plan).unwrap();

        let vnic = &after.nodes[0].vnics[0];
        assert_eq!(
            vnic.secondary_ips[3..],
            ["10.0.0.4".parse::<Ipv4Addr>().unwrap()]
        );
        assert_eq!(after.subnets[0].allocated_ips, 5);
        assert!(
            crate::validate(&after).is_empty(),
            "{:?}",
            crate::validate(&after)
        );
    }

    #[test]
    fn releases_remove_addresses_and_finish_the_handshake() {
        let before = snapshot();
        let plan = plan(&before);
        let after = apply(&before, &plan).unwrap();

        let node = &after.nodes[0];
        let released: Ipv4Addr = "10.0.0.6".parse().unwrap();
        assert!(!node.vnics[0].secondary_ips.contains(&released));
        assert_eq!(
            node.release_ips.get(&released),
            Some(&ReleaseState::Released)
        );
        assert_eq!(after.subnets[0].allocated_ips, 3);
    }

    #[test]
    fn a_plan_for_another_cluster_is_refused() {
        let before = snapshot();
        let mut plan = plan(&before);
        plan.nodes[0].name = "elsewhere".parse().unwrap();
        let err = apply(&before, &plan).unwrap_err();
        assert!(
            matches!(&err, Error::ApplyPlan { node, .. } if node == "elsewhere"),
            "{err}"
        );
    }
}
