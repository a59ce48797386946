//! The API server through a kube-rs 5 client: schema validation and pruning of CiliumNodes,
//! watches (resume, bookmarks, streaming lists, 410 after compaction), optimistic concurrency,
//! patches, the status subresource, selectors, pagination, finalizers, garbage collection,
//! discovery, CRD registration and authentication.

// Helpers outside `#[test]` functions fail the test the same way.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client};
use kube_sim::{Auth, CiliumCrd, KubeSim, NodeSpec, Settings, Verb};
use serde_json::{Value, json};

fn cilium_nodes(client: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("cilium.io", "v2", "CiliumNode");
    Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, "ciliumnodes"),
    )
}

fn cilium_node(name: &str, ipam: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNode",
        "metadata": {"name": name},
        "spec": {"ipam": ipam},
    }))
    .unwrap()
}

async fn start(crd: CiliumCrd) -> (KubeSim, Client) {
    let sim = KubeSim::start(
        Settings::default()
            .cilium_crd(crd)
            .bookmark_interval(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    let client = sim.client().await.unwrap();
    (sim, client)
}

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn both_cilium_schemas_reject_a_negative_pre_allocate() {
    for crd in [CiliumCrd::V1_15_7, CiliumCrd::V1_20_0Dev] {
        let (sim, client) = start(crd).await;
        let api = cilium_nodes(&client);

        let err = api
            .create(
                &PostParams::default(),
                &cilium_node("n1", json!({"pre-allocate": -1})),
            )
            .await
            .unwrap_err();

        let status = api_error(err);
        assert_eq!(status.code, 422, "{crd:?}");
        assert_eq!(status.reason, "Invalid");
        assert!(
            status.message.contains(
                "spec.ipam.pre-allocate: Invalid value: -1: spec.ipam.pre-allocate in body \
                 should be greater than or equal to 0"
            ),
            "{}",
            status.message
        );
        assert!(sim.cilium_node("n1").is_none());

        let err = api
            .create(
                &PostParams::default(),
                &cilium_node("n2", json!({"pre-allocate": "8"})),
            )
            .await
            .unwrap_err();
        assert_eq!(api_error(err).code, 422);

        let ok = api
            .create(
                &PostParams::default(),
                &cilium_node("n3", json!({"pre-allocate": 8})),
            )
            .await
            .unwrap();
        assert_eq!(ok.data["spec"]["ipam"]["pre-allocate"], json!(8));
    }
}

#[tokio::test]
async fn schema_rejects_a_bad_release_state_and_a_bad_pod_cidr() {
    let (_sim, client) = start(CiliumCrd::V1_15_7).await;
    let api = cilium_nodes(&client);
    api.create(&PostParams::default(), &cilium_node("n1", json!({})))
        .await
        .unwrap();

    let err = api
        .patch_status(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ipam": {"release-ips": {"10.0.0.5": "gone"}}}})),
        )
        .await
        .unwrap_err();
    let status = api_error(err);
    assert_eq!(status.code, 422);
    assert!(
        status
            .message
            .contains("status.ipam.release-ips.10.0.0.5: Unsupported value")
    );

    let err = api
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ipam": {
            "pools": {"allocated": [{"pool": "", "cidrs": ["10.0.0.0/33"]}]}}}})),
        )
        .await
        .unwrap_err();
    let status = api_error(err);
    assert_eq!(status.code, 422);
    assert!(
        status
            .message
            .contains("spec.ipam.pools.allocated[0].cidrs[0]"),
        "{}",
        status.message
    );
    assert!(
        status.message.contains("spec.ipam.pools.allocated[0].pool"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn pruning_drops_fields_cilium_does_not_define() {
    for crd in [CiliumCrd::V1_15_7, CiliumCrd::V1_20_0Dev] {
        let (sim, client) = start(crd).await;
        let api = cilium_nodes(&client);
        let mut object = cilium_node(
            "n1",
            json!({"pre-allocate": 4, "pool": {
            "10.0.0.2": {"resource": "ocid1.vnic.oc1..a", "vnic-mac": "x"}}}),
        );
        object.data["spec"]["oci"] = json!({"vnics": ["ocid1.vnic.oc1..a"]});
        object.data["spec"]["instance-id"] = json!("ocid1.instance.oc1..i");

        let created = api.create(&PostParams::default(), &object).await.unwrap();

        assert!(created.data["spec"].get("oci").is_none(), "{crd:?}");
        assert_eq!(
            created.data["spec"]["instance-id"],
            json!("ocid1.instance.oc1..i")
        );
        assert_eq!(
            created.data["spec"]["ipam"]["pool"],
            json!({"10.0.0.2": {"resource": "ocid1.vnic.oc1..a"}})
        );

        let patched = api
            .patch_status(
                "n1",
                &PatchParams::default(),
                &Patch::Merge(json!({
                "status": {"oci": {"x": 1}, "ipam": {"operator-status": {"error": "e"}}}})),
            )
            .await
            .unwrap();
        assert!(patched.data["status"].get("oci").is_none());
        assert_eq!(
            patched.data["status"]["ipam"]["operator-status"]["error"],
            json!("e")
        );
        let stored = sim.cilium_node("n1").unwrap();
        assert!(stored["spec"].get("oci").is_none());
    }
}

#[tokio::test]
async fn watch_resumes_after_a_resource_version_and_fails_with_410_after_compaction() {
    let (sim, client) = start(CiliumCrd::V1_15_7).await;
    let api = cilium_nodes(&client);
    let first = api
        .create(&PostParams::default(), &cilium_node("a", json!({})))
        .await
        .unwrap();
    let resume_from = first.metadata.resource_version.clone().unwrap();
    api.create(&PostParams::default(), &cilium_node("b", json!({})))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"ipam": {
        "pre-allocate": 2}}})),
    )
    .await
    .unwrap();

    let mut stream = api
        .watch(&WatchParams::default(), &resume_from)
        .await
        .unwrap()
        .boxed();
    let mut seen = Vec::new();
    for _ in 0..2 {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(o) => seen.push(format!("ADDED {}", o.metadata.name.unwrap())),
            WatchEvent::Modified(o) => seen.push(format!("MODIFIED {}", o.metadata.name.unwrap())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["ADDED b", "MODIFIED a"]);

    sim.compact();
    let mut stream = api
        .watch(&WatchParams::default(), &resume_from)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    // A list's continue token from before the compaction is refused the same way.
    let now = sim.store().resource_version().to_string();
    let mut stream = api
        .watch(&WatchParams::default(), &now)
        .await
        .unwrap()
        .boxed();
    api.delete("b", &DeleteParams::default()).await.unwrap();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Deleted(o) => assert_eq!(o.metadata.name.as_deref(), Some("b")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn watches_send_bookmarks_and_selector_transitions() {
    let (_sim, client) = start(CiliumCrd::V1_15_7).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let params = WatchParams::default().labels("pool=blue");
    let mut stream = nodes.watch(&params, "0").await.unwrap().boxed();

    let mut node: Node =
        serde_json::from_value(json!({"metadata": {"name": "n1", "labels": {"pool": "red"}}}))
            .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    nodes
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {
            "pool": "blue"}}})),
        )
        .await
        .unwrap();
    node = nodes.get("n1").await.unwrap();
    node.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("pool".into(), "green".into());
    nodes
        .replace("n1", &PostParams::default(), &node)
        .await
        .unwrap();

    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(_) => kinds.push("ADDED"),
            WatchEvent::Deleted(_) => kinds.push("DELETED"),
            WatchEvent::Bookmark(_) => {
                if !kinds.contains(&"BOOKMARK") {
                    kinds.push("BOOKMARK");
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    kinds.sort_unstable();
    assert_eq!(kinds, ["ADDED", "BOOKMARK", "DELETED"]);
}

#[tokio::test]
async fn kube_runtime_watchers_see_list_then_changes_with_both_initial_strategies() {
    let (_sim, client) = start(CiliumCrd::V1_15_7).await;
    let api = cilium_nodes(&client);
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &cilium_node(name, json!({})))
            .await
            .unwrap();
    }

    for config in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ] {
        let mut stream = watcher(api.clone(), config.fields("metadata.name=b"))
            .applied_objects()
            .boxed();
        let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(first.metadata.name.as_deref(), Some("b"));

        api.patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ipam": {
            "min-allocate": 1}}})),
        )
        .await
        .unwrap();
        let changed = loop {
            let next = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if next.data["spec"]["ipam"].get("min-allocate").is_some() {
                break next;
            }
        };
        assert_eq!(changed.metadata.name.as_deref(), Some("b"));
        api.patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ipam": {
            "min-allocate": null}}})),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn stale_resource_versions_get_409_and_json_patch_test_guards_writes() {
    let (sim, client) = start(CiliumCrd::V1_15_7).await;
    let api = cilium_nodes(&client);
    let created = api
        .create(&PostParams::default(), &cilium_node("n1", json!({})))
        .await
        .unwrap();
    api.patch(
        "n1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"ipam": {
        "pre-allocate": 1}}})),
    )
    .await
    .unwrap();

    let err = api
        .replace("n1", &PostParams::default(), &created)
        .await
        .unwrap_err();
    let status = api_error(err);
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");

    let stale_patch = json!({"metadata": {"resourceVersion": created.metadata.resource_version},
                             "spec": {"ipam": {"pre-allocate": 5}}});
    let err = api
        .patch("n1", &PatchParams::default(), &Patch::Merge(stale_patch))
        .await
        .unwrap_err();
    assert_eq!(api_error(err).code, 409);

    let path = "/apis/cilium.io/v2/ciliumnodes/n1";
    let failing = json!([
        {"op": "test", "path": "/spec/ipam/pre-allocate", "value": 7},
        {"op": "replace", "path": "/spec/ipam/pre-allocate", "value": 9}
    ]);
    let err = json_patch(&client, path, &failing).await.unwrap_err();
    assert_eq!(api_error(err).code, 422);

    let passing = json!([
        {"op": "test", "path": "/spec/ipam/pre-allocate", "value": 1},
        {"op": "replace", "path": "/spec/ipam/pre-allocate", "value": 9}
    ]);
    let patched = json_patch(&client, path, &passing).await.unwrap();
    assert_eq!(patched.data["spec"]["ipam"]["pre-allocate"], json!(9));

    sim.store().inject_conflicts("ciliumnodes", 1);
    let err = api
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_error(err).code, 409);
    assert!(sim.store().request_count(Verb::Patch, "ciliumnodes") >= 4);
}

