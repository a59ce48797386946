//! The plan model and the planner.
//!
//! [`plan`] is the entry point: it computes each node's need and excess with Cilium's formulas,
//! then serves nodes largest deficit first (ties by name), filling existing VNICs before
//! attaching one new VNIC per node, while one ledger of subnet free counts makes sure no free
//! address is promised twice.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vnic_limits::SecondaryVnics;

use crate::snapshot::{ApiVersion, Node, Policy, ReleaseExcess, ReleaseState, Snapshot, Vnic};
use crate::{NodeName, SubnetId, VnicId, capacity};

/// The `kind` of a plan document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum PlanKind {
    /// `Plan`.
    #[default]
    Plan,
}

/// What to do to every node, and what it costs the subnets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// Always `oci-ipam/v1`.
    pub api_version: ApiVersion,
    /// Always `Plan`.
    pub kind: PlanKind,
    /// One entry per node, sorted by name.
    pub nodes: Vec<NodePlan>,
    /// One entry per subnet, sorted by OCID.
    pub subnets: Vec<SubnetPlan>,
    /// Sums over the whole plan.
    pub totals: Totals,
}

/// One node's numbers, actions and shortfall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePlan {
    /// The node.
    pub name: NodeName,
    /// Addresses in the pool before the plan (A).
    pub available: u32,
    /// Addresses in use (U).
    pub used: u32,
    /// Cilium's needed count (after the max-allocate clamp).
    pub needed: u32,
    /// Cilium's excess count (0 unless `releaseExcess`).
    pub excess: u32,
    /// What to do, in order.
    pub actions: Vec<Action>,
    /// What the node still lacks after the plan, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<Shortfall>,
}

/// One step for the operator to carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
#[non_exhaustive]
pub enum Action {
    /// Create `count` secondary private IPs on an attached VNIC (one CreatePrivateIp each).
    AssignPrivateIps {
        /// The VNIC.
        vnic_id: VnicId,
        /// How many addresses.
        count: u32,
    },
    /// Attach a new VNIC in `subnet_id` at `index`, then give it `then_assign` addresses.
    AttachVnic {
        /// The subnet for the VNIC.
        subnet_id: SubnetId,
        /// The slot it takes (the lowest free index at or above `firstVnicIndex`, never 0).
        index: u32,
        /// Secondary addresses to create once it is attached.
        then_assign: u32,
    },
    /// Start Cilium's release handshake for these unused addresses.
    MarkForRelease {
        /// The addresses, ascending.
        ips: Vec<Ipv4Addr>,
    },
    /// Delete these addresses in OCI; the agent has agreed to give them up.
    ReleasePrivateIps {
        /// The VNIC holding them.
        vnic_id: VnicId,
        /// The addresses, ascending.
        ips: Vec<Ipv4Addr>,
    },
}

/// Addresses a node needs but will not get from this plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Shortfall {
    /// How many addresses are missing.
    pub ips: u32,
    /// The limit that stopped the planner.
    pub reason: ShortfallReason,
    /// A sentence a person can act on.
    pub message: String,
}

/// Why a node falls short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ShortfallReason {
    /// No more VNICs may be attached (the shape's limit, the policy, or an unknown limit)
    /// and the attached ones are full at `ipsPerVnic`.
    VnicLimit,
    /// The subnet to take addresses from has none left; also when attached VNICs still have
    /// room that their full subnet cannot fill and no more VNICs may be attached.
    SubnetExhausted,
    /// The node reached its max-allocate.
    MaxAllocate,
    /// No subnet qualifies for a new VNIC.
    NoSubnet,
    /// More VNICs are needed, but only one attach per instance may be in flight.
    AttachPending,
}

/// A subnet's free addresses before and after the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubnetPlan {
    /// The subnet.
    pub id: SubnetId,
    /// Free addresses before the plan.
    pub free_before: u64,
    /// Free addresses once the plan is carried out (released addresses counted back).
    pub free_after: u64,
}

/// Sums over a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Totals {
    /// Addresses to create (assignments plus addresses for new VNICs).
    pub assign: u64,
    /// VNICs to attach.
    pub attach: u64,
    /// Addresses to delete.
    pub release: u64,
    /// Mutating OCI calls: one CreatePrivateIp per address, one AttachVnic per VNIC, one
    /// DeletePrivateIp per address (the handshake's CiliumNode writes are not OCI calls).
    pub api_calls: u64,
    /// Nodes with a shortfall.
    pub nodes_short: u64,
}

