//! The world: what exists in the simulated tenancy when the simulator starts.
//!
//! A world is plain data, read from a JSON file (`oci-sim --world FILE`, schema in
//! `docs/oci-sim.md`, example in `examples/oci-sim-world.json`) or built in Rust with the
//! `add_*` helpers, which mint OCIDs. [`World::validate`] checks references, CIDRs and shapes
//! before the simulator accepts it.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use serde::Deserialize;
use serde::Serialize;

use crate::error::SimError;
use crate::faults::FaultSettings;
use crate::shapes::Shape;
use crate::shapes::builtin_shapes;

/// Everything the simulated tenancy holds at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct World {
    /// Region identifier, e.g. `us-ashburn-1` (`canonicalRegionName` in the metadata service).
    pub region: String,
    /// Short region key as IMDS `regionInfo.regionKey` reports it, e.g. `IAD`.
    #[serde(default = "default_region_key")]
    pub region_key: String,
    /// Realm key, e.g. `oc1`.
    #[serde(default = "default_realm_key")]
    pub realm_key: String,
    /// Realm second-level domain, e.g. `oraclecloud.com`.
    #[serde(default = "default_realm_domain")]
    pub realm_domain: String,
    /// Tenancy OCID (also the root compartment).
    pub tenancy: String,
    /// Compartments below the tenancy.
    #[serde(default)]
    pub compartments: Vec<CompartmentSpec>,
    /// IAM users and their API keys.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// VCNs.
    #[serde(default)]
    pub vcns: Vec<VcnSpec>,
    /// Subnets.
    #[serde(default)]
    pub subnets: Vec<SubnetSpec>,
    /// Compute instances, each with its primary VNIC in `subnetId`.
    #[serde(default)]
    pub instances: Vec<InstanceSpec>,
    /// Shapes added to the built-in table (a same-named entry replaces the built-in one).
    #[serde(default)]
    pub shapes: Vec<Shape>,
    /// Per-resource limits.
    #[serde(default)]
    pub limits: Limits,
    /// VNIC attachment lifecycle timing.
    #[serde(default)]
    pub attach: AttachSettings,
    /// Instance-principal federation.
    #[serde(default)]
    pub identity: IdentitySettings,
    /// Faults and latency.
    #[serde(default)]
    pub faults: FaultSettings,
}

fn default_region_key() -> String {
    "IAD".to_owned()
}

fn default_realm_key() -> String {
    "oc1".to_owned()
}

fn default_realm_domain() -> String {
    "oraclecloud.com".to_owned()
}

/// A compartment.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct CompartmentSpec {
    /// Compartment OCID.
    pub id: String,
    /// Name.
    pub name: String,
}

/// An IAM user.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct UserSpec {
    /// User OCID.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Compartments this user may see; absent means all (a tenancy administrator).
    #[serde(default)]
    pub compartments: Option<Vec<String>>,
    /// The user's API signing keys.
    #[serde(default)]
    pub api_keys: Vec<ApiKeySpec>,
}

/// An API signing key; exactly one of the two fields.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiKeySpec {
    /// PEM public key (`BEGIN PUBLIC KEY`).
    #[serde(default)]
    pub public_key_pem: Option<String>,
    /// Path of a PEM public key file, relative to the world file.
    #[serde(default)]
    pub public_key_file: Option<String>,
}

/// A VCN.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct VcnSpec {
    /// VCN OCID.
    pub id: String,
    /// Compartment OCID.
    pub compartment_id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// IPv4 CIDR blocks.
    pub cidr_blocks: Vec<String>,
    /// DNS label.
    #[serde(default)]
    pub dns_label: Option<String>,
}

/// A subnet.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct SubnetSpec {
    /// Subnet OCID.
    pub id: String,
    /// VCN OCID.
    pub vcn_id: String,
    /// Compartment OCID.
    pub compartment_id: String,
    /// IPv4 CIDR block.
    pub cidr_block: String,
    /// Availability domain of an AD-specific subnet; absent means regional.
    #[serde(default)]
    pub availability_domain: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// DNS label.
    #[serde(default)]
    pub dns_label: Option<String>,
    /// Free-form tags.
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
    /// IPv6 prefix of the subnet (always a /64), if it has one.
    #[serde(default)]
    pub ipv6_cidr_block: Option<String>,
}

