//! Reading one node's state from OCI: its instance, VNIC attachments, VNICs and private IPs.
//!
//! The result, a [`NodeView`], is what the reconciler joins with the CiliumNode. Reads are
//! per node (never a compartment-wide listing); VNIC details, which do not change once a VNIC
//! exists, are reused from the previous view when the VNIC is still attached.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Instant;

use futures::TryStreamExt;
use oci_api::model::{
    CompartmentId, InstanceId, InstanceLifecycleState, ListPrivateIpsRequest,
    ListVnicAttachmentsRequest, PrivateIpId, SubnetId, VnicAttachmentId,
    VnicAttachmentLifecycleState, VnicId,
};

use crate::Cloud;
use crate::error::Error;
use crate::ownership::Ownership;

/// What OCI says about one node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeView {
    /// The Kubernetes node name.
    pub node: String,
    /// The instance.
    pub instance: InstanceFacts,
    /// Attached VNICs, primary first, then in attachment order.
    pub vnics: Vec<VnicView>,
    /// An attachment still in `ATTACHING`, if any (at most one is ever started).
    pub attaching: Option<Attaching>,
    /// When OCI was last read for this node.
    pub read_at: Instant,
}

/// Facts about the node's instance.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InstanceFacts {
    /// Instance OCID.
    pub id: InstanceId,
    /// Shape name.
    pub shape: String,
    /// OCPUs, for flex shapes.
    pub ocpus: Option<f64>,
    /// The instance's own VNIC limit.
    pub max_vnic_attachments: Option<u32>,
    /// Availability domain.
    pub availability_domain: String,
    /// Compartment (where its VNIC attachments live).
    pub compartment: CompartmentId,
    /// Whether it is running (or starting); other states get no new resources.
    pub running: bool,
}

/// One attached VNIC.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VnicView {
    /// VNIC OCID.
    pub id: VnicId,
    /// Attachment OCID.
    pub attachment: VnicAttachmentId,
    /// Index: 0 for the primary, then attachment order.
    pub index: u32,
    /// Whether this is the primary VNIC.
    pub primary: bool,
    /// Whether the operator created it (tagged for this cluster and node).
    pub ours: bool,
    /// Subnet.
    pub subnet: SubnetId,
    /// The VNIC's own primary private IP.
    pub primary_ip: Option<Ipv4Addr>,
    /// MAC address.
    pub mac: Option<String>,
    /// VLAN tag (bare metal).
    pub vlan_tag: Option<u32>,
    /// Secondary private IPs on it.
    pub ips: Vec<IpView>,
}

impl VnicView {
    /// Whether the operator may put pool addresses on this VNIC.
    #[must_use]
    pub fn usable(&self, first_vnic_index: u32) -> bool {
        self.index >= first_vnic_index && (self.primary || self.ours)
    }

    /// Our addresses on the VNIC.
    pub fn our_ips(&self) -> impl Iterator<Item = &IpView> {
        self.ips.iter().filter(|ip| ip.ours)
    }
}

/// One secondary private IP.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpView {
    /// Private IP OCID.
    pub id: PrivateIpId,
    /// The address.
    pub address: Ipv4Addr,
    /// Whether the operator created it for this node.
    pub ours: bool,
}

/// An attachment in flight.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Attaching {
    /// Attachment OCID.
    pub attachment: VnicAttachmentId,
    /// Subnet it attaches into.
    pub subnet: Option<SubnetId>,
    /// When the operator first saw it in flight.
    pub since: Instant,
}

impl NodeView {
    /// Every pool-eligible address, with its VNIC.
    pub fn pool_ips(&self, first_vnic_index: u32) -> impl Iterator<Item = (&VnicView, &IpView)> {
        self.vnics
            .iter()
            .filter(move |vnic| vnic.usable(first_vnic_index))
            .flat_map(|vnic| vnic.our_ips().map(move |ip| (vnic, ip)))
    }

