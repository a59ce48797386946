//! Simulated Cilium agents against Cilium's crd-mode rules: one test per rule of what the
//! agent creates and waits for, how it picks addresses, how it reports usage, and how it
//! answers the release handshake, plus the violations the agents detect.
//!
//! The test plays the operator: it writes `spec.ipam` and `status.ipam.release-ips` through a
//! kube-rs client, as oci-ipam's operator does.

// Helpers outside `#[test]` functions fail the test the same way.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client};
use kube_sim::agent::{AgentPhase, HealthChecking};
use kube_sim::{AgentHandle, AgentSettings, KubeSim, NodeSpec, Settings, Verb, Violation};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

struct Cluster {
    sim: KubeSim,
    api: Api<DynamicObject>,
}

impl Cluster {
    async fn start() -> Self {
        let sim = KubeSim::start(Settings::default()).await.unwrap();
        let client: Client = sim.client().await.unwrap();
        let gvk = GroupVersionKind::gvk("cilium.io", "v2", "CiliumNode");
        let api = Api::all_with(
            client,
            &ApiResource::from_gvk_with_plural(&gvk, "ciliumnodes"),
        );
        Self { sim, api }
    }

    /// Adds a Node and starts its agent with fast timers.
    async fn node(&self, name: &str, settings: AgentSettings) -> AgentHandle {
        let ocid = format!("ocid1.instance.oc1..{name}");
        self.sim
            .add_node(&NodeSpec::oci(name, &ocid).internal_ip("10.0.0.10"))
            .unwrap();
        let agent = self.sim.start_agent(name, settings).await.unwrap();
        self.eventually(|| self.sim.cilium_node(name).is_some())
            .await;
        agent
    }

    /// Operator write: merge-patches `spec.ipam`.
    async fn spec_ipam(&self, node: &str, ipam: Value) {
        let patch = Patch::Merge(json!({"spec": {"ipam": ipam}}));
        self.api
            .patch(node, &PatchParams::default(), &patch)
            .await
            .unwrap();
    }

    /// Operator write: merge-patches `status.ipam.release-ips`.
    async fn release_ips(&self, node: &str, states: Value) {
        let patch = Patch::Merge(json!({"status": {"ipam": {"release-ips": states}}}));
        self.api
            .patch_status(node, &PatchParams::default(), &patch)
            .await
            .unwrap();
    }

    fn stored(&self, node: &str) -> Value {
        self.sim.cilium_node(node).unwrap()
    }