#[tokio::test]
async fn missing_objects_get_404_not_found_on_every_verb() {
    let (_sim, client) = start(CiliumCrd::V1_15_7).await;
    let api = cilium_nodes(&client);
    let nodes: Api<Node> = Api::all(client.clone());

    let get = api.get("absent").await.unwrap_err();
    let patch = api
        .patch(
            "absent",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {}})),
        )
        .await
        .unwrap_err();
    let status = api
        .replace_status(
            "absent",
            &PostParams::default(),
            &cilium_node("absent", json!({})),
        )
        .await
        .unwrap_err();
    let delete = api
        .delete("absent", &DeleteParams::default())
        .await
        .unwrap_err();
    let node = nodes.get("absent").await.unwrap_err();

    for (verb, err) in [
        ("get", get),
        ("patch", patch),
        ("status", status),
        ("delete", delete),
        ("node", node),
    ] {
        let status = api_error(err);
        assert_eq!(status.code, 404, "{verb}: {status:?}");
        assert_eq!(status.reason, "NotFound", "{verb}");
        assert!(
            status.message.contains("absent"),
            "{verb}: {}",
            status.message
        );
    }
    assert_eq!(api.get_opt("absent").await.unwrap(), None);
}

/// Sends a JSON patch as raw HTTP (kube 5 wants a `json_patch::Patch`, which this workspace
/// does not depend on).
async fn json_patch(
    client: &Client,
    path: &str,
    ops: &Value,
) -> Result<DynamicObject, kube::Error> {
    let request = http::Request::patch(path)
        .header("Content-Type", "application/json-patch+json")
        .body(serde_json::to_vec(ops).unwrap())
        .unwrap();
    client.request::<DynamicObject>(request).await
}

