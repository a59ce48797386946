//! Rules of the simulated tenancy, exercised without HTTP.

use std::time::Duration;
use std::time::SystemTime;

use serde_json::Value;
use serde_json::json;

use super::*;
use crate::world::World;

const T0: Duration = Duration::from_secs(1_800_000_000);

fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + T0 + Duration::from_millis(ms)
}

struct Fixture {
    state: State,
    world: World,
    admin: Principal,
}

impl Fixture {
    fn new(instances: usize) -> Self {
        let mut world = World::sample(instances);
        world.attach = AttachSettings::new(1_000, 500, 0.0);
        let state = State::from_world(&world, at(0)).expect("valid world");
        Self {
            state,
            world,
            admin: Principal::User {
                id: "admin".into(),
                compartments: None,
            },
        }
    }

    fn compartment(&self) -> String {
        self.world.compartments[0].id.clone()
    }

    fn pods(&self) -> String {
        self.world.subnets[1].id.clone()
    }

    fn nodes(&self) -> String {
        self.world.subnets[0].id.clone()
    }

    fn instance(&self, n: usize) -> String {
        self.world.instances[n].id.clone()
    }

    fn call(
        &mut self,
        op: Operation,
        request: ApiRequest,
        now: SystemTime,
    ) -> Result<Reply, WireError> {
        let admin = self.admin.clone();
        self.state.execute(op, &admin, &request, now)
    }

    fn ok(&mut self, op: Operation, request: ApiRequest, now: SystemTime) -> Value {
        match self.call(op, request, now) {
            Ok(reply) => reply.body.unwrap_or(Value::Null),
            Err(error) => panic!("{op} failed: {error:?}"),
        }
    }

    fn err(&mut self, op: Operation, request: ApiRequest, now: SystemTime) -> (u16, &'static str) {
        match self.call(op, request, now) {
            Ok(reply) => panic!("{op} succeeded: {reply:?}"),
            Err(error) => (error.status.as_u16(), error.code),
        }
    }

    /// Attaches a pod-subnet VNIC and lets it complete; returns (attachment, vnic).
    fn attach(&mut self, instance: usize, now: SystemTime) -> (String, String) {
        let body = json!({
            "instanceId": self.instance(instance),
            "createVnicDetails": { "subnetId": self.pods(), "assignPublicIp": false },
        });
        let attachment = self.ok(Operation::AttachVnic, body_request(body), now);
        assert_eq!(attachment["lifecycleState"], "ATTACHING");
        assert!(attachment["vnicId"].is_null());
        let id = attachment["id"].as_str().expect("id").to_owned();
        let later = now + Duration::from_millis(1_000);
        let done = self.ok(Operation::GetVnicAttachment, id_request(&id), later);
        assert_eq!(done["lifecycleState"], "ATTACHED");
        (id, done["vnicId"].as_str().expect("vnic").to_owned())
    }

    fn create_ip(&mut self, vnic: &str, now: SystemTime) -> Result<Reply, WireError> {
        self.call(
            Operation::CreatePrivateIp,
            body_request(json!({ "vnicId": vnic })),
            now,
        )
    }
}

fn body_request(body: Value) -> ApiRequest {
    ApiRequest {
        body: body.to_string().into_bytes(),
        ..ApiRequest::default()
    }
}

fn id_request(id: &str) -> ApiRequest {
    ApiRequest {
        id: Some(id.to_owned()),
        ..ApiRequest::default()
    }
}

fn query(pairs: &[(&str, &str)]) -> ApiRequest {
    ApiRequest {
        query: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..ApiRequest::default()
    }
}

