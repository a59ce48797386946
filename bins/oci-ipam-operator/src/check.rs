//! `oci-ipam-operator check`: probes what the operator needs, each reported as OK or a fix.
//!
//! The probes only read: the OCI endpoint and credentials, the VCN, the subnets (those the
//! selector matches, or a node's own subnet when there is no selector), the permissions
//! that reads can show (instances, VNIC attachments, VNICs, private IPs), and the
//! Kubernetes objects the operator reads and writes.
//!
//! Every `OK` line stands for a read that succeeded: the credentials are OK only once OCI
//! answered a signed request with success, a subnet only once it was read. What check could
//! not try is a `SKIP` line saying why; a `SKIP` does not fail the check. A failed OCI call
//! is classified by its cause, so the fix fits: a `401` points at the key, fingerprint and
//! clock, no answer at the endpoint and network, a `404`/`403` at the IAM policy or the OCID.

use std::fmt;
use std::time::Instant;

use futures::TryStreamExt;
use k8s_glue::CiliumNode;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::ListParams;
use oci_api::model::{InstanceId, ListPrivateIpsRequest, ListVnicAttachmentsRequest, SubnetId};

use crate::Cloud;
use crate::config::{Auth, Config, SubnetSelector};
use crate::error::{Error, chain};
use crate::subnets::SubnetBook;

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Probe {
    /// What was probed.
    pub what: String,
    /// The verdict.
    pub verdict: Verdict,
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The read succeeded.
    Ok,
    /// Something needs fixing: what and how.
    Fix(String),
    /// Not tried, and why (does not fail the check).
    Skip(String),
}

impl Probe {
    /// Whether this probe fails the check.
    #[must_use]
    pub fn needs_fixing(&self) -> bool {
        matches!(self.verdict, Verdict::Fix(_))
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.verdict {
            Verdict::Ok => write!(f, "OK    {}", self.what),
            Verdict::Fix(fix) => write!(f, "FIX   {}: {fix}", self.what),
            Verdict::Skip(why) => write!(f, "SKIP  {}: {why}", self.what),
        }
    }
}

fn ok(what: impl Into<String>) -> Probe {
    Probe {
        what: what.into(),
        verdict: Verdict::Ok,
    }
}

fn fix(what: impl Into<String>, fix: impl Into<String>) -> Probe {
    Probe {
        what: what.into(),
        verdict: Verdict::Fix(fix.into()),
    }
}

fn skip(what: impl Into<String>, why: impl Into<String>) -> Probe {
    Probe {
        what: what.into(),
        verdict: Verdict::Skip(why.into()),
    }
}

/// How check reaches OCI, as the operator would.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OciAccess {
    /// How the credentials are obtained (`config file, profile DEFAULT`), or why loading
    /// them failed.
    pub credentials: Result<String, String>,
    /// The endpoint with the region and realm actually used, or why no client was built.
    pub endpoint: Result<String, String>,
}

impl OciAccess {
    /// The access from its parts.
    #[must_use]
    pub fn new(credentials: Result<String, String>, endpoint: Result<String, String>) -> Self {
        Self {
            credentials,
            endpoint,
        }
    }
}

/// What the OCI calls of a check showed about the endpoint and the credentials.
#[derive(Debug, Default)]
struct Evidence {
    /// The first operation that succeeded.
    succeeded: Option<&'static str>,
    /// The first call OCI answered with 401, and the whole error.
    unauthenticated: Option<String>,
    /// The first call that could not be signed, and the whole error.
    unsigned: Option<String>,
    /// The first call without an answer, and the whole error.
    unanswered: Option<String>,
    /// Whether OCI answered any call (any status).
    answered: bool,
    /// Whether any call was made.
    called: bool,
}

impl Evidence {
    fn succeeded(&mut self, operation: &'static str) {
        self.called = true;
        self.answered = true;
        self.succeeded.get_or_insert(operation);
    }

    fn failed(&mut self, err: &oci_api::Error) {
        self.called = true;
        match cause(err) {
            Cause::Unauthenticated => {
                self.answered = true;
                self.unauthenticated.get_or_insert_with(|| chain(err));
            }
            Cause::Unsigned => {
                self.unsigned.get_or_insert_with(|| chain(err));
            }
            Cause::Unanswered => {
                self.unanswered.get_or_insert_with(|| chain(err));
            }
            Cause::Refused | Cause::Other => self.answered = true,
            Cause::Local => {}
        }
    }

