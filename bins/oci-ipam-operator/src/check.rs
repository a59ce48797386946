//! `oci-ipam-operator check`: probes what the operator needs, each reported as OK or a fix.
//!
//! The probes only read: credentials, region and endpoint, the VCN, the subnets the
//! selector matches, the permissions that reads can show (instances, VNIC attachments,
//! VNICs, private IPs), and the Kubernetes objects the operator reads and writes.

use std::fmt;
use std::time::Instant;

use futures::TryStreamExt;
use k8s_glue::CiliumNode;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::ListParams;
use oci_api::model::{InstanceId, ListPrivateIpsRequest, ListVnicAttachmentsRequest};

use crate::Cloud;
use crate::config::{Config, SubnetSelector};
use crate::subnets::SubnetBook;

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Probe {
    /// What was probed.
    pub what: String,
    /// `None` when OK, else what to fix.
    pub fix: Option<String>,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fix {
            None => write!(f, "OK    {}", self.what),
            Some(fix) => write!(f, "FIX   {}: {fix}", self.what),
        }
    }
}

fn ok(what: impl Into<String>) -> Probe {
    Probe {
        what: what.into(),
        fix: None,
    }
}

fn fix(what: impl Into<String>, fix: impl Into<String>) -> Probe {
    Probe {
        what: what.into(),
        fix: Some(fix.into()),
    }
}

/// Runs every probe. `credentials` is the outcome of loading the credential provider.
pub async fn run(
    config: &Config,
    credentials: Result<String, String>,
    oci: Option<&dyn Cloud>,
    kube: Option<kube::Client>,
) -> Vec<Probe> {
    let mut probes = Vec::new();

    match credentials {
        Ok(description) => probes.push(ok(format!("OCI credentials ({description})"))),
        Err(err) => probes.push(fix("OCI credentials", err)),
    }

    if let Some(oci) = oci {
        oci_probes(config, oci, kube.clone(), &mut probes).await;
    } else {
        probes.push(fix(
            "OCI endpoint",
            "no client could be built; see the credentials line",
        ));
    }

    match kube {
        Some(client) => kube_probes(config, client, &mut probes).await,
        None => probes.push(fix(
            "Kubernetes API",
            "no client: set KUBECONFIG or run in a pod with a service account",
        )),
    }
    probes
}

