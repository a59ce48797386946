//! One reconcile pass: observe the kernel, compute the desired state, apply the difference.
//!
//! The pass adds what is missing before it removes what is stale, touches only rules and
//! routes carrying the owner mark (and, on bare metal, links named with [`LINK_PREFIX`]),
//! and never fails as a whole because one VNIC cannot be set up: that VNIC is reported not
//! ready and the others proceed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::Error;
use crate::desired::{
    AttachmentMode, DesiredConfig, DesiredVnic, RouteSpec, RuleSpec, SkippedAddress, desired_state,
};
use crate::model::{MacAddr, NodeInputs, TableId, Vnic, VnicId, VnicRole};
use crate::netlink::{Datapath, Observed, ObservedLink};
use crate::sysctl::{DEFAULT_SYSCTL_ROOT, ensure_rp_filter_loose};

/// Names of the links the agent creates on bare metal start with this (`ocim<tag>` for the
/// macvlan, `ociv<tag>` for the VLAN on top of it).
pub const LINK_PREFIX: &str = "oci";

/// Settings of a reconcile pass.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct ReconcileConfig {
    /// Settings of the pure computation.
    pub desired: DesiredConfig,
    /// How secondary VNICs appear to Linux.
    pub attachment: AttachmentMode,
    /// MTU for secondary VNIC links; `None` leaves the MTU alone.
    pub mtu: Option<u32>,
    /// Bare metal: the physical NIC names by `nicIndex`; when empty, NIC 0 is the primary
    /// VNIC's link.
    pub physical_nics: Vec<String>,
    /// Root of the sysctl tree (`/proc/sys`).
    pub sysctl_root: PathBuf,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            desired: DesiredConfig::default(),
            attachment: AttachmentMode::VirtualMachine,
            mtu: None,
            physical_nics: Vec::new(),
            sysctl_root: PathBuf::from(DEFAULT_SYSCTL_ROOT),
        }
    }
}

impl ReconcileConfig {
    /// Sets the pure computation's settings.
    #[must_use]
    pub fn with_desired(mut self, desired: DesiredConfig) -> Self {
        self.desired = desired;
        self
    }

    /// Sets the attachment mode.
    #[must_use]
    pub fn with_attachment(mut self, attachment: AttachmentMode) -> Self {
        self.attachment = attachment;
        self
    }

    /// Sets the MTU of secondary VNIC links.
    #[must_use]
    pub fn with_mtu(mut self, mtu: Option<u32>) -> Self {
        self.mtu = mtu;
        self
    }

    /// Sets the root of the sysctl tree (a host mount of `/proc/sys` in a container).
    #[must_use]
    pub fn with_sysctl_root(mut self, root: PathBuf) -> Self {
        self.sysctl_root = root;
        self
    }

    /// Sets the bare-metal physical NIC names.
    #[must_use]
    pub fn with_physical_nics(mut self, nics: Vec<String>) -> Self {
        self.physical_nics = nics;
        self
    }
}

/// Why a VNIC is not ready.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
#[non_exhaustive]
pub enum NotReadyReason {
    /// No Linux link has the VNIC's MAC (hot-plug not finished, or the NIC is hidden).
    LinkNotFound,
    /// More than one link has the VNIC's MAC; the agent refuses to guess.
    AmbiguousLink,
    /// Bare metal: the physical NIC for the VNIC's `nicIndex` was not found.
    ParentNotFound,
    /// Creating, bringing up or sizing the link failed.
    LinkSetupFailed,
    /// Writing `rp_filter` failed.
    RpFilterFailed,
    /// Installing the VNIC table's routes failed.
    RoutesFailed,
    /// Installing rules for the VNIC's addresses failed.
    RulesFailed,
}

impl NotReadyReason {
    /// Whether waiting may fix it (a hot-plugged NIC still appearing) rather than needing a
    /// person.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::LinkNotFound)
    }

    /// A short PascalCase name for events, conditions and metric labels.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::LinkNotFound => "LinkNotFound",
            Self::AmbiguousLink => "AmbiguousLink",
            Self::ParentNotFound => "ParentNotFound",
            Self::LinkSetupFailed => "LinkSetupFailed",
            Self::RpFilterFailed => "RpFilterFailed",
            Self::RoutesFailed => "RoutesFailed",
            Self::RulesFailed => "RulesFailed",
        }
    }
}