#[test]
fn attachment_completes_after_the_delay_and_blocks_a_second_attach_meanwhile() {
    let mut f = Fixture::new(1);
    let body =
        json!({ "instanceId": f.instance(0), "createVnicDetails": { "subnetId": f.pods() } });

    let first = f.ok(Operation::AttachVnic, body_request(body.clone()), at(0));
    let id = first["id"].as_str().expect("id").to_owned();
    assert_eq!(
        f.err(Operation::AttachVnic, body_request(body.clone()), at(10)),
        (409, "Conflict")
    );

    let still = f.ok(Operation::GetVnicAttachment, id_request(&id), at(999));
    assert_eq!(still["lifecycleState"], "ATTACHING");
    let done = f.ok(Operation::GetVnicAttachment, id_request(&id), at(1_000));
    assert_eq!(done["lifecycleState"], "ATTACHED");
    assert!(done["vlanTag"].is_u64());

    let vnic = f.ok(
        Operation::GetVnic,
        id_request(done["vnicId"].as_str().expect("vnic")),
        at(1_000),
    );
    assert_eq!(vnic["lifecycleState"], "AVAILABLE");
    assert_eq!(vnic["isPrimary"], false);
    assert_eq!(vnic["privateIp"], "10.0.64.2");
    f.ok(Operation::AttachVnic, body_request(body), at(1_001));
}

#[test]
fn vnic_count_follows_the_shape() {
    let mut f = Fixture::new(1);
    for n in 0..3 {
        f.attach(0, at(n * 2_000));
    }
    let body =
        json!({ "instanceId": f.instance(0), "createVnicDetails": { "subnetId": f.pods() } });
    assert_eq!(
        f.err(Operation::AttachVnic, body_request(body), at(10_000)),
        (400, "LimitExceeded")
    );
}

#[test]
fn failed_attachment_falls_to_detached_and_frees_its_address() {
    let mut f = Fixture::new(1);
    f.state.attach.failure_rate = 1.0;
    let body =
        json!({ "instanceId": f.instance(0), "createVnicDetails": { "subnetId": f.pods() } });
    let first = f.ok(Operation::AttachVnic, body_request(body), at(0));
    let id = first["id"].as_str().expect("id").to_owned();

    let done = f.ok(Operation::GetVnicAttachment, id_request(&id), at(1_000));
    assert_eq!(done["lifecycleState"], "DETACHED");
    assert!(done["vnicId"].is_null());
    let pods = f.pods();
    assert!(f.state.subnets[&pods].used.is_empty());
}

#[test]
fn secondary_ip_limit_per_vnic_is_enforced() {
    let mut f = Fixture::new(1);
    f.state.limits.secondary_ips_per_vnic = 31;
    let (_, vnic) = f.attach(0, at(0));
    for _ in 0..31 {
        f.create_ip(&vnic, at(2_000)).expect("under the limit");
    }
    let error = f.create_ip(&vnic, at(2_000)).expect_err("over the limit");
    assert_eq!((error.status.as_u16(), error.code), (400, "LimitExceeded"));
}

#[test]
fn subnet_capacity_is_size_minus_three() {
    let mut world = World::new("us-ashburn-1");
    let c = world.add_compartment("c");
    let vcn = world.add_vcn(&c, "10.0.0.0/16");
    let nodes = world.add_subnet(&vcn, &c, "10.0.0.0/24");
    let tiny = world.add_subnet(&vcn, &c, "10.0.1.0/29");
    world.add_instance(crate::world::InstanceSpec::new(
        &c,
        "VM.Standard.E4.Flex",
        Some(4.0),
        "Uocm:US-ASHBURN-AD-1",
        &nodes,
    ));
    world.attach = AttachSettings::new(0, 0, 0.0);
    let mut f = Fixture {
        state: State::from_world(&world, at(0)).expect("world"),
        admin: Principal::User {
            id: "a".into(),
            compartments: None,
        },
        world,
    };

    let body = json!({ "instanceId": f.instance(0), "createVnicDetails": { "subnetId": tiny } });
    let attachment = f.ok(Operation::AttachVnic, body_request(body), at(0));
    let attachment = f.ok(
        Operation::GetVnicAttachment,
        id_request(attachment["id"].as_str().expect("id")),
        at(0),
    );
    let vnic = attachment["vnicId"].as_str().expect("vnic").to_owned();

    // /29 = 8 addresses, 3 reserved, 1 taken by the VNIC's primary: 4 left.
    let mut addresses = Vec::new();
    for _ in 0..4 {
        let reply = f.create_ip(&vnic, at(0)).expect("free address");
        addresses.push(
            reply.body.expect("body")["ipAddress"]
                .as_str()
                .expect("ip")
                .to_owned(),
        );
    }
    assert_eq!(addresses, ["10.0.1.3", "10.0.1.4", "10.0.1.5", "10.0.1.6"]);
    let error = f.create_ip(&vnic, at(0)).expect_err("subnet full");
    assert_eq!(error.code, "LimitExceeded");

    for reserved in ["10.0.1.0", "10.0.1.1", "10.0.1.7"] {
        let body = json!({ "vnicId": vnic, "ipAddress": reserved });
        assert_eq!(
            f.err(Operation::CreatePrivateIp, body_request(body), at(0))
                .1,
            "InvalidParameter"
        );
    }
}