    fn record<T>(&mut self, result: &Result<T, oci_api::Error>, operation: &'static str) {
        match result {
            Ok(_) => self.succeeded(operation),
            Err(err) => self.failed(err),
        }
    }
}

/// What an OCI failure says about its fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// 401: OCI did not accept the signature or the token.
    Unauthenticated,
    /// The request could not be signed (credential provider failure).
    Unsigned,
    /// No HTTP answer.
    Unanswered,
    /// 404 or 403: the principal may not see the resource, or it does not exist.
    Refused,
    /// A bad OCID or endpoint in the configuration, found before any request.
    Local,
    /// Anything else OCI answered (429, 5xx, 400...).
    Other,
}

fn cause(err: &oci_api::Error) -> Cause {
    match (err, err.status()) {
        (_, Some(401)) => Cause::Unauthenticated,
        (_, Some(403 | 404)) => Cause::Refused,
        (_, Some(_)) => Cause::Other,
        (oci_api::Error::SignRequest { .. }, None) => Cause::Unsigned,
        (oci_api::Error::Transport { .. } | oci_api::Error::RetryBudgetExhausted { .. }, None) => {
            Cause::Unanswered
        }
        (oci_api::Error::ParseOcid { .. } | oci_api::Error::InvalidEndpoint { .. }, None) => {
            Cause::Local
        }
        _ => Cause::Other,
    }
}

/// The fix for a failed read: `grant` is the IAM verb the read needs, `ocid` the setting that
/// names the resource.
fn remedy(err: &oci_api::Error, grant: &str, ocid: &str) -> String {
    match cause(err) {
        Cause::Unauthenticated => {
            "OCI did not accept the credentials (HTTP 401): see the OCI credentials line".to_owned()
        }
        Cause::Unsigned => {
            "the request could not be signed: see the OCI credentials line".to_owned()
        }
        Cause::Unanswered => "no answer from OCI: see the OCI endpoint line".to_owned(),
        Cause::Refused => format!(
            "the operator's principal may not read it, or it does not exist: grant {grant} \
             in its compartment, or correct {ocid}"
        ),
        Cause::Local => format!("correct {ocid}"),
        Cause::Other => {
            "OCI refused or failed the read; see OCI's answer, then try again".to_owned()
        }
    }
}

/// `err` with its causes, then the fix for its cause.
fn advice(err: &dyn std::error::Error, oci: &oci_api::Error, grant: &str, ocid: &str) -> String {
    format!("{}; {}", chain(err), remedy(oci, grant, ocid))
}

/// The OCI failure behind an operator error, when there is one.
fn oci_source(err: &Error) -> Option<&oci_api::Error> {
    match err {
        Error::ReadSubnet { source, .. } | Error::ReadOci { source, .. } => Some(source),
        _ => None,
    }
}

/// Runs every probe. `oci` is the client `access` describes, `None` when none was built;
/// `kube` is the Kubernetes client, or why none could be built.
pub async fn run(
    config: &Config,
    access: OciAccess,
    oci: Option<&dyn Cloud>,
    kube: Result<kube::Client, String>,
) -> Vec<Probe> {
    let mut probes = Vec::new();
    let (kube, kube_problem) = match kube {
        Ok(client) => (Some(client), None),
        Err(problem) => (None, Some(problem)),
    };

    match oci {
        Some(oci) => {
            let mut found = Vec::new();
            let evidence = oci_probes(config, oci, kube.clone(), &mut found).await;
            probes.push(endpoint_probe(&access, &evidence));
            probes.push(credentials_probe(config, &access, &evidence));
            probes.extend(found);
        }
        None => {
            let problem = match (&access.credentials, &access.endpoint) {
                (Err(err), _) => ("OCI credentials", err.clone()),
                (Ok(_), Err(err)) => ("OCI endpoint", err.clone()),
                (Ok(_), Ok(_)) => ("OCI client", "no client was built".to_owned()),
            };
            probes.push(fix(problem.0, problem.1));
            probes.push(skip("OCI reads", "no OCI client; fix the line above first"));
        }
    }

    match (kube, kube_problem) {
        (Some(client), _) => kube_probes(config, client, &mut probes).await,
        (None, problem) => probes.push(fix(
            "Kubernetes API",
            format!(
                "no client ({}): set KUBECONFIG or run in a pod with a service account",
                problem.unwrap_or_default()
            ),
        )),
    }
    probes
}