/// Whether a VNIC's datapath is complete.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Readiness {
    /// Link up, table routes and every address rule in place.
    Ready,
    /// Something is missing.
    NotReady {
        /// The first problem found.
        reason: NotReadyReason,
        /// What went wrong and what to check, for people.
        message: String,
    },
}

/// The outcome of one pass for one VNIC.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VnicReport {
    /// Primary or secondary.
    pub role: VnicRole,
    /// The Linux link carrying the VNIC, when found.
    pub link: Option<String>,
    /// The VNIC's routing table (secondary VNICs).
    pub table: Option<TableId>,
    /// How many pool addresses on this VNIC got rules.
    pub addresses: usize,
    /// Ready or not, and why.
    pub readiness: Readiness,
}

/// How many kernel objects a pass changed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Changes {
    /// Rules installed.
    pub rules_added: usize,
    /// Owned rules removed.
    pub rules_deleted: usize,
    /// Routes installed.
    pub routes_added: usize,
    /// Owned routes removed.
    pub routes_deleted: usize,
    /// Links brought up or resized.
    pub links_updated: usize,
    /// Links created (bare metal).
    pub links_created: usize,
    /// Owned links removed (bare metal).
    pub links_deleted: usize,
    /// `rp_filter` files written.
    pub sysctls_written: usize,
}

impl Changes {
    /// Whether the pass changed nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The outcome of one pass.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReconcileReport {
    /// Every VNIC in the inputs.
    pub vnics: BTreeMap<VnicId, VnicReport>,
    /// Pool addresses that got no rules, and why.
    pub skipped: Vec<SkippedAddress>,
    /// What changed.
    pub changes: Changes,
    /// Failures that belong to no VNIC (removing stale state), as messages.
    pub cleanup_failures: Vec<String>,
}

impl ReconcileReport {
    /// Whether every VNIC is ready.
    #[must_use]
    pub fn all_ready(&self) -> bool {
        self.vnics.values().all(|v| v.readiness == Readiness::Ready)
    }
}

/// Runs one pass against the namespace `datapath` lives in.
///
/// # Errors
///
/// Only when the kernel state cannot be read; failures to change one thing are reported per
/// VNIC in the returned report.
pub async fn reconcile(
    datapath: &Datapath,
    inputs: &NodeInputs,
    config: &ReconcileConfig,
) -> Result<ReconcileReport, Error> {
    let mut observed = datapath.observe().await?;
    let mut report = ReconcileReport::default();
    let mut problems: BTreeMap<VnicId, (NotReadyReason, String)> = BTreeMap::new();

    let links = resolve_links(datapath, inputs, config, &mut observed, &mut report).await?;

    let adopted = adopted_tables(&observed);
    let desired = desired_state(inputs, &config.desired, &adopted, &observed.foreign_tables);
    report.skipped.clone_from(&desired.skipped);

    let mut wanted_routes: BTreeSet<RouteSpec> = BTreeSet::new();
    let mut kept_tables: BTreeSet<u32> = BTreeSet::new();
    for (id, vnic) in &desired.vnics {
        let link = match links.get(id) {
            Some(Ok(link)) => link,
            Some(Err(problem)) => {
                kept_tables.insert(vnic.table.get());
                problems.insert(id.clone(), problem.clone());
                continue;
            }
            None => continue,
        };

        if let Err(problem) = setup_vnic(
            datapath,
            vnic,
            link,
            config,
            &observed,
            &mut wanted_routes,
            &mut report,
        )
        .await
        {
            problems.insert(id.clone(), problem);
        }
    }

    add_rules(
        datapath,
        &desired.rules,
        &desired.vnics,
        &observed,
        &mut problems,
        &mut report,
    )
    .await;
    delete_stale(
        datapath,
        &desired.rules,
        &wanted_routes,
        &kept_tables,
        &observed,
        &mut report,
    )
    .await;
    if config.attachment == AttachmentMode::BareMetal {
        delete_stale_links(datapath, &links, &observed, &mut report).await;
    }

    for vnic in &inputs.vnics {
        let link = links
            .get(&vnic.id)
            .and_then(|l| l.as_ref().ok())
            .map(|l| l.name.clone());
        let planned = desired.vnics.get(&vnic.id);
        let readiness = match problems.remove(&vnic.id) {
            Some((reason, message)) => Readiness::NotReady { reason, message },
            None => Readiness::Ready,
        };
        report.vnics.insert(
            vnic.id.clone(),
            VnicReport {
                role: vnic.role,
                link,
                table: planned.map(|p| p.table),
                addresses: planned.map_or(0, |p| p.addresses.len()),
                readiness,
            },
        );
    }

    Ok(report)
}