#[test]
fn addresses_are_unique_and_moves_stay_in_the_subnet() {
    let mut f = Fixture::new(2);
    let (_, vnic_a) = f.attach(0, at(0));
    let (_, vnic_b) = f.attach(1, at(0));

    let body = json!({ "vnicId": vnic_a, "ipAddress": "10.0.64.40" });
    let ip = f.ok(Operation::CreatePrivateIp, body_request(body), at(2_000));
    let body = json!({ "vnicId": vnic_b, "ipAddress": "10.0.64.40" });
    assert_eq!(
        f.err(Operation::CreatePrivateIp, body_request(body), at(2_000)),
        (409, "Conflict")
    );

    let id = ip["id"].as_str().expect("id").to_owned();
    let mut update = body_request(json!({ "vnicId": vnic_b }));
    update.id = Some(id.clone());
    let moved = f.ok(Operation::UpdatePrivateIp, update, at(2_000));
    assert_eq!(moved["vnicId"], vnic_b.as_str());
    assert_eq!(moved["ipAddress"], "10.0.64.40");

    let primary_vnic = f
        .state
        .vnics
        .values()
        .find(|v| v.is_primary)
        .expect("primary")
        .id
        .clone();
    let mut update = body_request(json!({ "vnicId": primary_vnic }));
    update.id = Some(id);
    assert_eq!(
        f.err(Operation::UpdatePrivateIp, update, at(2_000)),
        (400, "InvalidParameter")
    );
}

#[test]
fn primaries_cannot_be_deleted_moved_or_detached() {
    let mut f = Fixture::new(1);
    let (_, vnic) = f.attach(0, at(0));
    // The instance's primary VNIC's primary IP (the attached VNIC has a primary IP too).
    let primary_vnic = f
        .state
        .vnics
        .values()
        .find(|v| v.is_primary)
        .expect("vnic")
        .id
        .clone();
    let primary = f
        .state
        .private_ips
        .values()
        .find(|ip| ip.is_primary && ip.vnic_id.as_deref() == Some(primary_vnic.as_str()))
        .expect("primary")
        .clone();

    assert_eq!(
        f.err(
            Operation::DeletePrivateIp,
            id_request(&primary.id),
            at(2_000)
        )
        .1,
        "InvalidParameter"
    );
    let mut update = body_request(json!({ "vnicId": vnic }));
    update.id = Some(primary.id.clone());
    assert_eq!(
        f.err(Operation::UpdatePrivateIp, update, at(2_000)).1,
        "InvalidParameter"
    );
    let primary_attachment = f
        .state
        .attachments
        .values()
        .find(|a| a.is_primary)
        .expect("a")
        .id
        .clone();
    assert_eq!(
        f.err(
            Operation::DetachVnic,
            id_request(&primary_attachment),
            at(2_000)
        )
        .1,
        "InvalidParameter"
    );
}