    fn release_state(&self, node: &str, ip: &str) -> Option<String> {
        self.stored(node)
            .pointer(&format!("/status/ipam/release-ips/{ip}"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    async fn eventually(&self, condition: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !condition() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not met within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn fast() -> AgentSettings {
    AgentSettings::fast(Duration::from_millis(50))
}

/// A pool of `10.0.1.1 ..= 10.0.1.count`, every entry on one VNIC.
fn pool(count: u8) -> Value {
    let entries: serde_json::Map<String, Value> = (1..=count)
        .map(|i| {
            (
                format!("10.0.1.{i}"),
                json!({"resource": "ocid1.vnic.oc1..primary"}),
            )
        })
        .collect();
    Value::Object(entries)
}

async fn running(agent: &AgentHandle) {
    let (stats, ok) = agent
        .wait_for(WAIT, |s| s.phase == AgentPhase::Running)
        .await;
    assert!(ok, "agent did not start: {stats:?}");
}

fn used(cluster: &Cluster, node: &str) -> BTreeMap<String, Value> {
    cluster
        .stored(node)
        .pointer("/status/ipam/used")
        .and_then(Value::as_object)
        .map(|used| used.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

// --- §2.1: start-up ---------------------------------------------------------------------------

#[tokio::test]
async fn agent_creates_its_cilium_node_owned_by_the_node_and_writes_no_ipam_spec() {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast()).await;

    let node = cluster.sim.store().object("nodes", "", "w1").unwrap();
    let cilium_node = cluster.stored("w1");
    let owner = &cilium_node["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Node");
    assert_eq!(owner["name"], "w1");
    assert_eq!(owner["uid"], node["metadata"]["uid"]);
    assert_eq!(
        cilium_node["metadata"]["labels"]["kubernetes.io/hostname"],
        "w1"
    );
    assert_eq!(
        cilium_node["spec"]["addresses"],
        json!([{"type": "InternalIP", "ip": "10.0.0.10"}])
    );
    assert!(
        cilium_node["spec"].get("ipam").is_none(),
        "crd mode writes nothing under spec.ipam"
    );
    assert!(
        cilium_node["spec"].get("instance-id").is_none(),
        "crd mode sets no instance-id"
    );
    assert_eq!(agent.stats().phase, AgentPhase::WaitingForPool);

    cluster.sim.delete_node("w1").unwrap();
    assert!(
        cluster.sim.cilium_node("w1").is_none(),
        "garbage-collected with its Node"
    );
}

#[tokio::test]
async fn agent_waits_until_the_pool_holds_min_allocate_else_pre_allocate_else_two() {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast()).await;

    cluster
        .spec_ipam(
            "w1",
            json!({"min-allocate": 4, "pre-allocate": 1, "pool": pool(3)}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        agent.stats().phase,
        AgentPhase::WaitingForPool,
        "3 < min-allocate 4"
    );
    cluster.spec_ipam("w1", json!({"pool": pool(4)})).await;
    running(&agent).await;

    let pre_allocate = cluster.node("w2", fast()).await;
    cluster
        .spec_ipam(
            "w2",
            json!({"pre-allocate": 3, "pool": {"10.0.2.1": {}, "10.0.2.2": {}}}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        pre_allocate.stats().phase,
        AgentPhase::WaitingForPool,
        "2 < pre-allocate 3"
    );
    cluster
        .spec_ipam("w2", json!({"pool": {"10.0.2.3": {}}}))
        .await;
    running(&pre_allocate).await;

    let default_health = cluster.node("w3", fast()).await;
    cluster
        .spec_ipam("w3", json!({"pool": {"10.0.3.1": {}}}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        default_health.stats().phase,
        AgentPhase::WaitingForPool,
        "health needs 2"
    );
    cluster
        .spec_ipam("w3", json!({"pool": {"10.0.3.2": {}}}))
        .await;
    running(&default_health).await;

    let no_health = cluster
        .node("w4", fast().health(HealthChecking::Disabled))
        .await;
    cluster
        .spec_ipam("w4", json!({"pool": {"10.0.4.1": {}}}))
        .await;
    running(&no_health).await;
    assert_eq!(no_health.stats().health_ip, None);
}

// --- §2.2: picking addresses ------------------------------------------------------------------

#[tokio::test]
async fn router_and_health_addresses_come_from_the_pool_with_their_owners() {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast()).await;
    cluster.spec_ipam("w1", json!({"pool": pool(2)})).await;
    running(&agent).await;

    cluster.eventually(|| used(&cluster, "w1").len() == 2).await;
    let used = used(&cluster, "w1");
    let owners: Vec<&str> = used
        .values()
        .map(|e| e["owner"].as_str().unwrap())
        .collect();
    let mut owners = owners;
    owners.sort_unstable();
    assert_eq!(owners, ["health", "router"]);
    let stats = agent.stats();
    assert_eq!(used[stats.router_ip.as_deref().unwrap()]["owner"], "router");
    assert_eq!(used[stats.health_ip.as_deref().unwrap()]["owner"], "health");
}

#[tokio::test]
async fn a_pool_entry_pinned_to_an_owner_goes_to_that_owner() {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast()).await;
    let mut entries = pool(4);
    entries["10.0.1.3"]["owner"] = json!("router");
    cluster.spec_ipam("w1", json!({"pool": entries})).await;
    running(&agent).await;

    assert_eq!(agent.stats().router_ip.as_deref(), Some("10.0.1.3"));
}

#[tokio::test]
async fn entries_with_a_foreign_owner_are_never_handed_out() {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast().desired_pods(3)).await;
    let mut entries = pool(5);
    for ip in ["10.0.1.3", "10.0.1.4", "10.0.1.5"] {
        entries[ip]["owner"] = json!("oci-ipam/pending");
    }
    cluster.spec_ipam("w1", json!({"pool": entries})).await;
    running(&agent).await;

    let (stats, _) = agent.wait_for(WAIT, |s| s.failed_pod_starts >= 3).await;
    assert_eq!(
        stats.pods_running, 0,
        "the placeholder-owned entries stay unused"
    );
    assert_eq!(stats.pods_pending, 3);
    assert!(
        agent
            .allocations()
            .keys()
            .all(|ip| ip == "10.0.1.1" || ip == "10.0.1.2")
    );

    let cleared: serde_json::Map<String, Value> = ["10.0.1.3", "10.0.1.4", "10.0.1.5"]
        .iter()
        .map(|ip| ((*ip).to_owned(), json!({"owner": null})))
        .collect();
    cluster.spec_ipam("w1", json!({"pool": cleared})).await;
    let (stats, ok) = agent.wait_for(WAIT, |s| s.pods_running == 3).await;
    assert!(ok, "pods start once the owner is cleared: {stats:?}");
}

#[tokio::test]
async fn entries_in_the_release_handshake_are_never_handed_out() {
    let cluster = Cluster::start().await;
    let agent = cluster
        .node("w1", fast().health(HealthChecking::Disabled))
        .await;
    cluster
        .spec_ipam("w1", json!({"pre-allocate": 1, "pool": {"10.0.1.1": {}}}))
        .await;
    running(&agent).await;

    cluster.spec_ipam("w1", json!({"pool": pool(6)})).await;
    cluster
        .release_ips(
            "w1",
            json!({"10.0.1.3": "marked-for-release", "10.0.1.4": "released",
                                   "10.0.1.5": "ready-for-release"}),
        )
        .await;
    cluster
        .eventually(|| {
            cluster.release_state("w1", "10.0.1.3").as_deref() == Some("ready-for-release")
        })
        .await;
    agent.set_desired_pods(5);

    let (stats, ok) = agent
        .wait_for(WAIT, |s| s.pods_running == 2 && s.failed_pod_starts > 0)
        .await;
    assert!(
        ok,
        "only 10.0.1.2 and 10.0.1.6 are free for pods: {stats:?}"
    );
    let allocated: Vec<String> = agent.allocations().into_keys().collect();
    assert_eq!(allocated, ["10.0.1.1", "10.0.1.2", "10.0.1.6"]);
}

#[tokio::test]
async fn a_freed_address_is_handed_out_again_at_once_without_cool_down() {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast().desired_pods(1)).await;
    cluster.spec_ipam("w1", json!({"pool": pool(3)})).await;
    running(&agent).await;
    agent.wait_for(WAIT, |s| s.pods_running == 1).await;
    let pod_address = |agent: &AgentHandle| {
        agent
            .allocations()
            .into_iter()
            .find(|(_, owner)| owner.starts_with("default/pod-"))
            .unwrap()
    };
    let (address, first_owner) = pod_address(&agent);

    agent.churn(1);

    let (stats, ok) = agent
        .wait_for(WAIT, |s| s.pods_started == 2 && s.pods_running == 1)
        .await;
    assert!(ok, "{stats:?}");
    let (again, second_owner) = pod_address(&agent);
    assert_eq!(again, address, "the only free address is reused at once");
    assert_ne!(second_owner, first_owner);
    assert_eq!(
        stats.failed_pod_starts, 0,
        "no start waited for a cool-down"
    );
}

#[tokio::test]
async fn a_pod_start_fails_and_is_counted_while_the_pool_is_empty() {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast().desired_pods(2)).await;
    cluster.spec_ipam("w1", json!({"pool": pool(2)})).await;
    running(&agent).await;

    let (stats, ok) = agent.wait_for(WAIT, |s| s.failed_pod_starts >= 4).await;
    assert!(ok, "{stats:?}");
    assert_eq!(stats.pods_running, 0);

    cluster.spec_ipam("w1", json!({"pool": pool(4)})).await;
    let (stats, ok) = agent.wait_for(WAIT, |s| s.pods_running == 2).await;
    assert!(ok, "{stats:?}");
    assert_eq!(stats.pods_pending, 0);
}

#[tokio::test]
async fn ipv6_pool_entries_are_never_handed_out_by_the_ipv4_allocator() {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast().desired_pods(2)).await;
    let entries = json!({"10.0.1.1": {}, "10.0.1.2": {}, "2001:db8::1": {}, "2001:db8::2": {},
                         "2001:db8::3": {}});
    cluster.spec_ipam("w1", json!({"pool": entries})).await;
    running(&agent).await;

    let (stats, ok) = agent.wait_for(WAIT, |s| s.failed_pod_starts >= 4).await;
    assert!(ok, "pods find no IPv4 address left: {stats:?}");
    assert_eq!(stats.pods_running, 0);
    let allocated: Vec<String> = agent.allocations().into_keys().collect();
    assert_eq!(
        allocated,
        ["10.0.1.1", "10.0.1.2"],
        "router and health only"
    );

    cluster
        .spec_ipam("w1", json!({"pool": {"10.0.1.3": {}, "10.0.1.4": {}}}))
        .await;
    let (stats, ok) = agent.wait_for(WAIT, |s| s.pods_running == 2).await;
    assert!(ok, "{stats:?}");
    assert!(agent.allocations().keys().all(|ip| !ip.contains(':')));
}

#[tokio::test]
async fn a_restarted_agent_restores_its_endpoints_and_loses_those_whose_address_left_the_pool_or_is_being_released()
 {
    let cluster = Cluster::start().await;
    let before = cluster.node("w1", fast().desired_pods(3)).await;
    cluster.spec_ipam("w1", json!({"pool": pool(8)})).await;
    running(&before).await;
    before.wait_for(WAIT, |s| s.pods_running == 3).await;
    let held = before.allocations();
    let (lost_ip, lost_owner) = held
        .iter()
        .find(|(_, owner)| owner.starts_with("default/pod-"))
        .map(|(ip, owner)| (ip.clone(), owner.clone()))
        .unwrap();

    // The operator wrongly drops an address in use; the agent restarts afterwards.
    cluster
        .spec_ipam("w1", json!({"pool": {&lost_ip: null}}))
        .await;
    cluster
        .eventually(|| !cluster.sim.violations().is_empty())
        .await;
    // A free address being released is not restored either, whatever the state directory
    // says.
    let releasing = (1..=8)
        .map(|i| format!("10.0.1.{i}"))
        .find(|ip| !held.contains_key(ip))
        .unwrap();
    cluster
        .release_ips("w1", json!({&releasing: "marked-for-release"}))
        .await;
    cluster
        .eventually(|| {
            cluster.release_state("w1", &releasing).as_deref() == Some("ready-for-release")
        })
        .await;
    let mut restore = held.clone();
    restore.insert(releasing.clone(), "default/pod-99".to_owned());
    let after = cluster
        .sim
        .start_agent("w1", fast().desired_pods(3).restore(restore))
        .await
        .unwrap();
    running(&after).await;

    let (stats, ok) = after.wait_for(WAIT, |s| s.pods_running == 3).await;
    assert!(ok, "{stats:?}");
    assert_eq!(stats.failed_restores, 2, "{stats:?}");
    assert_eq!(stats.restored, 4, "router, health and two pods: {stats:?}");
    let now = after.allocations();
    for (ip, owner) in &held {
        if *ip == lost_ip {
            assert!(!now.contains_key(ip), "{ip} is not in the pool");
        } else {
            assert_eq!(now.get(ip), Some(owner), "{ip} keeps its owner");
        }
    }
    assert!(
        !now.values()
            .any(|owner| *owner == lost_owner || owner == "default/pod-99"),
        "the pods whose address left the pool or is being released are lost: {now:?}"
    );
    assert!(!now.contains_key(&releasing));
    assert_eq!(stats.router_ip, before.stats().router_ip);
}

// --- §2.3: reporting usage --------------------------------------------------------------------

#[tokio::test]
async fn used_names_each_owner_and_keeps_the_pool_entrys_resource() {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast().desired_pods(3)).await;
    let mut entries = pool(6);
    entries["10.0.1.6"]["resource"] = json!("ocid1.vnic.oc1..secondary");
    cluster.spec_ipam("w1", json!({"pool": entries})).await;
    running(&agent).await;
    agent.wait_for(WAIT, |s| s.pods_running == 3).await;

    cluster.eventually(|| used(&cluster, "w1").len() == 5).await;
    let used = used(&cluster, "w1");
    let allocations = agent.allocations();
    for (ip, entry) in &used {
        assert_eq!(
            entry["owner"].as_str(),
            allocations.get(ip).map(String::as_str),
            "{ip}"
        );
        let expected = if ip == "10.0.1.6" {
            "ocid1.vnic.oc1..secondary"
        } else {
            "ocid1.vnic.oc1..primary"
        };
        assert_eq!(entry["resource"], expected, "{ip}");
    }
    let pods = used
        .values()
        .filter(|e| e["owner"].as_str().unwrap().starts_with("default/pod-"));
    assert_eq!(pods.count(), 3);
}

#[tokio::test]
async fn status_is_written_at_most_once_per_update_interval() {
    let cluster = Cluster::start().await;
    let settings = AgentSettings::fast(Duration::from_millis(20))
        .status_update_interval(Duration::from_millis(400))
        .desired_pods(4);
    let agent = cluster.node("w1", settings).await;
    cluster.spec_ipam("w1", json!({"pool": pool(20)})).await;
    running(&agent).await;

    let before = agent.stats().status_writes;
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_millis(2000) {
        agent.churn(2);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();

    let writes = agent.stats().status_writes - before;
    let ceiling = (elapsed.as_millis() / 400) as u64 + 1;
    assert!(writes >= 2, "churn is reported: {writes}");
    assert!(
        writes <= ceiling,
        "{writes} writes in {elapsed:?} at one per 400 ms"
    );
    assert!(
        cluster
            .sim
            .store()
            .request_count(Verb::Update, "ciliumnodes")
            >= writes
    );

    // Once churn stops, the last state is reported within one interval.
    let expected: Vec<String> = agent.allocations().into_keys().collect();
    cluster
        .eventually(|| used(&cluster, "w1").into_keys().collect::<Vec<_>>() == expected)
        .await;
}

// --- §2.4: release handshake ------------------------------------------------------------------

async fn handshake_cluster() -> (Cluster, AgentHandle) {
    let cluster = Cluster::start().await;
    let agent = cluster.node("w1", fast().desired_pods(1)).await;
    cluster.spec_ipam("w1", json!({"pool": pool(6)})).await;
    running(&agent).await;
    agent.wait_for(WAIT, |s| s.pods_running == 1).await;
    (cluster, agent)
}

fn free_ip(agent: &AgentHandle) -> String {
    let allocations = agent.allocations();
    (1..=6)
        .map(|i| format!("10.0.1.{i}"))
        .find(|ip| !allocations.contains_key(ip))
        .unwrap()
}

#[tokio::test]
async fn a_marked_address_not_in_use_is_acknowledged() {
    let (cluster, agent) = handshake_cluster().await;
    let ip = free_ip(&agent);

    cluster
        .release_ips("w1", json!({&ip: "marked-for-release"}))
        .await;

    cluster
        .eventually(|| cluster.release_state("w1", &ip).as_deref() == Some("ready-for-release"))
        .await;
    assert_eq!(agent.stats().release_acks, 1);
}

#[tokio::test]
async fn a_marked_address_in_use_is_refused() {
    let (cluster, agent) = handshake_cluster().await;
    let ip = agent.stats().router_ip.unwrap();

    cluster
        .release_ips("w1", json!({&ip: "marked-for-release"}))
        .await;

    cluster
        .eventually(|| cluster.release_state("w1", &ip).as_deref() == Some("do-not-release"))
        .await;
    assert!(agent.allocations().contains_key(&ip));
}

#[tokio::test]
async fn a_marked_address_missing_from_the_pool_is_refused() {
    let (cluster, _agent) = handshake_cluster().await;

    cluster
        .release_ips("w1", json!({"10.0.9.9": "marked-for-release"}))
        .await;

    cluster
        .eventually(|| cluster.release_state("w1", "10.0.9.9").as_deref() == Some("do-not-release"))
        .await;
}

#[tokio::test]
async fn a_released_address_dropped_from_the_pool_loses_its_entry() {
    let (cluster, agent) = handshake_cluster().await;
    let ip = free_ip(&agent);
    cluster
        .release_ips("w1", json!({&ip: "marked-for-release"}))
        .await;
    cluster
        .eventually(|| cluster.release_state("w1", &ip).as_deref() == Some("ready-for-release"))
        .await;

    // The operator deletes the address in OCI, marks it released (status first), then drops it
    // from the pool; the agent keeps the entry until the address has left the pool.
    cluster.release_ips("w1", json!({&ip: "released"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        cluster.release_state("w1", &ip).as_deref(),
        Some("released")
    );
    cluster.spec_ipam("w1", json!({"pool": {&ip: null}})).await;

    cluster
        .eventually(|| cluster.release_state("w1", &ip).is_none())
        .await;
    assert_eq!(agent.stats().released_entries_removed, 1);
    assert!(
        cluster.sim.violations().is_empty(),
        "{:?}",
        cluster.sim.violations()
    );
}

#[tokio::test]
async fn answered_entries_are_left_alone() {
    let (cluster, agent) = handshake_cluster().await;
    let free = free_ip(&agent);
    let held = agent.stats().router_ip.unwrap();

    cluster
        .release_ips(
            "w1",
            json!({&free: "do-not-release", &held: "ready-for-release"}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    agent.churn(1);
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(
        cluster.release_state("w1", &free).as_deref(),
        Some("do-not-release")
    );
    assert_eq!(
        cluster.release_state("w1", &held).as_deref(),
        Some("ready-for-release")
    );
    let stats = agent.stats();
    assert_eq!((stats.release_acks, stats.release_nacks), (0, 0));
}

// --- violations and churn ---------------------------------------------------------------------

#[tokio::test]
async fn an_address_in_use_leaving_the_pool_is_a_violation() {
    let (cluster, agent) = handshake_cluster().await;
    let router = agent.stats().router_ip.unwrap();

    cluster
        .spec_ipam("w1", json!({"pool": {&router: null}}))
        .await;

    cluster
        .eventually(|| !cluster.sim.violations().is_empty())
        .await;
    assert_eq!(
        cluster.sim.violations(),
        [Violation::InUseAddressLeftPool {
            node: "w1".to_owned(),
            ip: router.clone(),
            owner: "router".to_owned()
        }]
    );
}

#[tokio::test]
async fn an_address_in_use_marked_released_is_a_violation() {
    let (cluster, agent) = handshake_cluster().await;
    let health = agent.stats().health_ip.unwrap();

    cluster
        .release_ips("w1", json!({&health: "released"}))
        .await;

    cluster
        .eventually(|| !cluster.sim.violations().is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        cluster.sim.violations(),
        [Violation::ReleasedWhileInUse {
            node: "w1".to_owned(),
            ip: health,
            owner: "health".to_owned()
        }],
        "reported once"
    );
}

#[tokio::test]
async fn the_same_address_in_two_pools_is_a_violation() {
    let cluster = Cluster::start().await;
    let first = cluster.node("w1", fast()).await;
    let second = cluster.node("w2", fast()).await;
    cluster
        .spec_ipam("w1", json!({"pool": {"10.0.5.1": {}, "10.0.5.2": {}}}))
        .await;
    running(&first).await;
    cluster
        .spec_ipam("w2", json!({"pool": {"10.0.5.2": {}, "10.0.5.3": {}}}))
        .await;
    running(&second).await;

    cluster
        .eventually(|| !cluster.sim.violations().is_empty())
        .await;
    let violation = &cluster.sim.violations()[0];
    assert!(
        matches!(violation, Violation::AddressInTwoPools { ip, .. } if ip == "10.0.5.2"),
        "{violation:?}"
    );
}

#[tokio::test]
async fn pod_churn_follows_the_seed() {
    let mut runs = Vec::new();
    for seed in [7, 7, 8] {
        let cluster = Cluster::start().await;
        let agent = cluster.node("w1", fast().seed(seed).desired_pods(5)).await;
        cluster.spec_ipam("w1", json!({"pool": pool(40)})).await;
        running(&agent).await;
        agent.wait_for(WAIT, |s| s.pods_running == 5).await;
        runs.push(agent.allocations());
    }

    assert_eq!(runs[0], runs[1], "same seed, same addresses and owners");
    assert_ne!(runs[0], runs[2], "another seed picks other addresses");
}