fn endpoint_probe(access: &OciAccess, evidence: &Evidence) -> Probe {
    let endpoint = match &access.endpoint {
        Ok(endpoint) => endpoint.clone(),
        Err(err) => return fix("OCI endpoint", err.clone()),
    };
    let what = format!("OCI endpoint {endpoint}");

    if evidence.answered {
        return ok(format!("{what} answers"));
    }
    match &evidence.unanswered {
        Some(err) => fix(
            what,
            format!(
                "{err}; check --oci-endpoint or --oci-region, and that DNS, proxy and firewall \
                 let the operator reach the endpoint"
            ),
        ),
        None => skip(what, "no request reached it"),
    }
}

fn credentials_probe(config: &Config, access: &OciAccess, evidence: &Evidence) -> Probe {
    let method = match &access.credentials {
        Ok(method) => method.clone(),
        Err(err) => return fix("OCI credentials", err.clone()),
    };
    let what = format!("OCI credentials ({method})");
    let (unsigned_hint, refused_hint) = match &config.auth {
        Auth::InstancePrincipal => (
            "check that the node reaches the metadata service and the federation endpoint, \
             and that a dynamic group matches the instance",
            "OCI refused the instance principal's token: check that a dynamic group matches \
             the instance, and the node's clock",
        ),
        Auth::ResourcePrincipal => (
            "check the OCI_RESOURCE_PRINCIPAL_* variables the platform sets in the pod",
            "OCI refused the resource principal's token: check the OCI_RESOURCE_PRINCIPAL_* \
             variables, the policy's resource principal statement, and the clock",
        ),
        _ => (
            "check key_file, its pass phrase and the profile in the config file",
            "OCI refused the signature: check that key_file is the private key of the \
             fingerprint registered for the user (API keys of the user in the console), the \
             user= and tenancy= OCIDs, and that the clock is within 5 minutes of OCI's",
        ),
    };

    if let Some(operation) = evidence.succeeded {
        return ok(format!("{what}: OCI accepted a signed {operation}"));
    }
    if let Some(err) = &evidence.unsigned {
        return fix(what, format!("{err}; {unsigned_hint}"));
    }
    if let Some(err) = &evidence.unauthenticated {
        return fix(what, format!("{err}; {refused_hint}"));
    }
    if evidence.answered {
        return fix(
            what,
            "not confirmed: every OCI read was refused (see the lines below); OCI checks the \
             signature before the policy, so fix the IAM policy or the OCIDs and run check again",
        );
    }
    if evidence.called {
        return skip(
            what,
            "not confirmed: OCI did not answer (see the OCI endpoint line)",
        );
    }
    // Known shortcoming: with no VCN flag, no subnet selector and no Node yet, check makes no
    // OCI call, so it cannot confirm the credentials.
    skip(
        what,
        "not confirmed: check had nothing to read (set --oci-vcn-id, or run check once a Node \
         with an oci:// providerID exists)",
    )
}