async fn oci_probes(
    config: &Config,
    oci: &dyn Cloud,
    kube: Option<kube::Client>,
    probes: &mut Vec<Probe>,
) {
    if let Some(vcn) = &config.vcn {
        match vcn.as_str().parse() {
            Ok(id) => match oci.get_vcn(&id).await {
                Ok(found) => {
                    probes.push(ok(format!("VCN {vcn} ({})", found.cidr_blocks.join(", "))))
                }
                Err(err) => probes.push(fix(
                    format!("VCN {vcn}"),
                    format!(
                        "{}; grant `inspect vcns` or correct --oci-vcn-id",
                        crate::error::chain(&err)
                    ),
                )),
            },
            Err(err) => probes.push(fix(format!("VCN {vcn}"), err.to_string())),
        }
    }

    let book = SubnetBook::default();
    let now = Instant::now();
    match book
        .selected(oci, config, config.resync_interval, now)
        .await
    {
        Ok(subnets)
            if subnets.is_empty() && !matches!(config.subnets, SubnetSelector::NodeSubnet) =>
        {
            probes.push(fix(
                "subnets",
                "no subnet matches --subnet-ids / --subnet-tags",
            ));
        }
        Ok(subnets) => {
            if subnets.is_empty() {
                probes.push(ok("subnets: each node's own subnet (no selector)"));
            }
            for subnet in subnets {
                match book.facts(oci, &subnet, config.resync_interval, now).await {
                    Ok(facts) => probes.push(ok(format!(
                        "subnet {subnet} {} ({} addresses taken); `use private-ips` readable",
                        facts.cidr, facts.allocated
                    ))),
                    Err(err) => probes.push(fix(
                        format!("subnet {subnet}"),
                        format!(
                            "{}; grant `use subnets` and `use private-ips`",
                            crate::error::chain(&err)
                        ),
                    )),
                }
            }
        }
        Err(err) => probes.push(fix("subnets", crate::error::chain(&err))),
    }

    let Some(kube) = kube else {
        return;
    };
    let nodes = Api::<Node>::all(kube)
        .list(&ListParams::default().limit(1))
        .await;
    let instance = nodes.ok().and_then(|list| {
        list.items
            .first()
            .and_then(|node| k8s_glue::node::NodeInstance::from_node(node).ok())
    });
    let Some(instance) = instance else {
        probes.push(ok(
            "instance permissions: no Node with an oci:// providerID to probe with",
        ));
        return;
    };
    let Ok(id) = instance.instance_id.as_str().parse::<InstanceId>() else {
        return;
    };
    match oci.get_instance(&id).await {
        Ok(found) => {
            probes.push(ok(format!(
                "`inspect instances` (node {}, {})",
                instance.node, found.shape
            )));
            let request =
                ListVnicAttachmentsRequest::of_instance(found.compartment_id.clone(), id.clone());
            match oci
                .list_vnic_attachments(&request)
                .try_collect::<Vec<_>>()
                .await
            {
                Ok(attachments) => {
                    probes.push(ok(format!(
                        "`inspect vnic-attachments` ({} on the node)",
                        attachments.len()
                    )));
                    if let Some(vnic) = attachments.iter().find_map(|a| a.vnic_id.clone()) {
                        let vnic_read = oci.get_vnic(&vnic).await;
                        let ips = oci
                            .list_private_ips(&ListPrivateIpsRequest::on_vnic(vnic.clone()))
                            .try_collect::<Vec<_>>()
                            .await;
                        match (vnic_read, ips) {
                            (Ok(_), Ok(_)) => {
                                probes.push(ok("`use vnics`, `use private-ips` (reads)"))
                            }
                            (Err(err), _) | (_, Err(err)) => probes.push(fix(
                                "VNIC and private IP reads",
                                format!(
                                    "{}; grant `use vnics` and `use private-ips`",
                                    crate::error::chain(&err)
                                ),
                            )),
                        }
                    }
                }
                Err(err) => probes.push(fix(
                    "VNIC attachments",
                    format!(
                        "{}; grant `inspect vnic-attachments` in the instance's compartment",
                        crate::error::chain(&err)
                    ),
                )),
            }
        }
        Err(err) => probes.push(fix(
            format!("instance {}", instance.instance_id),
            format!(
                "{}; grant `inspect instances` (and `manage instances` to attach VNICs)",
                crate::error::chain(&err)
            ),
        )),
    }
    probes.push(ok(
        "writes (CreatePrivateIp, AttachVnic) are not probed: they would change the tenancy",
    ));
}

async fn kube_probes(config: &Config, client: kube::Client, probes: &mut Vec<Probe>) {
    let limit = ListParams::default().limit(1);
    match Api::<CiliumNode>::all(client.clone()).list(&limit).await {
        Ok(_) => probes.push(ok("list CiliumNodes (cilium.io/v2)")),
        Err(err) => probes.push(fix(
            "list CiliumNodes",
            format!(
                "{}; is Cilium's CRD installed and RBAC applied?",
                crate::error::chain(&err)
            ),
        )),
    }
    match Api::<k8s_glue::OciNetworkNode>::all(client.clone())
        .list(&limit)
        .await
    {
        Ok(_) => probes.push(ok("list OciNetworkNodes (oci-ipam.io)")),
        Err(err) => probes.push(fix(
            "list OciNetworkNodes",
            format!("{}; apply deploy/crds", crate::error::chain(&err)),
        )),
    }
    let election = &config.leader_election;
    let leases = Api::<Lease>::namespaced(client, &election.namespace);
    match leases.get_opt(&election.lease_name).await {
        Ok(_) => probes.push(ok(format!(
            "read Lease {}/{}",
            election.namespace, election.lease_name
        ))),
        Err(err) => probes.push(fix(
            "read Lease",
            format!("{}; check RBAC for leases", crate::error::chain(&err)),
        )),
    }
}
