//! The core API over HTTP with signed requests: wire format, authentication, faults, counters.

#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;
use std::time::Instant;

use common::Client;
use http::Method;
use oci_sim::AttachSettings;
use oci_sim::Fault;
use oci_sim::FaultSettings;
use oci_sim::FaultSpec;
use oci_sim::InstanceSpec;
use oci_sim::Latency;
use oci_sim::Operation;
use oci_sim::Outcome;
use oci_sim::Sim;
use oci_sim::World;
use serde_json::json;

struct Setup {
    sim: Sim,
    world: World,
    client: Client,
}

async fn start(instances: usize) -> Setup {
    let world = World::sample(instances);
    let sim = Sim::start(world.clone()).await.unwrap();
    sim.set_attach(AttachSettings::new(0, 0, 0.0));
    let user = sim.create_user("tester", None).unwrap();
    let key = oci_auth::PrivateKey::from_pem(&user.private_key_pem().unwrap(), None).unwrap();
    let client = Client::new(&sim.endpoint(), &user.key_id(), key);
    Setup { sim, world, client }
}

impl Setup {
    fn instance(&self) -> String {
        self.world.instances[0].id.clone()
    }

    fn pods(&self) -> String {
        self.world.subnets[1].id.clone()
    }

    async fn attach(&self) -> String {
        let body = json!({
            "instanceId": self.instance(),
            "createVnicDetails": { "subnetId": self.pods(), "assignPublicIp": false },
        });
        let answer = self.client.post("/vnicAttachments", body, &[]).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let id = answer.body["id"].as_str().unwrap().to_owned();
        let done = self.client.get(&format!("/vnicAttachments/{id}")).await;
        assert_eq!(done.body["lifecycleState"], "ATTACHED");
        done.body["vnicId"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn answers_carry_oci_headers_and_json() {
    let s = start(1).await;
    let answer = s
        .client
        .call(
            Method::GET,
            &format!("/instances/{}", s.instance()),
            None,
            &[("opc-request-id", "ABC123")],
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.header("opc-request-id").as_deref(), Some("ABC123"));
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(answer.header("etag").is_some());
    assert_eq!(answer.body["shapeConfig"]["maxVnicAttachments"], 4);
    assert_eq!(answer.body["lifecycleState"], "RUNNING");

    let missing = s.client.get("/vnics/ocid1.vnic.oc1.iad.none").await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "NotAuthorizedOrNotFound")
    );
    assert!(missing.body["message"].as_str().is_some());
    assert!(missing.header("opc-request-id").is_some());

    let nowhere = s.client.get("/volumes").await;
    assert_eq!((nowhere.status, nowhere.code()), (404, "NotFound"));
}

#[tokio::test]
async fn signatures_are_checked() {
    let mut s = start(1).await;
    let path = format!("/instances/{}", s.instance());

    s.client.date_offset_secs = 240;
    assert_eq!(
        s.client.get(&path).await.status,
        200,
        "4 minutes of skew is tolerated"
    );
    s.client.date_offset_secs = -360;
    let skewed = s.client.get(&path).await;
    assert_eq!((skewed.status, skewed.code()), (401, "NotAuthenticated"));
    s.client.date_offset_secs = 0;

    let other = oci_auth::PrivateKey::generate_rsa_2048().unwrap();
    let user = s.sim.create_user("someone", None).unwrap();
    let impostor = Client::new(&s.sim.endpoint(), &user.key_id(), other);
    let refused = impostor.get(&path).await;
    assert_eq!((refused.status, refused.code()), (401, "NotAuthenticated"));

    let unknown = Client::new(
        &s.sim.endpoint(),
        &format!(
            "{}/ocid1.user.oc1..ghost/{}",
            s.sim.tenancy(),
            user.fingerprint
        ),
        oci_auth::PrivateKey::from_pem(&user.private_key_pem().unwrap(), None).unwrap(),
    );
    assert_eq!(unknown.get(&path).await.status, 401);

    let unsigned = reqwest::get(format!("{}{path}", s.sim.api_base_url()))
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);

    // A body other than the one signed.
    let url = format!("{}/privateIps", s.sim.api_base_url());
    let signed_body = json!({ "vnicId": "a" }).to_string();
    let mut headers = http::HeaderMap::new();
    let parsed = url::Url::parse(&url).unwrap();
    let request = oci_auth::SignableRequest::new(
        &Method::POST,
        &parsed,
        &headers,
        oci_auth::SignableBody::Bytes(signed_body.as_bytes()),
    );
    let key = oci_auth::PrivateKey::from_pem(&user.private_key_pem().unwrap(), None).unwrap();
    let key_id = oci_auth::KeyId::from_raw(user.key_id());
    oci_auth::sign(
        &request,
        oci_auth::SigningParams::new(&key_id, &key, common::now()),
    )
    .unwrap()
    .apply_to(&mut headers);
    let tampered = json!({ "vnicId": "b" }).to_string();
    let response = reqwest::Client::new()
        .post(url)
        .headers(headers)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    let counters = s.sim.counters();
    assert_eq!(
        counters.errors(Operation::GetInstance, "NotAuthenticated"),
        4
    );
    assert_eq!(
        counters.errors(Operation::CreatePrivateIp, "NotAuthenticated"),
        1
    );
    assert_eq!(counters.successes(Operation::GetInstance), 1);
}

