//! The desired datapath as a pure function of the node's VNICs and pool addresses.
//!
//! [`desired_state`] reads no kernel state and no clock: it takes the VNICs, the pool and the
//! table IDs already in use on the node (so a restart keeps them) and returns the per-VNIC
//! tables and the policy rules that should exist. The [`crate::netlink`] layer applies it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::model::{Ipv4Cidr, MacAddr, NodeInputs, PoolAddress, TableId, Vnic, VnicId, VnicRole};

/// The kernel's main routing table.
pub const MAIN_TABLE: u32 = 254;

/// Priority of the "to address → main" rule, as Cilium's cloud modes use.
pub const TO_RULE_PRIORITY: u32 = 20;

/// Priority of the "from address → VNIC table" rule (Cilium's `RulePriorityEgressv2`).
pub const FROM_RULE_PRIORITY: u32 = 111;

/// The first table ID handed to a secondary VNIC (Cilium's ENI mode uses 10 + index too).
pub const DEFAULT_FIRST_TABLE: u32 = 10;

/// Where traffic from a pod address on a secondary VNIC is steered into the VNIC's table.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub enum EgressMode {
    /// Every destination: the VNIC carries all of the address's traffic (no masquerading).
    #[default]
    AllDestinations,
    /// Only these destinations (the VCN's CIDRs): other traffic keeps the main table and is
    /// masqueraded to the node's primary address by Cilium.
    VcnOnly(Vec<Ipv4Cidr>),
}

/// How secondary VNICs appear to Linux.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub enum AttachmentMode {
    /// Virtual machines: one hot-plugged NIC per VNIC, found by MAC; the VLAN tag is
    /// handled by the hypervisor.
    #[default]
    VirtualMachine,
    /// Bare metal: a secondary VNIC is a macvlan (with the VNIC's MAC) on the physical NIC
    /// plus an 802.1Q sub-interface carrying the VNIC's VLAN tag, both created by the agent.
    BareMetal,
}

/// Settings of the pure computation.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct DesiredConfig {
    /// Which destinations the from-rules cover.
    pub egress: EgressMode,
    /// The first table ID tried for secondary VNICs.
    pub first_table: u32,
}

impl Default for DesiredConfig {
    fn default() -> Self {
        Self {
            egress: EgressMode::AllDestinations,
            first_table: DEFAULT_FIRST_TABLE,
        }
    }
}

impl DesiredConfig {
    /// Sets the egress mode.
    #[must_use]
    pub fn with_egress(mut self, egress: EgressMode) -> Self {
        self.egress = egress;
        self
    }

    /// Sets the first table ID.
    #[must_use]
    pub fn with_first_table(mut self, first_table: u32) -> Self {
        self.first_table = first_table;
        self
    }
}

/// One IPv4 policy rule, as the agent installs it (the owner mark is added on apply).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    /// Rule priority (`pref`).
    pub priority: u32,
    /// `from` selector; `None` = all sources.
    pub source: Option<Ipv4Cidr>,
    /// `to` selector; `None` = all destinations.
    pub destination: Option<Ipv4Cidr>,
    /// The table looked up.
    pub table: u32,
}

/// One route in a VNIC's table; `oif` is the Linux link index of the VNIC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// The table.
    pub table: u32,
    /// Destination prefix (`0.0.0.0/0` for the default route).
    pub destination: Ipv4Cidr,
    /// Next hop; `None` for the link-scope route to the virtual router.
    pub gateway: Option<Ipv4Addr>,
    /// Output link index.
    pub oif: u32,
}

impl std::fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pref {}", self.priority)?;
        if let Some(source) = self.source {
            write!(f, " from {source}")?;
        }
        if let Some(destination) = self.destination {
            write!(f, " to {destination}")?;
        }
        write!(f, " lookup {}", self.table)
    }
}

impl std::fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.destination)?;
        if let Some(gateway) = self.gateway {
            write!(f, " via {gateway}")?;
        }
        write!(f, " oif {} table {}", self.oif, self.table)
    }
}

/// A secondary VNIC's share of the desired state.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct DesiredVnic {
    /// The VNIC.
    pub vnic: Vnic,
    /// Its routing table.
    pub table: TableId,
    /// Its pool addresses that get rules.
    pub addresses: BTreeSet<Ipv4Addr>,
}

impl DesiredVnic {
    /// The two routes of the VNIC's table once its link index is known: the virtual router
    /// on the link, and the default route through it.
    #[must_use]
    pub fn routes(&self, oif: u32) -> [RouteSpec; 2] {
        let router = self.vnic.virtual_router_ip;
        [
            RouteSpec {
                table: self.table.get(),
                destination: Ipv4Cidr::host(router),
                gateway: None,
                oif,
            },
            RouteSpec {
                table: self.table.get(),
                destination: Ipv4Cidr::any(),
                gateway: Some(router),
                oif,
            },
        ]
    }
}