/// Plans the whole snapshot: pure, deterministic, no I/O and no clock.
///
/// Nodes are served largest `needed` first, ties by name, against one shared ledger of
/// subnet free counts. The result lists nodes by name and subnets by OCID, so the same
/// snapshot (in any node or subnet order) always gives the same plan.
///
/// Planning never fails: a node whose limits cannot be worked out (an unknown shape without
/// `maxVnicAttachments`) keeps the VNICs it has and reports a `vnicLimit` shortfall naming
/// the shape; [`validate`](crate::validate) reports such snapshots as problems.
pub fn plan(snapshot: &Snapshot) -> Plan {
    let policy = &snapshot.policy;
    let mut ledger = Ledger::new(snapshot);

    let demands: Vec<Demand> = snapshot
        .nodes
        .iter()
        .map(|node| Demand::of(policy, node))
        .collect();

    // By name first; the stable sort by need then keeps names in order among equal needs.
    // Sorting on a name prefix held inline avoids chasing every name's heap allocation.
    let mut keyed: Vec<(u128, usize)> = snapshot
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| (name_prefix(node.name.as_str()), index))
        .collect();
    keyed.sort_unstable_by(|&(key_a, a), &(key_b, b)| {
        key_a.cmp(&key_b).then_with(|| {
            let (x, y) = (&snapshot.nodes[a], &snapshot.nodes[b]);
            // Duplicate names (an invalid snapshot) fall back to the instance, then position.
            x.name
                .cmp(&y.name)
                .then_with(|| x.instance_id.cmp(&y.instance_id))
                .then(a.cmp(&b))
        })
    });
    let by_name: Vec<usize> = keyed.into_iter().map(|(_, index)| index).collect();
    let mut order: Vec<usize> = (0..by_name.len()).collect();
    order.sort_by_key(|&rank| std::cmp::Reverse(demands[by_name[rank]].needed));

    let mut scratch = Scratch::default();
    let mut planned: Vec<Option<NodePlan>> = vec![None; by_name.len()];
    for rank in order {
        let index = by_name[rank];
        let node = &snapshot.nodes[index];
        planned[rank] = Some(plan_node(
            policy,
            node,
            &demands[index],
            &mut ledger,
            &mut scratch,
        ));
    }
    let nodes: Vec<NodePlan> = planned.into_iter().flatten().collect();

    let totals = Totals::of(&nodes);
    let subnets = ledger.into_subnet_plans();
    tracing::debug!(
        nodes = nodes.len(),
        assign = totals.assign,
        attach = totals.attach,
        release = totals.release,
        nodes_short = totals.nodes_short,
        "Planned snapshot"
    );

    Plan {
        api_version: ApiVersion::V1,
        kind: PlanKind::Plan,
        nodes,
        subnets,
        totals,
    }
}

/// Cilium's `calculateNeededIPs`: P − (A − U), raised to m − A when min-allocate is set,
/// clamped so that A + needed ≤ M when max-allocate is set, never below 0.
///
/// Returns `(needed, unclamped)`: the second value skips the max-allocate clamp, which the
/// planner uses to report a `maxAllocate` shortfall.
pub fn needed_ips(available: u32, used: u32, pre: u32, min: u32, max: u32) -> (u32, u32) {
    let (a, u) = (i64::from(available), i64::from(used));

    let mut needed = i64::from(pre) - (a - u);
    if min > 0 {
        needed = needed.max(i64::from(min) - a);
    }
    let unclamped = needed.max(0);

    if max > 0 && a + needed > i64::from(max) {
        needed = i64::from(max) - a;
    }

    (clamp_u32(needed), clamp_u32(unclamped))
}

/// Cilium's `calculateExcessIPs` (`pkg/ipam/node.go`): nothing while both usage and the pool
/// stay within min-allocate + max-above-watermark, else A − U − P − W, never below 0.
///
/// Some descriptions of Cilium add a branch (A − m − W when U + P ≤ m + W); Cilium's source
/// has none, and this follows the source.
pub fn excess_ips(available: u32, used: u32, pre: u32, min: u32, watermark: u32) -> u32 {
    let (a, u, p, m, w) = (
        i64::from(available),
        i64::from(used),
        i64::from(pre),
        i64::from(min),
        i64::from(watermark),
    );

    if u <= m + w && a <= m + w {
        return 0;
    }

    clamp_u32(a - u - p - w)
}

// === impl Totals ===

impl Totals {
    fn of(nodes: &[NodePlan]) -> Self {
        let mut totals = Self::default();

        for node in nodes {
            for action in &node.actions {
                match action {
                    Action::AssignPrivateIps { count, .. } => totals.assign += u64::from(*count),
                    Action::AttachVnic { then_assign, .. } => {
                        totals.attach += 1;
                        totals.assign += u64::from(*then_assign);
                    }
                    Action::ReleasePrivateIps { ips, .. } => totals.release += ips.len() as u64,
                    Action::MarkForRelease { .. } => {}
                }
            }
            totals.nodes_short += u64::from(node.shortfall.is_some());
        }

        totals.api_calls = totals.assign + totals.attach + totals.release;
        totals
    }
}

/// One node's numbers before any subnet is consulted.
struct Demand {
    available: u32,
    used: u32,
    needed: u32,
    needed_unclamped: u32,
    excess: u32,
}

impl Demand {
    fn of(policy: &Policy, node: &Node) -> Self {
        let alloc = node.allocation(policy);
        let available = node.pool_size(policy);
        let used = node.used_count();

        let (needed, needed_unclamped) = needed_ips(
            available,
            used,
            alloc.pre_allocate,
            alloc.min_allocate,
            alloc.max_allocate,
        );

        let excess = match policy.release_excess {
            ReleaseExcess::Release => excess_ips(
                available,
                used,
                alloc.pre_allocate,
                alloc.min_allocate,
                alloc.max_above_watermark,
            ),
            ReleaseExcess::Keep => 0,
        };

        Self {
            available,
            used,
            needed,
            needed_unclamped,
            excess,
        }
    }
}