async fn oci_probes(
    config: &Config,
    oci: &dyn Cloud,
    kube: Option<kube::Client>,
    probes: &mut Vec<Probe>,
) -> Evidence {
    let mut evidence = Evidence::default();

    if let Some(vcn) = &config.vcn {
        match vcn.as_str().parse() {
            Ok(id) => {
                let read = oci.get_vcn(&id).await;
                evidence.record(&read, "GetVcn");
                match read {
                    Ok(found) => {
                        probes.push(ok(format!("VCN {vcn} ({})", found.cidr_blocks.join(", "))))
                    }
                    Err(err) => probes.push(fix(
                        format!("VCN {vcn}"),
                        advice(&err, &err, "`inspect vcns`", "--oci-vcn-id"),
                    )),
                }
            }
            Err(err) => probes.push(fix(format!("VCN {vcn}"), err.to_string())),
        }
    }

    if unsigned(&evidence, probes) {
        return evidence;
    }

    let book = SubnetBook::default();
    let now = Instant::now();
    let node_subnet = matches!(config.subnets, SubnetSelector::NodeSubnet);
    match book
        .selected(oci, config, config.resync_interval, now)
        .await
    {
        Ok(subnets) if subnets.is_empty() && !node_subnet => {
            if matches!(config.subnets, SubnetSelector::Tags(_)) {
                evidence.succeeded("ListSubnets");
            }
            probes.push(fix(
                "subnets",
                "no subnet matches --subnet-ids / --subnet-tags",
            ));
        }
        Ok(subnets) => {
            if matches!(config.subnets, SubnetSelector::Tags(_)) {
                evidence.succeeded("ListSubnets");
            }
            for subnet in subnets {
                let facts = read_subnet(oci, &book, config, &subnet, &mut evidence).await;
                probes.push(facts.unwrap_or_else(|probe| probe));
            }
        }
        Err(err) => {
            let text = match oci_source(&err) {
                Some(source) => {
                    evidence.failed(source);
                    advice(
                        &err,
                        source,
                        "`inspect subnets`",
                        "--subnet-tags or --oci-compartment-ids",
                    )
                }
                None => chain(&err),
            };
            probes.push(fix("subnets", text));
        }
    }

    if unsigned(&evidence, probes) {
        return evidence;
    }

    instance_probes(oci, kube, &book, config, node_subnet, probes, &mut evidence).await;
    probes.push(skip(
        "writes (CreatePrivateIp, AttachVnic)",
        "not probed: they would change the tenancy",
    ));
    evidence
}

/// Whether requests cannot be signed; then the remaining reads are skipped, since each would
/// fail the same way (and an instance principal may wait minutes for the metadata service).
fn unsigned(evidence: &Evidence, probes: &mut Vec<Probe>) -> bool {
    if evidence.unsigned.is_none() {
        return false;
    }
    probes.push(skip(
        "other OCI reads",
        "not tried: requests cannot be signed (see the OCI credentials line)",
    ));
    true
}