/// A compute instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct InstanceSpec {
    /// Instance OCID.
    pub id: String,
    /// Compartment OCID.
    pub compartment_id: String,
    /// Display name (also the hostname).
    #[serde(default)]
    pub display_name: String,
    /// Shape name.
    pub shape: String,
    /// OCPUs (flex shapes); absent takes the shape's default.
    #[serde(default)]
    pub ocpus: Option<f64>,
    /// Availability domain, e.g. `Uocm:US-ASHBURN-AD-1`.
    pub availability_domain: String,
    /// Fault domain.
    #[serde(default = "default_fault_domain")]
    pub fault_domain: String,
    /// Subnet of the primary VNIC.
    pub subnet_id: String,
    /// Primary private IP; absent means the first free address.
    #[serde(default)]
    pub private_ip: Option<Ipv4Addr>,
    /// Free-form tags.
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
}

fn default_fault_domain() -> String {
    "FAULT-DOMAIN-1".to_owned()
}

/// How many secondary private IPs one VNIC may carry (OCI sources say 31, 32 or 64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// Secondary private IPs per VNIC.
    pub secondary_ips_per_vnic: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            secondary_ips_per_vnic: 31,
        }
    }
}

/// VNIC attachment lifecycle timing, in simulated milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct AttachSettings {
    /// Time an attachment spends in `ATTACHING`.
    pub delay_ms: u64,
    /// Time an attachment spends in `DETACHING`.
    pub detach_delay_ms: u64,
    /// Probability (0..=1) that an attachment falls to `DETACHED` instead of `ATTACHED`.
    pub failure_rate: f64,
}

impl Default for AttachSettings {
    fn default() -> Self {
        Self {
            delay_ms: 1_000,
            detach_delay_ms: 500,
            failure_rate: 0.0,
        }
    }
}

impl AttachSettings {
    /// Settings with the given attach delay, detach delay and failure rate.
    #[must_use]
    pub fn new(delay_ms: u64, detach_delay_ms: u64, failure_rate: f64) -> Self {
        Self {
            delay_ms,
            detach_delay_ms,
            failure_rate,
        }
    }
}

/// Instance-principal federation settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct IdentitySettings {
    /// Lifetime of the session tokens `/v1/x509` issues, in seconds.
    pub session_token_lifetime_secs: u64,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            session_token_lifetime_secs: 1_200,
        }
    }
}