/// Free addresses per subnet as the plan hands them out.
struct Ledger<'s> {
    entries: Vec<LedgerEntry<'s>>,
    by_id: HashMap<&'s str, usize, TailHash>,
}

/// Hashes only the last 16 bytes of a key: OCIDs share long prefixes and differ at the end,
/// and the planner looks a subnet up for every VNIC. Equality still compares whole keys, and
/// the keys come from the snapshot, so there is no untrusted input to collide on.
#[derive(Clone, Copy, Default)]
struct TailHash;

#[derive(Default)]
struct TailHasher(u64);

impl std::hash::BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(0)
    }
}

impl std::hash::Hasher for TailHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let tail = &bytes[bytes.len().saturating_sub(16)..];
        for chunk in tail.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
        }
        self.0 ^= bytes.len() as u64;
    }
}

struct LedgerEntry<'s> {
    subnet: &'s crate::Subnet,
    free_before: u64,
    free: u64,
    released: u64,
}

impl<'s> Ledger<'s> {
    fn new(snapshot: &'s Snapshot) -> Self {
        let entries: Vec<LedgerEntry<'s>> = snapshot
            .subnets
            .iter()
            .map(|subnet| {
                let free = subnet.free();
                LedgerEntry {
                    subnet,
                    free_before: free,
                    free,
                    released: 0,
                }
            })
            .collect();

        // With duplicate OCIDs (an invalid snapshot) the first entry wins.
        let mut by_id = HashMap::with_capacity_and_hasher(entries.len(), TailHash);
        for (index, entry) in entries.iter().enumerate() {
            by_id.entry(entry.subnet.id.as_str()).or_insert(index);
        }

        Self { entries, by_id }
    }

    fn index(&self, id: &SubnetId) -> Option<usize> {
        self.by_id.get(id.as_str()).copied()
    }

    fn free(&self, index: usize) -> u64 {
        self.entries.get(index).map_or(0, |entry| entry.free)
    }

    fn take(&mut self, index: usize, count: u64) {
        if let Some(entry) = self.entries.get_mut(index) {
            entry.free = entry.free.saturating_sub(count);
        }
    }

    fn give_back(&mut self, index: usize, count: u64) {
        if let Some(entry) = self.entries.get_mut(index) {
            entry.released += count;
        }
    }

    fn into_subnet_plans(self) -> Vec<SubnetPlan> {
        let mut plans: Vec<SubnetPlan> = self
            .entries
            .into_iter()
            .map(|entry| SubnetPlan {
                id: entry.subnet.id.clone(),
                free_before: entry.free_before,
                free_after: entry.free + entry.released,
            })
            .collect();
        plans.sort_by(|a, b| a.id.cmp(&b.id));
        plans
    }
}

/// Why a node cannot get everything it wants: the limit that binds and a sentence on it.
struct Blocked(ShortfallReason, String);

fn plan_node(
    policy: &Policy,
    node: &Node,
    demand: &Demand,
    ledger: &mut Ledger<'_>,
    scratch: &mut Scratch,
) -> NodePlan {
    let mut actions = Vec::new();

    if policy.release_excess == ReleaseExcess::Release {
        plan_release(policy, node, demand, ledger, scratch, &mut actions);
    }

    let shortfall = if demand.needed > 0 || demand.needed_unclamped > 0 {
        plan_allocation(policy, node, demand, ledger, &mut actions)
    } else {
        None
    };

    NodePlan {
        name: node.name.clone(),
        available: demand.available,
        used: demand.used,
        needed: demand.needed,
        excess: demand.excess,
        actions,
        shortfall,
    }
}

