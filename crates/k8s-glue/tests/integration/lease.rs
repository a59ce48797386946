//! Leader election between two contenders on one kube-sim Lease.

use std::sync::Arc;
use std::time::Duration;

use k8s_glue::lease::{LeaderElector, Leadership, LeaseConfig};
use k8s_glue::{ManualClock, SystemClock};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;

use crate::sim;

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig::new("kube-system", "oci-ipam-operator", identity).with_timings(
        Duration::from_secs(15),
        Duration::from_secs(10),
        Duration::from_millis(20),
    )
}

fn following(holder: &str) -> Leadership {
    Leadership::Following {
        holder: Some(holder.to_owned()),
    }
}

async fn lease(client: &kube::Client) -> Lease {
    Api::<Lease>::namespaced(client.clone(), "kube-system")
        .get("oci-ipam-operator")
        .await
        .unwrap()
}

#[tokio::test]
async fn the_second_contender_follows_until_the_holder_releases() {
    let (_sim, client) = sim().await;
    let clock = Arc::new(ManualClock::new("2026-12-03T10:00:00Z".parse().unwrap()));
    let mut a = LeaderElector::new(client.clone(), config("a"), clock.clone());
    let mut b = LeaderElector::new(client.clone(), config("b"), clock.clone());

    assert_eq!(a.step().await.unwrap(), &Leadership::Leading);
    assert_eq!(b.step().await.unwrap(), &following("a"));

    // Renewals keep the lease, however long it is held.
    for _ in 0..5 {
        clock.advance(Duration::from_secs(5));
        assert_eq!(a.step().await.unwrap(), &Leadership::Leading);
        assert_eq!(b.step().await.unwrap(), &following("a"));
    }

    // A shuts down: B takes over at its next attempt, without waiting for expiry.
    a.release().await.unwrap();
    assert!(!a.leadership().is_leading());
    assert_eq!(b.step().await.unwrap(), &Leadership::Leading);
    assert_eq!(a.step().await.unwrap(), &following("b"));

    let spec = lease(&client).await.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(
        spec.lease_transitions,
        Some(0),
        "a released lease has no holder to transition from"
    );
}

#[tokio::test]
async fn an_unrenewed_lease_expires_and_the_old_holder_learns_it_lost() {
    let (_sim, client) = sim().await;
    let clock = Arc::new(ManualClock::new("2026-12-03T10:00:00Z".parse().unwrap()));
    let mut a = LeaderElector::new(client.clone(), config("a"), clock.clone());
    let mut b = LeaderElector::new(client.clone(), config("b"), clock.clone());

    assert!(a.step().await.unwrap().is_leading());
    assert_eq!(b.step().await.unwrap(), &following("a"));

    // A stalls (no renewals). Before the lease duration B keeps following...
    clock.advance(Duration::from_secs(14));
    assert_eq!(b.step().await.unwrap(), &following("a"));

    // ...after it, B takes the lease over.
    clock.advance(Duration::from_secs(2));
    assert_eq!(b.step().await.unwrap(), &Leadership::Leading);

    // A wakes up and sees it lost, rather than renewing over B.
    assert_eq!(a.step().await.unwrap(), &following("b"));
    let spec = lease(&client).await.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
}

#[tokio::test]
async fn running_electors_hand_over_at_once_on_shutdown() {
    let (_sim, client) = sim().await;
    let clock = Arc::new(SystemClock);

    let (stop_a, stopped_a) = tokio::sync::oneshot::channel::<()>();
    let mut a = LeaderElector::new(client.clone(), config("a"), clock.clone()).spawn(async move {
        stopped_a.await.ok();
    });
    tokio::time::timeout(
        Duration::from_secs(5),
        a.leadership.wait_for(Leadership::is_leading),
    )
    .await
    .unwrap()
    .unwrap();

    let (_stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let mut b = LeaderElector::new(client.clone(), config("b"), clock).spawn(async move {
        stopped_b.await.ok();
    });
    tokio::time::timeout(
        Duration::from_secs(5),
        b.leadership.wait_for(|l| *l == following("a")),
    )
    .await
    .unwrap()
    .unwrap();

    // Shutting A down releases the lease; B leads well before the 15 s lease would expire.
    stop_a.send(()).unwrap();
    a.task.await.unwrap().unwrap();
    assert!(!a.leadership.borrow().is_leading());
    tokio::time::timeout(
        Duration::from_secs(2),
        b.leadership.wait_for(Leadership::is_leading),
    )
    .await
    .expect("B did not take over within 2 s")
    .unwrap();
}
