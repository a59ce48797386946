//! The simulated tenancy's state and OCI's rules over it.
//!
//! Every API operation is a method taking the caller's [`Principal`], the parsed request and
//! the simulated time, and returning a [`Reply`] or a [`WireError`]. Methods run under one
//! lock, so each operation is atomic, as OCI's control plane is per resource. Lifecycles that
//! take time (ATTACHING → ATTACHED, DETACHING → DETACHED) are settled lazily from the clock
//! at the start of every operation, so advancing the simulated clock is enough to move them.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;
use std::time::SystemTime;

use http::StatusCode;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::Value;

use crate::error::SimError;
use crate::error::WireError;
use crate::faults::Operation;
use crate::model::Attachment;
use crate::model::AttachmentState;
use crate::model::DefinedTags;
use crate::model::Instance;
use crate::model::InstanceState;
use crate::model::Ipv6;
use crate::model::Lifetime;
use crate::model::PrivateIp;
use crate::model::Subnet;
use crate::model::Tags;
use crate::model::Vcn;
use crate::model::Vnic;
use crate::model::VnicState;
use crate::shapes::Shape;
use crate::world::AttachSettings;
use crate::world::Cidr;
use crate::world::IdentitySettings;
use crate::world::InstanceSpec;
use crate::world::Limits;
use crate::world::World;
use crate::world::mint_ocid;

/// How long OCI keeps a retry token.
const RETRY_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3_600);

/// IPv6 addresses one VNIC may carry (OCI documents 32).
const IPV6_PER_VNIC: usize = 32;

/// Default and largest page size of list calls.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;

/// Who is calling, as established by the signature check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Principal {
    /// An IAM user; `None` compartments means every compartment.
    User {
        id: String,
        compartments: Option<BTreeSet<String>>,
    },
    /// An instance principal (session token from `/v1/x509`); sees every compartment, as a
    /// dynamic group with a tenancy-wide policy would.
    Instance { id: String },
}

impl Principal {
    fn sees(&self, compartment: &str) -> bool {
        match self {
            Principal::User {
                compartments: Some(allowed),
                ..
            } => allowed.contains(compartment),
            Principal::User {
                compartments: None, ..
            }
            | Principal::Instance { .. } => true,
        }
    }
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Option<Value>,
    pub(crate) etag: Option<String>,
    pub(crate) next_page: Option<String>,
}

impl Reply {
    fn ok(body: Value, etag: &str) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
            etag: Some(etag.to_owned()),
            next_page: None,
        }
    }

    fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
            etag: None,
            next_page: None,
        }
    }

    fn list(items: Vec<Value>, next_page: Option<String>) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(Value::Array(items)),
            etag: None,
            next_page,
        }
    }
}

/// A parsed API request: path parameter, query, headers that matter, body.
#[derive(Debug, Default)]
pub(crate) struct ApiRequest {
    pub(crate) id: Option<String>,
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) if_match: Option<String>,
    pub(crate) retry_token: Option<String>,
    pub(crate) body: Vec<u8>,
}

#[derive(Clone, Debug)]
struct RetryEntry {
    created: SystemTime,
    resource_id: String,
    reply: Reply,
}

/// A registered API user.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) compartments: Option<BTreeSet<String>>,
    /// Fingerprint (lowercase) → public key.
    pub(crate) keys: HashMap<String, oci_auth::PublicKey>,
}