#[tokio::test]
async fn injected_statuses_resets_hangs_and_latency() {
    let s = start(1).await;
    let path = format!("/instances/{}", s.instance());
    let vnic = s.attach().await;

    for (spec, status, code) in [
        (
            FaultSpec::none().with_too_many_requests(1.0),
            429,
            "TooManyRequests",
        ),
        (
            FaultSpec::none().with_internal_error(1.0),
            500,
            "InternalServerError",
        ),
        (
            FaultSpec::none().with_service_unavailable(1.0),
            503,
            "ServiceUnavailable",
        ),
    ] {
        s.sim
            .set_faults(FaultSettings::seeded(1).with_operation(Operation::GetInstance, spec))
            .unwrap();
        let answer = s.client.get(&path).await;
        assert_eq!((answer.status, answer.code()), (status, code));
    }

    s.sim
        .set_faults(FaultSettings::seeded(1).with_operation(
            Operation::GetInstance,
            FaultSpec::none().with_connection_reset(1.0),
        ))
        .unwrap();
    let reset = s.client.try_call(Method::GET, &path, None, &[]).await;
    assert!(
        reset.is_err(),
        "connection reset must surface as a transport error"
    );

    s.sim
        .set_faults(FaultSettings::seeded(1).with_operation(
            Operation::GetInstance,
            FaultSpec::none().with_hang(1.0, Duration::from_millis(300)),
        ))
        .unwrap();
    let started = Instant::now();
    let hung = s.client.try_call(Method::GET, &path, None, &[]).await;
    assert!(hung.is_err());
    assert!(started.elapsed() >= Duration::from_millis(300));

    s.sim
        .set_faults(FaultSettings::seeded(1).with_operation(
            Operation::GetInstance,
            FaultSpec::none().with_latency(Latency::Fixed { ms: 150 }),
        ))
        .unwrap();
    let started = Instant::now();
    assert_eq!(s.client.get(&path).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));

    // A lost response: the private IP is created, the client never hears of it; retrying
    // with the same token returns that same IP, so exactly one exists.
    s.sim
        .set_faults(FaultSettings::seeded(1).with_operation(
            Operation::CreatePrivateIp,
            FaultSpec::none().with_lost_response(1.0),
        ))
        .unwrap();
    let body = json!({ "vnicId": vnic });
    let lost = s
        .client
        .try_call(
            Method::POST,
            "/privateIps",
            Some(body.clone()),
            &[("opc-retry-token", "t-1")],
        )
        .await;
    assert!(lost.is_err());
    s.sim.set_faults(FaultSettings::seeded(1)).unwrap();
    let retried = s
        .client
        .post("/privateIps", body, &[("opc-retry-token", "t-1")])
        .await;
    assert_eq!(retried.status, 200);
    assert_eq!(s.sim.retry_replays(), 1);
    assert_eq!(
        s.sim.instance(&s.instance()).unwrap().secondary_ips().len(),
        1
    );

    let counters = s.sim.counters();
    assert_eq!(
        counters.get(Operation::GetInstance, &Outcome::InjectedError(429)),
        1
    );
    assert_eq!(
        counters.get(Operation::GetInstance, &Outcome::InjectedError(500)),
        1
    );
    assert_eq!(
        counters.get(Operation::GetInstance, &Outcome::InjectedError(503)),
        1
    );
    assert_eq!(
        counters.get(Operation::GetInstance, &Outcome::InjectedReset),
        1
    );
    assert_eq!(
        counters.get(Operation::GetInstance, &Outcome::InjectedHang),
        1
    );
    assert_eq!(counters.injected(Operation::GetInstance), 5);
    assert_eq!(counters.carried_out(Operation::CreatePrivateIp), 2);
}