impl World {
    /// An empty world in `region` with a fresh tenancy OCID.
    #[must_use]
    pub fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            region_key: default_region_key(),
            realm_key: default_realm_key(),
            realm_domain: default_realm_domain(),
            tenancy: mint_ocid("tenancy", "oc1", ""),
            compartments: Vec::new(),
            users: Vec::new(),
            vcns: Vec::new(),
            subnets: Vec::new(),
            instances: Vec::new(),
            shapes: Vec::new(),
            limits: Limits::default(),
            attach: AttachSettings::default(),
            identity: IdentitySettings::default(),
            faults: FaultSettings::default(),
        }
    }

    /// A ready-made world: one compartment `oci-ipam`, VCN `10.0.0.0/16`, a node subnet
    /// `10.0.0.0/24`, a pod subnet `10.0.64.0/18` (tagged `oci-ipam/role=pods`, IPv6
    /// `2603:c020:4000:6440::/64`), and
    /// `instances` VM.Standard.E4.Flex workers with 4 OCPUs (4 VNICs each) in
    /// `Uocm:US-ASHBURN-AD-1`, named `worker-0`, `worker-1`, ...
    #[must_use]
    pub fn sample(instances: usize) -> Self {
        let mut world = World::new("us-ashburn-1");
        let compartment = world.add_compartment("oci-ipam");
        let vcn = world.add_vcn(&compartment, "10.0.0.0/16");
        let nodes = world.add_subnet(&vcn, &compartment, "10.0.0.0/24");
        let pods = world.add_subnet(&vcn, &compartment, "10.0.64.0/18");
        if let Some(subnet) = world.subnets.iter_mut().find(|s| s.id == pods) {
            subnet.display_name = "pods".to_owned();
            subnet.ipv6_cidr_block = Some("2603:c020:4000:6440::/64".to_owned());
            subnet
                .freeform_tags
                .insert("oci-ipam/role".to_owned(), "pods".to_owned());
        }
        if let Some(subnet) = world.subnets.iter_mut().find(|s| s.id == nodes) {
            subnet.display_name = "nodes".to_owned();
        }
        for index in 0..instances {
            let spec = InstanceSpec::new(
                &compartment,
                "VM.Standard.E4.Flex",
                Some(4.0),
                "Uocm:US-ASHBURN-AD-1",
                &nodes,
            )
            .with_display_name(&format!("worker-{index}"));
            world.add_instance(spec);
        }
        world
    }

    /// Reads and validates a world file. Relative `publicKeyFile` paths are resolved
    /// against the file's directory.
    pub fn from_file(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadWorld {
            path: path.to_owned(),
            source,
        })?;

        let mut world: World =
            serde_json::from_str(&text).map_err(|source| SimError::ParseWorld {
                path: path.to_owned(),
                source,
            })?;

        let base = path.parent().unwrap_or_else(|| Path::new("."));
        for user in &mut world.users {
            for key in &mut user.api_keys {
                if let (None, Some(file)) = (&key.public_key_pem, &key.public_key_file) {
                    let key_path = base.join(file);
                    let pem = std::fs::read_to_string(&key_path).map_err(|source| {
                        SimError::ReadWorld {
                            path: key_path,
                            source,
                        }
                    })?;
                    key.public_key_pem = Some(pem);
                }
            }
        }

        world.validate()?;
        Ok(world)
    }

    /// Adds a compartment and returns its OCID.
    pub fn add_compartment(&mut self, name: &str) -> String {
        let id = mint_ocid("compartment", "oc1", "");
        self.compartments.push(CompartmentSpec {
            id: id.clone(),
            name: name.to_owned(),
        });
        id
    }

    /// Adds a VCN with one CIDR block and returns its OCID.
    pub fn add_vcn(&mut self, compartment_id: &str, cidr: &str) -> String {
        let id = mint_ocid("vcn", "oc1", &self.region_key.to_lowercase());
        self.vcns.push(VcnSpec {
            id: id.clone(),
            compartment_id: compartment_id.to_owned(),
            display_name: format!("vcn-{}", self.vcns.len() + 1),
            cidr_blocks: vec![cidr.to_owned()],
            dns_label: None,
        });
        id
    }

    /// Adds a regional subnet and returns its OCID.
    pub fn add_subnet(&mut self, vcn_id: &str, compartment_id: &str, cidr: &str) -> String {
        let id = mint_ocid("subnet", "oc1", &self.region_key.to_lowercase());
        self.subnets.push(SubnetSpec {
            id: id.clone(),
            vcn_id: vcn_id.to_owned(),
            compartment_id: compartment_id.to_owned(),
            cidr_block: cidr.to_owned(),
            availability_domain: None,
            display_name: format!("subnet-{}", self.subnets.len() + 1),
            dns_label: None,
            freeform_tags: BTreeMap::new(),
            ipv6_cidr_block: None,
        });
        id
    }

    /// Adds an instance whose primary VNIC sits in `subnet_id`, and returns its OCID.
    pub fn add_instance(&mut self, spec: InstanceSpec) -> String {
        let id = spec.id.clone();
        self.instances.push(spec);
        id
    }

    /// Every shape this world knows: the built-in table with the world's own on top.
    #[must_use]
    pub fn all_shapes(&self) -> Vec<Shape> {
        let mut shapes: BTreeMap<String, Shape> = builtin_shapes()
            .into_iter()
            .map(|s| (s.shape.clone(), s))
            .collect();
        for shape in &self.shapes {
            shapes.insert(shape.shape.clone(), shape.clone());
        }
        shapes.into_values().collect()
    }

    /// Checks references, CIDRs, shapes and limits; the error names what to fix.
    pub fn validate(&self) -> Result<(), SimError> {
        let mut compartments: BTreeSet<&str> = BTreeSet::new();
        compartments.insert(&self.tenancy);
        for compartment in &self.compartments {
            if !compartments.insert(&compartment.id) {
                return problem(format!("compartment {} is declared twice", compartment.id));
            }
        }

        if ![31, 32, 64].contains(&self.limits.secondary_ips_per_vnic) {
            return problem(format!(
                "limits.secondaryIpsPerVnic is {}; OCI uses 31, 32 or 64",
                self.limits.secondary_ips_per_vnic
            ));
        }
        if !(0.0..=1.0).contains(&self.attach.failure_rate) {
            return problem("attach.failureRate must lie between 0 and 1".to_owned());
        }
        self.faults.validate().or_else(problem::<()>)?;

        for user in &self.users {
            for compartment in user.compartments.iter().flatten() {
                if !compartments.contains(compartment.as_str()) {
                    return problem(format!(
                        "user {} names unknown compartment {compartment}",
                        user.id
                    ));
                }
            }
            for key in &user.api_keys {
                if key.public_key_pem.is_none() {
                    return problem(format!(
                        "user {} has an API key with neither publicKeyPem nor publicKeyFile",
                        user.id
                    ));
                }
            }
        }

        let mut vcns = BTreeMap::new();
        for vcn in &self.vcns {
            if !compartments.contains(vcn.compartment_id.as_str()) {
                return problem(format!("vcn {} names unknown compartment", vcn.id));
            }
            let mut blocks = Vec::new();
            for cidr in &vcn.cidr_blocks {
                blocks
                    .push(Cidr::parse(cidr).or_else(|e| problem(format!("vcn {}: {e}", vcn.id)))?);
            }
            vcns.insert(vcn.id.as_str(), blocks);
        }

        let mut subnets = BTreeMap::new();
        for subnet in &self.subnets {
            let Some(blocks) = vcns.get(subnet.vcn_id.as_str()) else {
                return problem(format!(
                    "subnet {} names unknown vcn {}",
                    subnet.id, subnet.vcn_id
                ));
            };
            if !compartments.contains(subnet.compartment_id.as_str()) {
                return problem(format!("subnet {} names unknown compartment", subnet.id));
            }
            let cidr = Cidr::parse(&subnet.cidr_block)
                .or_else(|e| problem(format!("subnet {}: {e}", subnet.id)))?;
            if cidr.prefix > 30 {
                return problem(format!(
                    "subnet {}: cidrBlock must be /30 or larger",
                    subnet.id
                ));
            }
            if !blocks.iter().any(|b| b.contains_block(&cidr)) {
                return problem(format!(
                    "subnet {}: cidrBlock {} lies outside every CIDR of vcn {}",
                    subnet.id, subnet.cidr_block, subnet.vcn_id
                ));
            }
            for (other_id, other) in &subnets {
                let other: &Cidr = other;
                if other.overlaps(&cidr) {
                    return problem(format!("subnet {} overlaps subnet {other_id}", subnet.id));
                }
            }
            if let Some(block) = &subnet.ipv6_cidr_block {
                parse_ipv6_64(block).or_else(|e| problem(format!("subnet {}: {e}", subnet.id)))?;
            }
            subnets.insert(subnet.id.as_str(), cidr);
        }

        let shapes = self.all_shapes();
        for instance in &self.instances {
            if !compartments.contains(instance.compartment_id.as_str()) {
                return problem(format!(
                    "instance {} names unknown compartment",
                    instance.id
                ));
            }
            if !shapes.iter().any(|s| s.shape == instance.shape) {
                return problem(format!(
                    "instance {} uses unknown shape {}; declare it under \"shapes\"",
                    instance.id, instance.shape
                ));
            }
            if !subnets.contains_key(instance.subnet_id.as_str()) {
                return problem(format!(
                    "instance {} names unknown subnet {}",
                    instance.id, instance.subnet_id
                ));
            }
        }

        Ok(())
    }
}