/// Why a pool address gets no rules.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum SkipReason {
    /// The pool names a VNIC the metadata service does not list (not attached yet, or gone).
    UnknownVnic,
    /// The address lies outside its VNIC's subnet CIDR.
    OutsideSubnet,
    /// The pool lists the address under more than one VNIC.
    ConflictingVnics,
}

/// A pool address left without rules, and why.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedAddress {
    /// The address and the VNIC the pool names.
    pub address: PoolAddress,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// The complete desired datapath.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct DesiredState {
    /// Secondary VNICs with their tables and addresses.
    pub vnics: BTreeMap<VnicId, DesiredVnic>,
    /// Every rule the agent should own.
    pub rules: BTreeSet<RuleSpec>,
    /// Pool addresses that get no rules.
    pub skipped: Vec<SkippedAddress>,
}

/// Computes the desired tables and rules.
///
/// `adopted` maps the MAC of a VNIC link to the table the agent already uses for it (read
/// from the kernel), so that tables stay put across restarts; `foreign` lists tables that
/// others' routes or rules use, which new VNICs do not get. Addresses on the primary VNIC
/// get only the "to address → main" rule, so that secondary-VNIC pods reach them on the node.
#[must_use]
pub fn desired_state(
    inputs: &NodeInputs,
    config: &DesiredConfig,
    adopted: &BTreeMap<MacAddr, u32>,
    foreign: &BTreeSet<u32>,
) -> DesiredState {
    let secondaries: Vec<&Vnic> = inputs
        .vnics
        .iter()
        .filter(|v| v.role == VnicRole::Secondary)
        .collect();
    let tables = assign_tables(&secondaries, adopted, foreign, config.first_table);

    let mut vnics: BTreeMap<VnicId, DesiredVnic> = secondaries
        .iter()
        .filter_map(|vnic| {
            let table = *tables.get(&vnic.id)?;
            let desired = DesiredVnic {
                vnic: (*vnic).clone(),
                table,
                addresses: BTreeSet::new(),
            };
            Some((vnic.id.clone(), desired))
        })
        .collect();

    let mut owners: BTreeMap<Ipv4Addr, Vec<&PoolAddress>> = BTreeMap::new();
    for address in &inputs.pool {
        owners.entry(address.ip).or_default().push(address);
    }

    let mut rules = BTreeSet::new();
    let mut skipped = Vec::new();
    for (ip, claims) in owners {
        if claims.len() > 1 {
            skipped.extend(claims.into_iter().map(|address| SkippedAddress {
                address: address.clone(),
                reason: SkipReason::ConflictingVnics,
            }));
            continue;
        }
        let Some(address) = claims.first() else {
            continue;
        };

        let Some(vnic) = inputs.vnics.iter().find(|v| v.id == address.vnic) else {
            skipped.push(SkippedAddress {
                address: (*address).clone(),
                reason: SkipReason::UnknownVnic,
            });
            continue;
        };
        if !vnic.subnet_cidr.contains(ip) {
            skipped.push(SkippedAddress {
                address: (*address).clone(),
                reason: SkipReason::OutsideSubnet,
            });
            continue;
        }
        let Some(desired) = vnics.get_mut(&vnic.id) else {
            // A primary-VNIC address needs no table, but its "to" rule keeps traffic from
            // secondary-VNIC pods to it on the node instead of hairpinning through the VCN.
            rules.insert(to_rule(ip));
            continue;
        };

        desired.addresses.insert(ip);
        rules.extend(address_rules(ip, desired.table, &config.egress));
    }

    DesiredState {
        vnics,
        rules,
        skipped,
    }
}