#[tokio::test]
async fn scripted_faults_hit_exactly_the_next_calls() {
    let s = start(1).await;
    let vnic = s.attach().await;
    s.sim
        .inject(Operation::CreatePrivateIp, Fault::IncorrectState, 2);
    s.sim
        .inject(Operation::CreatePrivateIp, Fault::NotAuthenticated, 1);
    s.sim.inject(Operation::GetVnic, Fault::GatewayTimeout, 1);

    let body = json!({ "vnicId": vnic });
    for want in [
        (409, "IncorrectState"),
        (409, "IncorrectState"),
        (401, "NotAuthenticated"),
    ] {
        let answer = s.client.post("/privateIps", body.clone(), &[]).await;
        assert_eq!((answer.status, answer.code()), want);
    }
    assert_eq!(s.client.post("/privateIps", body, &[]).await.status, 200);
    assert_eq!(s.client.get(&format!("/vnics/{vnic}")).await.status, 504);
    assert_eq!(s.client.get(&format!("/vnics/{vnic}")).await.status, 200);

    let counters = s.sim.counters();
    assert_eq!(
        counters.get(Operation::CreatePrivateIp, &Outcome::InjectedError(409)),
        2
    );
    assert_eq!(counters.successes(Operation::CreatePrivateIp), 1);
    assert_eq!(
        s.sim.instance(&s.instance()).unwrap().secondary_ips().len(),
        1
    );
}

#[tokio::test]
async fn metadata_service_per_instance() {
    let s = start(2).await;
    let instance = s.instance();
    let base = s.sim.metadata_base_url(&instance);
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .header("Authorization", "Bearer Oracle")
            .send()
    };

    let document: serde_json::Value = get("/instance/").await.unwrap().json().await.unwrap();
    assert_eq!(document["id"], instance.as_str());
    assert_eq!(document["canonicalRegionName"], "us-ashburn-1");
    assert_eq!(
        document["regionInfo"]["realmDomainComponent"],
        "oraclecloud.com"
    );
    assert_eq!(document["shapeConfig"]["maxVnicAttachments"], 4);
    let region = get("/instance/region").await.unwrap().text().await.unwrap();
    assert_eq!(region, "iad");
    let shape: serde_json::Value = get("/instance/shapeConfig")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shape["ocpus"], 4.0);

    let vnics: serde_json::Value = get("/vnics/").await.unwrap().json().await.unwrap();
    assert_eq!(vnics.as_array().map(Vec::len), Some(1));
    s.attach().await;
    let vnics: serde_json::Value = get("/vnics/").await.unwrap().json().await.unwrap();
    assert_eq!(vnics.as_array().map(Vec::len), Some(2));
    assert_eq!(vnics[1]["subnetCidrBlock"], "10.0.64.0/18");
    assert_eq!(vnics[1]["virtualRouterIp"], "10.0.64.1");

    let other = s.sim.metadata_base_url(&s.world.instances[1].id);
    let other_doc: serde_json::Value = http
        .get(format!("{other}/instance/"))
        .header("Authorization", "Bearer Oracle")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other_doc["id"], s.world.instances[1].id.as_str());

    let no_bearer = http.get(format!("{base}/instance/")).send().await.unwrap();
    assert_eq!(no_bearer.status().as_u16(), 401);
    let forwarded = http
        .get(format!("{base}/instance/"))
        .header("Authorization", "Bearer Oracle")
        .header("X-Forwarded-For", "10.0.0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status().as_u16(), 403);
    assert_eq!(get("/nothing").await.unwrap().status().as_u16(), 404);

    s.sim.inject(Operation::Metadata, Fault::TooManyRequests, 1);
    assert_eq!(get("/instance/id").await.unwrap().status().as_u16(), 429);
    assert_eq!(
        get("/instance/id").await.unwrap().text().await.unwrap(),
        instance
    );
}

