//! The client end to end against `oci-sim` on loopback: every call, pagination, each
//! retryable fault, retry-token reuse, rate limiting, 401 refresh, and the errors for
//! 400/404/409.

// Test helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use oci_api::prelude::*;
use oci_api::{
    CallRecord, Client, Endpoint, Error, MetadataClient, MetadataEndpoint, Observer, RateLimit,
    RateLimits, RetryPolicy, RetryToken, Timeouts,
};
use oci_auth::{
    CredentialProvider, Credentials, InstancePrincipalProvider, KeyId, PrivateKey,
    SessionKeySource, StaticProvider,
};
use oci_sim::{AttachSettings, FaultSettings, FaultSpec, Sim, World};
use url::Url;

const KEY_PEM: &str = include_str!("data/test-key.pem");
const KEY_2_PEM: &str = include_str!("data/test-key-2.pem");
const USER: &str = "ocid1.user.oc1..ociapitestuser";

// === set-up ===

/// A running simulator with a one-worker world and a client signed by a registered API key.
struct Fixture {
    sim: Sim,
    world: World,
    client: Client,
    observer: Arc<Recorder>,
}

impl Fixture {
    async fn start() -> Self {
        Self::start_with(fast_retries(6), RateLimits::unlimited()).await
    }

    async fn start_with(retry: RetryPolicy, limits: RateLimits) -> Self {
        let world = World::sample(1);
        let sim = Sim::start(world.clone()).await.unwrap();
        sim.set_attach(AttachSettings::new(20, 20, 0.0));
        let observer = Arc::new(Recorder::default());

        let client = Client::builder()
            .endpoint(Endpoint::parse(&sim.endpoint()).unwrap())
            .credentials(api_key_provider(&sim))
            .retry_policy(retry)
            .rate_limits(limits)
            .observer(observer.clone())
            .build()
            .unwrap();

        Self {
            sim,
            world,
            client,
            observer,
        }
    }

    fn compartment(&self) -> CompartmentId {
        self.world.compartments[0].id.parse().unwrap()
    }

    fn instance(&self) -> InstanceId {
        self.world.instances[0].id.parse().unwrap()
    }

    fn node_subnet(&self) -> SubnetId {
        self.world.instances[0].subnet_id.parse().unwrap()
    }

    fn vcn(&self) -> VcnId {
        self.world.vcns[0].id.parse().unwrap()
    }

    /// The primary VNIC, found through the API.
    async fn primary_vnic(&self) -> VnicId {
        let request = ListVnicAttachmentsRequest::of_instance(self.compartment(), self.instance());
        let attachments: Vec<VnicAttachment> = self
            .client
            .list_vnic_attachments(&request)
            .try_collect()
            .await
            .unwrap();
        attachments[0].vnic_id.clone().unwrap()
    }
}

fn test_key() -> PrivateKey {
    PrivateKey::from_pem(KEY_PEM, None).unwrap()
}

/// Registers the committed test key as an API key of a new user and returns a provider.
fn api_key_provider(sim: &Sim) -> Arc<dyn CredentialProvider> {
    let key = test_key();
    let fingerprint = sim
        .register_api_key(USER, &key.public_key().to_pem())
        .unwrap();
    let key_id = KeyId::from_raw(format!("{}/{USER}/{fingerprint}", sim.tenancy()));
    Arc::new(StaticProvider::new(Credentials::new(key_id, Arc::new(key))))
}

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(
        attempts,
        Duration::from_millis(1),
        Duration::from_millis(8),
        Duration::from_secs(10),
    )
}

/// Counts requests per call, as the operator's metrics would.
#[derive(Debug, Default)]
struct Recorder {
    attempts: Mutex<Vec<u32>>,
    waits: Mutex<Vec<Duration>>,
    request_ids: Mutex<Vec<Option<String>>>,
}

impl Observer for Recorder {
    fn call_finished(&self, call: &CallRecord<'_>) {
        self.attempts.lock().unwrap().push(call.attempts);
        self.waits.lock().unwrap().push(call.rate_limit_wait);
        self.request_ids
            .lock()
            .unwrap()
            .push(call.request_id.map(str::to_owned));
    }
}