impl InstanceSpec {
    /// An instance spec with a fresh OCID, in `availability_domain`, primary VNIC in `subnet_id`.
    #[must_use]
    pub fn new(
        compartment_id: &str,
        shape: &str,
        ocpus: Option<f64>,
        availability_domain: &str,
        subnet_id: &str,
    ) -> Self {
        let id = mint_ocid("instance", "oc1", "iad");
        Self {
            display_name: format!("instance-{}", &id[id.len() - 6..]),
            id,
            compartment_id: compartment_id.to_owned(),
            shape: shape.to_owned(),
            ocpus,
            availability_domain: availability_domain.to_owned(),
            fault_domain: default_fault_domain(),
            subnet_id: subnet_id.to_owned(),
            private_ip: None,
            freeform_tags: BTreeMap::new(),
        }
    }

    /// Sets the display name.
    #[must_use]
    pub fn with_display_name(mut self, name: &str) -> Self {
        self.display_name = name.to_owned();
        self
    }

    /// Sets the OCID.
    #[must_use]
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = id.to_owned();
        self
    }
}

/// Mints an OCID of the given resource type: `ocid1.<kind>.<realm>.<region>.<unique>`.
pub(crate) fn mint_ocid(kind: &str, realm: &str, region: &str) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("ocid1.{kind}.{realm}.{region}.aaaaaaaa{unique}")
}