#[test]
fn etag_mismatch_is_412() {
    let mut f = Fixture::new(1);
    let (_, vnic) = f.attach(0, at(0));
    let reply = f.create_ip(&vnic, at(2_000)).expect("ip");
    let id = reply.body.expect("body")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let mut request = id_request(&id);
    request.if_match = Some("nope".into());
    assert_eq!(
        f.err(Operation::DeletePrivateIp, request, at(2_000)),
        (412, "NoEtagMatch")
    );
    let mut request = id_request(&id);
    request.if_match = reply.etag;
    assert!(
        f.call(Operation::DeletePrivateIp, request, at(2_000))
            .is_ok()
    );
}

#[test]
fn retry_token_replays_for_24_hours_and_is_invalidated_by_deletion() {
    let mut f = Fixture::new(1);
    let (_, vnic) = f.attach(0, at(0));
    let mut request = body_request(json!({ "vnicId": vnic }));
    request.retry_token = Some("token-1".into());
    let first = f.ok(Operation::CreatePrivateIp, request, at(2_000));

    let mut again = body_request(json!({ "vnicId": vnic }));
    again.retry_token = Some("token-1".into());
    let replay = f.ok(Operation::CreatePrivateIp, again, at(3_600_000));
    assert_eq!(first, replay);
    assert_eq!(f.state.retry_replays, 1);
    assert_eq!(
        f.state
            .private_ips
            .values()
            .filter(|ip| !ip.is_primary)
            .count(),
        1
    );

    let mut later = body_request(json!({ "vnicId": vnic }));
    later.retry_token = Some("token-1".into());
    let fresh = f.ok(
        Operation::CreatePrivateIp,
        later,
        at(2_000 + 24 * 3_600_000),
    );
    assert_ne!(fresh["id"], first["id"], "the token expired after 24 h");

    f.ok(
        Operation::DeletePrivateIp,
        id_request(fresh["id"].as_str().expect("id")),
        at(90_000_000),
    );
    let mut stale = body_request(json!({ "vnicId": vnic }));
    stale.retry_token = Some("token-1".into());
    assert_eq!(
        f.err(Operation::CreatePrivateIp, stale, at(90_000_001)),
        (409, "InvalidatedRetryToken")
    );
}

#[test]
fn detach_removes_the_vnic_and_its_addresses_after_the_delay() {
    let mut f = Fixture::new(1);
    let (attachment, vnic) = f.attach(0, at(0));
    f.create_ip(&vnic, at(1_000)).expect("ip");
    f.ok(Operation::DetachVnic, id_request(&attachment), at(1_000));

    let detaching = f.ok(
        Operation::GetVnicAttachment,
        id_request(&attachment),
        at(1_100),
    );
    assert_eq!(detaching["lifecycleState"], "DETACHING");
    let vnic_state = f.ok(Operation::GetVnic, id_request(&vnic), at(1_100));
    assert_eq!(vnic_state["lifecycleState"], "TERMINATING");

    let detached = f.ok(
        Operation::GetVnicAttachment,
        id_request(&attachment),
        at(1_500),
    );
    assert_eq!(detached["lifecycleState"], "DETACHED");
    assert_eq!(
        f.err(Operation::GetVnic, id_request(&vnic), at(1_500)).0,
        404
    );
    let pods = f.pods();
    assert!(f.state.subnets[&pods].used.is_empty());
}

#[test]
fn lists_paginate_without_skipping_or_repeating() {
    let mut f = Fixture::new(1);
    let (_, vnic) = f.attach(0, at(0));
    for _ in 0..7 {
        f.create_ip(&vnic, at(1_000)).expect("ip");
    }

    let mut seen = Vec::new();
    let mut page: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut pairs = vec![("vnicId", vnic.as_str()), ("limit", "3")];
        if let Some(token) = &page {
            pairs.push(("page", token));
        }
        let reply = f
            .call(Operation::ListPrivateIps, query(&pairs), at(1_000))
            .expect("list");
        let items = reply.body.expect("body");
        let items = items.as_array().expect("array");
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned()),
        );
        pages += 1;
        match reply.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 8, "primary + 7");
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 8);

    assert_eq!(
        f.err(
            Operation::ListPrivateIps,
            query(&[("vnicId", &vnic), ("limit", "0")]),
            at(0)
        )
        .1,
        "InvalidParameter"
    );
    assert_eq!(
        f.err(
            Operation::ListPrivateIps,
            query(&[("vnicId", &vnic), ("page", "x")]),
            at(0)
        )
        .1,
        "InvalidParameter"
    );
    assert_eq!(
        f.err(Operation::ListPrivateIps, query(&[]), at(0)).1,
        "MissingParameter"
    );
}

