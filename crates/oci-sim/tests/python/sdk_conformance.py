"""Runs the official OCI Python SDK against a running oci-sim and checks every answer.

Started by crates/oci-sim/tests/python_sdk.rs, which starts the simulator in-process and
passes its URLs and OCIDs through OCI_SIM_* environment variables. Every endpoint points at
loopback: the API (service_endpoint), the metadata service (OCI_METADATA_BASE_URL) and the
federation endpoint (federation_endpoint). Prints one JSON summary line on success; any failed
expectation raises and exits non-zero.
"""

import json
import os
import sys
import tempfile
import time

import oci
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ENV = {k[len("OCI_SIM_"):].lower(): v for k, v in os.environ.items() if k.startswith("OCI_SIM_")}
ENDPOINT = ENV["endpoint"]
COMPARTMENT = ENV["compartment"]
INSTANCE = ENV["instance"]
POD_SUBNET = ENV["pod_subnet"]
NODE_SUBNET = ENV["node_subnet"]
VCN = ENV["vcn"]

summary = {}
STARTED = time.monotonic()


def mark(stage):
    print(f"{time.monotonic() - STARTED:6.2f}s {stage}", file=sys.stderr)


def expect_service_error(call, status, code):
    try:
        call()
    except oci.exceptions.ServiceError as error:
        assert error.status == status, (error.status, error.code, error.message)
        assert error.code == code, (error.status, error.code, error.message)
        assert error.request_id, "ServiceError without opc-request-id"
        return error
    raise AssertionError(f"expected ServiceError {status} {code}")


def wait_kwargs():
    return {"max_interval_seconds": 1, "max_wait_seconds": 30}


config = oci.config.from_file(ENV["config"])
oci.config.validate_config(config)
network = oci.core.VirtualNetworkClient(config, service_endpoint=ENDPOINT)
compute = oci.core.ComputeClient(config, service_endpoint=ENDPOINT)
compute_ops = oci.core.ComputeClientCompositeOperations(compute)

# Reads: GetInstance, ListShapes (paginated), ListSubnets (paginated), GetSubnet, GetVcn.
instance = compute.get_instance(INSTANCE)
assert instance.data.id == INSTANCE
assert instance.data.lifecycle_state == "RUNNING"
assert instance.data.shape_config.max_vnic_attachments == 4
assert instance.headers.get("etag")

shapes = oci.pagination.list_call_get_all_results(
    compute.list_shapes, COMPARTMENT, limit=5
).data
e4 = [s for s in shapes if s.shape == "VM.Standard.E4.Flex"][0]
assert e4.max_vnic_attachments == 2, e4.max_vnic_attachments
assert e4.max_vnic_attachment_options.max == 24.0
summary["shapes"] = len(shapes)

page = compute.list_shapes(COMPARTMENT, limit=5)
assert len(page.data) == 5 and page.has_next_page and page.next_page

subnets = oci.pagination.list_call_get_all_results(
    network.list_subnets, COMPARTMENT, vcn_id=VCN, limit=1
).data
assert sorted(s.id for s in subnets) == sorted([POD_SUBNET, NODE_SUBNET])
pods = network.get_subnet(POD_SUBNET).data
assert pods.cidr_block == "10.0.64.0/18" and pods.virtual_router_ip == "10.0.64.1"
assert pods.freeform_tags == {"oci-ipam/role": "pods"}
vcn = network.get_vcn(VCN).data
assert vcn.cidr_blocks == ["10.0.0.0/16"] and vcn.lifecycle_state == "AVAILABLE"

mark('The primary VNIC')
# The primary VNIC: ListVnicAttachments, GetVnicAttachment, GetVnic.
attachments = compute.list_vnic_attachments(COMPARTMENT, instance_id=INSTANCE).data
assert len(attachments) == 1 and attachments[0].lifecycle_state == "ATTACHED"
primary_attachment = compute.get_vnic_attachment(attachments[0].id).data
primary_vnic = network.get_vnic(primary_attachment.vnic_id).data
assert primary_vnic.is_primary and primary_vnic.subnet_id == NODE_SUBNET
assert primary_vnic.private_ip == "10.0.0.2", primary_vnic.private_ip