type LinkResult = Result<ObservedLink, (NotReadyReason, String)>;

/// Finds (and on bare metal creates) the link of every VNIC.
async fn resolve_links(
    datapath: &Datapath,
    inputs: &NodeInputs,
    config: &ReconcileConfig,
    observed: &mut Observed,
    report: &mut ReconcileReport,
) -> Result<BTreeMap<VnicId, LinkResult>, Error> {
    let mut links = BTreeMap::new();
    for vnic in &inputs.vnics {
        links.insert(vnic.id.clone(), find_by_mac(&observed.links, vnic));
    }

    if config.attachment != AttachmentMode::BareMetal {
        return Ok(links);
    }

    let primary_link = inputs
        .vnics
        .iter()
        .find(|v| v.role == VnicRole::Primary)
        .and_then(|v| links.get(&v.id))
        .and_then(|l| l.as_ref().ok())
        .cloned();

    for vnic in inputs
        .vnics
        .iter()
        .filter(|v| v.role == VnicRole::Secondary)
    {
        let Some(tag) = vnic.vlan_tag else { continue };

        let found = find_vlan(&observed.links, vnic, tag);
        let result = match found {
            Ok(Some(link)) => Ok(link),
            Ok(None) => {
                let created =
                    create_vlan_stack(datapath, vnic, tag, config, primary_link.as_ref(), observed)
                        .await;
                match created {
                    Ok(count) => {
                        report.changes.links_created += count;
                        observed.links = datapath.links().await?;
                        find_vlan(&observed.links, vnic, tag).and_then(|l| {
                            l.ok_or_else(|| {
                                (
                                    NotReadyReason::LinkSetupFailed,
                                    format!("VLAN link ociv{tag} vanished after creation"),
                                )
                            })
                        })
                    }
                    Err(problem) => Err(problem),
                }
            }
            Err(problem) => Err(problem),
        };
        links.insert(vnic.id.clone(), result);
    }
    Ok(links)
}

/// VM rule (Cilium's `retrieveIfIndexFromMAC`): exactly one non-enslaved link has the MAC.
/// Links that inherit the MAC from a parent with the same MAC (VLANs, macvlans) are not
/// candidates.
fn find_by_mac(links: &[ObservedLink], vnic: &Vnic) -> LinkResult {
    let candidates: Vec<&ObservedLink> = links
        .iter()
        .filter(|l| l.mac == Some(vnic.mac) && l.controller.is_none())
        .filter(|l| !inherits_mac(links, l))
        .collect();

    match candidates.as_slice() {
        [link] => Ok((*link).clone()),
        [] => Err((
            NotReadyReason::LinkNotFound,
            format!(
                "no link has MAC {}; is the VNIC attached and visible to the host?",
                vnic.mac
            ),
        )),
        many => Err(ambiguous(vnic.mac, many)),
    }
}

/// Bare-metal rule: the VNIC's link is the VLAN with its tag whose MAC is the VNIC's.
fn find_vlan(
    links: &[ObservedLink],
    vnic: &Vnic,
    tag: u16,
) -> Result<Option<ObservedLink>, (NotReadyReason, String)> {
    let candidates: Vec<&ObservedLink> = links
        .iter()
        .filter(|l| l.kind.as_deref() == Some("vlan") && l.vlan_id == Some(tag))
        .filter(|l| l.mac == Some(vnic.mac) && l.controller.is_none())
        .collect();

    match candidates.as_slice() {
        [link] => Ok(Some((*link).clone())),
        [] => Ok(None),
        many => Err(ambiguous(vnic.mac, many)),
    }
}

