//! The whole agent on a real kernel: the OCI stand-in's metadata service lists the VNICs,
//! the Kubernetes stand-in holds the CiliumNode pool and our OciNetworkNode, one agent pass
//! sets up the datapath, writes per-VNIC readiness, and a pod on a secondary VNIC talks to
//! the VCN. Both stand-ins listen on the node namespace's loopback, where the agent runs.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use k8s_glue::crd::{CONDITION_READY, OciNetworkNodes, VnicRecord, VnicRole, VnicState};
use k8s_glue::{CiliumNode, CiliumNodeSpec, OciNetworkNode, OciNetworkNodeSpec};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::PostParams;
use kube_sim::{KubeSim, NodeSpec, Settings};
use oci_api::prelude::*;
use oci_api::{Client, Endpoint, MetadataClient, MetadataEndpoint, RetryToken};
use oci_auth::{Credentials, KeyId, PrivateKey, StaticProvider};
use oci_ipam_node::agent::{Agent, AgentConfig, AttachmentChoice};
use oci_ipam_node::{Datapath, OwnerProtocol, ReconcileConfig};
use oci_sim::{AttachSettings, InstanceSpec, Sim, World};
use support::{REMOTE, Topology, in_netns, privileged, tcp_exchange};

const NODE: &str = "worker-0";
const POD1: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 20);

#[test]
fn agent_pass_sets_up_secondary_vnic_and_reports_it_ready() {
    if !privileged("agent_pass_sets_up_secondary_vnic_and_reports_it_ready") {
        return;
    }
    let mut topology = Topology::vm(2);
    let pod1 = topology.add_pod("p1", POD1, 1);
    let node_ns = topology.node.clone();

    // Everything below runs inside the node namespace: the runtime's worker threads are
    // created there and inherit it, so the stand-ins' loopback listeners are the node's.
    let (macs, status) = in_netns(&node_ns, || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(scenario(&mut topology))
    });

    assert_eq!(macs.len(), 2);
    let vnics: Vec<(VnicState, Option<String>)> = status
        .vnics
        .iter()
        .map(|v| (v.state, v.interface.clone()))
        .collect();
    assert!(
        vnics.contains(&(VnicState::Ready, Some("eth1".to_owned()))),
        "{status:#?}"
    );
    assert!(
        vnics.iter().all(|(state, _)| *state == VnicState::Ready),
        "{status:#?}"
    );
    let ready = status.condition(CONDITION_READY).expect("Ready condition");
    assert_eq!(ready.status, "True");

    let vcn = topology.vcn.clone();
    assert_eq!(tcp_exchange(&pod1, &vcn, REMOTE), Ok(IpAddr::V4(POD1)));
}