#[tokio::test]
async fn status_subresource_keeps_spec_and_status_apart_and_bumps_generation_on_spec_only() {
    let (_sim, client) = start(CiliumCrd::V1_15_7).await;
    let api = cilium_nodes(&client);
    let mut object = cilium_node("n1", json!({"pre-allocate": 1}));
    object.data["status"] = json!({"ipam": {"used": {"10.0.0.1": {"owner": "x"}}}});
    let created = api.create(&PostParams::default(), &object).await.unwrap();
    assert!(
        created.data.get("status").is_none(),
        "status is ignored on create"
    );
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());

    let after_status = api
        .patch_status(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({
            "spec": {"ipam": {"pre-allocate": 99}},
            "status": {"ipam": {"used": {"10.0.0.1": {"owner": "router"}}}}})),
        )
        .await
        .unwrap();
    assert_eq!(after_status.data["spec"]["ipam"]["pre-allocate"], json!(1));
    assert_eq!(
        after_status.data["status"]["ipam"]["used"]["10.0.0.1"]["owner"],
        "router"
    );
    assert_eq!(after_status.metadata.generation, Some(1));

    let after_spec = api
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({
            "spec": {"ipam": {"pre-allocate": 2}}, "status": {"ipam": {"used": {}}}})),
        )
        .await
        .unwrap();
    assert_eq!(after_spec.data["spec"]["ipam"]["pre-allocate"], json!(2));
    assert_eq!(
        after_spec.data["status"]["ipam"]["used"]["10.0.0.1"]["owner"],
        "router"
    );
    assert_eq!(after_spec.metadata.generation, Some(2));

    let mut replaced = after_spec.clone();
    replaced.data["status"]["ipam"]["used"] = json!({});
    let replaced = api
        .replace_status("n1", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(replaced.data["status"]["ipam"]["used"], json!({}));

    let labels_only = api
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {
            "a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labels_only.metadata.generation, Some(2));
    let unchanged = api
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {
            "a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        unchanged.metadata.resource_version,
        labels_only.metadata.resource_version
    );
}

#[tokio::test]
async fn selectors_pagination_and_server_side_apply() {
    let (_sim, client) = start(CiliumCrd::V1_15_7).await;
    let nodes: Api<Node> = Api::all(client.clone());
    for (name, zone) in [
        ("n1", "ad-1"),
        ("n2", "ad-2"),
        ("n3", "ad-1"),
        ("n4", "ad-3"),
    ] {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": name, "labels": {
            "topology.kubernetes.io/zone": zone}}}))
        .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }

    let names = |list: kube::api::ObjectList<Node>| {
        list.items
            .into_iter()
            .map(|n| n.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    let by_label = nodes
        .list(&ListParams::default().labels("topology.kubernetes.io/zone in (ad-1,ad-3)"))
        .await
        .unwrap();
    assert_eq!(names(by_label), ["n1", "n3", "n4"]);
    let by_field = nodes
        .list(&ListParams::default().fields("metadata.name=n2"))
        .await
        .unwrap();
    assert_eq!(names(by_field), ["n2"]);

    let page = nodes.list(&ListParams::default().limit(3)).await.unwrap();
    let token = page.metadata.continue_.clone().unwrap();
    assert_eq!(names(page), ["n1", "n2", "n3"]);
    let rest = nodes
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .unwrap();
    assert!(rest.metadata.continue_.is_none());
    assert_eq!(names(rest), ["n4"]);

    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let apply = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": "oci-ipam"},
                       "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
    let params = PatchParams::apply("test").force();
    let lease = leases
        .patch("oci-ipam", &params, &Patch::Apply(&apply))
        .await
        .unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("a"));
    let lease = leases
        .patch(
            "oci-ipam",
            &params,
            &Patch::Apply(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "oci-ipam"}, "spec": {"holderIdentity": "b"}})),
        )
        .await
        .unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("b"));
    let other_namespace: Api<Lease> = Api::namespaced(client, "default");
    assert!(other_namespace.get_opt("oci-ipam").await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_a_node_collects_its_cilium_node_and_finalizers_delay_deletion() {
    let (sim, client) = start(CiliumCrd::V1_15_7).await;
    let node = sim
        .add_node(&NodeSpec::oci("w1", "ocid1.instance.oc1..w1"))
        .unwrap();
    let uid = node["metadata"]["uid"].as_str().unwrap();
    let api = cilium_nodes(&client);
    let mut owned = cilium_node("w1", json!({}));
    owned.metadata.owner_references = Some(vec![
        serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node", "name": "w1", "uid": uid}))
        .unwrap(),
    ]);
    api.create(&PostParams::default(), &owned).await.unwrap();
    let mut kept = cilium_node("w2", json!({}));
    kept.metadata.finalizers = Some(vec!["oci-ipam.io/test".to_owned()]);
    api.create(&PostParams::default(), &kept).await.unwrap();

    let nodes: Api<Node> = Api::all(client.clone());
    nodes.delete("w1", &DeleteParams::default()).await.unwrap();
    assert!(sim.cilium_node("w1").is_none());
    assert!(api.get_opt("w1").await.unwrap().is_none());

    api.delete("w2", &DeleteParams::default()).await.unwrap();
    let pending = api.get("w2").await.unwrap();
    assert!(pending.metadata.deletion_timestamp.is_some());
    api.patch(
        "w2",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {
        "finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(api.get_opt("w2").await.unwrap().is_none());
}

#[tokio::test]
async fn our_crd_registers_from_yaml_with_a_generic_status_subresource_and_discovery() {
    let (sim, client) = start(CiliumCrd::V1_15_7).await;
    sim.register_crd_yaml(
        r"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ocinetworknodes.oci-ipam.io
spec:
  group: oci-ipam.io
  scope: Cluster
  names: {kind: OciNetworkNode, plural: ocinetworknodes, singular: ocinetworknode}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [instanceId]
            properties:
              instanceId: {type: string}
          status:
            type: object
            properties:
              vnics: {type: integer, minimum: 0}
",
    )
    .unwrap();

    let gvk = GroupVersionKind::gvk("oci-ipam.io", "v1alpha1", "OciNetworkNode");
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, "ocinetworknodes"),
    );
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "oci-ipam.io/v1alpha1", "kind": "OciNetworkNode",
        "metadata": {"name": "w1"}, "spec": {"instanceId": "i", "extra": 1}}))
    .unwrap();
    let created = api.create(&PostParams::default(), &object).await.unwrap();
    assert_eq!(created.data["spec"], json!({"instanceId": "i"}));
    let status = api
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"vnics": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(status.data["status"]["vnics"], json!(2));
    let err = api
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"vnics": -2}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_error(err).code, 422);

    let discovery = kube::Discovery::new(client).run().await.unwrap();
    for (group, kind) in [
        ("oci-ipam.io", "OciNetworkNode"),
        ("cilium.io", "CiliumNode"),
        ("coordination.k8s.io", "Lease"),
        ("", "Node"),
    ] {
        let group = discovery
            .get(group)
            .unwrap_or_else(|| panic!("group {group:?}"));
        assert!(
            group
                .recommended_resources()
                .iter()
                .any(|(r, _)| r.kind == kind),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn a_token_is_required_when_configured_and_the_kubeconfig_carries_it() {
    let sim = KubeSim::start(Settings::default().auth(Auth::Token("t0ken".to_owned())))
        .await
        .unwrap();
    let client = sim.client().await.unwrap();
    let nodes: Api<Node> = Api::all(client);
    assert!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let anonymous = Client::try_from(kube::Config::new(sim.base_url().parse().unwrap())).unwrap();
    let err = Api::<Node>::all(anonymous)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_error(err).code, 401);
    assert!(
        std::fs::read_to_string(sim.kubeconfig_path())
            .unwrap()
            .contains("t0ken")
    );
}