/// Allocation for one node: fill pool VNICs in index order, then attach at most one VNIC.
fn plan_allocation(
    policy: &Policy,
    node: &Node,
    demand: &Demand,
    ledger: &mut Ledger<'_>,
    actions: &mut Vec<Action>,
) -> Option<Shortfall> {
    let alloc = node.allocation(policy);
    let ips_per_vnic = policy.ips_per_vnic.get();
    let pending = node.pending_pods;

    // What the node wants without limits (need plus surge), and what the rules let it ask for.
    let floor = if demand.needed_unclamped > 0 {
        demand.needed_unclamped + pending.saturating_sub(demand.needed_unclamped)
    } else {
        0
    };
    let target = if demand.needed > 0 {
        let wanted = demand
            .needed
            .saturating_add(alloc.max_above_watermark)
            .saturating_add(pending.saturating_sub(demand.needed));
        if alloc.max_allocate > 0 {
            wanted.min(alloc.max_allocate.saturating_sub(demand.available))
        } else {
            wanted
        }
    } else {
        0
    };

    let mut remaining = target;
    let mut exhausted_subnet: Option<usize> = None;
    // Room on pool VNICs that their subnets cannot fill: while there is any, the VNICs are
    // not the limit, the subnet is.
    let mut stranded_room: u32 = 0;
    let mut stranded_vnics: u32 = 0;

    // VNICs are filled in index order; snapshots usually list them that way already.
    let mut pool: Vec<&Vnic> = node.pool_vnics(policy).collect();
    if !pool.is_sorted_by_key(|vnic| vnic.index) {
        pool.sort_by_key(|vnic| vnic.index);
    }
    for vnic in pool {
        if remaining == 0 {
            break;
        }

        let room = ips_per_vnic
            .saturating_sub(u32::try_from(vnic.secondary_ips.len()).unwrap_or(u32::MAX));
        if room == 0 {
            continue;
        }

        let subnet = ledger.index(&vnic.subnet_id);
        let free = subnet.map_or(0, |index| ledger.free(index));
        let take = remaining.min(room).min(clamp_u32_from_u64(free));
        if take < remaining.min(room) {
            exhausted_subnet = exhausted_subnet.or(subnet);
            stranded_room = stranded_room.saturating_add(room - take);
            stranded_vnics += 1;
        }
        if take == 0 {
            continue;
        }

        if let Some(index) = subnet {
            ledger.take(index, u64::from(take));
        }
        actions.push(Action::AssignPrivateIps {
            vnic_id: vnic.id.clone(),
            count: take,
        });
        remaining -= take;
    }

    let mut blocked = None;
    let mut attached = attached_vnics(node);
    if remaining > 0 {
        match plan_attach(policy, node, remaining, ledger) {
            Ok((action, assigned, after)) => {
                actions.push(action);
                attached = attached.saturating_add(1);
                remaining -= assigned;
                blocked = after;
            }
            Err(reason) => blocked = Some(reason),
        }
    }

    // When no more VNICs may be attached but some attached VNIC still has room its subnet
    // cannot fill, the VNICs are not full: the subnet is what binds, so it is the reason.
    if stranded_room > 0
        && matches!(blocked, Some(Blocked(ShortfallReason::VnicLimit, _)))
        && let Err(refusal) = attach_refusal(policy, node, attached)
    {
        let room = (stranded_vnics, stranded_room);
        blocked = Some(refusal.with_full_subnet(ledger, exhausted_subnet, room));
    }

    let planned = target - remaining;
    let capacity_short = floor.min(target).saturating_sub(planned);
    let short = floor.saturating_sub(planned);
    if short == 0 {
        return None;
    }

    if capacity_short > 0 {
        let Blocked(reason, why) = blocked.unwrap_or_else(|| {
            subnet_exhausted(
                ledger,
                exhausted_subnet,
                "its VNICs' subnets are out of addresses",
            )
        });
        return Some(Shortfall {
            ips: short,
            reason,
            message: format!(
                "{} needs {short} more {}: {why}.",
                node.name,
                noun(short, "address", "addresses")
            ),
        });
    }

    Some(Shortfall {
        ips: short,
        reason: ShortfallReason::MaxAllocate,
        message: format!(
            "{} needs {short} more {} but its pool is capped at maxAllocate {} ({} now); \
             raise maxAllocate for the node or the policy.",
            node.name,
            noun(short, "address", "addresses"),
            alloc.max_allocate,
            demand.available
        ),
    })
}

/// Tries to attach one VNIC for `remaining` addresses.
///
/// On success returns the action, the addresses it brings, and why it falls short if it
/// does not cover `remaining`.
fn plan_attach(
    policy: &Policy,
    node: &Node,
    remaining: u32,
    ledger: &mut Ledger<'_>,
) -> Result<(Action, u32, Option<Blocked>), Blocked> {
    let ips_per_vnic = policy.ips_per_vnic.get();
    let attached = attached_vnics(node);

    let max_vnics = match attach_refusal(policy, node, attached) {
        Ok(max_vnics) => max_vnics,
        Err(refusal) => return Err(refusal.with_full_vnics(ips_per_vnic)),
    };

    if node.attaching_vnics > 0 {
        return Err(Blocked(
            ShortfallReason::AttachPending,
            "a VNIC attach is already in flight and OCI takes one at a time per instance; the \
             next plan continues once it is attached"
                .to_owned(),
        ));
    }

    let wanted = remaining.min(ips_per_vnic);
    let subnet = choose_subnet(policy, node, wanted, ledger)?;
    let free = ledger.free(subnet);
    let then_assign = wanted.min(clamp_u32_from_u64(free.saturating_sub(1)));
    ledger.take(subnet, 1 + u64::from(then_assign));

    let subnet_id = ledger
        .entries
        .get(subnet)
        .map(|entry| entry.subnet.id.clone());
    let Some(subnet_id) = subnet_id else {
        return Err(Blocked(
            ShortfallReason::NoSubnet,
            "no subnet qualifies".to_owned(),
        ));
    };
    let action = Action::AttachVnic {
        subnet_id,
        index: next_index(policy, node),
        then_assign,
    };

    let after = if then_assign < wanted {
        Some(subnet_exhausted(
            ledger,
            Some(subnet),
            "the new VNIC's subnet runs out",
        ))
    } else if remaining > then_assign && attached + 1 < max_vnics {
        Some(Blocked(
            ShortfallReason::AttachPending,
            format!(
                "one VNIC is attached per plan (OCI takes one attach at a time per instance) \
                 and it carries {ips_per_vnic}; the next plan attaches another"
            ),
        ))
    } else if remaining > then_assign {
        Some(Blocked(
            ShortfallReason::VnicLimit,
            format!(
                "the VNIC attached now is the last of the {max_vnics} its {} instance allows; \
                 use a larger shape, raise ipsPerVnic if the tenancy allows more, or lower \
                 preAllocate",
                node.shape
            ),
        ))
    } else {
        None
    };

    Ok((action, then_assign, after))
}

