//! The core API over HTTP with signed requests: wire format, rules, auth, faults.

#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Client;
use oci_sim::AttachSettings;
use oci_sim::AttachmentState;
use oci_sim::Sim;
use oci_sim::World;
use serde_json::json;

async fn start(instances: usize) -> (Sim, World, Client) {
    let world = World::sample(instances);
    let sim = Sim::start(world.clone()).await.unwrap();
    let user = sim.create_user("tester", None).unwrap();
    let key = oci_auth::PrivateKey::from_pem(&user.private_key_pem().unwrap(), None).unwrap();
    let client = Client::new(&sim.endpoint(), &user.key_id(), key);
    (sim, world, client)
}

#[tokio::test]
async fn smoke_get_instance() {
    let t = std::time::Instant::now();
    let (sim, world, client) = start(1).await;
    eprintln!("start+user {:?}", t.elapsed());
    let instance = &world.instances[0].id;
    let answer = client.get(&format!("/instances/{instance}")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["shapeConfig"]["maxVnicAttachments"], 4);
    assert!(answer.header("etag").is_some());
    assert!(answer.header("opc-request-id").is_some());
    drop(sim);
    let _ = (
        Duration::ZERO,
        AttachSettings::default(),
        AttachmentState::Attached,
        json!({}),
    );
}
