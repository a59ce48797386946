//! Events against kube-sim: repeats fold into a series, notes distinguish events.

use std::sync::Arc;
use std::time::Duration;

use k8s_glue::ManualClock;
use k8s_glue::events::{Event, EventRecorder};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Resource};

use crate::{create_cilium_node, sim};

async fn events(client: &kube::Client) -> Vec<K8sEvent> {
    Api::<K8sEvent>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn repeats_fold_into_one_event_with_a_series() {
    let (sim, client) = sim().await;
    let node = create_cilium_node(&sim, &client, "worker-1", &[], &[]).await;
    let clock = Arc::new(ManualClock::new("2026-12-03T10:00:00Z".parse().unwrap()));
    let recorder = EventRecorder::new(
        client.clone(),
        "oci-ipam-operator",
        "operator-0",
        clock.clone(),
    );
    let full = Event::warning("SubnetExhausted", "AttachVnic")
        .with_note("subnet ocid1.subnet.oc1.phx.s is full");

    for _ in 0..3 {
        recorder
            .publish(&node.object_ref(&()), &full)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(30));
    }

    let stored = events(&client).await;
    assert_eq!(stored.len(), 1, "{stored:#?}");
    let event = &stored[0];
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.reason.as_deref(), Some("SubnetExhausted"));
    assert_eq!(event.action.as_deref(), Some("AttachVnic"));
    assert_eq!(
        event.reporting_controller.as_deref(),
        Some("oci-ipam-operator")
    );
    assert_eq!(
        event.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("worker-1")
    );
    assert_eq!(event.series.as_ref().map(|s| s.count), Some(3));

    // Another note is another event; so is the same one after the deduplication window.
    recorder
        .publish(
            &node.object_ref(&()),
            &Event::normal("VnicAttached", "AttachVnic"),
        )
        .await
        .unwrap();
    clock.advance(Duration::from_secs(7 * 60));
    recorder
        .publish(&node.object_ref(&()), &full)
        .await
        .unwrap();
    assert_eq!(events(&client).await.len(), 3);
}

#[tokio::test]
async fn an_event_the_api_server_expired_is_created_again() {
    let (sim, client) = sim().await;
    let node = create_cilium_node(&sim, &client, "worker-1", &[], &[]).await;
    let clock = Arc::new(ManualClock::new("2026-12-03T10:00:00Z".parse().unwrap()));
    let recorder = EventRecorder::new(
        client.clone(),
        "oci-ipam-operator",
        "operator-0",
        clock.clone(),
    );
    let event = Event::warning("InstanceNotFound", "Sync");

    recorder
        .publish(&node.object_ref(&()), &event)
        .await
        .unwrap();
    let name = events(&client).await[0].metadata.name.clone().unwrap();
    Api::<K8sEvent>::namespaced(client.clone(), "default")
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();

    clock.advance(Duration::from_secs(1));
    recorder
        .publish(&node.object_ref(&()), &event)
        .await
        .unwrap();
    let stored = events(&client).await;
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].metadata.name.as_deref(), Some(name.as_str()));
}