async fn wait_for_state(
    client: &Client,
    attachment: &VnicAttachmentId,
    wanted: VnicAttachmentLifecycleState,
) -> VnicAttachment {
    for _ in 0..200 {
        let current = client.get_vnic_attachment(attachment).await.unwrap();
        if current.lifecycle_state == wanted {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("attachment {attachment} never reached {wanted}");
}

// === every call ===

#[tokio::test]
async fn every_read_call_decodes_the_simulators_answers() {
    let f = Fixture::start().await;
    let client = &f.client;

    let instance = client.get_instance(&f.instance()).await.unwrap();
    let attachments: Vec<VnicAttachment> = client
        .list_vnic_attachments(&ListVnicAttachmentsRequest::of_instance(
            f.compartment(),
            f.instance(),
        ))
        .try_collect()
        .await
        .unwrap();
    let attachment = client
        .get_vnic_attachment(&attachments[0].id)
        .await
        .unwrap();
    let vnic = client
        .get_vnic(attachment.vnic_id.as_ref().unwrap())
        .await
        .unwrap();
    let ips: Vec<PrivateIp> = client
        .list_private_ips(&ListPrivateIpsRequest::on_vnic(vnic.id.clone()))
        .try_collect()
        .await
        .unwrap();
    let ip = client.get_private_ip(&ips[0].id).await.unwrap();
    let subnet = client.get_subnet(&f.node_subnet()).await.unwrap();
    let subnets: Vec<Subnet> = client
        .list_subnets(&ListSubnetsRequest::in_compartment(f.compartment()).in_vcn(f.vcn()))
        .try_collect()
        .await
        .unwrap();
    let vcn = client.get_vcn(&f.vcn()).await.unwrap();
    let shapes: Vec<Shape> = client
        .list_shapes(&ListShapesRequest::in_compartment(f.compartment()))
        .try_collect()
        .await
        .unwrap();

    assert_eq!(instance.shape, "VM.Standard.E4.Flex");
    assert_eq!(instance.lifecycle_state, InstanceLifecycleState::Running);
    assert_eq!(instance.shape_config.unwrap().max_vnic_attachments, Some(4));
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachment.lifecycle_state,
        VnicAttachmentLifecycleState::Attached
    );
    assert_eq!(vnic.is_primary, Some(true));
    assert_eq!(vnic.subnet_id.as_ref(), Some(&f.node_subnet()));
    assert_eq!(ips.len(), 1);
    assert_eq!(Some(ip.ip_address), vnic.private_ip);
    assert_eq!(subnet.cidr_block, "10.0.0.0/24");
    assert_eq!(subnet.virtual_router_ip, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(subnets.len(), 2);
    assert_eq!(vcn.cidr_blocks, vec!["10.0.0.0/16".to_owned()]);
    assert!(shapes.iter().any(|s| s.shape == "VM.Standard.E4.Flex"));
    let request_ids = f.observer.request_ids.lock().unwrap();
    assert!(
        request_ids
            .iter()
            .all(|id| id.as_deref().is_some_and(|id| !id.is_empty()))
    );
}

#[tokio::test]
async fn attach_create_move_delete_detach_round_trip() {
    let f = Fixture::start().await;
    let client = &f.client;
    let primary = f.primary_vnic().await;

    let details = AttachVnicDetails::new(
        f.instance(),
        CreateVnicDetails::in_subnet(f.node_subnet()).with_freeform_tag("oci-ipam/node", "w0"),
    );
    let attaching = client
        .attach_vnic(&details, &RetryToken::random())
        .await
        .unwrap();
    let attached = wait_for_state(
        client,
        &attaching.id,
        VnicAttachmentLifecycleState::Attached,
    )
    .await;
    let vnic = client
        .get_vnic(attached.vnic_id.as_ref().unwrap())
        .await
        .unwrap();

    let create = CreatePrivateIpDetails::on_vnic(vnic.id.clone())
        .with_ip_address(Ipv4Addr::new(10, 0, 0, 200))
        .with_freeform_tag("oci-ipam/node", "w0");
    let ip = client
        .create_private_ip(&create, &RetryToken::random())
        .await
        .unwrap();
    let moved = client
        .update_private_ip(&ip.id, &UpdatePrivateIpDetails::move_to(primary.clone()))
        .await
        .unwrap();
    client.delete_private_ip(&ip.id).await.unwrap();
    let gone = client.get_private_ip(&ip.id).await.unwrap_err();
    client.detach_vnic(&attached.id).await.unwrap();
    wait_for_state(client, &attached.id, VnicAttachmentLifecycleState::Detached).await;

    assert_eq!(
        attaching.lifecycle_state,
        VnicAttachmentLifecycleState::Attaching
    );
    assert_eq!(vnic.is_primary, Some(false));
    assert_eq!(
        vnic.freeform_tags.get("oci-ipam/node").map(String::as_str),
        Some("w0")
    );
    assert_eq!(ip.ip_address, Ipv4Addr::new(10, 0, 0, 200));
    assert_eq!(ip.vnic_id.as_ref(), Some(&vnic.id));
    assert_eq!(moved.vnic_id.as_ref(), Some(&primary));
    assert!(gone.is_not_found(), "{gone}");
    let view = f.sim.instance(f.instance().as_str()).unwrap();
    assert_eq!(view.vnics.len(), 1);
    assert_eq!(view.private_ips.len(), 1);
}

#[tokio::test]
async fn metadata_service_calls_decode() {
    let f = Fixture::start().await;
    let endpoint =
        MetadataEndpoint::parse(&f.sim.metadata_base_url(f.instance().as_str())).unwrap();
    let imds = MetadataClient::builder()
        .endpoint(endpoint)
        .build()
        .unwrap();

    let instance = imds.instance().await.unwrap();
    let vnics = imds.vnics().await.unwrap();
    let region = imds.region_info().await.unwrap();
    let shape = imds.shape_config().await.unwrap();

    assert_eq!(instance.id, f.instance());
    assert_eq!(
        instance.canonical_region_name.as_deref(),
        Some("us-ashburn-1")
    );
    assert_eq!(vnics.len(), 1);
    assert_eq!(vnics[0].vnic_id, f.primary_vnic().await);
    assert_eq!(region.realm_domain_component, "oraclecloud.com");
    assert_eq!(
        Endpoint::from_region_info(&region).unwrap().url().as_str(),
        "https://iaas.us-ashburn-1.oraclecloud.com/"
    );
    assert_eq!(shape.max_vnic_attachments, Some(4));
}

#[tokio::test]
async fn ipv6_addresses_are_created_listed_across_pages_and_deleted() {
    let f = Fixture::start().await;
    let pods: SubnetId = f
        .world
        .subnets
        .iter()
        .find(|s| s.ipv6_cidr_block.is_some())
        .unwrap()
        .id
        .parse()
        .unwrap();
    let details = AttachVnicDetails::new(f.instance(), CreateVnicDetails::in_subnet(pods));
    let attaching = f
        .client
        .attach_vnic(&details, &RetryToken::random())
        .await
        .unwrap();
    let attached = wait_for_state(
        &f.client,
        &attaching.id,
        VnicAttachmentLifecycleState::Attached,
    )
    .await;
    let vnic = attached.vnic_id.unwrap();

    let mut created = Vec::new();
    for _ in 0..3 {
        let details = CreateIpv6Details::on_vnic(vnic.clone());
        created.push(
            f.client
                .create_ipv6(&details, &RetryToken::random())
                .await
                .unwrap(),
        );
    }
    let mut request = ListIpv6sRequest::on_vnic(vnic.clone());
    request.limit = Some(2);
    f.sim.reset_counters();
    let listed: Vec<Ipv6> = f.client.list_ipv6s(&request).try_collect().await.unwrap();
    let pages = f.sim.counters().successes(oci_sim::Operation::ListIpv6s);
    f.client.delete_ipv6(&created[1].id).await.unwrap();
    let after: Vec<Ipv6> = f.client.list_ipv6s(&request).try_collect().await.unwrap();
    let vnic_now = f.client.get_vnic(&vnic).await.unwrap();
    let fetched = f.client.get_ipv6(&created[0].id).await.unwrap();
    let gone = f.client.get_ipv6(&created[1].id).await.unwrap_err();

    let prefix = u128::from(
        "2603:c020:4000:6440::"
            .parse::<std::net::Ipv6Addr>()
            .unwrap(),
    );
    for ip in &created {
        assert_eq!(
            u128::from(ip.ip_address) >> 64,
            prefix >> 64,
            "{}",
            ip.ip_address
        );
        assert_eq!(ip.vnic_id.as_ref(), Some(&vnic));
    }
    let ids = |ips: &[Ipv6]| {
        let mut ids: Vec<Ipv6Id> = ips.iter().map(|ip| ip.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&listed), ids(&created));
    assert_eq!(pages, 2, "three addresses in pages of two");
    assert_eq!(ids(&after), ids(&[created[0].clone(), created[2].clone()]));
    assert_eq!(
        (&fetched.id, fetched.ip_address, &fetched.vnic_id),
        (&created[0].id, created[0].ip_address, &created[0].vnic_id)
    );
    assert!(gone.is_not_found(), "{gone}");
    let mut on_vnic = vnic_now.ipv6_addresses.clone();
    on_vnic.sort();
    let mut expected: Vec<std::net::Ipv6Addr> = after.iter().map(|ip| ip.ip_address).collect();
    expected.sort();
    assert_eq!(on_vnic, expected);
}

// === pagination ===

#[tokio::test]
async fn pagination_walks_every_page() {
    let f = Fixture::start().await;
    let primary = f.primary_vnic().await;
    for _ in 0..7 {
        let details = CreatePrivateIpDetails::on_vnic(primary.clone());
        f.client
            .create_private_ip(&details, &RetryToken::random())
            .await
            .unwrap();
    }
    f.sim.reset_counters();

    let request = ListPrivateIpsRequest::on_vnic(primary).with_limit(3);
    let ips: Vec<PrivateIp> = f
        .client
        .list_private_ips(&request)
        .try_collect()
        .await
        .unwrap();
    let first = f
        .client
        .list_private_ips_page(&request, None)
        .await
        .unwrap();

    assert_eq!(ips.len(), 8);
    let mut addresses: Vec<Ipv4Addr> = ips.iter().map(|ip| ip.ip_address).collect();
    addresses.dedup();
    assert_eq!(addresses.len(), 8);
    assert_eq!(first.items.len(), 3);
    assert!(first.next_page.is_some());
    assert_eq!(
        f.sim
            .counters()
            .successes(oci_sim::Operation::ListPrivateIps),
        4
    );
}

// === retries ===

#[tokio::test]
async fn each_retryable_fault_is_retried_to_success() {
    let faults = [
        ("429", FaultSpec::none().with_too_many_requests(0.5)),
        ("500", FaultSpec::none().with_internal_error(0.5)),
        ("503", FaultSpec::none().with_service_unavailable(0.5)),
        ("reset", FaultSpec::none().with_connection_reset(0.5)),
    ];
    let f = Fixture::start_with(fast_retries(12), RateLimits::unlimited()).await;

    for (name, spec) in faults {
        let settings = FaultSettings::seeded(7).with_operation(oci_sim::Operation::GetSubnet, spec);
        f.sim.set_faults(settings).unwrap();
        f.sim.reset_counters();

        for _ in 0..8 {
            f.client.get_subnet(&f.node_subnet()).await.unwrap();
        }

        let counters = f.sim.counters();
        assert_eq!(
            counters.successes(oci_sim::Operation::GetSubnet),
            8,
            "{name}"
        );
        assert!(
            counters.injected(oci_sim::Operation::GetSubnet) > 0,
            "{name}: no fault injected"
        );
    }
}

#[tokio::test]
async fn every_retryable_status_is_retried_and_501_is_final() {
    let f = Fixture::start_with(fast_retries(6), RateLimits::unlimited()).await;
    let subnet = f.node_subnet();
    let retryable = [
        (oci_sim::Fault::TooManyRequests, 429),
        (oci_sim::Fault::InternalServerError, 500),
        (oci_sim::Fault::BadGateway, 502),
        (oci_sim::Fault::ServiceUnavailable, 503),
        (oci_sim::Fault::GatewayTimeout, 504),
        (oci_sim::Fault::IncorrectState, 409),
        (oci_sim::Fault::LockConflict, 409),
    ];

    for (fault, status) in retryable {
        f.sim.reset_counters();
        f.sim.inject(oci_sim::Operation::GetSubnet, fault, 2);

        f.client.get_subnet(&subnet).await.unwrap();

        let counters = f.sim.counters();
        let injected = counters.get(
            oci_sim::Operation::GetSubnet,
            &oci_sim::Outcome::InjectedError(status),
        );
        assert_eq!(injected, 2, "{fault:?}");
        assert_eq!(
            counters.successes(oci_sim::Operation::GetSubnet),
            1,
            "{fault:?}"
        );
        assert_eq!(
            f.observer.attempts.lock().unwrap().last(),
            Some(&3),
            "{fault:?}"
        );
    }

    f.sim.reset_counters();
    f.sim.inject(
        oci_sim::Operation::GetSubnet,
        oci_sim::Fault::MethodNotImplemented,
        1,
    );
    let err = f.client.get_subnet(&subnet).await.unwrap_err();
    assert_eq!(err.status(), Some(501), "{err}");
    assert!(matches!(err, Error::Service { attempts: 1, .. }), "{err:?}");
    assert_eq!(f.sim.counters().total(oci_sim::Operation::GetSubnet), 1);
}

#[tokio::test]
async fn a_create_retried_after_409_incorrect_state_creates_one_address() {
    let f = Fixture::start_with(fast_retries(6), RateLimits::unlimited()).await;
    let primary = f.primary_vnic().await;
    f.sim.inject(
        oci_sim::Operation::CreatePrivateIp,
        oci_sim::Fault::IncorrectState,
        1,
    );
    f.sim.inject(
        oci_sim::Operation::CreatePrivateIp,
        oci_sim::Fault::LostResponse,
        1,
    );

    let created = f
        .client
        .create_private_ip(
            &CreatePrivateIpDetails::on_vnic(primary),
            &RetryToken::random(),
        )
        .await
        .unwrap();

    let counters = f.sim.counters();
    assert_eq!(
        counters.get(
            oci_sim::Operation::CreatePrivateIp,
            &oci_sim::Outcome::InjectedError(409)
        ),
        1
    );
    assert_eq!(
        counters.get(
            oci_sim::Operation::CreatePrivateIp,
            &oci_sim::Outcome::InjectedLostResponse
        ),
        1
    );
    assert_eq!(f.observer.attempts.lock().unwrap().last(), Some(&3));
    assert_eq!(
        f.sim.retry_replays(),
        1,
        "the third attempt replayed the second"
    );
    let view = f.sim.instance(f.instance().as_str()).unwrap();
    assert_eq!(
        view.secondary_ips().len(),
        1,
        "one address for three attempts"
    );
    assert_eq!(
        f.client.get_private_ip(&created.id).await.unwrap().id,
        created.id
    );
}

#[tokio::test]
async fn a_hanging_server_times_out_and_is_retried() {
    let f = Fixture::start().await;
    let client = Client::builder()
        .endpoint(Endpoint::parse(&f.sim.endpoint()).unwrap())
        .credentials(api_key_provider(&f.sim))
        .timeouts(Timeouts::new(
            Duration::from_secs(2),
            Duration::from_millis(400),
        ))
        .retry_policy(fast_retries(12))
        .rate_limits(RateLimits::unlimited())
        .build()
        .unwrap();
    let spec = FaultSpec::none().with_hang(0.5, Duration::from_secs(5));
    f.sim
        .set_faults(FaultSettings::seeded(5).with_operation(oci_sim::Operation::GetVcn, spec))
        .unwrap();

    for _ in 0..3 {
        client.get_vcn(&f.vcn()).await.unwrap();
    }

    let counters = f.sim.counters();
    assert_eq!(counters.successes(oci_sim::Operation::GetVcn), 3);
    assert!(counters.get(oci_sim::Operation::GetVcn, &oci_sim::Outcome::InjectedHang) > 0);
}

#[tokio::test]
async fn a_lost_create_response_is_retried_with_the_same_token_and_creates_once() {
    let f = Fixture::start_with(fast_retries(12), RateLimits::unlimited()).await;
    let primary = f.primary_vnic().await;
    let spec = FaultSpec::none().with_lost_response(0.5);
    f.sim
        .set_faults(
            FaultSettings::seeded(3).with_operation(oci_sim::Operation::CreatePrivateIp, spec),
        )
        .unwrap();

    let mut created = Vec::new();
    for _ in 0..6 {
        let details = CreatePrivateIpDetails::on_vnic(primary.clone());
        created.push(
            f.client
                .create_private_ip(&details, &RetryToken::random())
                .await
                .unwrap(),
        );
    }

    let counters = f.sim.counters();
    let lost = counters.get(
        oci_sim::Operation::CreatePrivateIp,
        &oci_sim::Outcome::InjectedLostResponse,
    );
    assert!(lost > 0, "no response was lost; pick another seed");
    assert!(f.sim.retry_replays() > 0);
    let view = f.sim.instance(f.instance().as_str()).unwrap();
    assert_eq!(
        view.secondary_ips().len(),
        6,
        "each logical create made exactly one address"
    );
    let mut ids: Vec<&PrivateIpId> = created.iter().map(|ip| &ip.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
}

#[tokio::test]
async fn a_lost_delete_response_is_retried_and_the_404_means_done() {
    let f = Fixture::start_with(fast_retries(12), RateLimits::unlimited()).await;
    let primary = f.primary_vnic().await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        let details = CreatePrivateIpDetails::on_vnic(primary.clone());
        ids.push(
            f.client
                .create_private_ip(&details, &RetryToken::random())
                .await
                .unwrap()
                .id,
        );
    }
    let spec = FaultSpec::none().with_lost_response(0.5);
    f.sim
        .set_faults(
            FaultSettings::seeded(11).with_operation(oci_sim::Operation::DeletePrivateIp, spec),
        )
        .unwrap();

    for id in &ids {
        f.client.delete_private_ip(id).await.unwrap();
    }

    let counters = f.sim.counters();
    let lost = counters.get(
        oci_sim::Operation::DeletePrivateIp,
        &oci_sim::Outcome::InjectedLostResponse,
    );
    assert!(lost > 0, "no response was lost; pick another seed");
    assert_eq!(
        f.sim
            .instance(f.instance().as_str())
            .unwrap()
            .secondary_ips()
            .len(),
        0
    );
}

#[tokio::test]
async fn repeating_a_create_with_its_token_returns_the_first_result() {
    let f = Fixture::start().await;
    let primary = f.primary_vnic().await;
    let token = RetryToken::new("oci-api-test/replay-1").unwrap();
    let details = CreatePrivateIpDetails::on_vnic(primary);

    let first = f.client.create_private_ip(&details, &token).await.unwrap();
    let again = f.client.create_private_ip(&details, &token).await.unwrap();

    assert_eq!(first.id, again.id);
    assert_eq!(
        f.sim
            .instance(f.instance().as_str())
            .unwrap()
            .secondary_ips()
            .len(),
        1
    );
}

// === rate limits ===

#[tokio::test]
async fn reads_are_rate_limited_and_the_wait_is_reported() {
    // 2 reads per second, burst 1. The interval (500 ms) is kept well above the cost of one
    // signed call in a debug build, so the waits are the limiter's and not hidden by it.
    let limits = RateLimits::unlimited().with_read(Some(RateLimit::new(2.0, 1)));
    let f = Fixture::start_with(fast_retries(3), limits).await;
    let subnet = f.node_subnet();
    let started = std::time::Instant::now();

    let calls = (0..4).map(|_| f.client.get_subnet(&subnet));
    let results = futures::future::join_all(calls).await;

    assert!(results.iter().all(Result::is_ok));
    // One token free, then one every 500 ms: the fourth call cannot start before 1.5 s.
    assert!(
        started.elapsed() >= Duration::from_millis(1490),
        "{:?}",
        started.elapsed()
    );
    let waits = f.observer.waits.lock().unwrap().clone();
    assert_eq!(waits.iter().filter(|w| w.is_zero()).count(), 1, "{waits:?}");
    assert!(
        waits.iter().sum::<Duration>() >= Duration::from_millis(1000),
        "{waits:?}"
    );
}

// === 401 refresh ===

/// Hands out the two committed test keys as session keys.
#[derive(Debug)]
struct TwoKeys(Mutex<Vec<&'static str>>);

impl SessionKeySource for TwoKeys {
    fn next_key(&self) -> Result<PrivateKey, oci_auth::Error> {
        let pem = self
            .0
            .lock()
            .unwrap()
            .pop()
            .expect("only two session keys in this test");
        PrivateKey::from_pem(pem, None)
    }
}

#[tokio::test]
async fn a_401_on_an_expired_session_token_refreshes_once_and_succeeds() {
    let f = Fixture::start().await;
    let transport = Arc::new(oci_auth::ReqwestTransport::new().unwrap());
    let provider = InstancePrincipalProvider::builder(transport)
        .metadata_base_url(&Url::parse(&f.sim.metadata_base_url(f.instance().as_str())).unwrap())
        .federation_endpoint(&Url::parse(&f.sim.federation_url()).unwrap())
        .session_key_source(Arc::new(TwoKeys(Mutex::new(vec![KEY_2_PEM, KEY_PEM]))))
        .build();
    let client = Client::builder()
        .endpoint(Endpoint::parse(&f.sim.endpoint()).unwrap())
        .credentials(Arc::new(provider))
        .retry_policy(RetryPolicy::no_retries())
        .observer(f.observer.clone())
        .build()
        .unwrap();
    client.get_subnet(&f.node_subnet()).await.unwrap();

    // The simulator's clock passes the token's expiry; the client's does not notice.
    f.sim.clock().advance(Duration::from_secs(3 * 3600));
    f.sim.reset_counters();
    let subnet = client.get_subnet(&f.node_subnet()).await.unwrap();

    assert_eq!(subnet.id, f.node_subnet());
    let counters = f.sim.counters();
    assert_eq!(
        counters.errors(oci_sim::Operation::GetSubnet, "NotAuthenticated"),
        1
    );
    assert_eq!(counters.successes(oci_sim::Operation::GetSubnet), 1);
    assert_eq!(counters.successes(oci_sim::Operation::Federate), 1);
    assert_eq!(f.observer.attempts.lock().unwrap().last(), Some(&2));
}

#[tokio::test]
async fn an_unknown_key_gets_a_clear_401_without_retries() {
    let f = Fixture::start().await;
    let key_id = KeyId::from_raw(format!("{}/{USER}/00:00:00", f.sim.tenancy()));
    let provider = StaticProvider::new(Credentials::new(key_id, Arc::new(test_key())));
    let client = Client::builder()
        .endpoint(Endpoint::parse(&f.sim.endpoint()).unwrap())
        .credentials(Arc::new(provider))
        .retry_policy(fast_retries(5))
        .build()
        .unwrap();

    let err = client.get_subnet(&f.node_subnet()).await.unwrap_err();

    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some("NotAuthenticated"));
    assert_eq!(f.sim.counters().total(oci_sim::Operation::GetSubnet), 1);
}

// === errors ===

#[tokio::test]
async fn errors_for_400_404_and_409_name_status_code_and_request_id() {
    let f = Fixture::start().await;
    let primary = f.primary_vnic().await;
    f.sim.set_attach(AttachSettings::new(60_000, 20, 0.0));

    let missing: VnicId = "ocid1.vnic.oc1.iad.doesnotexist".parse().unwrap();
    let not_found = f.client.get_vnic(&missing).await.unwrap_err();

    let outside =
        CreatePrivateIpDetails::on_vnic(primary).with_ip_address(Ipv4Addr::new(192, 168, 9, 9));
    let bad_request = f
        .client
        .create_private_ip(&outside, &RetryToken::random())
        .await
        .unwrap_err();

    let attach =
        AttachVnicDetails::new(f.instance(), CreateVnicDetails::in_subnet(f.node_subnet()));
    f.client
        .attach_vnic(&attach, &RetryToken::random())
        .await
        .unwrap();
    let conflict = f
        .client
        .attach_vnic(&attach, &RetryToken::random())
        .await
        .unwrap_err();

    for (err, status) in [(&not_found, 404), (&bad_request, 400), (&conflict, 409)] {
        assert_eq!(err.status(), Some(status), "{err}");
        assert!(err.request_id().is_some_and(|id| !id.is_empty()), "{err}");
        assert!(matches!(err, Error::Service { attempts: 1, .. }), "{err:?}");
    }
    assert_eq!(not_found.code(), Some("NotAuthorizedOrNotFound"));
    assert!(not_found.to_string().contains("GetVnic"), "{not_found}");
    assert!(
        bad_request.to_string().contains("CreatePrivateIp"),
        "{bad_request}"
    );
    assert_eq!(conflict.code(), Some("Conflict"));
    assert!(conflict.is_conflict());
}
