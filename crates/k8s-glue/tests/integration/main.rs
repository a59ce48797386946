//! k8s-glue against kube-sim (the in-process Kubernetes API stand-in) and against Cilium's
//! CiliumNode schemas.
//!
//! One test binary, so the kube-rs stack is linked once; each test starts its own kube-sim.

// Test helpers outside `#[test]` functions fail loudly too; clippy's in-test allowances do not
// reach them.
#![allow(clippy::unwrap_used, clippy::panic)]

mod crd;
mod events;
mod fixtures;
mod ipam;
mod lease;
mod schema;
mod watch;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use k8s_glue::CiliumNode;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube_sim::{CiliumCrd, KubeSim, NodeSpec, Settings};
use serde_json::{Value, json};

/// A kube-sim serving `crd`, and a client for it.
pub(crate) async fn sim_with(crd: CiliumCrd) -> (KubeSim, kube::Client) {
    let sim = KubeSim::start(Settings::default().cilium_crd(crd))
        .await
        .unwrap();
    let client = sim.client().await.unwrap();
    (sim, client)
}

/// A kube-sim serving Cilium 1.15.7's CRD, and a client for it.
pub(crate) async fn sim() -> (KubeSim, kube::Client) {
    sim_with(CiliumCrd::V1_15_7).await
}

/// The instance OCID of node `name` in these tests.
pub(crate) fn instance_of(name: &str) -> String {
    format!("ocid1.instance.oc1.phx.{}", name.replace('.', "-"))
}

/// Creates Node `name` and, as the Cilium agent would, its CiliumNode (owned by the Node),
/// with `pool` in the spec and `used` reported in the status. Returns the CiliumNode.
pub(crate) async fn create_cilium_node(
    sim: &KubeSim,
    client: &kube::Client,
    name: &str,
    pool: &[&str],
    used: &[(&str, &str)],
) -> CiliumNode {
    let node = sim
        .add_node(&NodeSpec::oci(name, &instance_of(name)))
        .unwrap();
    let api: Api<CiliumNode> = Api::all(client.clone());

    let pool: serde_json::Map<String, Value> = pool
        .iter()
        .map(|ip| ((*ip).to_owned(), json!({"resource": VNIC_A})))
        .collect();
    let object: CiliumNode = serde_json::from_value(json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNode",
        "metadata": {
            "name": name,
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"],
            }],
        },
        "spec": {
            "addresses": [{"ip": "10.0.10.23", "type": "InternalIP"}],
            "health": {"ipv4": "10.0.10.151"},
            "eni": {},
            "ipam": {"pool": pool},
        },
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &object).await.unwrap();

    if used.is_empty() {
        return created;
    }
    report_used(client, name, used).await
}

/// Writes `status.ipam.used` as the agent does (the whole map).
pub(crate) async fn report_used(
    client: &kube::Client,
    name: &str,
    used: &[(&str, &str)],
) -> CiliumNode {
    let api: Api<CiliumNode> = Api::all(client.clone());
    let used: serde_json::Map<String, Value> = used
        .iter()
        .map(|(ip, owner)| {
            (
                (*ip).to_owned(),
                json!({"owner": owner, "resource": VNIC_A}),
            )
        })
        .collect();
    let patch = json!({"status": {"ipam": {"used": Value::Object(used)}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap()
}

/// The VNIC OCID the helpers put on pool entries.
pub(crate) const VNIC_A: &str = "ocid1.vnic.oc1.phx.vnica";

/// The VNIC OCID of a second, secondary VNIC.
pub(crate) const VNIC_B: &str = "ocid1.vnic.oc1.phx.vnicb";

/// Cilium's CRD schema (`openAPIV3Schema`) of `version` (`1.15.7` or `1.20.0-dev`), from the
/// copies in the repository's `data/cilium/`.
pub(crate) fn cilium_schema(version: &str) -> Value {
    let path = repo_path(&format!("data/cilium/ciliumnodes-v{version}.yaml"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let crd: Value = serde_yaml::from_str(&text).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// A path in the repository.
pub(crate) fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// Waits until `check` holds, polling every 10 ms, failing the test after `timeout`.
pub(crate) async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