/// Gives every secondary VNIC a table ID: the one it already has, else `first + attachment
/// index`, else the lowest free ID from `first` on; never a reserved ID, never shared, and
/// for a VNIC without a table yet never one in `foreign`.
///
/// The VLAN tag plays no part: tags are large and may collide with reserved IDs.
#[must_use]
pub fn assign_tables(
    vnics: &[&Vnic],
    adopted: &BTreeMap<MacAddr, u32>,
    foreign: &BTreeSet<u32>,
    first: u32,
) -> BTreeMap<VnicId, TableId> {
    let mut sorted: Vec<&Vnic> = vnics.to_vec();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));

    let mut taken: BTreeSet<u32> = BTreeSet::new();
    let mut assigned: BTreeMap<VnicId, TableId> = BTreeMap::new();

    for vnic in &sorted {
        let Some(id) = adopted.get(&vnic.mac) else {
            continue;
        };
        let Ok(table) = TableId::try_new(*id) else {
            continue;
        };
        if taken.insert(*id) {
            assigned.insert(vnic.id.clone(), table);
        }
    }

    taken.extend(foreign);

    for vnic in &sorted {
        if assigned.contains_key(&vnic.id) {
            continue;
        }
        let Some(index) = vnic.attachment_index else {
            continue;
        };
        let Some(id) = first.checked_add(index) else {
            continue;
        };
        let Ok(table) = TableId::try_new(id) else {
            continue;
        };
        if taken.insert(id) {
            assigned.insert(vnic.id.clone(), table);
        }
    }

    let mut candidates = (first.max(1)..).filter_map(|id| TableId::try_new(id).ok());
    for vnic in &sorted {
        if assigned.contains_key(&vnic.id) {
            continue;
        }
        if let Some(table) = candidates.by_ref().find(|t| !taken.contains(&t.get())) {
            taken.insert(table.get());
            assigned.insert(vnic.id.clone(), table);
        }
    }

    assigned
}

fn to_rule(ip: Ipv4Addr) -> RuleSpec {
    RuleSpec {
        priority: TO_RULE_PRIORITY,
        source: None,
        destination: Some(Ipv4Cidr::host(ip)),
        table: MAIN_TABLE,
    }
}

