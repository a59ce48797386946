//! Realistic synthetic clusters for benchmarks, property tests and `cargo xtask gen-snapshot`.
//!
//! [`synthetic`] builds a snapshot from a node count and a seed: mixed fixed, flex and
//! bare-metal shapes across three availability domains, node subnets per domain, tagged pod
//! subnets (one deliberately small so it runs out), nodes that are full, in deficit, holding
//! excess, mid-handshake, with pending pods or with an attach in flight. The same arguments
//! always give the same snapshot.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use vnic_limits::{IpsPerVnic, Ocpus, ShapeName};

use crate::snapshot::{NodeIpam, Policy, ReleaseExcess, ReleaseState, Snapshot, Subnet, Vnic};
use crate::{AvailabilityDomain, Error, Ipv4Cidr, Node};

/// A synthetic cluster of `nodes` nodes, derived from `seed`.
///
/// # Errors
///
/// Only if the generator builds an identifier its own types reject, which its tests rule out.
pub fn synthetic(nodes: usize, seed: u64) -> Result<Snapshot, Error> {
    let mut rng = SplitMix64(seed);
    let domains: Vec<AvailabilityDomain> = ["Uocm:PHX-AD-1", "Uocm:PHX-AD-2", "Uocm:PHX-AD-3"]
        .iter()
        .map(|name| name.parse())
        .collect::<Result<_, _>>()?;

    // Pod addresses: about 40 per node across five pod subnets, the last one small.
    let per_subnet = (nodes as u64 * 40 / 3).max(256);
    let pod_prefix = (32 - (64 - (per_subnet - 1).leading_zeros())).clamp(8, 24) as u8;
    let node_prefix = (32 - (64 - (nodes as u64 * 2).max(64).leading_zeros())).clamp(8, 26) as u8;

    let mut subnets = Vec::new();
    let mut next_base: u32 = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    let mut block = |prefix: u8| -> Result<Ipv4Cidr, Error> {
        let size = 1u32 << (32 - u32::from(prefix));
        next_base = next_base.div_ceil(size) * size;
        let cidr = Ipv4Cidr::new(Ipv4Addr::from(next_base), prefix)?;
        next_base += size;
        Ok(cidr)
    };

    for (d, domain) in domains.iter().enumerate() {
        subnets.push(subnet(
            &mut rng,
            "node",
            d,
            block(node_prefix)?,
            Some(domain),
            "nodes",
        )?);
    }
    for (d, domain) in domains.iter().enumerate() {
        subnets.push(subnet(
            &mut rng,
            "pods",
            d,
            block(pod_prefix)?,
            Some(domain),
            "pods",
        )?);
    }
    subnets.push(subnet(
        &mut rng,
        "pods",
        3,
        block(pod_prefix)?,
        None,
        "pods",
    )?);
    subnets.push(subnet(&mut rng, "pods", 4, block(26)?, None, "pods")?);

    let policy = Policy {
        ips_per_vnic: IpsPerVnic::DEFAULT,
        first_vnic_index: 1,
        pre_allocate: 8,
        max_above_watermark: 2,
        release_excess: ReleaseExcess::Release,
        subnet_tags: BTreeMap::from([("role".to_owned(), "pods".to_owned())]),
        ..Policy::default()
    };

    let mut cursors = vec![2u64; subnets.len()];
    let mut cluster = Vec::with_capacity(nodes);
    for n in 0..nodes {
        let d = n % domains.len();
        cluster.push(node(
            &mut rng,
            n,
            d,
            &domains[d],
            &policy,
            &subnets,
            &mut cursors,
        )?);
    }

    for (subnet, cursor) in subnets.iter_mut().zip(&cursors) {
        // Addresses taken by the snapshot, plus a few held by things outside it.
        let held = cursor - 2;
        let outside = rng.below(8);
        let allocated = (held + outside).min(subnet.cidr.usable());
        subnet.allocated_ips = u32::try_from(allocated).unwrap_or(u32::MAX);
    }

    Ok(Snapshot {
        policy,
        subnets,
        nodes: cluster,
        ..Snapshot::default()
    })
}

const SHAPES: &[(&str, Option<f64>)] = &[
    ("VM.Standard.E4.Flex", Some(2.0)),
    ("VM.Standard.E4.Flex", Some(4.0)),
    ("VM.Standard.E4.Flex", Some(8.0)),
    ("VM.Standard.E5.Flex", Some(1.0)),
    ("VM.Standard.E5.Flex", Some(16.0)),
    ("VM.Standard3.Flex", Some(6.0)),
    ("VM.Standard.A1.Flex", Some(4.0)),
    ("VM.Standard2.4", None),
    ("VM.Standard.E2.2", None),
    ("VM.DenseIO.E4.Flex", Some(8.0)),
    ("BM.Standard3.64", None),
];

fn subnet(
    rng: &mut SplitMix64,
    role: &str,
    number: usize,
    cidr: Ipv4Cidr,
    domain: Option<&AvailabilityDomain>,
    tag: &str,
) -> Result<Subnet, Error> {
    Ok(Subnet {
        id: format!("ocid1.subnet.oc1.phx.{}{role}{number}", rng.unique(50)).parse()?,
        cidr,
        availability_domain: domain.cloned(),
        freeform_tags: BTreeMap::from([("role".to_owned(), tag.to_owned())]),
        allocated_ips: 0,
    })
}