/// The whole mutable state.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) region: String,
    pub(crate) region_key: String,
    pub(crate) realm_key: String,
    pub(crate) realm_domain: String,
    pub(crate) tenancy: String,
    pub(crate) compartments: BTreeMap<String, String>,
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) vcns: BTreeMap<String, Vcn>,
    pub(crate) subnets: BTreeMap<String, Subnet>,
    pub(crate) shapes: BTreeMap<String, Shape>,
    pub(crate) instances: BTreeMap<String, Instance>,
    pub(crate) attachments: BTreeMap<String, Attachment>,
    pub(crate) vnics: BTreeMap<String, Vnic>,
    pub(crate) private_ips: BTreeMap<String, PrivateIp>,
    pub(crate) ipv6s: BTreeMap<String, Ipv6>,
    pub(crate) limits: Limits,
    pub(crate) attach: AttachSettings,
    pub(crate) identity: IdentitySettings,
    retry_tokens: HashMap<(Operation, String), RetryEntry>,
    pub(crate) retry_replays: u64,
    pending: BTreeSet<String>,
    rng: ChaCha8Rng,
    seq: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachVnicDetails {
    create_vnic_details: Option<CreateVnicDetails>,
    instance_id: Option<String>,
    display_name: Option<String>,
    nic_index: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateVnicDetails {
    subnet_id: Option<String>,
    assign_public_ip: Option<bool>,
    skip_source_dest_check: Option<bool>,
    display_name: Option<String>,
    hostname_label: Option<String>,
    nsg_ids: Option<Vec<String>>,
    private_ip: Option<String>,
    vlan_id: Option<String>,
    freeform_tags: Option<Tags>,
    defined_tags: Option<DefinedTags>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatePrivateIpDetails {
    vnic_id: Option<String>,
    subnet_id: Option<String>,
    ip_address: Option<String>,
    cidr_prefix_length: Option<u32>,
    lifetime: Option<String>,
    display_name: Option<String>,
    hostname_label: Option<String>,
    freeform_tags: Option<Tags>,
    defined_tags: Option<DefinedTags>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateIpv6Details {
    vnic_id: Option<String>,
    subnet_id: Option<String>,
    ip_address: Option<String>,
    cidr_prefix_length: Option<u32>,
    lifetime: Option<String>,
    display_name: Option<String>,
    freeform_tags: Option<Tags>,
    defined_tags: Option<DefinedTags>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdatePrivateIpDetails {
    vnic_id: Option<String>,
    display_name: Option<String>,
    hostname_label: Option<String>,
    lifetime: Option<String>,
    freeform_tags: Option<Tags>,
    defined_tags: Option<DefinedTags>,
}

impl State {
    /// Builds the state a validated world describes.
    pub(crate) fn from_world(world: &World, now: SystemTime) -> Result<Self, SimError> {
        world.validate()?;

        let mut state = State {
            region: world.region.clone(),
            region_key: world.region_key.clone(),
            realm_key: world.realm_key.clone(),
            realm_domain: world.realm_domain.clone(),
            tenancy: world.tenancy.clone(),
            compartments: BTreeMap::new(),
            users: BTreeMap::new(),
            vcns: BTreeMap::new(),
            subnets: BTreeMap::new(),
            shapes: world
                .all_shapes()
                .into_iter()
                .map(|s| (s.shape.clone(), s))
                .collect(),
            instances: BTreeMap::new(),
            attachments: BTreeMap::new(),
            vnics: BTreeMap::new(),
            private_ips: BTreeMap::new(),
            ipv6s: BTreeMap::new(),
            limits: world.limits,
            attach: world.attach,
            identity: world.identity,
            retry_tokens: HashMap::new(),
            retry_replays: 0,
            pending: BTreeSet::new(),
            rng: ChaCha8Rng::seed_from_u64(world.faults.seed),
            seq: 0,
        };

        state
            .compartments
            .insert(world.tenancy.clone(), "root".to_owned());
        for compartment in &world.compartments {
            state
                .compartments
                .insert(compartment.id.clone(), compartment.name.clone());
        }

        for user in &world.users {
            let mut keys = HashMap::new();
            for key in &user.api_keys {
                let pem = key.public_key_pem.as_deref().unwrap_or_default();
                let (fingerprint, public) = crate::auth::load_public_key(&user.id, pem)?;
                keys.insert(fingerprint, public);
            }
            let compartments = user
                .compartments
                .as_ref()
                .map(|c| c.iter().cloned().collect());
            state
                .users
                .insert(user.id.clone(), User { compartments, keys });
        }

        for vcn in &world.vcns {
            let etag = state.etag();
            state.vcns.insert(
                vcn.id.clone(),
                Vcn {
                    id: vcn.id.clone(),
                    compartment_id: vcn.compartment_id.clone(),
                    display_name: vcn.display_name.clone(),
                    cidr_blocks: vcn.cidr_blocks.clone(),
                    dns_label: vcn.dns_label.clone(),
                    time_created: now,
                    etag,
                },
            );
        }

        for subnet in &world.subnets {
            let cidr = Cidr::parse(&subnet.cidr_block)
                .map_err(|problem| SimError::ValidateWorld { problem })?;
            let seq = state.next_seq();
            let etag = state.etag();
            state.subnets.insert(
                subnet.id.clone(),
                Subnet {
                    id: subnet.id.clone(),
                    vcn_id: subnet.vcn_id.clone(),
                    compartment_id: subnet.compartment_id.clone(),
                    cidr,
                    availability_domain: subnet.availability_domain.clone(),
                    display_name: subnet.display_name.clone(),
                    dns_label: subnet.dns_label.clone(),
                    freeform_tags: subnet.freeform_tags.clone(),
                    time_created: now,
                    seq,
                    etag,
                    used: BTreeSet::new(),
                    ipv6: match &subnet.ipv6_cidr_block {
                        Some(block) => Some(
                            crate::world::parse_ipv6_64(block)
                                .map_err(|problem| SimError::ValidateWorld { problem })?,
                        ),
                        None => None,
                    },
                    used6: BTreeSet::new(),
                },
            );
        }

        for instance in &world.instances {
            state
                .launch(instance, now)
                .map_err(|problem| SimError::ValidateWorld { problem })?;
        }

        Ok(state)
    }

    /// Launches an instance with its primary VNIC, already attached.
    pub(crate) fn launch(&mut self, spec: &InstanceSpec, now: SystemTime) -> Result<(), String> {
        if self.instances.contains_key(&spec.id) {
            return Err(format!("instance {} already exists", spec.id));
        }
        if !self.compartments.contains_key(&spec.compartment_id) {
            return Err(format!(
                "instance {}: unknown compartment {}",
                spec.id, spec.compartment_id
            ));
        }
        let shape = self
            .shapes
            .get(&spec.shape)
            .ok_or_else(|| format!("instance {}: unknown shape {}", spec.id, spec.shape))?;
        let ocpus = spec.ocpus.unwrap_or(shape.ocpus);
        let max_vnics = shape.max_vnics(ocpus);
        let memory_gbs = ocpus * shape.memory_per_ocpu_gbs;

        let subnet = self
            .subnets
            .get(&spec.subnet_id)
            .ok_or_else(|| format!("instance {}: unknown subnet {}", spec.id, spec.subnet_id))?;
        if let Some(ad) = &subnet.availability_domain
            && *ad != spec.availability_domain
        {
            return Err(format!(
                "instance {}: subnet {} is in {ad}, not {}",
                spec.id, spec.subnet_id, spec.availability_domain
            ));
        }
        let address = match spec.private_ip {
            Some(ip) => {
                let raw = u32::from(ip);
                if !subnet.cidr.contains(raw) || subnet.cidr.is_reserved(raw) {
                    return Err(format!(
                        "instance {}: privateIp {ip} is not usable",
                        spec.id
                    ));
                }
                if subnet.used.contains(&raw) {
                    return Err(format!("instance {}: privateIp {ip} is taken", spec.id));
                }
                raw
            }
            None => subnet.first_free().ok_or_else(|| {
                format!("instance {}: subnet {} is full", spec.id, spec.subnet_id)
            })?,
        };

        let etag = self.etag();
        self.instances.insert(
            spec.id.clone(),
            Instance {
                id: spec.id.clone(),
                compartment_id: spec.compartment_id.clone(),
                display_name: spec.display_name.clone(),
                shape: spec.shape.clone(),
                ocpus,
                memory_gbs,
                max_vnics,
                availability_domain: spec.availability_domain.clone(),
                fault_domain: spec.fault_domain.clone(),
                state: InstanceState::Running,
                freeform_tags: spec.freeform_tags.clone(),
                time_created: now,
                etag,
            },
        );

        let attachment_id = self.create_vnic_and_attachment(
            &spec.id,
            &spec.subnet_id,
            Ipv4Addr::from(address),
            true,
            VnicOptions {
                display_name: spec.display_name.clone(),
                hostname_label: Some(spec.display_name.to_lowercase().replace(' ', "-")),
                ..VnicOptions::default()
            },
            None,
            0,
            now,
        );
        if let Some(attachment) = self.attachments.get_mut(&attachment_id) {
            attachment.state = AttachmentState::Attached;
        }
        if let Some(vnic) = self
            .attachments
            .get(&attachment_id)
            .map(|a| a.vnic_id.clone())
            && let Some(vnic) = self.vnics.get_mut(&vnic)
        {
            vnic.state = VnicState::Available;
        }
        Ok(())
    }

    /// Terminates an instance: every attachment goes DETACHED, VNICs and IPs are removed.
    pub(crate) fn terminate(&mut self, instance_id: &str) -> Result<(), String> {
        let instance = self
            .instances
            .get_mut(instance_id)
            .ok_or_else(|| format!("instance {instance_id} not found"))?;
        instance.state = InstanceState::Terminated;

        let attachments: Vec<String> = self
            .attachments
            .values()
            .filter(|a| a.instance_id == instance_id && a.state != AttachmentState::Detached)
            .map(|a| a.id.clone())
            .collect();
        for id in attachments {
            self.finish_detach(&id);
        }
        Ok(())
    }

    /// Moves every timed lifecycle whose moment has come.
    pub(crate) fn settle(&mut self, now: SystemTime) {
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|id| self.attachments.get(*id).is_none_or(|a| a.ready_at <= now))
            .cloned()
            .collect();
        for id in due {
            self.pending.remove(&id);
            let Some(attachment) = self.attachments.get(&id) else {
                continue;
            };
            match (attachment.state, attachment.fails) {
                (AttachmentState::Attaching, false) => {
                    let vnic_id = attachment.vnic_id.clone();
                    if let Some(a) = self.attachments.get_mut(&id) {
                        a.state = AttachmentState::Attached;
                        a.etag = uuid::Uuid::new_v4().simple().to_string();
                    }
                    if let Some(vnic) = self.vnics.get_mut(&vnic_id) {
                        vnic.state = VnicState::Available;
                    }
                    tracing::debug!(attachment = %id, vnic = %vnic_id, "VNIC attached");
                }
                (AttachmentState::Attaching, true) | (AttachmentState::Detaching, _) => {
                    self.finish_detach(&id);
                }
                _ => {}
            }
        }
    }

    /// Ends an attachment: DETACHED, VNIC and all its private IPs gone, addresses freed.
    /// Shortcoming: DETACHED attachments stay listed for the simulator's lifetime, where OCI
    /// drops them after a while.
    fn finish_detach(&mut self, attachment_id: &str) {
        self.pending.remove(attachment_id);
        let Some(attachment) = self.attachments.get_mut(attachment_id) else {
            return;
        };
        attachment.state = AttachmentState::Detached;
        let vnic_id = attachment.vnic_id.clone();

        self.vnics.remove(&vnic_id);
        let ips: Vec<String> = self
            .private_ips
            .values()
            .filter(|ip| ip.vnic_id.as_deref() == Some(vnic_id.as_str()))
            .map(|ip| ip.id.clone())
            .collect();
        for id in ips {
            self.remove_private_ip(&id);
        }
        let ipv6s: Vec<String> = self
            .ipv6s
            .values()
            .filter(|ip| ip.vnic_id.as_deref() == Some(vnic_id.as_str()))
            .map(|ip| ip.id.clone())
            .collect();
        for id in ipv6s {
            self.remove_ipv6(&id);
        }
        tracing::debug!(attachment = %attachment_id, vnic = %vnic_id, "VNIC detached");
    }

    fn remove_private_ip(&mut self, id: &str) {
        if let Some(ip) = self.private_ips.remove(id)
            && let Some(subnet) = self.subnets.get_mut(&ip.subnet_id)
        {
            subnet.used.remove(&u32::from(ip.address));
        }
    }

    fn remove_ipv6(&mut self, id: &str) {
        if let Some(ip) = self.ipv6s.remove(id)
            && let Some(subnet) = self.subnets.get_mut(&ip.subnet_id)
        {
            subnet.used6.remove(&u128::from(ip.address));
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn etag(&mut self) -> String {
        let bits: u128 = self.rng.r#gen();
        format!("{bits:032x}")
    }

    fn mac(&mut self) -> String {
        let bits: [u8; 3] = self.rng.r#gen();
        format!("02:00:17:{:02X}:{:02X}:{:02X}", bits[0], bits[1], bits[2])
    }

    #[allow(clippy::too_many_arguments)]
    fn create_vnic_and_attachment(
        &mut self,
        instance_id: &str,
        subnet_id: &str,
        address: Ipv4Addr,
        is_primary: bool,
        options: VnicOptions,
        attachment_name: Option<String>,
        nic_index: u32,
        now: SystemTime,
    ) -> String {
        let short = self.region_key.to_lowercase();
        let instance = self.instances.get(instance_id);
        let ad = instance
            .map(|i| i.availability_domain.clone())
            .unwrap_or_default();
        let instance_compartment = instance
            .map(|i| i.compartment_id.clone())
            .unwrap_or_default();
        let subnet = self.subnets.get(subnet_id);
        let subnet_compartment = subnet.map(|s| s.compartment_id.clone()).unwrap_or_default();
        let regional = subnet.is_some_and(|s| s.availability_domain.is_none());

        let vnic_id = mint_ocid("vnic", &self.realm_key.clone(), &short);
        let attachment_id = mint_ocid("vnicattachment", &self.realm_key.clone(), &short);
        let vlan_tag = 100 + u32::try_from(self.attachments.len() % 3_900).unwrap_or(0);
        let mac = self.mac();
        let etag = self.etag();
        let seq = self.next_seq();
        let delay = Duration::from_millis(self.attach.delay_ms);
        let fails = !is_primary && self.rng.r#gen::<f64>() < self.attach.failure_rate;

        self.vnics.insert(
            vnic_id.clone(),
            Vnic {
                id: vnic_id.clone(),
                compartment_id: subnet_compartment.clone(),
                availability_domain: ad.clone(),
                subnet_id: subnet_id.to_owned(),
                instance_id: instance_id.to_owned(),
                attachment_id: attachment_id.clone(),
                is_primary,
                mac,
                display_name: options.display_name,
                hostname_label: options.hostname_label,
                skip_source_dest_check: options.skip_source_dest_check,
                nsg_ids: options.nsg_ids,
                state: VnicState::Provisioning,
                freeform_tags: options.freeform_tags,
                defined_tags: options.defined_tags,
                time_created: now,
                etag: etag.clone(),
            },
        );

        self.attachments.insert(
            attachment_id.clone(),
            Attachment {
                id: attachment_id.clone(),
                compartment_id: instance_compartment,
                availability_domain: ad.clone(),
                instance_id: instance_id.to_owned(),
                subnet_id: subnet_id.to_owned(),
                display_name: attachment_name,
                nic_index,
                vlan_tag,
                vnic_id: vnic_id.clone(),
                state: AttachmentState::Attaching,
                ready_at: now + delay,
                fails,
                is_primary,
                time_created: now,
                seq,
                etag: etag.clone(),
            },
        );
        if !is_primary {
            self.pending.insert(attachment_id.clone());
        }

        let ip_id = mint_ocid("privateip", &self.realm_key.clone(), &short);
        let ip_seq = self.next_seq();
        self.private_ips.insert(
            ip_id.clone(),
            PrivateIp {
                id: ip_id,
                address,
                subnet_id: subnet_id.to_owned(),
                vnic_id: Some(vnic_id),
                is_primary: true,
                compartment_id: subnet_compartment,
                availability_domain: if regional { None } else { Some(ad) },
                display_name: address.to_string(),
                hostname_label: None,
                lifetime: Lifetime::Ephemeral,
                freeform_tags: Tags::new(),
                defined_tags: DefinedTags::new(),
                time_created: now,
                seq: ip_seq,
                etag,
            },
        );
        if let Some(subnet) = self.subnets.get_mut(subnet_id) {
            subnet.used.insert(u32::from(address));
        }
        attachment_id
    }

    /// Dispatches one API operation.
    pub(crate) fn execute(
        &mut self,
        operation: Operation,
        principal: &Principal,
        request: &ApiRequest,
        now: SystemTime,
    ) -> Result<Reply, WireError> {
        self.settle(now);
        match operation {
            Operation::GetVnic => self.get_vnic(principal, request),
            Operation::ListVnicAttachments => self.list_vnic_attachments(principal, request),
            Operation::GetVnicAttachment => self.get_vnic_attachment(principal, request),
            Operation::AttachVnic => self.with_retry_token(operation, request, now, |s| {
                s.attach_vnic(principal, request, now)
            }),
            Operation::DetachVnic => self.detach_vnic(principal, request, now),
            Operation::CreatePrivateIp => self.with_retry_token(operation, request, now, |s| {
                s.create_private_ip(principal, request, now)
            }),
            Operation::GetPrivateIp => self.get_private_ip(principal, request),
            Operation::ListPrivateIps => self.list_private_ips(principal, request),
            Operation::UpdatePrivateIp => self.update_private_ip(principal, request),
            Operation::DeletePrivateIp => self.delete_private_ip(principal, request),
            Operation::GetSubnet => self.get_subnet(principal, request),
            Operation::ListSubnets => self.list_subnets(principal, request),
            Operation::GetVcn => self.get_vcn(principal, request),
            Operation::GetInstance => self.get_instance(principal, request),
            Operation::ListShapes => self.list_shapes(principal, request),
            Operation::CreateIpv6 => self.with_retry_token(operation, request, now, |s| {
                s.create_ipv6(principal, request, now)
            }),
            Operation::GetIpv6 => self.get_ipv6(principal, request),
            Operation::ListIpv6s => self.list_ipv6s(principal, request),
            Operation::DeleteIpv6 => self.delete_ipv6(principal, request),
            Operation::Metadata | Operation::Federate | Operation::Unknown => Err(WireError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                "Not a core API operation",
            )),
        }
    }

    /// Creates with `opc-retry-token`: a replay within 24 h returns the first answer; a
    /// replay after the created resource went away gets `409 InvalidatedRetryToken`.
    ///
    /// Shortcoming: tokens are keyed by operation and token only, so a repeat with a different
    /// body also replays the first answer (what OCI does in that case is not documented).
    fn with_retry_token(
        &mut self,
        operation: Operation,
        request: &ApiRequest,
        now: SystemTime,
        create: impl FnOnce(&mut Self) -> Result<(Reply, String), WireError>,
    ) -> Result<Reply, WireError> {
        let Some(token) = request.retry_token.clone() else {
            return create(self).map(|(reply, _)| reply);
        };
        if token.is_empty() || token.len() > 64 {
            return Err(WireError::invalid(
                "opc-retry-token must be 1 to 64 characters long",
            ));
        }

        let key = (operation, token);
        if let Some(entry) = self.retry_tokens.get(&key) {
            if now.duration_since(entry.created).unwrap_or_default() < RETRY_TOKEN_LIFETIME {
                let alive = match operation {
                    Operation::AttachVnic => self
                        .attachments
                        .get(&entry.resource_id)
                        .is_some_and(|a| a.state != AttachmentState::Detached),
                    Operation::CreateIpv6 => self.ipv6s.contains_key(&entry.resource_id),
                    _ => self.private_ips.contains_key(&entry.resource_id),
                };
                if !alive {
                    return Err(WireError::new(
                        StatusCode::CONFLICT,
                        "InvalidatedRetryToken",
                        "The retry token was invalidated: the resource it created no longer exists",
                    ));
                }
                self.retry_replays += 1;
                tracing::debug!(
                    operation = %operation,
                    resource = %entry.resource_id,
                    "retry token replayed"
                );
                return Ok(entry.reply.clone());
            }
            self.retry_tokens.remove(&key);
        }

        let (reply, resource_id) = create(self)?;
        self.retry_tokens.insert(
            key,
            RetryEntry {
                created: now,
                resource_id,
                reply: reply.clone(),
            },
        );
        Ok(reply)
    }

    fn get_vnic(&self, principal: &Principal, request: &ApiRequest) -> Result<Reply, WireError> {
        let id = path_id(request)?;
        let vnic = self
            .vnics
            .get(id)
            .filter(|v| v.state != VnicState::Provisioning && principal.sees(&v.compartment_id))
            .ok_or_else(|| WireError::not_found("vnic", id))?;
        Ok(Reply::ok(
            vnic.to_wire(
                self.primary_address(&vnic.id),
                self.ipv6_addresses(&vnic.id),
            ),
            &vnic.etag,
        ))
    }

    fn ipv6_addresses(&self, vnic_id: &str) -> Vec<String> {
        let mut ips: Vec<&Ipv6> = self
            .ipv6s
            .values()
            .filter(|ip| ip.vnic_id.as_deref() == Some(vnic_id))
            .collect();
        ips.sort_by_key(|ip| ip.seq);
        ips.into_iter().map(|ip| ip.address.to_string()).collect()
    }

    fn primary_address(&self, vnic_id: &str) -> Option<Ipv4Addr> {
        self.private_ips
            .values()
            .find(|ip| ip.is_primary && ip.vnic_id.as_deref() == Some(vnic_id))
            .map(|ip| ip.address)
    }

    fn list_vnic_attachments(
        &self,
        principal: &Principal,
        request: &ApiRequest,
    ) -> Result<Reply, WireError> {
        let compartment = required(request, "compartmentId")?;
        self.check_compartment(principal, compartment)?;
        let ad = request.query.get("availabilityDomain");
        let instance = request.query.get("instanceId");
        let vnic = request.query.get("vnicId");

        let mut items: Vec<&Attachment> = self
            .attachments
            .values()
            .filter(|a| a.compartment_id == *compartment)
            .filter(|a| ad.is_none_or(|ad| a.availability_domain == *ad))
            .filter(|a| instance.is_none_or(|i| a.instance_id == *i))
            .filter(|a| {
                vnic.is_none_or(|v| a.vnic_id == *v && a.state == AttachmentState::Attached)
            })
            .collect();
        items.sort_by_key(|a| a.seq);
        let keyed = items.into_iter().map(|a| (a.seq, a.to_wire())).collect();
        paginate(keyed, request)
    }

    fn get_vnic_attachment(
        &self,
        principal: &Principal,
        request: &ApiRequest,
    ) -> Result<Reply, WireError> {
        let id = path_id(request)?;
        let attachment = self
            .attachments
            .get(id)
            .filter(|a| principal.sees(&a.compartment_id))
            .ok_or_else(|| WireError::not_found("vnicAttachment", id))?;
        Ok(Reply::ok(attachment.to_wire(), &attachment.etag))
    }

    fn attach_vnic(
        &mut self,
        principal: &Principal,
        request: &ApiRequest,
        now: SystemTime,
    ) -> Result<(Reply, String), WireError> {
        let details: AttachVnicDetails = parse_body(request)?;
        let vnic_details = details
            .create_vnic_details
            .ok_or_else(|| WireError::missing("createVnicDetails"))?;
        let instance_id = details
            .instance_id
            .ok_or_else(|| WireError::missing("instanceId"))?;
        if vnic_details.vlan_id.is_some() {
            return Err(WireError::invalid(
                "vlanId (Oracle Cloud VMware Solution) is not supported",
            ));
        }
        let subnet_id = vnic_details
            .subnet_id
            .clone()
            .ok_or_else(|| WireError::missing("createVnicDetails.subnetId"))?;

        let instance = self
            .instances
            .get(&instance_id)
            .filter(|i| principal.sees(&i.compartment_id))
            .ok_or_else(|| WireError::related_not_found("instance", &instance_id))?;
        if instance.state != InstanceState::Running {
            return Err(WireError::new(
                StatusCode::CONFLICT,
                "IncorrectState",
                format!("Instance {instance_id} is {}", instance.state.as_str()),
            ));
        }
        let subnet = self
            .subnets
            .get(&subnet_id)
            .filter(|s| principal.sees(&s.compartment_id))
            .ok_or_else(|| WireError::related_not_found("subnet", &subnet_id))?;
        if let Some(ad) = &subnet.availability_domain
            && *ad != instance.availability_domain
        {
            return Err(WireError::invalid(format!(
                "Subnet {subnet_id} is in {ad} but instance {instance_id} is in {}",
                instance.availability_domain
            )));
        }
        let nic_index = details.nic_index.unwrap_or(0);
        if nic_index > 1 || (nic_index == 1 && !instance.shape.starts_with("BM.")) {
            return Err(WireError::invalid(format!(
                "nicIndex {nic_index} is not valid for shape {}",
                instance.shape
            )));
        }

        let busy = self.attachments.values().any(|a| {
            a.instance_id == instance_id
                && matches!(
                    a.state,
                    AttachmentState::Attaching | AttachmentState::Detaching
                )
        });
        if busy {
            return Err(WireError::conflict(format!(
                "Instance {instance_id} is currently being modified, try again later"
            )));
        }
        let in_use = self
            .attachments
            .values()
            .filter(|a| a.instance_id == instance_id && a.state != AttachmentState::Detached)
            .count();
        if in_use >= instance.max_vnics as usize {
            return Err(WireError::limit(format!(
                "Instance {instance_id} ({} with {} OCPUs) already has the maximum of {} \
                 VNIC attachments",
                instance.shape, instance.ocpus, instance.max_vnics
            )));
        }

        let address = self.choose_address(&subnet_id, vnic_details.private_ip.as_deref())?;
        let instance_name = instance.display_name.clone();
        let _ = vnic_details.assign_public_ip;
        let options = VnicOptions {
            display_name: vnic_details
                .display_name
                .unwrap_or_else(|| format!("{instance_name}-vnic")),
            hostname_label: vnic_details.hostname_label,
            skip_source_dest_check: vnic_details.skip_source_dest_check.unwrap_or(false),
            nsg_ids: vnic_details.nsg_ids.unwrap_or_default(),
            freeform_tags: vnic_details.freeform_tags.unwrap_or_default(),
            defined_tags: vnic_details.defined_tags.unwrap_or_default(),
        };
        let attachment_id = self.create_vnic_and_attachment(
            &instance_id,
            &subnet_id,
            address,
            false,
            options,
            details.display_name,
            nic_index,
            now,
        );

        let attachment = self.attachments.get(&attachment_id).ok_or_else(|| {
            WireError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "attachment vanished",
            )
        })?;
        tracing::debug!(
            instance = %instance_id,
            subnet = %subnet_id,
            attachment = %attachment_id,
            "AttachVnic"
        );
        Ok((
            Reply::ok(attachment.to_wire(), &attachment.etag),
            attachment_id,
        ))
    }

    fn detach_vnic(
        &mut self,
        principal: &Principal,
        request: &ApiRequest,
        now: SystemTime,
    ) -> Result<Reply, WireError> {
        let id = path_id(request)?.to_owned();
        let attachment = self
            .attachments
            .get(&id)
            .filter(|a| principal.sees(&a.compartment_id))
            .ok_or_else(|| WireError::not_found("vnicAttachment", &id))?;
        check_etag(request, &attachment.etag)?;
        if attachment.is_primary {
            return Err(WireError::invalid(format!(
                "VNIC attachment {id} is the instance's primary VNIC, which cannot be detached"
            )));
        }
        match attachment.state {
            AttachmentState::Attached => {}
            AttachmentState::Detaching | AttachmentState::Detached => {
                return Ok(Reply::no_content());
            }
            AttachmentState::Attaching => {
                return Err(WireError::conflict(format!(
                    "Instance {} is currently being modified, try again later",
                    attachment.instance_id
                )));
            }
        }
        let instance_id = attachment.instance_id.clone();
        let vnic_id = attachment.vnic_id.clone();
        let busy = self.attachments.values().any(|a| {
            a.instance_id == instance_id
                && matches!(
                    a.state,
                    AttachmentState::Attaching | AttachmentState::Detaching
                )
        });
        if busy {
            return Err(WireError::conflict(format!(
                "Instance {instance_id} is currently being modified, try again later"
            )));
        }

        let delay = Duration::from_millis(self.attach.detach_delay_ms);
        if let Some(a) = self.attachments.get_mut(&id) {
            a.state = AttachmentState::Detaching;
            a.ready_at = now + delay;
            a.etag = uuid::Uuid::new_v4().simple().to_string();
        }
        if let Some(vnic) = self.vnics.get_mut(&vnic_id) {
            vnic.state = VnicState::Terminating;
        }
        self.pending.insert(id.clone());
        if delay.is_zero() {
            self.settle(now);
        }
        tracing::debug!(attachment = %id, vnic = %vnic_id, "DetachVnic");
        Ok(Reply::no_content())
    }

    /// Picks the address for a new private IP: the requested one if free, else the lowest.
    fn choose_address(&self, subnet_id: &str, wanted: Option<&str>) -> Result<Ipv4Addr, WireError> {
        let subnet = self
            .subnets
            .get(subnet_id)
            .ok_or_else(|| WireError::related_not_found("subnet", subnet_id))?;
        match wanted {
            Some(text) => {
                let ip: Ipv4Addr = text
                    .parse()
                    .map_err(|_| WireError::invalid(format!("{text} is not an IPv4 address")))?;
                let raw = u32::from(ip);
                if !subnet.cidr.contains(raw) {
                    return Err(WireError::invalid(format!(
                        "Address {ip} is not within subnet {subnet_id} ({})",
                        subnet.cidr
                    )));
                }
                if subnet.cidr.is_reserved(raw) {
                    return Err(WireError::invalid(format!(
                        "Address {ip} is reserved by OCI in subnet {subnet_id}"
                    )));
                }
                if subnet.used.contains(&raw) {
                    return Err(WireError::conflict(format!(
                        "Address {ip} is already assigned in subnet {subnet_id}"
                    )));
                }
                Ok(ip)
            }
            None => subnet.first_free().map(Ipv4Addr::from).ok_or_else(|| {
                WireError::limit(format!(
                    "Subnet {subnet_id} has no free addresses ({} usable)",
                    subnet.capacity()
                ))
            }),
        }
    }

    fn secondaries_on(&self, vnic_id: &str) -> usize {
        self.private_ips
            .values()
            .filter(|ip| !ip.is_primary && ip.vnic_id.as_deref() == Some(vnic_id))
            .count()
    }

    fn create_private_ip(
        &mut self,
        principal: &Principal,
        request: &ApiRequest,
        now: SystemTime,
    ) -> Result<(Reply, String), WireError> {
        let details: CreatePrivateIpDetails = parse_body(request)?;
        // Shortcoming: IP CIDR addresses (one object carrying a block) are not simulated.
        if details.cidr_prefix_length.is_some() {
            return Err(WireError::invalid(
                "cidrPrefixLength (IP CIDR addresses) is not supported by oci-sim",
            ));
        }
        let lifetime = match details.lifetime.as_deref() {
            None => None,
            Some(text) => Some(Lifetime::parse(text).ok_or_else(|| {
                WireError::invalid(format!("lifetime {text} is not EPHEMERAL or RESERVED"))
            })?),
        };

        let (subnet_id, vnic, lifetime) = match (&details.vnic_id, &details.subnet_id) {
            (Some(vnic_id), _) => {
                let vnic = self
                    .vnics
                    .get(vnic_id)
                    .filter(|v| principal.sees(&v.compartment_id))
                    .ok_or_else(|| WireError::related_not_found("vnic", vnic_id))?;
                if vnic.state != VnicState::Available {
                    return Err(WireError::new(
                        StatusCode::CONFLICT,
                        "IncorrectState",
                        format!("VNIC {vnic_id} is {}", vnic.state.as_str()),
                    ));
                }
                if details
                    .subnet_id
                    .as_ref()
                    .is_some_and(|s| *s != vnic.subnet_id)
                {
                    return Err(WireError::invalid(format!(
                        "subnetId must be the subnet of VNIC {vnic_id} ({})",
                        vnic.subnet_id
                    )));
                }
                let limit = self.limits.secondary_ips_per_vnic as usize;
                if self.secondaries_on(vnic_id) >= limit {
                    return Err(WireError::limit(format!(
                        "VNIC {vnic_id} already has the maximum of {limit} secondary private IPs"
                    )));
                }
                (
                    vnic.subnet_id.clone(),
                    Some(vnic.clone()),
                    lifetime.unwrap_or(Lifetime::Ephemeral),
                )
            }
            (None, Some(subnet_id)) => {
                if lifetime != Some(Lifetime::Reserved) {
                    return Err(WireError::invalid(
                        "A private IP without vnicId must have lifetime RESERVED",
                    ));
                }
                self.subnets
                    .get(subnet_id)
                    .filter(|s| principal.sees(&s.compartment_id))
                    .ok_or_else(|| WireError::related_not_found("subnet", subnet_id))?;
                (subnet_id.clone(), None, Lifetime::Reserved)
            }
            (None, None) => return Err(WireError::missing("vnicId")),
        };

        let address = self.choose_address(&subnet_id, details.ip_address.as_deref())?;
        let subnet = self
            .subnets
            .get(&subnet_id)
            .ok_or_else(|| WireError::related_not_found("subnet", &subnet_id))?;
        let regional = subnet.availability_domain.is_none();
        let compartment = subnet.compartment_id.clone();
        let cidr = subnet.cidr;
        let short = self.region_key.to_lowercase();
        let id = mint_ocid("privateip", &self.realm_key.clone(), &short);
        let seq = self.next_seq();
        let etag = self.etag();
        let ip = PrivateIp {
            id: id.clone(),
            address,
            subnet_id: subnet_id.clone(),
            vnic_id: vnic.as_ref().map(|v| v.id.clone()),
            is_primary: false,
            compartment_id: compartment,
            availability_domain: match (&vnic, regional) {
                (Some(v), false) => Some(v.availability_domain.clone()),
                _ => None,
            },
            display_name: details.display_name.unwrap_or_else(|| address.to_string()),
            hostname_label: details.hostname_label,
            lifetime,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
            time_created: now,
            seq,
            etag,
        };
        let wire = ip.to_wire(Some(&cidr));
        let reply = Reply::ok(wire, &ip.etag);
        if let Some(subnet) = self.subnets.get_mut(&subnet_id) {
            subnet.used.insert(u32::from(address));
        }
        tracing::debug!(
            subnet = %subnet_id,
            private_ip = %id,
            address = %address,
            "CreatePrivateIp"
        );
        self.private_ips.insert(id.clone(), ip);
        Ok((reply, id))
    }

    fn visible_private_ip(&self, principal: &Principal, id: &str) -> Result<&PrivateIp, WireError> {
        self.private_ips
            .get(id)
            .filter(|ip| principal.sees(&ip.compartment_id))
            .ok_or_else(|| WireError::not_found("privateIp", id))
    }

    fn private_ip_wire(&self, ip: &PrivateIp) -> Value {
        ip.to_wire(self.subnets.get(&ip.subnet_id).map(|s| &s.cidr))
    }

    fn get_private_ip(
        &self,
        principal: &Principal,
        request: &ApiRequest,
    ) -> Result<Reply, WireError> {
        let ip = self.visible_private_ip(principal, path_id(request)?)?;
        Ok(Reply::ok(self.private_ip_wire(ip), &ip.etag))
    }

    fn list_private_ips(
        &self,
        principal: &Principal,
        request: &ApiRequest,
    ) -> Result<Reply, WireError> {
        let q = &request.query;
        let subnet = q.get("subnetId");
        let vnic = q.get("vnicId");
        let address = q.get("ipAddress");
        if subnet.is_none() && vnic.is_none() {
            return Err(WireError::missing("subnetId or vnicId"));
        }
        if address.is_some() && subnet.is_none() {
            return Err(WireError::missing("subnetId (required with ipAddress)"));
        }
        if let Some(subnet_id) = subnet {
            let s = self
                .subnets
                .get(subnet_id)
                .filter(|s| principal.sees(&s.compartment_id))
                .ok_or_else(|| WireError::not_found("subnet", subnet_id))?;
            let _ = s;
        }
        if let Some(vnic_id) = vnic {
            self.vnics
                .get(vnic_id)
                .filter(|v| principal.sees(&v.compartment_id))
                .ok_or_else(|| WireError::not_found("vnic", vnic_id))?;
        }
        let ip_state = q.get("ipState");
        let lifetime = q.get("lifetime");

        let mut items: Vec<&PrivateIp> = self
            .private_ips
            .values()
            .filter(|ip| subnet.is_none_or(|s| ip.subnet_id == *s))
            .filter(|ip| vnic.is_none_or(|v| ip.vnic_id.as_deref() == Some(v.as_str())))
            .filter(|ip| address.is_none_or(|a| ip.address.to_string() == *a))
            .filter(|ip| ip_state.is_none_or(|s| ip.ip_state() == s))
            .filter(|ip| lifetime.is_none_or(|l| ip.lifetime.as_str() == l))
            .collect();
        items.sort_by_key(|ip| ip.seq);
        let keyed = items
            .into_iter()
            .map(|ip| (ip.seq, self.private_ip_wire(ip)))
            .collect();
        paginate(keyed, request)
    }

    fn update_private_ip(
        &mut self,
        principal: &Principal,
        request: &ApiRequest,
    ) -> Result<Reply, WireError> {
        let id = path_id(request)?.to_owned();
        let details: UpdatePrivateIpDetails = parse_body(request)?;
        let ip = self.visible_private_ip(principal, &id)?;
        check_etag(request, &ip.etag)?;

        let mut new_vnic = None;
        if let Some(target) = &details.vnic_id
            && ip.vnic_id.as_deref() != Some(target.as_str())
        {
            if ip.is_primary {
                return Err(WireError::invalid(format!(
                    "Private IP {id} is a VNIC's primary IP and cannot be moved"
                )));
            }
            let vnic = self
                .vnics
                .get(target)
                .filter(|v| principal.sees(&v.compartment_id))
                .ok_or_else(|| WireError::related_not_found("vnic", target))?;
            if vnic.subnet_id != ip.subnet_id {
                return Err(WireError::invalid(format!(
                    "VNIC {target} is in subnet {}, but private IP {id} belongs to subnet {}; \
                     moves stay within one subnet",
                    vnic.subnet_id, ip.subnet_id
                )));
            }
            if vnic.state != VnicState::Available {
                return Err(WireError::new(
                    StatusCode::CONFLICT,
                    "IncorrectState",
                    format!("VNIC {target} is {}", vnic.state.as_str()),
                ));
            }
            let limit = self.limits.secondary_ips_per_vnic as usize;
            if self.secondaries_on(target) >= limit {
                return Err(WireError::limit(format!(
                    "VNIC {target} already has the maximum of {limit} secondary private IPs"
                )));
            }
            let regional = self
                .subnets
                .get(&ip.subnet_id)
                .is_some_and(|s| s.availability_domain.is_none());
            new_vnic = Some((
                target.clone(),
                (!regional).then(|| vnic.availability_domain.clone()),
            ));
        }
        let lifetime = match details.lifetime.as_deref() {
            None => None,
            Some(text) => Some(Lifetime::parse(text).ok_or_else(|| {
                WireError::invalid(format!("lifetime {text} is not EPHEMERAL or RESERVED"))
            })?),
        };

        let etag = self.etag();
        let Some(ip) = self.private_ips.get_mut(&id) else {
            return Err(WireError::not_found("privateIp", &id));
        };
        if let Some((vnic_id, ad)) = new_vnic {
            tracing::debug!(private_ip = %id, vnic = %vnic_id, "private IP moved");
            ip.vnic_id = Some(vnic_id);
            ip.availability_domain = ad;
        }
        if let Some(name) = details.display_name {
            ip.display_name = name;
        }
        if let Some(label) = details.hostname_label {
            ip.hostname_label = Some(label);
        }
        if let Some(lifetime) = lifetime {
            ip.lifetime = lifetime;
        }
        if let Some(tags) = details.freeform_tags {
            ip.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            ip.defined_tags = tags;
        }
        ip.etag = etag;
        let ip = ip.clone();
        Ok(Reply::ok(self.private_ip_wire(&ip), &ip.etag))
    }

    fn delete_private_ip(
        &mut self,
        principal: &Principal,
        request: &ApiRequest,
    ) -> Result<Reply, WireError> {
        let id = path_id(request)?.to_owned();
        let ip = self.visible_private_ip(principal, &id)?;
        check_etag(request, &ip.etag)?;
        if ip.is_primary {
            return Err(WireError::invalid(format!(
                "Private IP {id} is a VNIC's primary IP and cannot be deleted; detach the VNIC"
            )));
        }
        tracing::debug!(private_ip = %id, address = %ip.address, "DeletePrivateIp");
        self.remove_private_ip(&id);
        Ok(Reply::no_content())
    }

    fn get_subnet(&self, principal: &Principal, request: &ApiRequest) -> Result<Reply, WireError> {
        let id = path_id(request)?;
        let subnet = self
            .subnets
            .get(id)
            .filter(|s| principal.sees(&s.compartment_id))
            .ok_or_else(|| WireError::not_found("subnet", id))?;
        Ok(Reply::ok(subnet.to_wire(&self.region_key), &subnet.etag))
    }

    fn list_subnets(
        &self,
        principal: &Principal,
        request: &ApiRequest,
    ) -> Result<Reply, WireError> {
        let compartment = required(request, "compartmentId")?;
        self.check_compartment(principal, compartment)?;
        let q = &request.query;
        let vcn = q.get("vcnId");
        let name = q.get("displayName");
        let state = q.get("lifecycleState");

        let mut items: Vec<&Subnet> = self
            .subnets
            .values()
            .filter(|s| s.compartment_id == *compartment)
            .filter(|s| vcn.is_none_or(|v| s.vcn_id == *v))
            .filter(|s| name.is_none_or(|n| s.display_name == *n))
            .filter(|_| state.is_none_or(|st| st == "AVAILABLE"))
            .collect();
        match q.get("sortBy").map(String::as_str) {
            None | Some("TIMECREATED") => items.sort_by_key(|s| s.seq),
            Some("DISPLAYNAME") => items.sort_by(|a, b| a.display_name.cmp(&b.display_name)),
            Some(other) => {
                return Err(WireError::invalid(format!(
                    "sortBy {other} is not TIMECREATED or DISPLAYNAME"
                )));
            }
        }
        match q.get("sortOrder").map(String::as_str) {
            None | Some("ASC") => {}
            Some("DESC") => items.reverse(),
            Some(other) => {
                return Err(WireError::invalid(format!(
                    "sortOrder {other} is not ASC or DESC"
                )));
            }
        }
        let keyed = items
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i as u64 + 1, s.to_wire(&self.region_key)))
            .collect();
        paginate(keyed, request)
    }

    fn get_vcn(&self, principal: &Principal, request: &ApiRequest) -> Result<Reply, WireError> {
        let id = path_id(request)?;
        let vcn = self
            .vcns
            .get(id)
            .filter(|v| principal.sees(&v.compartment_id))
            .ok_or_else(|| WireError::not_found("vcn", id))?;
        Ok(Reply::ok(vcn.to_wire(&self.region_key), &vcn.etag))
    }

    fn get_instance(
        &self,
        principal: &Principal,
        request: &ApiRequest,
    ) -> Result<Reply, WireError> {
        let id = path_id(request)?;
        let instance = self
            .instances
            .get(id)
            .filter(|i| principal.sees(&i.compartment_id))
            .ok_or_else(|| WireError::not_found("instance", id))?;
        Ok(Reply::ok(
            instance.to_wire(&self.region_key),
            &instance.etag,
        ))
    }

    fn list_shapes(&self, principal: &Principal, request: &ApiRequest) -> Result<Reply, WireError> {
        let compartment = required(request, "compartmentId")?;
        self.check_compartment(principal, compartment)?;
        let wanted = request.query.get("shape");
        let keyed = self
            .shapes
            .values()
            .filter(|s| wanted.is_none_or(|w| s.shape == *w))
            .enumerate()
            .map(|(i, s)| (i as u64 + 1, s.to_wire()))
            .collect();
        paginate(keyed, request)
    }

    fn create_ipv6(
        &mut self,
        principal: &Principal,
        request: &ApiRequest,
        now: SystemTime,
    ) -> Result<(Reply, String), WireError> {
        let details: CreateIpv6Details = parse_body(request)?;
        if details.cidr_prefix_length.is_some() {
            return Err(WireError::invalid(
                "cidrPrefixLength (IPv6 prefixes on a VNIC) is not supported by oci-sim",
            ));
        }
        let lifetime = match details.lifetime.as_deref() {
            None => None,
            Some(text) => Some(Lifetime::parse(text).ok_or_else(|| {
                WireError::invalid(format!("lifetime {text} is not EPHEMERAL or RESERVED"))
            })?),
        };
        let (subnet_id, vnic_id, lifetime) = match (&details.vnic_id, &details.subnet_id) {
            (Some(vnic_id), _) => {
                let vnic = self
                    .vnics
                    .get(vnic_id)
                    .filter(|v| principal.sees(&v.compartment_id))
                    .ok_or_else(|| WireError::related_not_found("vnic", vnic_id))?;
                if vnic.state != VnicState::Available {
                    return Err(WireError::new(
                        StatusCode::CONFLICT,
                        "IncorrectState",
                        format!("VNIC {vnic_id} is {}", vnic.state.as_str()),
                    ));
                }
                let on_vnic = self
                    .ipv6s
                    .values()
                    .filter(|ip| ip.vnic_id.as_deref() == Some(vnic_id))
                    .count();
                if on_vnic >= IPV6_PER_VNIC {
                    return Err(WireError::limit(format!(
                        "VNIC {vnic_id} already has the maximum of {IPV6_PER_VNIC} IPv6 addresses"
                    )));
                }
                (
                    vnic.subnet_id.clone(),
                    Some(vnic_id.clone()),
                    lifetime.unwrap_or(Lifetime::Ephemeral),
                )
            }
            (None, Some(subnet_id)) => {
                if lifetime != Some(Lifetime::Reserved) {
                    return Err(WireError::invalid(
                        "An IPv6 without vnicId must have lifetime RESERVED",
                    ));
                }
                (subnet_id.clone(), None, Lifetime::Reserved)
            }
            (None, None) => return Err(WireError::missing("vnicId")),
        };
        let subnet = self
            .subnets
            .get(&subnet_id)
            .filter(|s| principal.sees(&s.compartment_id))
            .ok_or_else(|| WireError::related_not_found("subnet", &subnet_id))?;
        if subnet.ipv6.is_none() {
            return Err(WireError::invalid(format!(
                "Subnet {subnet_id} has no IPv6 prefix"
            )));
        }
        let address = match details.ip_address.as_deref() {
            Some(text) => {
                let ip: std::net::Ipv6Addr = text
                    .parse()
                    .map_err(|_| WireError::invalid(format!("{text} is not an IPv6 address")))?;
                let raw = u128::from(ip);
                if !subnet.contains6(raw) || subnet.is_reserved6(raw) {
                    return Err(WireError::invalid(format!(
                        "Address {ip} is not a usable address of subnet {subnet_id}"
                    )));
                }
                if subnet.used6.contains(&raw) {
                    return Err(WireError::conflict(format!(
                        "Address {ip} is already assigned in subnet {subnet_id}"
                    )));
                }
                raw
            }
            None => subnet.first_free6().ok_or_else(|| {
                WireError::limit(format!("Subnet {subnet_id} has no free IPv6 addresses"))
            })?,
        };
        let compartment_id = subnet.compartment_id.clone();

        let short = self.region_key.to_lowercase();
        let id = mint_ocid("ipv6", &self.realm_key.clone(), &short);
        let ip = Ipv6 {
            id: id.clone(),
            address: std::net::Ipv6Addr::from(address),
            subnet_id: subnet_id.clone(),
            vnic_id,
            compartment_id,
            display_name: details
                .display_name
                .unwrap_or_else(|| std::net::Ipv6Addr::from(address).to_string()),
            lifetime,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
            time_created: now,
            seq: self.next_seq(),
            etag: self.etag(),
        };
        let reply = Reply::ok(ip.to_wire(), &ip.etag);
        if let Some(subnet) = self.subnets.get_mut(&subnet_id) {
            subnet.used6.insert(address);
        }
        tracing::debug!(subnet = %subnet_id, ipv6 = %id, "CreateIpv6");
        self.ipv6s.insert(id.clone(), ip);
        Ok((reply, id))
    }

    fn get_ipv6(&self, principal: &Principal, request: &ApiRequest) -> Result<Reply, WireError> {
        let id = path_id(request)?;
        let ip = self
            .ipv6s
            .get(id)
            .filter(|ip| principal.sees(&ip.compartment_id))
            .ok_or_else(|| WireError::not_found("ipv6", id))?;
        Ok(Reply::ok(ip.to_wire(), &ip.etag))
    }

    fn list_ipv6s(&self, principal: &Principal, request: &ApiRequest) -> Result<Reply, WireError> {
        let q = &request.query;
        let subnet = q.get("subnetId");
        let vnic = q.get("vnicId");
        let address = q.get("ipAddress");
        if subnet.is_none() && vnic.is_none() {
            return Err(WireError::missing("subnetId or vnicId"));
        }
        if let Some(subnet_id) = subnet {
            self.subnets
                .get(subnet_id)
                .filter(|s| principal.sees(&s.compartment_id))
                .ok_or_else(|| WireError::not_found("subnet", subnet_id))?;
        }
        if let Some(vnic_id) = vnic {
            self.vnics
                .get(vnic_id)
                .filter(|v| principal.sees(&v.compartment_id))
                .ok_or_else(|| WireError::not_found("vnic", vnic_id))?;
        }
        let wanted: Option<std::net::Ipv6Addr> = match address {
            None => None,
            Some(text) => Some(
                text.parse()
                    .map_err(|_| WireError::invalid(format!("{text} is not an IPv6 address")))?,
            ),
        };
        let ip_state = q.get("ipState");
        let lifetime = q.get("lifetime");
        let mut items: Vec<&Ipv6> = self
            .ipv6s
            .values()
            .filter(|ip| subnet.is_none_or(|s| ip.subnet_id == *s))
            .filter(|ip| vnic.is_none_or(|v| ip.vnic_id.as_deref() == Some(v.as_str())))
            .filter(|ip| wanted.is_none_or(|a| ip.address == a))
            .filter(|ip| ip_state.is_none_or(|s| ip.ip_state() == s))
            .filter(|ip| lifetime.is_none_or(|l| ip.lifetime.as_str() == l))
            .collect();
        items.sort_by_key(|ip| ip.seq);
        let keyed = items.into_iter().map(|ip| (ip.seq, ip.to_wire())).collect();
        paginate(keyed, request)
    }

    fn delete_ipv6(
        &mut self,
        principal: &Principal,
        request: &ApiRequest,
    ) -> Result<Reply, WireError> {
        let id = path_id(request)?.to_owned();
        let ip = self
            .ipv6s
            .get(&id)
            .filter(|ip| principal.sees(&ip.compartment_id))
            .ok_or_else(|| WireError::not_found("ipv6", &id))?;
        check_etag(request, &ip.etag)?;
        tracing::debug!(ipv6 = %id, "DeleteIpv6");
        self.remove_ipv6(&id);
        Ok(Reply::no_content())
    }

    fn check_compartment(&self, principal: &Principal, compartment: &str) -> Result<(), WireError> {
        if !self.compartments.contains_key(compartment) || !principal.sees(compartment) {
            return Err(WireError::not_found("compartment", compartment));
        }
        Ok(())
    }
}

/// Options of a new VNIC.
#[derive(Debug, Default)]
struct VnicOptions {
    display_name: String,
    hostname_label: Option<String>,
    skip_source_dest_check: bool,
    nsg_ids: Vec<String>,
    freeform_tags: Tags,
    defined_tags: DefinedTags,
}

fn path_id(request: &ApiRequest) -> Result<&str, WireError> {
    request
        .id
        .as_deref()
        .ok_or_else(|| WireError::missing("resource OCID in the path"))
}

fn required<'a>(request: &'a ApiRequest, name: &str) -> Result<&'a String, WireError> {
    request
        .query
        .get(name)
        .ok_or_else(|| WireError::missing(name))
}