fn address_rules(ip: Ipv4Addr, table: TableId, egress: &EgressMode) -> Vec<RuleSpec> {
    let host = Ipv4Cidr::host(ip);

    let mut rules = vec![to_rule(ip)];

    match egress {
        EgressMode::AllDestinations => rules.push(RuleSpec {
            priority: FROM_RULE_PRIORITY,
            source: Some(host),
            destination: None,
            table: table.get(),
        }),
        EgressMode::VcnOnly(cidrs) => rules.extend(cidrs.iter().map(|cidr| RuleSpec {
            priority: FROM_RULE_PRIORITY,
            source: Some(host),
            destination: Some(*cidr),
            table: table.get(),
        })),
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RESERVED_TABLES;
    use proptest::prelude::*;

    fn vnic(n: u8, role: VnicRole) -> Vnic {
        Vnic::new(
            format!("ocid1.vnic.oc1.phx.v{n}").parse().unwrap(),
            role,
            MacAddr::new([2, 0, 0, 0, 0, n]),
            Ipv4Addr::new(10, 0, n, 1),
            format!("10.0.{n}.0/24").parse().unwrap(),
        )
    }

    fn pool(entries: &[(&str, u8)]) -> BTreeSet<PoolAddress> {
        entries
            .iter()
            .map(|(ip, n)| PoolAddress {
                ip: ip.parse().unwrap(),
                vnic: format!("ocid1.vnic.oc1.phx.v{n}").parse().unwrap(),
            })
            .collect()
    }

    fn node() -> NodeInputs {
        NodeInputs::new(
            vec![
                vnic(0, VnicRole::Primary),
                vnic(1, VnicRole::Secondary),
                vnic(2, VnicRole::Secondary),
            ],
            pool(&[
                ("10.0.0.5", 0),
                ("10.0.1.5", 1),
                ("10.0.1.6", 1),
                ("10.0.2.9", 2),
            ]),
        )
    }

    #[test]
    fn secondary_addresses_get_to_and_from_rules_primary_ones_only_to() {
        let state = desired_state(
            &node(),
            &DesiredConfig::default(),
            &BTreeMap::new(),
            &BTreeSet::new(),
        );

        assert_eq!(state.vnics.len(), 2);
        let t1 = state.vnics.values().next().unwrap().table.get();
        let expected: BTreeSet<RuleSpec> =
            [("10.0.1.5", t1), ("10.0.1.6", t1), ("10.0.2.9", t1 + 1)]
                .iter()
                .flat_map(|(ip, table)| {
                    let host = Ipv4Cidr::host(ip.parse().unwrap());
                    [
                        RuleSpec {
                            priority: 20,
                            source: None,
                            destination: Some(host),
                            table: 254,
                        },
                        RuleSpec {
                            priority: 111,
                            source: Some(host),
                            destination: None,
                            table: *table,
                        },
                    ]
                })
                .chain([RuleSpec {
                    priority: 20,
                    source: None,
                    destination: Some(Ipv4Cidr::host("10.0.0.5".parse().unwrap())),
                    table: 254,
                }])
                .collect();
        assert_eq!(state.rules, expected);
        assert!(state.skipped.is_empty());
    }

    #[test]
    fn vcn_only_mode_restricts_from_rules_to_the_vcn_cidrs() {
        let vcn: Vec<Ipv4Cidr> = vec![
            "10.0.0.0/16".parse().unwrap(),
            "172.16.0.0/12".parse().unwrap(),
        ];
        let config = DesiredConfig::default().with_egress(EgressMode::VcnOnly(vcn.clone()));
        let inputs = NodeInputs::new(node().vnics, pool(&[("10.0.1.5", 1)]));

        let state = desired_state(&inputs, &config, &BTreeMap::new(), &BTreeSet::new());

        let from: Vec<&RuleSpec> = state.rules.iter().filter(|r| r.priority == 111).collect();
        assert_eq!(from.len(), 2);
        assert!(
            from.iter()
                .all(|r| r.source == Some(Ipv4Cidr::host("10.0.1.5".parse().unwrap())))
        );
        let destinations: Vec<Ipv4Cidr> = from.iter().filter_map(|r| r.destination).collect();
        assert_eq!(destinations, vcn);
    }

    #[test]
    fn suspicious_pool_entries_are_skipped_with_a_reason() {
        let mut inputs = node();
        inputs.pool = pool(&[
            ("10.0.9.1", 9),
            ("10.0.2.5", 1),
            ("10.0.1.7", 1),
            ("10.0.1.7", 2),
        ]);

        let state = desired_state(
            &inputs,
            &DesiredConfig::default(),
            &BTreeMap::new(),
            &BTreeSet::new(),
        );

        let reasons: Vec<(String, SkipReason)> = state
            .skipped
            .iter()
            .map(|s| (s.address.ip.to_string(), s.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("10.0.1.7".to_owned(), SkipReason::ConflictingVnics),
                ("10.0.1.7".to_owned(), SkipReason::ConflictingVnics),
                ("10.0.2.5".to_owned(), SkipReason::OutsideSubnet),
                ("10.0.9.1".to_owned(), SkipReason::UnknownVnic),
            ]
        );
        assert!(state.rules.is_empty());
    }

    #[test]
    fn tables_prefer_adopted_then_attachment_index_then_lowest_free_unused_by_others() {
        let a = vnic(1, VnicRole::Secondary).with_attachment_index(3);
        let b = vnic(2, VnicRole::Secondary).with_attachment_index(1);
        let c = vnic(3, VnicRole::Secondary);
        let adopted = BTreeMap::from([(b.mac, 42)]);

        let foreign = BTreeSet::from([10, 42]);

        let tables = assign_tables(&[&a, &b, &c], &adopted, &foreign, 10);

        assert_eq!(tables[&a.id].get(), 13);
        assert_eq!(
            tables[&b.id].get(),
            42,
            "a table the agent already uses stays"
        );
        assert_eq!(tables[&c.id].get(), 11, "table 10 is someone else's");
    }

    #[test]
    fn tables_skip_reserved_ids_even_when_the_index_points_at_one() {
        let a = vnic(1, VnicRole::Secondary).with_attachment_index(190);
        let b = vnic(2, VnicRole::Secondary).with_vlan_tag(254);
        let adopted = BTreeMap::from([(b.mac, 254)]);

        let tables = assign_tables(&[&a, &b], &adopted, &BTreeSet::new(), 10);

        assert_eq!(tables[&a.id].get(), 10);
        assert_eq!(tables[&b.id].get(), 11);
    }

    proptest! {
        #[test]
        fn tables_are_unique_unreserved_and_stable(
            indexes in proptest::collection::vec(proptest::option::of(0u32..300), 1..40),
            first in 1u32..260,
        ) {
            let vnics: Vec<Vnic> = indexes
                .iter()
                .enumerate()
                .map(|(n, index)| {
                    let mut v = vnic(u8::try_from(n).unwrap(), VnicRole::Secondary);
                    v.attachment_index = *index;
                    v
                })
                .collect();
            let refs: Vec<&Vnic> = vnics.iter().collect();

            let tables = assign_tables(&refs, &BTreeMap::new(), &BTreeSet::new(), first);

            prop_assert_eq!(tables.len(), vnics.len());
            let ids: BTreeSet<u32> = tables.values().map(TableId::get).collect();
            prop_assert_eq!(ids.len(), vnics.len());
            prop_assert!(ids.iter().all(|id| !RESERVED_TABLES.contains(id)));

            let adopted: BTreeMap<MacAddr, u32> =
                vnics.iter().map(|v| (v.mac, tables[&v.id].get())).collect();
            let mut reversed = refs.clone();
            reversed.reverse();
            prop_assert_eq!(assign_tables(&reversed, &adopted, &BTreeSet::new(), first), tables);
        }
    }
}