/// VNICs attached or attaching, the primary included.
fn attached_vnics(node: &Node) -> u32 {
    u32::try_from(node.vnics.len())
        .unwrap_or(u32::MAX)
        .saturating_add(node.attaching_vnics)
}

/// Why no VNIC may be attached to a node at all.
struct AttachRefusal {
    /// Which rule refuses.
    kind: Refused,
    /// The refusal as a clause ("the policy forbids attaching more (…)").
    clause: String,
    /// What a person can change so a VNIC may be attached.
    remedy: String,
}

/// The rule that refuses another VNIC.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// `secondaryVnics: false`.
    ByPolicy,
    /// The shape's VNIC limit is unknown.
    UnknownLimit,
    /// Every VNIC the instance allows is attached.
    AllAttached,
}

/// The node's VNIC limit when one more VNIC may be attached, else why not.
///
/// Evaluated in this order: the policy (`secondaryVnics`), the shape's limit being known, the
/// limit being reached. An attach already in flight is not a refusal: it is transient.
fn attach_refusal(policy: &Policy, node: &Node, attached: u32) -> Result<u32, AttachRefusal> {
    if policy.secondary_vnics == SecondaryVnics::Never {
        return Err(AttachRefusal {
            clause: "the policy forbids attaching more (secondaryVnics: false)".to_owned(),
            kind: Refused::ByPolicy,
            remedy: "allow secondary VNICs".to_owned(),
        });
    }

    let max_vnics = match capacity::max_vnics(node) {
        Ok(limit) => limit.max_vnics,
        Err(err) => {
            return Err(AttachRefusal {
                clause: format!(
                    "no more can be attached because the VNIC limit of shape {} is unknown ({})",
                    node.shape,
                    error_chain(&err)
                ),
                kind: Refused::UnknownLimit,
                remedy: "set the node's maxVnicAttachments".to_owned(),
            });
        }
    };

    if attached >= max_vnics {
        let clause = if max_vnics == 1 {
            format!(
                "the only VNIC its {} instance allows is attached",
                node.shape
            )
        } else {
            format!(
                "all {max_vnics} VNICs its {} instance allows are attached",
                node.shape
            )
        };
        return Err(AttachRefusal {
            kind: Refused::AllAttached,
            clause,
            remedy: "use a larger shape".to_owned(),
        });
    }

    Ok(max_vnics)
}

impl AttachRefusal {
    /// The shortfall when every attached VNIC holds `ipsPerVnic` addresses: the VNICs are
    /// the limit (`vnicLimit`).
    fn with_full_vnics(self, ips_per_vnic: u32) -> Blocked {
        let Self {
            kind,
            clause,
            remedy,
        } = self;
        let text = match kind {
            Refused::AllAttached => format!(
                "{clause} and full at {}; {remedy}, raise ipsPerVnic if the tenancy allows \
                 more, or lower preAllocate",
                count(ips_per_vnic, "address each", "addresses each")
            ),
            Refused::ByPolicy => {
                format!("its VNICs are full and {clause}; {remedy} or lower preAllocate")
            }
            Refused::UnknownLimit => format!("its VNICs are full and {clause}; {remedy}"),
        };
        Blocked(ShortfallReason::VnicLimit, text)
    }

    /// The shortfall when `room.0` attached VNICs still have room for `room.1` addresses but
    /// their subnet is out of addresses: the subnet is the limit (`subnetExhausted`).
    fn with_full_subnet(
        self,
        ledger: &Ledger<'_>,
        subnet: Option<usize>,
        (vnics, room): (u32, u32),
    ) -> Blocked {
        let name = subnet_name(ledger, subnet);
        let holder = if vnics == 1 {
            "its VNIC has"
        } else {
            "its VNICs have"
        };
        Blocked(
            ShortfallReason::SubnetExhausted,
            format!(
                "{holder} room for {room} more {} but {name} has no free address left, and {}; \
                 free addresses in {name}, or {} so a VNIC can be attached in another subnet",
                noun(room, "address", "addresses"),
                self.clause,
                self.remedy
            ),
        )
    }
}