fn ambiguous(mac: MacAddr, links: &[&ObservedLink]) -> (NotReadyReason, String) {
    let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
    (
        NotReadyReason::AmbiguousLink,
        format!(
            "links {} all have MAC {mac}; remove the extra ones",
            names.join(", ")
        ),
    )
}

fn inherits_mac(links: &[ObservedLink], link: &ObservedLink) -> bool {
    let Some(parent) = link.parent else {
        return false;
    };
    links
        .iter()
        .any(|p| p.index == parent && p.index != link.index && p.mac == link.mac)
}

/// Creates `ocim<tag>` (macvlan with the VNIC's MAC on the physical NIC) and `ociv<tag>`
/// (802.1Q on the macvlan) as Oracle's `secondary_vnic_all_configure.sh` lays them out.
async fn create_vlan_stack(
    datapath: &Datapath,
    vnic: &Vnic,
    tag: u16,
    config: &ReconcileConfig,
    primary_link: Option<&ObservedLink>,
    observed: &Observed,
) -> Result<usize, (NotReadyReason, String)> {
    let nic_index = usize::from(vnic.nic_index.unwrap_or(0));
    let parent = match config.physical_nics.get(nic_index) {
        Some(name) => observed.links.iter().find(|l| &l.name == name),
        None if nic_index == 0 => primary_link,
        None => None,
    };
    let Some(parent) = parent else {
        return Err((
            NotReadyReason::ParentNotFound,
            format!(
                "no physical NIC for nicIndex {nic_index}; list the physical NICs in order \
                 with --physical-nics"
            ),
        ));
    };

    let macvlan_name = format!("{LINK_PREFIX}m{tag}");
    let vlan_name = format!("{LINK_PREFIX}v{tag}");
    let setup_failed = |err: Error| (NotReadyReason::LinkSetupFailed, error_chain(&err));
    let mut created = 0;

    let existing = observed.links.iter().find(|l| {
        l.name == macvlan_name && l.kind.as_deref() == Some("macvlan") && l.mac == Some(vnic.mac)
    });
    let macvlan_index = match existing {
        Some(link) => link.index,
        None => {
            datapath
                .add_macvlan(&macvlan_name, parent.index, vnic.mac)
                .await
                .map_err(setup_failed)?;
            created += 1;
            let links = datapath.links().await.map_err(setup_failed)?;
            let link = links
                .iter()
                .find(|l| l.name == macvlan_name)
                .ok_or_else(|| {
                    (
                        NotReadyReason::LinkSetupFailed,
                        format!("{macvlan_name} vanished after creation"),
                    )
                })?;
            datapath
                .set_link_up(link, config.mtu)
                .await
                .map_err(setup_failed)?;
            link.index
        }
    };

    datapath
        .add_vlan(&vlan_name, macvlan_index, tag)
        .await
        .map_err(setup_failed)?;
    Ok(created + 1)
}

/// Link up and MTU, `rp_filter`, and the table's routes for one resolved VNIC.
async fn setup_vnic(
    datapath: &Datapath,
    vnic: &DesiredVnic,
    link: &ObservedLink,
    config: &ReconcileConfig,
    observed: &Observed,
    wanted_routes: &mut BTreeSet<RouteSpec>,
    report: &mut ReconcileReport,
) -> Result<(), (NotReadyReason, String)> {
    let routes = vnic.routes(link.index);
    wanted_routes.extend(routes);

    let mtu_wrong = config.mtu.is_some_and(|mtu| link.mtu != Some(mtu));
    if !link.up || mtu_wrong {
        datapath
            .set_link_up(link, config.mtu)
            .await
            .map_err(|err| (NotReadyReason::LinkSetupFailed, error_chain(&err)))?;
        report.changes.links_updated += 1;
    }

    let written = ensure_rp_filter_loose(&config.sysctl_root, &link.name)
        .map_err(|err| (NotReadyReason::RpFilterFailed, error_chain(&err)))?;
    report.changes.sysctls_written += usize::from(written);

    for route in routes {
        if observed.routes.iter().any(|r| r.spec == Some(route)) {
            continue;
        }
        datapath
            .add_route(&route)
            .await
            .map_err(|err| (NotReadyReason::RoutesFailed, error_chain(&err)))?;
        report.changes.routes_added += 1;
    }
    Ok(())
}