mark('AttachVnic with a re')
# AttachVnic with a retry token, then the SDK's own waiter.
details = oci.core.models.AttachVnicDetails(
    instance_id=INSTANCE,
    display_name="pods-1",
    create_vnic_details=oci.core.models.CreateVnicDetails(
        subnet_id=POD_SUBNET,
        assign_public_ip=False,
        skip_source_dest_check=True,
        freeform_tags={"oci-ipam/cluster": "sdk-test"},
    ),
)
first = compute.attach_vnic(details, opc_retry_token="sdk-attach-1")
assert first.data.lifecycle_state == "ATTACHING" and first.data.vnic_id is None
replay = compute.attach_vnic(details, opc_retry_token="sdk-attach-1")
assert replay.data.id == first.data.id, "retry token did not replay"
# A second attach while the first is ATTACHING: 409 Conflict.
expect_service_error(lambda: compute.attach_vnic(details), 409, "Conflict")
attached = oci.wait_until(
    compute, compute.get_vnic_attachment(first.data.id), "lifecycle_state", "ATTACHED",
    **wait_kwargs()
).data
assert attached.vnic_id and attached.vlan_tag is not None
vnic1 = network.get_vnic(attached.vnic_id).data
assert vnic1.lifecycle_state == "AVAILABLE" and vnic1.skip_source_dest_check
assert vnic1.freeform_tags == {"oci-ipam/cluster": "sdk-test"}

mark('A second VNIC')
# A second VNIC in the same subnet through the composite operation (attach + waiter).
details.display_name = "pods-2"
second = compute_ops.attach_vnic_and_wait_for_state(
    details, wait_for_states=["ATTACHED"], waiter_kwargs=wait_kwargs()
).data
vnic2_id = second.vnic_id
assert vnic2_id and vnic2_id != vnic1.id

mark('CreatePrivateIp,')
# CreatePrivateIp, GetPrivateIp, ListPrivateIps (paginated), UpdatePrivateIp (etag, move).
created = []
for n in range(5):
    ip = network.create_private_ip(
        oci.core.models.CreatePrivateIpDetails(
            vnic_id=vnic1.id,
            display_name=f"pod-{n}",
            freeform_tags={"oci-ipam/cluster": "sdk-test"},
        ),
        opc_retry_token=f"sdk-ip-{n}",
    )
    assert ip.headers.get("etag") and ip.headers.get("opc-request-id")
    created.append(ip.data)
assert not any(ip.is_primary for ip in created)
again = network.create_private_ip(
    oci.core.models.CreatePrivateIpDetails(vnic_id=vnic1.id, display_name="pod-0"),
    opc_retry_token="sdk-ip-0",
).data
assert again.id == created[0].id and again.ip_address == created[0].ip_address

listed = oci.pagination.list_call_get_all_results(
    network.list_private_ips, vnic_id=vnic1.id, limit=2
).data
assert len(listed) == 6, len(listed)  # primary + 5 secondaries
assert len({ip.ip_address for ip in listed}) == 6
by_address = network.list_private_ips(subnet_id=POD_SUBNET, ip_address=created[1].ip_address).data
assert [ip.id for ip in by_address] == [created[1].id]

fetched = network.get_private_ip(created[0].id)
etag = fetched.headers["etag"]
expect_service_error(
    lambda: network.update_private_ip(
        created[0].id, oci.core.models.UpdatePrivateIpDetails(display_name="x"),
        if_match="stale-etag"),
    412, "NoEtagMatch")
moved = network.update_private_ip(
    created[0].id,
    oci.core.models.UpdatePrivateIpDetails(vnic_id=vnic2_id, display_name="moved"),
    if_match=etag,
).data
assert moved.vnic_id == vnic2_id and moved.display_name == "moved"
assert moved.ip_address == created[0].ip_address

# IPv6: CreateIpv6, GetIpv6, ListIpv6s, DeleteIpv6.
v6 = [network.create_ipv6(oci.core.models.CreateIpv6Details(vnic_id=vnic1.id),
                          opc_retry_token=f"sdk-v6-{n}").data for n in range(3)]
assert v6[0].ip_address == "2603:c020:4000:6440::4", v6[0].ip_address
assert network.get_ipv6(v6[1].id).data.vnic_id == vnic1.id
listed6 = oci.pagination.list_call_get_all_results(network.list_ipv6s, vnic_id=vnic1.id,
                                                   limit=2).data