#[tokio::test]
async fn federation_issues_session_tokens_that_expire_with_the_simulated_clock() {
    let s = start(1).await;
    let instance = s.instance();
    s.sim.set_session_token_lifetime(Duration::from_secs(600));
    let session_key = oci_auth::PrivateKey::generate_rsa_2048().unwrap();

    s.sim
        .inject(Operation::Federate, Fault::InternalServerError, 1);
    let failed = common::federate(&s.sim, &instance, &session_key).await;
    assert!(failed.unwrap_err().contains("500"));
    let token = common::federate(&s.sim, &instance, &session_key)
        .await
        .unwrap();
    let client = Client::new(&s.sim.endpoint(), &format!("ST${token}"), session_key);
    let answer = client.get(&format!("/instances/{instance}")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    // The token verifies only with the session key it was issued for.
    let wrong = Client::new(
        &s.sim.endpoint(),
        &format!("ST${token}"),
        oci_auth::PrivateKey::generate_rsa_2048().unwrap(),
    );
    assert_eq!(
        wrong.get(&format!("/instances/{instance}")).await.status,
        401
    );

    s.sim.clock().advance(Duration::from_secs(601));
    let expired = client.get(&format!("/instances/{instance}")).await;
    assert_eq!((expired.status, expired.code()), (401, "NotAuthenticated"));

    // A terminated instance can no longer federate.
    s.sim.terminate_instance(&instance).unwrap();
    let refused = common::federate(
        &s.sim,
        &instance,
        &oci_auth::PrivateKey::generate_rsa_2048().unwrap(),
    )
    .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn scale_up_and_down_at_runtime() {
    let s = start(1).await;
    let compartment = s.world.compartments[0].id.clone();
    let nodes = s.world.subnets[0].id.clone();
    let spec = InstanceSpec::new(
        &compartment,
        "VM.Standard.E4.Flex",
        Some(8.0),
        "Uocm:US-ASHBURN-AD-1",
        &nodes,
    )
    .with_display_name("worker-new");
    let id = s.sim.add_instance(spec).unwrap();

    let answer = s.client.get(&format!("/instances/{id}")).await;
    assert_eq!(answer.body["shapeConfig"]["maxVnicAttachments"], 8);
    assert_eq!(answer.body["displayName"], "worker-new");
    let free_before = s.sim.subnet_free(&nodes).unwrap();

    s.sim.terminate_instance(&id).unwrap();
    let answer = s.client.get(&format!("/instances/{id}")).await;
    assert_eq!(answer.body["lifecycleState"], "TERMINATED");
    assert_eq!(s.sim.subnet_free(&nodes).unwrap(), free_before + 1);
    assert!(
        s.sim
            .add_instance(InstanceSpec::new(
                &compartment,
                "VM.Nope",
                None,
                "AD-1",
                &nodes
            ))
            .is_err()
    );
}

#[tokio::test]
async fn tagged_resources_and_instance_view() {
    let s = start(1).await;
    let vnic = s.attach().await;
    let body = json!({ "vnicId": vnic, "freeformTags": { "oci-ipam/node": "worker-0" } });
    for _ in 0..3 {
        assert_eq!(
            s.client.post("/privateIps", body.clone(), &[]).await.status,
            200
        );
    }
    let tagged = s.sim.tagged("oci-ipam/node", "worker-0");
    assert_eq!(tagged.len(), 3);
    assert!(
        tagged
            .iter()
            .all(|t| t.kind == oci_sim::ResourceKind::PrivateIp)
    );

    let view = s.sim.instance(&s.instance()).unwrap();
    assert_eq!(view.vnics.len(), 2);
    assert_eq!(
        view.private_ips.len(),
        5,
        "two primaries + three secondaries"
    );
    assert_eq!(view.secondary_ips().len(), 3);
    assert_eq!(s.sim.subnet_private_ips(&s.pods()).len(), 4);
}

#[tokio::test]
async fn oci_auth_instance_principal_provider_signs_calls_the_simulator_accepts() {
    use oci_auth::CredentialProvider as _;

    let s = start(1).await;
    let instance = s.instance();
    let transport = std::sync::Arc::new(oci_auth::ReqwestTransport::new().unwrap());
    let provider = oci_auth::InstancePrincipalProvider::builder(transport)
        .metadata_base_url(&s.sim.metadata_base_url(&instance).parse().unwrap())
        .federation_endpoint(&s.sim.federation_url().parse().unwrap())
        .build();

    let credentials = provider.credentials(common::now()).await.unwrap();
    assert!(credentials.key_id().is_session_token());
    assert_eq!(
        provider.tenancy().map(|t| t.as_str().to_owned()),
        Some(s.sim.tenancy())
    );
    let client = Client::new(
        &s.sim.endpoint(),
        credentials.key_id().expose(),
        credentials.private_key().clone(),
    );
    let answer = client.get(&format!("/instances/{instance}")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(s.sim.counters().successes(Operation::Federate), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_unique_addresses_and_one_attach_at_a_time() {
    let s = std::sync::Arc::new(start(1).await);
    let vnic = s.attach().await;

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        let vnic = vnic.clone();
        tasks.push(tokio::spawn(async move {
            let mut addresses = Vec::new();
            for _ in 0..3 {
                let answer = s
                    .client
                    .post("/privateIps", json!({ "vnicId": vnic }), &[])
                    .await;
                assert_eq!(answer.status, 200, "{:?}", answer.body);
                addresses.push(answer.body["ipAddress"].as_str().unwrap().to_owned());
            }
            addresses
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len(), 24);

    s.sim.set_attach(AttachSettings::new(60_000, 0, 0.0));
    let mut attaches = Vec::new();
    for _ in 0..4 {
        let s = s.clone();
        attaches.push(tokio::spawn(async move {
            let body = json!({
                "instanceId": s.instance(),
                "createVnicDetails": { "subnetId": s.pods() },
            });
            s.client.post("/vnicAttachments", body, &[]).await.status
        }));
    }
    let mut statuses = Vec::new();
    for task in attaches {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409]);
}