    /// The VNIC with this OCID.
    #[must_use]
    pub fn vnic(&self, id: &str) -> Option<&VnicView> {
        self.vnics.iter().find(|vnic| vnic.id.as_str() == id)
    }

    /// The VNIC with this OCID, mutable.
    pub fn vnic_mut(&mut self, id: &str) -> Option<&mut VnicView> {
        self.vnics.iter_mut().find(|vnic| vnic.id.as_str() == id)
    }

    /// The VNIC and private IP holding `address`, among our addresses.
    #[must_use]
    pub fn find_ip(&self, address: Ipv4Addr) -> Option<(&VnicView, &IpView)> {
        self.vnics.iter().find_map(|vnic| {
            vnic.our_ips()
                .find(|ip| ip.address == address)
                .map(|ip| (vnic, ip))
        })
    }
}

/// Reads the node's state from OCI.
///
/// `previous` is the last view of this node, if any: the instance facts and the details of
/// VNICs still attached are reused from it, so a steady node costs one ListVnicAttachments
/// plus one ListPrivateIps per usable VNIC.
///
/// # Errors
///
/// [`Error::InstanceGone`] when the instance no longer exists; [`Error::ReadOci`] when a read
/// fails. Nothing partial is returned: a failed read must never shrink a pool.
pub async fn read_node(
    oci: &dyn Cloud,
    ownership: &Ownership,
    node: &str,
    instance_id: &InstanceId,
    previous: Option<&NodeView>,
    first_vnic_index: u32,
    now: Instant,
) -> Result<NodeView, Error> {
    let instance = match previous {
        Some(view) if view.instance.id == *instance_id => view.instance.clone(),
        _ => read_instance(oci, node, instance_id).await?,
    };

    let request =
        ListVnicAttachmentsRequest::of_instance(instance.compartment.clone(), instance.id.clone());
    let attachments: Vec<_> = oci
        .list_vnic_attachments(&request)
        .try_collect()
        .await
        .map_err(|source| Error::read(node, source))?;

    let mut attached: Vec<_> = attachments
        .iter()
        .filter(|attachment| attachment.lifecycle_state == VnicAttachmentLifecycleState::Attached)
        .filter(|attachment| attachment.vnic_id.is_some())
        .collect();
    attached.sort_by(|a, b| (a.time_created, a.id.as_str()).cmp(&(b.time_created, b.id.as_str())));

    let attaching = attachments
        .iter()
        .find(|attachment| attachment.lifecycle_state == VnicAttachmentLifecycleState::Attaching)
        .map(|attachment| Attaching {
            attachment: attachment.id.clone(),
            subnet: attachment.subnet_id.clone(),
            since: previous
                .and_then(|view| view.attaching.as_ref())
                .filter(|known| known.attachment == attachment.id)
                .map_or(now, |known| known.since),
        });

    let mut vnics = Vec::with_capacity(attached.len());
    for attachment in attached {
        let Some(vnic_id) = attachment.vnic_id.clone() else {
            continue;
        };
        let known = previous.and_then(|view| view.vnic(vnic_id.as_str()));
        let mut vnic = match known {
            Some(known) => known.clone(),
            None => read_vnic(oci, ownership, node, &vnic_id, attachment).await?,
        };
        vnic.vlan_tag = attachment.vlan_tag.or(vnic.vlan_tag);
        vnics.push(vnic);
    }

    vnics.sort_by_key(|vnic| !vnic.primary);
    for (index, vnic) in vnics.iter_mut().enumerate() {
        vnic.index = u32::try_from(index).unwrap_or(u32::MAX);
    }

    for vnic in vnics
        .iter_mut()
        .filter(|vnic| vnic.usable(first_vnic_index))
    {
        vnic.ips = read_ips(oci, ownership, node, &vnic.id).await?;
    }

    Ok(NodeView {
        node: node.to_owned(),
        instance,
        vnics,
        attaching,
        read_at: now,
    })
}