/// Starts both stand-ins, attaches a secondary VNIC, runs one agent pass, and returns the
/// VNIC MACs the metadata service reported and the OciNetworkNode status afterwards.
async fn scenario(topology: &mut Topology) -> (Vec<String>, k8s_glue::OciNetworkNodeStatus) {
    let mut world = World::new("us-ashburn-1");
    let compartment = world.add_compartment("oci-ipam");
    let vcn = world.add_vcn(&compartment, "10.77.0.0/16");
    let node_subnet = world.add_subnet(&vcn, &compartment, "10.77.0.0/24");
    let pod_subnet = world.add_subnet(&vcn, &compartment, "10.77.1.0/24");
    let mut instance = InstanceSpec::new(
        &compartment,
        "VM.Standard.E4.Flex",
        Some(4.0),
        "Uocm:US-ASHBURN-AD-1",
        &node_subnet,
    );
    instance.private_ip = Some(Ipv4Addr::new(10, 77, 0, 10));
    let instance_id = instance.id.clone();
    world.add_instance(instance);

    let sim = Sim::start(world).await.expect("oci-sim");
    sim.set_attach(AttachSettings::new(0, 0, 0.0));
    let user = sim.create_user("node-agent-test", None).expect("user");
    let key = PrivateKey::from_pem(&user.private_key_pem().expect("pem"), None).expect("key");
    let credentials = Credentials::new(KeyId::from_raw(user.key_id()), Arc::new(key));
    let oci = Client::builder()
        .endpoint(Endpoint::parse(&sim.endpoint()).expect("endpoint"))
        .credentials(Arc::new(StaticProvider::new(credentials)))
        .build()
        .expect("oci client");

    let instance_ocid: InstanceId = instance_id.parse().expect("instance ocid");
    let details = AttachVnicDetails::new(
        instance_ocid,
        CreateVnicDetails::in_subnet(pod_subnet.parse().expect("subnet ocid")),
    );
    let attaching = oci
        .attach_vnic(&details, &RetryToken::random())
        .await
        .expect("attach");
    let attachment = loop {
        let current = oci
            .get_vnic_attachment(&attaching.id)
            .await
            .expect("get attachment");
        if current.lifecycle_state == VnicAttachmentLifecycleState::Attached {
            break current;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let secondary_id = attachment.vnic_id.clone().expect("vnic id");

    // The node's links get the MACs OCI reports, as the hypervisor would do.
    let metadata_url = sim.metadata_base_url(&instance_id);
    let imds = MetadataClient::builder()
        .endpoint(MetadataEndpoint::parse(&metadata_url).expect("imds endpoint"))
        .build()
        .expect("imds client");
    let listed = imds.vnics().await.expect("imds vnics");
    let macs: Vec<String> = listed.iter().filter_map(|v| v.mac_addr.clone()).collect();
    for (n, vnic) in listed.iter().enumerate() {
        let mac = vnic.mac_addr.clone().expect("mac");
        topology.set_vnic_mac(u8::try_from(n).expect("few vnics"), &mac);
    }

    let kube = KubeSim::start(Settings::default()).await.expect("kube-sim");
    kube.register_crd_yaml(&k8s_glue::crd::crd_yaml().expect("crd yaml"))
        .expect("crd");
    kube.add_node(&NodeSpec::oci(NODE, &instance_id))
        .expect("node");
    let client = kube.client().await.expect("kube client");

    let node: Node = Api::all(client.clone())
        .get(NODE)
        .await
        .expect("node object");
    let mut spec =
        OciNetworkNodeSpec::new(instance_id.parse().expect("ocid"), "VM.Standard.E4.Flex");
    for (index, vnic) in listed.iter().enumerate() {
        let vnic_id = vnic.vnic_id.as_str().parse().expect("ocid");
        let attachment_id = if vnic.vnic_id == secondary_id {
            attachment.id.as_str().parse().expect("ocid")
        } else {
            "ocid1.vnicattachment.oc1.iad.primary"
                .parse()
                .expect("ocid")
        };
        let subnet = if index == 0 {
            &node_subnet
        } else {
            &pod_subnet
        };
        let mut record = VnicRecord::new(
            vnic_id,
            attachment_id,
            u32::try_from(index).expect("index"),
            subnet.parse().expect("ocid"),
        );
        record.role = if index == 0 {
            VnicRole::Primary
        } else {
            VnicRole::Secondary
        };
        spec.vnics.push(record);
    }
    let nodes = OciNetworkNodes::new(client.clone());
    let object = OciNetworkNode::for_node(&node, spec).expect("object");
    nodes.apply_spec(&object).await.expect("apply spec");

    let mut cilium_spec = CiliumNodeSpec::default();
    cilium_spec.ipam.pool.insert(
        IpAddr::V4(POD1),
        k8s_glue::AllocationIp::on(secondary_id.as_str()),
    );
    let cilium_nodes: Api<CiliumNode> = Api::all(client.clone());
    let cilium = cilium_nodes
        .create(&PostParams::default(), &CiliumNode::new(NODE, cilium_spec))
        .await
        .expect("CiliumNode");

    let mut config = AgentConfig::new(NODE);
    config.metadata = MetadataEndpoint::parse(&metadata_url).expect("imds endpoint");
    config.attachment = AttachmentChoice::FromShape;
    config.reconcile = ReconcileConfig::default();
    let datapath = Datapath::connect(OwnerProtocol::default()).expect("netlink");
    let client_for_checks = client.clone();
    let mut agent = Agent::new(
        config,
        client,
        imds,
        datapath,
        Arc::new(k8s_glue::SystemClock),
    );

    let ours = nodes.get(NODE).await.expect("read").expect("exists");
    let report = agent
        .pass(Some(&cilium), Some(&ours))
        .await
        .expect("pass ran");
    assert!(report.all_ready(), "{report:#?}");
    assert_eq!(report.vnics.values().map(|v| v.addresses).sum::<usize>(), 1);

    let events: Api<k8s_openapi::api::events::v1::Event> = Api::all(client_for_checks.clone());
    let published = events
        .list(&kube::api::ListParams::default())
        .await
        .expect("events")
        .items;
    let reasons: Vec<String> = published.iter().filter_map(|e| e.reason.clone()).collect();
    assert_eq!(
        reasons,
        vec!["VnicReady".to_owned(), "VnicReady".to_owned()]
    );
    // Each note names the VNIC's link; the primary's says it is the primary.
    let mut notes: Vec<String> = published.into_iter().filter_map(|e| e.note).collect();
    notes.sort();
    let primary_id = &listed[0].vnic_id;
    assert_eq!(
        notes,
        vec![
            format!("VNIC {secondary_id} ready on eth1"),
            format!("primary VNIC {primary_id} ready on eth0 (it keeps the host's own routing)"),
        ],
    );

    // A second pass with nothing changed changes nothing.
    let again = agent
        .pass(Some(&cilium), Some(&ours))
        .await
        .expect("pass ran");
    assert!(again.changes.is_empty(), "{:?}", again.changes);

    let text = agent.health().metrics.encode().expect("metrics");
    assert!(text.contains("oci_ipam_node_vnics_ready 2"), "{text}");

    let status = nodes
        .get(NODE)
        .await
        .expect("read")
        .expect("exists")
        .status
        .unwrap_or_default();

    // Each object going missing is a Warning Event on the Node, once however many passes see
    // it so; the passes after restore the datapath for the traffic check.
    for _ in 0..2 {
        agent.pass(None, Some(&ours)).await.expect("pass ran");
    }
    for _ in 0..2 {
        agent.pass(Some(&cilium), None).await.expect("pass ran");
    }
    agent
        .pass(Some(&cilium), Some(&ours))
        .await
        .expect("pass ran");
    let on_node: Vec<(String, String, Option<i32>)> = events
        .list(&kube::api::ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| {
            e.regarding
                .as_ref()
                .is_some_and(|r| r.kind.as_deref() == Some("Node"))
        })
        .map(|e| {
            let regarding = e.regarding.and_then(|r| r.name).unwrap_or_default();
            let reason = e.reason.unwrap_or_default();
            (regarding, reason, e.series.map(|s| s.count))
        })
        .collect();
    assert_eq!(
        on_node,
        vec![
            (NODE.to_owned(), "CiliumNodeMissing".to_owned(), None),
            (NODE.to_owned(), "OciNetworkNodeMissing".to_owned(), None),
        ]
    );

    (macs, status)
}