/// An IPv4 CIDR block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub(crate) network: u32,
    pub(crate) prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("CIDR {text} lacks a /prefix"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("CIDR {text}: bad address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("CIDR {text}: bad prefix"))?;
        if prefix > 32 {
            return Err(format!("CIDR {text}: prefix over 32"));
        }
        let network = u32::from(addr);
        let cidr = Self {
            network: network & Self::mask(prefix),
            prefix,
        };
        if cidr.network != network {
            return Err(format!("CIDR {text} has host bits set"));
        }
        Ok(cidr)
    }

    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }

    pub(crate) fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub(crate) fn broadcast(&self) -> u32 {
        self.network | !Self::mask(self.prefix)
    }

    pub(crate) fn contains(&self, addr: u32) -> bool {
        addr & Self::mask(self.prefix) == self.network
    }

    fn contains_block(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.network)
    }

    fn overlaps(&self, other: &Cidr) -> bool {
        self.contains_block(other) || other.contains_block(self)
    }

    /// The gateway address OCI reserves: the first host.
    pub(crate) fn router(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    /// Whether `addr` is one of the three addresses OCI reserves in every subnet.
    pub(crate) fn is_reserved(&self, addr: u32) -> bool {
        addr == self.network || addr == self.network + 1 || addr == self.broadcast()
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

/// Parses an IPv6 `/64` prefix into its network address.
pub(crate) fn parse_ipv6_64(text: &str) -> Result<u128, String> {
    let (addr, prefix) = text
        .split_once('/')
        .ok_or_else(|| format!("ipv6CidrBlock {text} lacks a /prefix"))?;
    if prefix != "64" {
        return Err(format!("ipv6CidrBlock {text}: OCI IPv6 subnets are /64"));
    }
    let addr: std::net::Ipv6Addr = addr
        .parse()
        .map_err(|_| format!("ipv6CidrBlock {text}: bad address"))?;
    let network = u128::from(addr);
    if network & ((1u128 << 64) - 1) != 0 {
        return Err(format!("ipv6CidrBlock {text} has host bits set"));
    }
    Ok(network)
}

fn problem<T>(problem: String) -> Result<T, SimError> {
    Err(SimError::ValidateWorld { problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let c = Cidr::parse("10.0.1.0/24").expect("cidr");
        assert_eq!(c.size(), 256);
        assert_eq!(Ipv4Addr::from(c.broadcast()), Ipv4Addr::new(10, 0, 1, 255));
        assert_eq!(c.router(), Ipv4Addr::new(10, 0, 1, 1));
        assert!(c.is_reserved(u32::from(Ipv4Addr::new(10, 0, 1, 0))));
        assert!(!c.is_reserved(u32::from(Ipv4Addr::new(10, 0, 1, 2))));
        assert!(Cidr::parse("10.0.1.1/24").is_err());
        assert!(Cidr::parse("10.0.1.0").is_err());
    }

    #[test]
    fn validate_names_the_broken_reference() {
        let mut world = World::new("us-ashburn-1");
        let c = world.add_compartment("c");
        let vcn = world.add_vcn(&c, "10.0.0.0/16");
        world.add_subnet(&vcn, &c, "10.1.0.0/24");
        let err = world
            .validate()
            .expect_err("subnet outside vcn")
            .to_string();
        assert!(err.contains("outside every CIDR"), "{err}");
    }

    #[test]
    fn validate_rejects_odd_per_vnic_limit() {
        let mut world = World::new("us-ashburn-1");
        world.limits.secondary_ips_per_vnic = 50;
        let err = world.validate().expect_err("bad limit").to_string();
        assert!(err.contains("secondaryIpsPerVnic"), "{err}");
    }
}