assert [ip.id for ip in listed6] == [ip.id for ip in v6]
assert network.get_vnic(vnic1.id).data.ipv6_addresses == [ip.ip_address for ip in v6]
assert network.delete_ipv6(v6[2].id).status == 204
expect_service_error(lambda: network.get_ipv6(v6[2].id), 404, "NotAuthorizedOrNotFound")

mark('Rules surfacing')
# Rules surfacing as ServiceError with OCI's status and code.
primary_ip = network.list_private_ips(vnic_id=primary_vnic.id).data[0]
assert primary_ip.is_primary
expect_service_error(lambda: network.delete_private_ip(primary_ip.id), 400, "InvalidParameter")
expect_service_error(
    lambda: network.update_private_ip(
        created[1].id, oci.core.models.UpdatePrivateIpDetails(vnic_id=primary_vnic.id)),
    400, "InvalidParameter")  # another subnet: moves stay within one subnet
expect_service_error(
    lambda: network.create_private_ip(
        oci.core.models.CreatePrivateIpDetails(vnic_id=vnic2_id, ip_address=created[2].ip_address)),
    409, "Conflict")
expect_service_error(lambda: network.get_vnic("ocid1.vnic.oc1.iad.missing"), 404,
                     "NotAuthorizedOrNotFound")
expect_service_error(lambda: compute.list_vnic_attachments("ocid1.compartment.oc1..other"), 404,
                     "NotAuthorizedOrNotFound")

mark('DeletePrivateIp,')
# DeletePrivateIp, then the retry token of the deleted IP is invalidated.
deleted = network.delete_private_ip(created[4].id)
assert deleted.status == 204
expect_service_error(lambda: network.get_private_ip(created[4].id), 404, "NotAuthorizedOrNotFound")
expect_service_error(
    lambda: network.create_private_ip(
        oci.core.models.CreatePrivateIpDetails(vnic_id=vnic1.id), opc_retry_token="sdk-ip-4"),
    409, "InvalidatedRetryToken")

mark('DetachVnic,')
# DetachVnic, then the waiter sees DETACHED, and the VNIC's IPs are gone.
detach = compute.detach_vnic(second.id)
assert detach.status == 204
detached = oci.wait_until(
    compute, compute.get_vnic_attachment(second.id), "lifecycle_state", "DETACHED",
    **wait_kwargs()
).data
assert detached.lifecycle_state == "DETACHED"
expect_service_error(lambda: network.get_private_ip(created[0].id), 404, "NotAuthorizedOrNotFound")
expect_service_error(lambda: compute.detach_vnic(primary_attachment.id), 400, "InvalidParameter")

mark('A signer with the wr')
# A signer with the wrong key is refused with 401 NotAuthenticated.
wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as handle:
    handle.write(wrong.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    wrong_path = handle.name
wrong_config = dict(config, key_file=wrong_path)
wrong_client = oci.core.ComputeClient(wrong_config, service_endpoint=ENDPOINT)
expect_service_error(lambda: wrong_client.get_instance(INSTANCE), 401, "NotAuthenticated")
os.unlink(wrong_path)

mark('Instance principals:')
# Instance principals: IMDS and federation pointed at the simulator.
os.environ["OCI_METADATA_BASE_URL"] = ENV["imds"]
signer = oci.auth.signers.InstancePrincipalsSecurityTokenSigner(
    federation_endpoint=ENV["federation"]
)
assert signer.region == "us-ashburn-1", signer.region
assert signer.tenancy_id == config["tenancy"], signer.tenancy_id
principal_compute = oci.core.ComputeClient(config={}, signer=signer, service_endpoint=ENDPOINT)
me = principal_compute.get_instance(INSTANCE).data
assert me.id == INSTANCE
principal_network = oci.core.VirtualNetworkClient(config={}, signer=signer,
                                                  service_endpoint=ENDPOINT)
assert principal_network.get_subnet(POD_SUBNET).data.id == POD_SUBNET
token = signer.federation_client.get_security_token()
assert token.count(".") == 2
claims = signer.federation_client.security_token.jwt
assert claims["opc-instance"] == INSTANCE and claims["exp"] > claims["iat"], claims
summary["instance_principal"] = "ok"
summary["attachments"] = [first.data.id, second.id]
summary["private_ips"] = [ip.id for ip in created]

mark("done")
print(json.dumps(summary))
sys.exit(0)