#[test]
fn compartments_limit_what_a_user_sees() {
    let mut f = Fixture::new(1);
    let other = "ocid1.compartment.oc1..elsewhere".to_owned();
    f.state
        .compartments
        .insert(other.clone(), "elsewhere".into());
    f.admin = Principal::User {
        id: "u".into(),
        compartments: Some([other].into_iter().collect()),
    };

    let instance = f.instance(0);
    assert_eq!(
        f.err(Operation::GetInstance, id_request(&instance), at(0)),
        (404, "NotAuthorizedOrNotFound")
    );
    let compartment = f.compartment();
    let list = query(&[("compartmentId", &compartment)]);
    assert_eq!(f.err(Operation::ListVnicAttachments, list, at(0)).0, 404);
}

#[test]
fn list_vnic_attachments_filters_by_instance_in_the_instance_compartment() {
    let mut f = Fixture::new(2);
    f.attach(0, at(0));
    let compartment = f.compartment();
    let instance = f.instance(0);
    let all = f.ok(
        Operation::ListVnicAttachments,
        query(&[("compartmentId", &compartment)]),
        at(2_000),
    );
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    let one = f.ok(
        Operation::ListVnicAttachments,
        query(&[("compartmentId", &compartment), ("instanceId", &instance)]),
        at(2_000),
    );
    assert_eq!(one.as_array().map(Vec::len), Some(2));
    assert_eq!(
        f.err(Operation::ListVnicAttachments, query(&[]), at(0)),
        (400, "MissingParameter")
    );
}

#[test]
fn terminate_frees_everything_the_instance_held() {
    let mut f = Fixture::new(1);
    let (_, vnic) = f.attach(0, at(0));
    f.create_ip(&vnic, at(1_000)).expect("ip");
    let instance = f.instance(0);
    f.state.terminate(&instance).expect("terminate");

    assert!(f.state.vnics.is_empty());
    assert!(f.state.private_ips.is_empty());
    assert!(f.state.subnets.values().all(|s| s.used.is_empty()));
    let got = f.ok(Operation::GetInstance, id_request(&instance), at(2_000));
    assert_eq!(got["lifecycleState"], "TERMINATED");
    let nodes = f.nodes();
    let body = json!({ "instanceId": instance, "createVnicDetails": { "subnetId": nodes } });
    assert_eq!(
        f.err(Operation::AttachVnic, body_request(body), at(2_000)),
        (409, "IncorrectState")
    );
}

#[test]
fn bad_bodies_are_refused_with_oci_codes() {
    let mut f = Fixture::new(1);
    let garbage = ApiRequest {
        body: b"{not json".to_vec(),
        ..ApiRequest::default()
    };
    assert_eq!(
        f.err(Operation::CreatePrivateIp, garbage, at(0)),
        (400, "CannotParseRequest")
    );
    assert_eq!(
        f.err(Operation::CreatePrivateIp, body_request(json!({})), at(0)),
        (400, "MissingParameter")
    );
    let unknown = body_request(json!({ "vnicId": "ocid1.vnic.oc1..nope" }));
    assert_eq!(
        f.err(Operation::CreatePrivateIp, unknown, at(0)),
        (400, "RelatedResourceNotAuthorizedOrNotFound")
    );
    let no_instance = body_request(json!({ "createVnicDetails": { "subnetId": f.pods() } }));
    assert_eq!(
        f.err(Operation::AttachVnic, no_instance, at(0)),
        (400, "MissingParameter")
    );
}