async fn add_rules(
    datapath: &Datapath,
    rules: &BTreeSet<RuleSpec>,
    vnics: &BTreeMap<VnicId, DesiredVnic>,
    observed: &Observed,
    problems: &mut BTreeMap<VnicId, (NotReadyReason, String)>,
    report: &mut ReconcileReport,
) {
    let present: BTreeSet<RuleSpec> = observed.rules.iter().filter_map(|r| r.spec).collect();

    for rule in rules.difference(&present) {
        let Err(err) = datapath.add_rule(rule).await else {
            report.changes.rules_added += 1;
            continue;
        };

        tracing::debug!(%rule, error = error_chain(&err), "Rule not installed");
        for (id, vnic) in vnics {
            let concerned = rule.table == vnic.table.get()
                || rule
                    .destination
                    .is_some_and(|d| vnic.addresses.contains(&d.addr()));
            if concerned {
                problems
                    .entry(id.clone())
                    .or_insert_with(|| (NotReadyReason::RulesFailed, error_chain(&err)));
            }
        }
    }
}

/// Removes owned rules and routes that are not desired (and duplicates of desired ones);
/// routes in `kept_tables` (VNICs whose link is missing for now) stay.
async fn delete_stale(
    datapath: &Datapath,
    rules: &BTreeSet<RuleSpec>,
    routes: &BTreeSet<RouteSpec>,
    kept_tables: &BTreeSet<u32>,
    observed: &Observed,
    report: &mut ReconcileReport,
) {
    let mut seen_rules = BTreeSet::new();
    for rule in &observed.rules {
        let keep = rule
            .spec
            .is_some_and(|spec| rules.contains(&spec) && seen_rules.insert(spec));
        if keep {
            continue;
        }
        match datapath.delete_rule(rule).await {
            Ok(()) => report.changes.rules_deleted += 1,
            Err(err) => report.cleanup_failures.push(error_chain(&err)),
        }
    }

    let mut seen_routes = BTreeSet::new();
    for route in &observed.routes {
        let keep = route.spec.is_some_and(|spec| {
            (routes.contains(&spec) || kept_tables.contains(&spec.table))
                && seen_routes.insert(spec)
        });
        if keep {
            continue;
        }
        match datapath.delete_route(route).await {
            Ok(()) => report.changes.routes_deleted += 1,
            Err(err) => report.cleanup_failures.push(error_chain(&err)),
        }
    }
}

/// Bare metal: removes `ocim*`/`ociv*` links of VNICs that are gone.
async fn delete_stale_links(
    datapath: &Datapath,
    links: &BTreeMap<VnicId, LinkResult>,
    observed: &Observed,
    report: &mut ReconcileReport,
) {
    let in_use: BTreeSet<u32> = links
        .values()
        .filter_map(|l| l.as_ref().ok())
        .flat_map(|l| [Some(l.index), l.parent])
        .flatten()
        .collect();

    let ours = |l: &&ObservedLink| {
        let kind = l.kind.as_deref();
        let tail = |prefix: &str| {
            l.name
                .strip_prefix(prefix)
                .is_some_and(|t| t.parse::<u16>().is_ok())
        };
        (kind == Some("vlan") && tail(&format!("{LINK_PREFIX}v")))
            || (kind == Some("macvlan") && tail(&format!("{LINK_PREFIX}m")))
    };

    for link in observed.links.iter().filter(ours) {
        if in_use.contains(&link.index) {
            continue;
        }
        match datapath.delete_link(link).await {
            Ok(()) => report.changes.links_deleted += 1,
            Err(err) => report.cleanup_failures.push(error_chain(&err)),
        }
    }
}

/// Tables already in use per link MAC, read from the owned default routes.
fn adopted_tables(observed: &Observed) -> BTreeMap<MacAddr, u32> {
    observed
        .routes
        .iter()
        .filter_map(|r| r.spec)
        .filter(|spec| spec.gateway.is_some())
        .filter_map(|spec| {
            let link = observed.links.iter().find(|l| l.index == spec.oif)?;
            Some((link.mac?, spec.table))
        })
        .collect()
}