/// The subnet for a new VNIC: explicit `subnetIds`, else subnets with all
/// `subnetTags`, else the node's primary subnet while it has room for `wanted` addresses and
/// the VNIC's own, else the subnet with the most free addresses in the node's availability
/// domain (regional subnets qualify). Among candidates the most free wins, ties by OCID.
fn choose_subnet(
    policy: &Policy,
    node: &Node,
    wanted: u32,
    ledger: &Ledger<'_>,
) -> Result<usize, Blocked> {
    let in_domain = |index: &usize| {
        ledger
            .entries
            .get(*index)
            .is_some_and(|entry| match &entry.subnet.availability_domain {
                None => true,
                Some(domain) => *domain == node.availability_domain,
            })
    };

    let (candidates, source): (Vec<usize>, &str) = if !policy.subnet_ids.is_empty() {
        let listed = policy.subnet_ids.iter().filter_map(|id| ledger.index(id));
        (
            listed.filter(in_domain).collect(),
            "listed in policy.subnetIds",
        )
    } else if !policy.subnet_tags.is_empty() {
        let tagged = (0..ledger.entries.len()).filter(|index| {
            ledger.entries.get(*index).is_some_and(|entry| {
                policy
                    .subnet_tags
                    .iter()
                    .all(|(key, value)| entry.subnet.freeform_tags.get(key) == Some(value))
            })
        });
        (
            tagged.filter(in_domain).collect(),
            "with all of policy.subnetTags",
        )
    } else {
        let primary = node
            .primary_vnic()
            .and_then(|vnic| ledger.index(&vnic.subnet_id))
            .filter(in_domain);
        if let Some(index) = primary
            && ledger.free(index) > u64::from(wanted)
        {
            return Ok(index);
        }
        (
            (0..ledger.entries.len()).filter(in_domain).collect(),
            "the snapshot's subnets",
        )
    };

    let best = candidates.iter().copied().max_by(|&a, &b| {
        let (ea, eb) = (&ledger.entries[a], &ledger.entries[b]);
        ea.free
            .cmp(&eb.free)
            .then_with(|| eb.subnet.id.cmp(&ea.subnet.id))
    });

    match best {
        None => Err(Blocked(
            ShortfallReason::NoSubnet,
            format!(
                "no subnet {source} is in its availability domain {} or regional, so no VNIC \
                 can be attached; add such a subnet or widen the policy",
                node.availability_domain
            ),
        )),
        Some(index) if ledger.free(index) < 2 => Err(subnet_exhausted(
            ledger,
            Some(index),
            "no candidate subnet has room for a VNIC",
        )),
        Some(index) => Ok(index),
    }
}

/// The index a new VNIC takes: the lowest unused one at or above `firstVnicIndex` (never 0).
fn next_index(policy: &Policy, node: &Node) -> u32 {
    let mut taken: Vec<u32> = node.vnics.iter().map(|vnic| vnic.index).collect();
    taken.sort_unstable();

    let mut candidate = policy.first_vnic_index.max(1);
    for index in taken {
        if index == candidate {
            candidate += 1;
        } else if index > candidate {
            break;
        }
    }
    candidate
}

/// "subnet <OCID>", or "an unknown subnet".
fn subnet_name(ledger: &Ledger<'_>, subnet: Option<usize>) -> String {
    subnet
        .and_then(|index| ledger.entries.get(index))
        .map_or_else(
            || "an unknown subnet".to_owned(),
            |entry| format!("subnet {}", entry.subnet.id),
        )
}

fn subnet_exhausted(ledger: &Ledger<'_>, subnet: Option<usize>, what: &str) -> Blocked {
    let name = subnet_name(ledger, subnet);
    Blocked(
        ShortfallReason::SubnetExhausted,
        format!(
            "{what} ({name} has no free address left); free addresses there or let new VNICs \
             use more subnets (policy.subnetIds or subnetTags)"
        ),
    )
}

/// Release for one node: delete what the agent agreed to give up, and mark new excess.
///
/// Known gaps, left to the operator because the plan has no action for them: marks on
/// addresses that stopped being excess are not withdrawn (Cilium's `abortNoLongerExcessIPs`),
/// `do-not-release` entries are not cleared, and Cilium's `excess-ip-release-delay` is not
/// applied (planning reads no clock), so the operator must hold a mark until that delay passes.
fn plan_release(
    policy: &Policy,
    node: &Node,
    demand: &Demand,
    ledger: &mut Ledger<'_>,
    scratch: &mut Scratch,
    actions: &mut Vec<Action>,
) {
    if demand.excess == 0 && node.release_ips.is_empty() {
        return;
    }

    let used = &mut scratch.used;
    used.fill(&node.used);
    let used = &*used;
    let is_used = |ip: &Ipv4Addr| used.contains(*ip);
    let handshake = !node.release_ips.is_empty();

    let mut in_handshake: u32 = 0;
    let mut to_release: BTreeMap<u32, (&Vnic, Vec<Ipv4Addr>)> = BTreeMap::new();
    if handshake {
        for vnic in node.pool_vnics(policy) {
            for ip in &vnic.secondary_ips {
                match node.release_ips.get(ip) {
                    Some(ReleaseState::ReadyForRelease) if !is_used(ip) => {
                        in_handshake += 1;
                        let entry = to_release.entry(vnic.index);
                        entry.or_insert_with(|| (vnic, Vec::new())).1.push(*ip);
                    }
                    Some(ReleaseState::MarkedForRelease | ReleaseState::ReadyForRelease) => {
                        in_handshake += 1;
                    }
                    _ => {}
                }
            }
        }
    }

    for (vnic, mut ips) in to_release.into_values() {
        ips.sort_unstable();
        if let Some(index) = ledger.index(&vnic.subnet_id) {
            ledger.give_back(index, ips.len() as u64);
        }
        actions.push(Action::ReleasePrivateIps {
            vnic_id: vnic.id.clone(),
            ips,
        });
    }

    let to_mark = demand.excess.saturating_sub(in_handshake);
    if to_mark == 0 {
        return;
    }

    // Like Cilium, take the excess from the one VNIC with the most unused addresses (ties:
    // the lowest index). Addresses already in the handshake are not unused.
    let in_handshake_now = |ip: &Ipv4Addr| handshake && node.release_ips.contains_key(ip);
    let unused = |ip: &&Ipv4Addr| !is_used(ip) && !in_handshake_now(ip);
    let mut best: Option<(&Vnic, usize)> = None;
    for vnic in node.pool_vnics(policy) {
        let count = vnic.secondary_ips.iter().filter(unused).count();
        let better = match best {
            None => count > 0,
            Some((held, most)) => count > most || (count == most && vnic.index < held.index),
        };
        if better {
            best = Some((vnic, count));
        }
    }

    if let Some((vnic, _)) = best {
        let mut ips: Vec<Ipv4Addr> = vnic.secondary_ips.iter().filter(unused).copied().collect();
        ips.sort_unstable();
        ips.truncate(to_mark as usize);
        actions.push(Action::MarkForRelease { ips });
    }
}