/// Reads one subnet's facts (GetSubnet, then its private IPs page by page).
async fn read_subnet(
    oci: &dyn Cloud,
    book: &SubnetBook,
    config: &Config,
    subnet: &SubnetId,
    evidence: &mut Evidence,
) -> Result<Probe, Probe> {
    match book
        .facts(oci, subnet, config.resync_interval, Instant::now())
        .await
    {
        Ok(facts) => {
            evidence.succeeded("GetSubnet");
            Ok(ok(format!(
                "subnet {subnet} {} ({} addresses taken); `use private-ips` readable",
                facts.cidr, facts.allocated
            )))
        }
        Err(err) => {
            let text = match oci_source(&err) {
                Some(source) => {
                    evidence.failed(source);
                    advice(
                        &err,
                        source,
                        "`use subnets` and `use private-ips`",
                        "--subnet-ids",
                    )
                }
                None => chain(&err),
            };
            Err(fix(format!("subnet {subnet}"), text))
        }
    }
}
/// Probes the instance permissions with the first Node that names its instance, and, without
/// a subnet selector, reads that node's own subnet.
async fn instance_probes(
    oci: &dyn Cloud,
    kube: Option<kube::Client>,
    book: &SubnetBook,
    config: &Config,
    node_subnet: bool,
    probes: &mut Vec<Probe>,
    evidence: &mut Evidence,
) {
    const INSTANCE: &str = "instance permissions";
    const OWN_SUBNET: &str = "subnets: each node's own subnet (no selector)";
    let subnet_not_read = |probes: &mut Vec<Probe>, why: &str| {
        if node_subnet {
            probes.push(skip(OWN_SUBNET, format!("not read: {why}")));
        }
    };
    let skipped = |probes: &mut Vec<Probe>, why: &str| {
        probes.push(skip(INSTANCE, why));
        subnet_not_read(probes, why);
    };

    let Some(kube) = kube else {
        skipped(probes, "no Kubernetes client to find a Node with");
        return;
    };
    let nodes = match Api::<Node>::all(kube)
        .list(&ListParams::default().limit(50))
        .await
    {
        Ok(list) => list.items,
        Err(err) => {
            probes.push(fix(
                "list Nodes",
                format!(
                    "{}; check RBAC for nodes (the operator watches them)",
                    chain(&err)
                ),
            ));
            skipped(probes, "Nodes could not be listed (see the line above)");
            return;
        }
    };
    let Some(instance) = nodes
        .iter()
        .find_map(|node| k8s_glue::node::NodeInstance::from_node(node).ok())
    else {
        skipped(probes, "no Node with an oci:// providerID to probe with");
        return;
    };
    let id = match instance.instance_id.as_str().parse::<InstanceId>() {
        Ok(id) => id,
        Err(err) => {
            probes.push(fix(
                format!("node {}", instance.node),
                format!("{err}; set spec.providerID to oci://<instance OCID>"),
            ));
            return;
        }
    };

    let read = oci.get_instance(&id).await;
    evidence.record(&read, "GetInstance");
    let found = match read {
        Ok(found) => found,
        Err(err) => {
            probes.push(fix(
                format!("instance {} (node {})", instance.instance_id, instance.node),
                advice(
                    &err,
                    &err,
                    "`inspect instances` (and `manage instances` to attach VNICs)",
                    "the Node's spec.providerID",
                ),
            ));
            subnet_not_read(probes, "the node's instance could not be read");
            return;
        }
    };
    probes.push(ok(format!(
        "`inspect instances` (node {}, {})",
        instance.node, found.shape
    )));

    let request = ListVnicAttachmentsRequest::of_instance(found.compartment_id.clone(), id.clone());
    let listed = oci
        .list_vnic_attachments(&request)
        .try_collect::<Vec<_>>()
        .await;
    evidence.record(&listed, "ListVnicAttachments");
    let attachments = match listed {
        Ok(attachments) => attachments,
        Err(err) => {
            probes.push(fix(
                "VNIC attachments",
                advice(
                    &err,
                    &err,
                    "`inspect vnic-attachments`",
                    "the Node's spec.providerID",
                ),
            ));
            subnet_not_read(probes, "the node's VNICs could not be listed");
            return;
        }
    };
    probes.push(ok(format!(
        "`inspect vnic-attachments` ({} on node {})",
        attachments.len(),
        instance.node
    )));

    let primary = attachments
        .iter()
        .filter(|attachment| attachment.vnic_id.is_some())
        .min_by_key(|attachment| attachment.nic_index.unwrap_or(0));
    if node_subnet {
        match primary.and_then(|attachment| attachment.subnet_id.clone()) {
            Some(subnet) => {
                let mut probe = read_subnet(oci, book, config, &subnet, evidence)
                    .await
                    .unwrap_or_else(|probe| probe);
                probe.what = format!(
                    "{} (node {}'s own subnet; no selector)",
                    probe.what, instance.node
                );
                probes.push(probe);
            }
            None => probes.push(skip(
                OWN_SUBNET,
                format!(
                    "not read: OCI names no subnet for node {}'s VNICs",
                    instance.node
                ),
            )),
        }
    }

    let Some(vnic) = primary.and_then(|attachment| attachment.vnic_id.clone()) else {
        probes.push(skip(
            "VNIC and private IP reads",
            format!("node {} has no attached VNIC to read", instance.node),
        ));
        return;
    };
    let vnic_read = oci.get_vnic(&vnic).await;
    evidence.record(&vnic_read, "GetVnic");
    let ips = oci
        .list_private_ips(&ListPrivateIpsRequest::on_vnic(vnic.clone()))
        .try_collect::<Vec<_>>()
        .await;
    evidence.record(&ips, "ListPrivateIps");
    match (vnic_read, ips) {
        (Ok(_), Ok(_)) => probes.push(ok(format!(
            "`use vnics`, `use private-ips` (read VNIC {vnic} and its private IPs)"
        ))),
        (Err(err), _) | (_, Err(err)) => probes.push(fix(
            "VNIC and private IP reads",
            advice(
                &err,
                &err,
                "`use vnics` and `use private-ips`",
                "the Node's spec.providerID",
            ),
        )),
    }
}

async fn kube_probes(config: &Config, client: kube::Client, probes: &mut Vec<Probe>) {
    let limit = ListParams::default().limit(1);
    match Api::<CiliumNode>::all(client.clone()).list(&limit).await {
        Ok(_) => probes.push(ok("list CiliumNodes (cilium.io/v2)")),
        Err(err) => probes.push(fix(
            "list CiliumNodes",
            format!(
                "{}; is Cilium's CRD installed and RBAC applied?",
                chain(&err)
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
            format!("{}; apply deploy/crds", chain(&err)),
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
            format!("{}; check RBAC for leases", chain(&err)),
        )),
    }
}