#[test]
fn reserved_private_ip_without_vnic() {
    let mut f = Fixture::new(1);
    let pods = f.pods();
    let body = json!({ "subnetId": pods, "lifetime": "RESERVED" });
    let ip = f.ok(Operation::CreatePrivateIp, body_request(body), at(0));
    assert_eq!(ip["ipState"], "AVAILABLE");
    assert_eq!(ip["lifetime"], "RESERVED");
    assert!(ip["vnicId"].is_null());
    let body = json!({ "subnetId": pods });
    assert_eq!(
        f.err(Operation::CreatePrivateIp, body_request(body), at(0))
            .1,
        "InvalidParameter"
    );
}

#[test]
fn list_subnets_sorts_and_filters() {
    let mut f = Fixture::new(0);
    let compartment = f.compartment();
    let by_name = f.ok(
        Operation::ListSubnets,
        query(&[
            ("compartmentId", &compartment),
            ("sortBy", "DISPLAYNAME"),
            ("sortOrder", "DESC"),
        ]),
        at(0),
    );
    let names: Vec<_> = by_name
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["displayName"].clone())
        .collect();
    assert_eq!(names, [json!("pods"), json!("nodes")]);
    let filtered = f.ok(
        Operation::ListSubnets,
        query(&[("compartmentId", &compartment), ("displayName", "pods")]),
        at(0),
    );
    assert_eq!(filtered.as_array().map(Vec::len), Some(1));
}

#[test]
fn ipv6_addresses_skip_the_reserved_eight_and_go_with_their_vnic() {
    let mut f = Fixture::new(1);
    let (attachment, vnic) = f.attach(0, at(0));
    let create = |vnic: &str| body_request(json!({ "vnicId": vnic }));

    let first = f.ok(Operation::CreateIpv6, create(&vnic), at(1_000));
    assert_eq!(first["ipAddress"], "2603:c020:4000:6440::4");
    assert_eq!(first["lifecycleState"], "AVAILABLE");
    for _ in 1..32 {
        f.ok(Operation::CreateIpv6, create(&vnic), at(1_000));
    }
    assert_eq!(
        f.err(Operation::CreateIpv6, create(&vnic), at(1_000)),
        (400, "LimitExceeded")
    );

    let taken = body_request(json!({ "vnicId": vnic, "ipAddress": "2603:c020:4000:6440::4" }));
    assert_eq!(
        f.err(Operation::CreateIpv6, taken, at(1_000)).0,
        400,
        "VNIC is full first"
    );
    let id = first["id"].as_str().expect("id").to_owned();
    f.ok(Operation::DeleteIpv6, id_request(&id), at(1_000));
    let reserved = body_request(json!({ "vnicId": vnic, "ipAddress": "2603:c020:4000:6440::3" }));
    assert_eq!(
        f.err(Operation::CreateIpv6, reserved, at(1_000)),
        (400, "InvalidParameter")
    );
    let last = "2603:c020:4000:6440:ffff:ffff:ffff:fffc";
    let reserved = body_request(json!({ "vnicId": vnic, "ipAddress": last }));
    assert_eq!(
        f.err(Operation::CreateIpv6, reserved, at(1_000)),
        (400, "InvalidParameter")
    );

    let listed = f.ok(Operation::ListIpv6s, query(&[("vnicId", &vnic)]), at(1_000));
    assert_eq!(listed.as_array().map(Vec::len), Some(31));
    let shown = f.ok(Operation::GetVnic, id_request(&vnic), at(1_000));
    assert_eq!(shown["ipv6Addresses"].as_array().map(Vec::len), Some(31));

    f.ok(Operation::DetachVnic, id_request(&attachment), at(1_000));
    f.state.settle(at(2_000));
    assert!(f.state.ipv6s.is_empty());
    let pods = f.pods();
    assert!(f.state.subnets[&pods].used6.is_empty());

    let nodes_vnic = f.state.vnics.values().next().expect("primary").id.clone();
    assert_eq!(
        f.err(Operation::CreateIpv6, create(&nodes_vnic), at(2_000))
            .1,
        "InvalidParameter"
    );
}