/// Buffers reused from node to node, so planning a node allocates only what the plan keeps.
#[derive(Default)]
struct Scratch {
    used: IpSet,
}

/// A set of IPv4 addresses for membership tests: an open-addressing table of integers,
/// cheaper than sorting or hashing with SipHash for the few dozen addresses of one node.
#[derive(Default)]
struct IpSet {
    slots: Vec<u32>,
    has_zero: bool,
}

impl IpSet {
    #[cfg(test)]
    fn new(ips: &[Ipv4Addr]) -> Self {
        let mut set = Self {
            slots: Vec::new(),
            has_zero: false,
        };
        set.fill(ips);
        set
    }

    /// Empties the set, keeping its memory, and fills it with `ips`.
    fn fill(&mut self, ips: &[Ipv4Addr]) {
        let size = (ips.len() * 2).next_power_of_two().max(8);
        self.slots.clear();
        self.slots.resize(size, 0);
        self.has_zero = false;
        for ip in ips {
            self.insert(u32::from(*ip));
        }
    }

    fn slot(&self, value: u32) -> usize {
        let mask = self.slots.len() - 1;
        (value.wrapping_mul(0x9E37_79B1) >> 7) as usize & mask
    }

    fn insert(&mut self, value: u32) {
        if value == 0 {
            self.has_zero = true;
            return;
        }
        let mask = self.slots.len() - 1;
        let mut at = self.slot(value);
        while self.slots[at] != 0 && self.slots[at] != value {
            at = (at + 1) & mask;
        }
        self.slots[at] = value;
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let value = u32::from(ip);
        if value == 0 {
            return self.has_zero;
        }
        let mask = self.slots.len() - 1;
        let mut at = self.slot(value);
        loop {
            match self.slots[at] {
                0 => return false,
                found if found == value => return true,
                _ => at = (at + 1) & mask,
            }
        }
    }
}

/// An error and its sources as one line, for shortfall messages (which are data, not errors).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The first 16 bytes of a name as a big-endian integer, zero-padded: it orders names as
/// their bytes do, and equal keys only mean "compare the rest".
fn name_prefix(name: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let head = &name.as_bytes()[..name.len().min(16)];
    bytes[..head.len()].copy_from_slice(head);
    u128::from_be_bytes(bytes)
}

/// The singular noun for 1, else the plural.
pub(crate) fn noun<'a>(n: impl Into<u64>, one: &'a str, many: &'a str) -> &'a str {
    if n.into() == 1 { one } else { many }
}

/// `n` and the singular or plural noun: "1 address", "2 addresses".
pub(crate) fn count(n: impl Into<u64> + Copy, one: &str, many: &str) -> String {
    format!("{} {}", n.into(), noun(n, one, many))
}

fn clamp_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