fn check_etag(request: &ApiRequest, etag: &str) -> Result<(), WireError> {
    match request.if_match.as_deref() {
        None | Some("*") => Ok(()),
        Some(given) if given == etag => Ok(()),
        Some(given) => Err(WireError::new(
            StatusCode::PRECONDITION_FAILED,
            "NoEtagMatch",
            format!("The if-match value {given} does not match the resource's current etag"),
        )),
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(request: &ApiRequest) -> Result<T, WireError> {
    serde_json::from_slice(&request.body).map_err(|e| {
        WireError::new(
            StatusCode::BAD_REQUEST,
            "CannotParseRequest",
            format!("The request body is not valid JSON for this operation: {e}"),
        )
    })
}

/// Cuts a list into pages. Items carry a stable, increasing key; the page token is the key of
/// the last item returned, so deletions between pages neither skip nor repeat items.
fn paginate(items: Vec<(u64, Value)>, request: &ApiRequest) -> Result<Reply, WireError> {
    let limit = match request.query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(WireError::invalid(format!(
                    "limit {text} must lie between 1 and {MAX_LIMIT}"
                )));
            }
        },
    };
    let after = match request.query.get("page") {
        None => 0,
        Some(token) => token
            .strip_prefix("sim-page-")
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| {
                WireError::invalid(format!("page {token} is not a page token oci-sim issued"))
            })?,
    };

    let mut rest = items.into_iter().filter(|(key, _)| *key > after).peekable();
    let mut page = Vec::new();
    let mut last = after;
    while page.len() < limit {
        let Some((key, item)) = rest.next() else {
            break;
        };
        last = key;
        page.push(item);
    }
    let next = rest.peek().map(|_| format!("sim-page-{last}"));
    Ok(Reply::list(page, next))
}

#[cfg(test)]
mod tests;