async fn read_instance(
    oci: &dyn Cloud,
    node: &str,
    instance_id: &InstanceId,
) -> Result<InstanceFacts, Error> {
    let instance = match oci.get_instance(instance_id).await {
        Ok(instance) => instance,
        Err(err) if err.is_not_found() => {
            return Err(Error::InstanceGone {
                node: node.to_owned(),
                instance: instance_id.to_string(),
            });
        }
        Err(source) => return Err(Error::read(node, source)),
    };

    let running = matches!(
        instance.lifecycle_state,
        InstanceLifecycleState::Running | InstanceLifecycleState::Starting
    );
    if matches!(
        instance.lifecycle_state,
        InstanceLifecycleState::Terminated | InstanceLifecycleState::Terminating
    ) {
        return Err(Error::InstanceGone {
            node: node.to_owned(),
            instance: instance_id.to_string(),
        });
    }

    let config = instance.shape_config.as_ref();
    Ok(InstanceFacts {
        id: instance.id.clone(),
        shape: instance.shape.clone(),
        ocpus: config.and_then(|config| config.ocpus),
        max_vnic_attachments: config.and_then(|config| config.max_vnic_attachments),
        availability_domain: instance.availability_domain.clone(),
        compartment: instance.compartment_id.clone(),
        running,
    })
}

async fn read_vnic(
    oci: &dyn Cloud,
    ownership: &Ownership,
    node: &str,
    vnic_id: &VnicId,
    attachment: &oci_api::model::VnicAttachment,
) -> Result<VnicView, Error> {
    let vnic = oci
        .get_vnic(vnic_id)
        .await
        .map_err(|source| Error::read(node, source))?;

    let subnet = match vnic
        .subnet_id
        .clone()
        .or_else(|| attachment.subnet_id.clone())
    {
        Some(subnet) => subnet,
        None => {
            return Err(Error::VnicWithoutSubnet {
                node: node.to_owned(),
                vnic: vnic_id.to_string(),
            });
        }
    };

    Ok(VnicView {
        id: vnic.id.clone(),
        attachment: attachment.id.clone(),
        index: 0,
        primary: vnic.is_primary.unwrap_or(false),
        ours: ownership.owns(&vnic.freeform_tags, node),
        subnet,
        primary_ip: vnic.private_ip,
        mac: vnic.mac_address.clone(),
        vlan_tag: attachment.vlan_tag,
        ips: Vec::new(),
    })
}

/// Lists the secondary private IPs of one VNIC.
///
/// # Errors
///
/// [`Error::ReadOci`] when the listing fails.
pub async fn read_ips(
    oci: &dyn Cloud,
    ownership: &Ownership,
    node: &str,
    vnic: &VnicId,
) -> Result<Vec<IpView>, Error> {
    let request = ListPrivateIpsRequest::on_vnic(vnic.clone());
    let listed: Vec<_> = oci
        .list_private_ips(&request)
        .try_collect()
        .await
        .map_err(|source| Error::read(node, source))?;

    let mut ips: Vec<IpView> = listed
        .into_iter()
        .filter(|ip| ip.is_primary != Some(true))
        .filter(|ip| ip.cidr_prefix_length.is_none_or(|length| length == 32))
        .map(|ip| IpView {
            ours: ownership.owns(&ip.freeform_tags, node),
            id: ip.id,
            address: ip.ip_address,
        })
        .collect();
    ips.sort_by_key(|ip| ip.address);
    Ok(ips)
}

/// Addresses by VNIC, for logs and tests.
#[must_use]
pub fn addresses_by_vnic(view: &NodeView) -> BTreeMap<String, Vec<Ipv4Addr>> {
    view.vnics
        .iter()
        .map(|vnic| {
            (
                vnic.id.to_string(),
                vnic.our_ips().map(|ip| ip.address).collect(),
            )
        })
        .collect()
}