fn node(
    rng: &mut SplitMix64,
    n: usize,
    d: usize,
    domain: &AvailabilityDomain,
    policy: &Policy,
    subnets: &[Subnet],
    cursors: &mut [u64],
) -> Result<Node, Error> {
    let (shape, ocpus) = SHAPES[rng.below(SHAPES.len() as u64) as usize];
    let shape: ShapeName = shape.parse().map_err(|source| Error::ResolveVnicLimit {
        node: format!("node-{n:05}"),
        source,
    })?;
    let ocpus = ocpus.and_then(|value| Ocpus::new(value).ok());
    let own_limit = rng.below(4) == 0;
    let max_vnic_attachments = if own_limit {
        vnic_limits::vnic_limit(&shape, ocpus, None)
            .ok()
            .map(|limit| limit.max_vnics)
    } else {
        None
    };
    let max_vnics = vnic_limits::vnic_limit(&shape, ocpus, None).map_or(2, |l| l.max_vnics);

    let take = |subnet: usize, cursors: &mut [u64]| -> Ipv4Addr {
        let ip = subnets[subnet]
            .cidr
            .nth(cursors[subnet])
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        cursors[subnet] += 1;
        ip
    };

    // The pod subnet for this node: its domain's, sometimes the regional one.
    let pod_subnet = if rng.below(5) == 0 { 6 } else { 3 + d };
    let usable = |subnet: usize, cursors: &[u64], count: u64| {
        cursors[subnet] + count < subnets[subnet].cidr.size().saturating_sub(1)
    };

    let ips_per_vnic = u64::from(policy.ips_per_vnic.get());
    let wanted_vnics = match rng.below(10) {
        0 => 0,                                      // a new node
        1 => u64::from(max_vnics.saturating_sub(1)), // full
        _ => 1 + rng.below(3),                       // the usual
    }
    .min(u64::from(max_vnics.saturating_sub(1)).min(6));

    let mut vnics = Vec::new();
    vnics.push(Vnic {
        id: format!("ocid1.vnic.oc1.phx.{}", rng.unique(60)).parse()?,
        index: 0,
        subnet_id: subnets[d].id.clone(),
        primary_ip: take(d, cursors),
        secondary_ips: Vec::new(),
    });

    let mut pool = Vec::new();
    for index in 1..=wanted_vnics {
        let count = if index < wanted_vnics {
            ips_per_vnic
        } else {
            1 + rng.below(ips_per_vnic)
        };
        if !usable(pod_subnet, cursors, count + 1) {
            break;
        }
        let primary_ip = take(pod_subnet, cursors);
        let secondary_ips: Vec<Ipv4Addr> = (0..count).map(|_| take(pod_subnet, cursors)).collect();
        pool.extend(secondary_ips.iter().copied());
        vnics.push(Vnic {
            id: format!("ocid1.vnic.oc1.phx.{}", rng.unique(60)).parse()?,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            subnet_id: subnets[pod_subnet].id.clone(),
            primary_ip,
            secondary_ips,
        });
    }

    // Usage: mostly busy, sometimes nearly idle (excess), sometimes saturated (deficit).
    let used_count = match rng.below(6) {
        0 => pool.len() as u64 / 4,
        1 => pool.len() as u64,
        _ => pool.len() as u64 * (50 + rng.below(50)) / 100,
    } as usize;
    let used: Vec<Ipv4Addr> = pool.iter().take(used_count).copied().collect();

    let mut release_ips = BTreeMap::new();
    if rng.below(10) == 0 {
        for ip in pool.iter().skip(used_count).take(3) {
            let state = if rng.below(2) == 0 {
                ReleaseState::MarkedForRelease
            } else {
                ReleaseState::ReadyForRelease
            };
            release_ips.insert(*ip, state);
        }
    }

    let pending_pods = if rng.below(8) == 0 {
        rng.below(40) as u32
    } else {
        0
    };
    let attaching_vnics = u32::from(rng.below(50) == 0 && vnics.len() + 1 < max_vnics as usize);
    let ipam = (rng.below(20) == 0).then_some(NodeIpam {
        pre_allocate: Some(16),
        max_allocate: Some(120),
        ..NodeIpam::default()
    });

    Ok(Node {
        name: format!("node-{n:05}").parse()?,
        instance_id: format!("ocid1.instance.oc1.phx.{}", rng.unique(60)).parse()?,
        shape,
        ocpus,
        max_vnic_attachments,
        availability_domain: domain.clone(),
        ipam,
        vnics,
        attaching_vnics,
        used,
        pending_pods,
        release_ips,
    })
}

/// A small, fast, seedable generator (SplitMix64); statistical quality is ample here.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    /// `len` lowercase base-32 characters, like the unique part of an OCID.
    fn unique(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
        (0..len)
            .map(|_| char::from(ALPHABET[(self.next() % 32) as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_clusters_are_valid_and_reproducible() {
        let first = synthetic(300, 7).unwrap();
        assert_eq!(first, synthetic(300, 7).unwrap());
        assert_ne!(first, synthetic(300, 8).unwrap());

        let problems = crate::validate(&first);
        assert!(
            problems.is_empty(),
            "{:#?}",
            &problems[..problems.len().min(10)]
        );

        let plan = crate::plan(&first);
        assert!(
            plan.totals.assign > 0 && plan.totals.attach > 0,
            "{:?}",
            plan.totals
        );
        assert!(plan.nodes.iter().any(|node| node.excess > 0));
        assert!(plan.nodes.iter().any(|node| node.shortfall.is_some()));
    }
}
