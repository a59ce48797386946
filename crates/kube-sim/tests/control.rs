//! The control API (`/kube-sim/v1/...`) over HTTP: nodes with agents, pods, statistics,
//! violations, request counters and compaction, as a demo script would drive them.

// Helpers outside `#[test]` functions fail the test the same way.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use kube::Client;
use kube_sim::{KubeSim, Settings};
use serde_json::{Value, json};

async fn call(client: &Client, method: &str, path: &str, body: Value) -> Value {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    serde_json::from_str(&client.request_text(request).await.unwrap()).unwrap()
}

#[tokio::test]
async fn a_driver_adds_a_node_with_an_agent_scales_pods_and_reads_stats() {
    let sim = KubeSim::start(Settings::default()).await.unwrap();
    let client = sim.client().await.unwrap();

    let node = call(
        &client,
        "POST",
        "/kube-sim/v1/nodes",
        json!({
            "name": "w1", "instanceId": "ocid1.instance.oc1..w1", "internalIP": "10.0.0.7",
            "agent": {"desiredPods": 1, "statusUpdateMillis": 50, "poolPollMillis": 20,
                      "podMillis": 20, "seed": 3}
        }),
    )
    .await;
    assert_eq!(node["spec"]["providerID"], "oci://ocid1.instance.oc1..w1");
    let agent = sim.agent("w1").unwrap();
    agent
        .wait_for(Duration::from_secs(5), |s| s.pool_size == 0)
        .await;
    while sim.cilium_node("w1").is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let pool: serde_json::Map<String, Value> = (1..=6)
        .map(|i| (format!("10.0.1.{i}"), json!({})))
        .collect();
    let path = "/apis/cilium.io/v2/ciliumnodes/w1";
    let request = http::Request::patch(path)
        .header("Content-Type", "application/merge-patch+json")
        .body(serde_json::to_vec(&json!({"spec": {"ipam": {"pool": pool}}})).unwrap())
        .unwrap();
    client.request_text(request).await.unwrap();

    call(
        &client,
        "PUT",
        "/kube-sim/v1/nodes/w1/pods",
        json!({"desired": 3}),
    )
    .await;
    let (stats, ok) = agent
        .wait_for(Duration::from_secs(5), |s| s.pods_running == 3)
        .await;
    assert!(ok, "{stats:?}");
    call(
        &client,
        "POST",
        "/kube-sim/v1/nodes/w1/churn",
        json!({"pods": 2}),
    )
    .await;
    agent
        .wait_for(Duration::from_secs(5), |s| {
            s.pods_stopped == 2 && s.pods_running == 3
        })
        .await;

    let agents = call(&client, "GET", "/kube-sim/v1/agents", json!(null)).await;
    assert_eq!(agents["w1"]["phase"], "Running");
    assert_eq!(agents["w1"]["podsRunning"], 3);
    assert_eq!(agents["w1"]["podsStopped"], 2);
    assert_eq!(
        call(&client, "GET", "/kube-sim/v1/violations", json!(null)).await,
        json!([])
    );
    let requests = call(&client, "GET", "/kube-sim/v1/requests", json!(null)).await;
    assert!(
        requests
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["verb"] == "patch" && r["resource"] == "ciliumnodes" && r["count"] == 1)
    );

    let compacted = call(&client, "POST", "/kube-sim/v1/compact", json!(null)).await;
    assert_eq!(
        compacted["compactedAt"],
        sim.store().resource_version().to_string()
    );
    call(&client, "DELETE", "/kube-sim/v1/nodes/w1", json!(null)).await;
    assert!(sim.cilium_node("w1").is_none());
    assert!(sim.agent("w1").is_err());
}

#[tokio::test]
async fn control_errors_are_status_bodies() {
    let sim = KubeSim::start(Settings::default()).await.unwrap();
    let client = sim.client().await.unwrap();
    let request = http::Request::builder()
        .method("PUT")
        .uri("/kube-sim/v1/nodes/missing/pods")
        .body(serde_json::to_vec(&json!({"desired": 1})).unwrap())
        .unwrap();

    let err = client.request_text(request).await.unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 404);
            assert!(status.message.contains("missing"), "{}", status.message);
        }
        other => panic!("{other:?}"),
    }
}