fn clamp_u32_from_u64(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_follows_cilium() {
        // P − (A − U).
        assert_eq!(needed_ips(10, 5, 8, 0, 0), (3, 3));
        // Free covers pre-allocate.
        assert_eq!(needed_ips(20, 5, 8, 0, 0), (0, 0));
        // Min-allocate raises it.
        assert_eq!(needed_ips(0, 0, 8, 16, 0), (16, 16));
        // Max-allocate clamps it; the unclamped value remains for the shortfall.
        assert_eq!(needed_ips(38, 35, 8, 0, 40), (2, 5));
        assert_eq!(needed_ips(45, 40, 8, 0, 40), (0, 3));
    }

    #[test]
    fn excess_follows_cilium() {
        // Plenty free: A − U − P − W.
        assert_eq!(excess_ips(40, 10, 8, 0, 0), 22);
        assert_eq!(excess_ips(40, 10, 8, 0, 4), 18);
        // Usage and pool within min-allocate + watermark: nothing goes.
        assert_eq!(excess_ips(10, 2, 8, 10, 0), 0);
        // Pool above it, usage below: the general formula (no special branch).
        assert_eq!(excess_ips(30, 2, 8, 16, 0), 20);
        assert_eq!(excess_ips(30, 10, 8, 16, 0), 12);
        assert_eq!(excess_ips(10, 10, 8, 0, 0), 0);
    }

    #[test]
    fn ip_sets_find_exactly_their_members() {
        let members: Vec<Ipv4Addr> = (0..100u32).map(|i| Ipv4Addr::from(i * 7)).collect();
        let set = IpSet::new(&members);
        for i in 0..700u32 {
            assert_eq!(
                set.contains(Ipv4Addr::from(i)),
                i % 7 == 0 && i < 700,
                "{i}"
            );
        }
        assert!(!IpSet::new(&[]).contains(Ipv4Addr::UNSPECIFIED));
    }

    #[test]
    fn an_unknown_shape_keeps_its_vnics_and_says_why() {
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "apiVersion": "oci-ipam/v1", "kind": "ClusterSnapshot",
            "subnets": [{"id": "ocid1.subnet.oc1.phx.a", "cidr": "10.0.0.0/24",
                         "allocatedIps": 1}],
            "nodes": [{
                "name": "n1", "instanceId": "ocid1.instance.oc1.phx.a",
                "shape": "VM.Future.Z1", "availabilityDomain": "AD-1",
                "vnics": [{"id": "ocid1.vnic.oc1.phx.a", "index": 0,
                           "subnetId": "ocid1.subnet.oc1.phx.a", "primaryIp": "10.0.0.2"}]
            }]
        }))
        .unwrap();
        let mut full = snapshot.clone();
        full.nodes[0].vnics[0].secondary_ips = (3..34u8)
            .map(|last| Ipv4Addr::new(10, 0, 0, last))
            .collect();
        full.nodes[0].used = full.nodes[0].vnics[0].secondary_ips.clone();
        full.subnets[0].allocated_ips = 32;

        // With room on its VNIC the node is served as usual.
        let node = &plan(&snapshot).nodes[0];
        assert!(matches!(
            node.actions[..],
            [Action::AssignPrivateIps { count: 8, .. }]
        ));

        // Full, it attaches nothing and names the shape.
        let node = &plan(&full).nodes[0];
        assert!(node.actions.is_empty());
        let shortfall = node.shortfall.as_ref().unwrap();
        assert_eq!(shortfall.reason, ShortfallReason::VnicLimit);
        assert!(
            shortfall.message.contains("VM.Future.Z1"),
            "{}",
            shortfall.message
        );
        assert!(
            shortfall.message.contains("maxVnicAttachments"),
            "{}",
            shortfall.message
        );
    }

    #[test]
    fn one_missing_address_and_one_allowed_vnic_read_in_the_singular() {
        let secondaries: Vec<String> = (3..34).map(|last| format!("10.0.0.{last}")).collect();
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "apiVersion": "oci-ipam/v1", "kind": "ClusterSnapshot",
            "policy": {"preAllocate": 2},
            "subnets": [{"id": "ocid1.subnet.oc1.phx.a", "cidr": "10.0.0.0/24",
                         "allocatedIps": 32}],
            "nodes": [{
                "name": "n1", "instanceId": "ocid1.instance.oc1.phx.a",
                "shape": "VM.Standard2.1", "availabilityDomain": "AD-1",
                "maxVnicAttachments": 1,
                "vnics": [{"id": "ocid1.vnic.oc1.phx.a", "index": 0,
                           "subnetId": "ocid1.subnet.oc1.phx.a", "primaryIp": "10.0.0.2",
                           "secondaryIps": secondaries}],
                "used": secondaries[..30]
            }]
        }))
        .unwrap();

        let shortfall = plan(&snapshot).nodes[0].shortfall.clone().unwrap();
        assert_eq!(shortfall.ips, 1);
        assert_eq!(shortfall.reason, ShortfallReason::VnicLimit);
        assert_eq!(
            shortfall.message,
            "n1 needs 1 more address: the only VNIC its VM.Standard2.1 instance allows is \
             attached and full at 31 addresses each; use a larger shape, raise ipsPerVnic if \
             the tenancy allows more, or lower preAllocate."
        );
    }

    #[test]
    fn next_index_skips_taken_slots() {
        let policy = Policy::default();
        let node: Node = serde_json::from_value(serde_json::json!({
            "name": "n1", "instanceId": "ocid1.instance.oc1.phx.a", "shape": "VM.Standard2.4",
            "availabilityDomain": "AD-1",
            "vnics": [
                {"id": "ocid1.vnic.oc1.phx.a", "index": 0, "subnetId": "ocid1.subnet.oc1.phx.a",
                 "primaryIp": "10.0.0.2"},
                {"id": "ocid1.vnic.oc1.phx.b", "index": 2, "subnetId": "ocid1.subnet.oc1.phx.a",
                 "primaryIp": "10.0.0.3"}
            ]
        }))
        .unwrap();
        assert_eq!(next_index(&policy, &node), 1);

        let policy = Policy {
            first_vnic_index: 2,
            ..Policy::default()
        };
        assert_eq!(next_index(&policy, &node), 3);
    }
}