/// The error and its causes on one line, for logs, reports and conditions.
///
/// Each cause appears once: many errors (kube's among them) put their source into their own
/// message and also return it as `source()`, so a cause whose text is already in the line is
/// not repeated.
#[must_use]
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !said.is_empty() && !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// An error that prints its source in its own message and also returns it as `source()`.
    #[derive(Debug, thiserror::Error)]
    #[error("failed to infer configuration: {0}")]
    struct Repeats(#[source] kube::config::KubeconfigError);

    #[test]
    fn error_chain_prints_each_cause_once() {
        let missing = std::path::Path::new("/nonexistent/oci-ipam/kubeconfig");
        let Err(read) = kube::config::Kubeconfig::read_from(missing) else {
            panic!("{} exists", missing.display());
        };
        let err = Error::ConnectKube {
            source: kube::Error::Service(Box::new(Repeats(read))),
        };

        let text = error_chain(&err);
        assert_eq!(
            text.matches("failed to read kubeconfig").count(),
            1,
            "{text}"
        );
        assert_eq!(text.matches("(os error 2)").count(), 1, "{text}");
        assert!(
            text.starts_with("failed to set up the Kubernetes client"),
            "{text}"
        );
    }

    fn link(index: u32, name: &str, mac: [u8; 6]) -> ObservedLink {
        ObservedLink {
            index,
            name: name.to_owned(),
            mac: Some(MacAddr::new(mac)),
            mtu: Some(1500),
            up: true,
            kind: None,
            vlan_id: None,
            parent: None,
            controller: None,
        }
    }

    fn vnic(mac: [u8; 6]) -> Vnic {
        Vnic::new(
            "ocid1.vnic.oc1.phx.a".parse().unwrap(),
            VnicRole::Secondary,
            MacAddr::new(mac),
            Ipv4Addr::new(10, 0, 1, 1),
            "10.0.1.0/24".parse().unwrap(),
        )
    }

    const MAC: [u8; 6] = [2, 0, 0x17, 0, 0, 1];

    #[test]
    fn one_link_with_the_mac_is_the_vnic() {
        let links = [
            link(1, "lo", [0; 6]),
            link(2, "ens3", [2; 6]),
            link(3, "ens5", MAC),
        ];

        assert_eq!(find_by_mac(&links, &vnic(MAC)).unwrap().name, "ens5");
    }

    #[test]
    fn two_links_with_the_mac_are_refused_but_derived_and_enslaved_ones_do_not_count() {
        let mut vlan = link(4, "ens5.7", MAC);
        vlan.kind = Some("vlan".into());
        vlan.parent = Some(3);
        let mut enslaved = link(5, "bond-port", MAC);
        enslaved.controller = Some(9);
        let links = [link(3, "ens5", MAC), vlan, enslaved];

        assert_eq!(find_by_mac(&links, &vnic(MAC)).unwrap().name, "ens5");

        let twins = [link(3, "ens5", MAC), link(6, "ens6", MAC)];
        let (reason, message) = find_by_mac(&twins, &vnic(MAC)).unwrap_err();
        assert_eq!(reason, NotReadyReason::AmbiguousLink);
        assert!(message.contains("ens5, ens6"), "{message}");

        let (reason, _) = find_by_mac(&[link(1, "ens3", [2; 6])], &vnic(MAC)).unwrap_err();
        assert_eq!(reason, NotReadyReason::LinkNotFound);
    }

    #[test]
    fn bare_metal_vnic_link_is_the_vlan_with_its_tag_and_mac() {
        let mut macvlan = link(10, "ocim101", MAC);
        macvlan.kind = Some("macvlan".into());
        macvlan.parent = Some(2);
        let mut vlan = link(11, "ociv101", MAC);
        vlan.kind = Some("vlan".into());
        vlan.vlan_id = Some(101);
        vlan.parent = Some(10);
        let mut other_tag = link(12, "ociv102", MAC);
        other_tag.kind = Some("vlan".into());
        other_tag.vlan_id = Some(102);
        let links = [link(2, "eno1", [2; 6]), macvlan, vlan, other_tag];

        let found = find_vlan(&links, &vnic(MAC), 101).unwrap().unwrap();
        assert_eq!(found.name, "ociv101");
        assert!(find_vlan(&links, &vnic(MAC), 103).unwrap().is_none());
    }
}
