#!/usr/bin/env python3
"""Times Oracle's Python SDK signing the request of benches/sign.rs (a typical POST).

Run from crates/oci-auth:  python3 scripts/bench_python_sign.py
Prints the median of 15 rounds, each the mean over 200 signatures, in microseconds. Only
the signing is timed (oci.signer.Signer on an already prepared requests.PreparedRequest,
as the SDK does per call), not request preparation. No network access.
"""
import os
import statistics
import time

import oci
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = os.path.join(os.path.dirname(HERE), "tests", "data", "test-key-pkcs1.pem")
# Kept identical to benches/sign.rs.
BODY = '{"createVnicDetails": {"subnetId": "ocid1.subnet.oc1.iad.aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffffgggggggg", "assignPublicIp": false, "skipSourceDestCheck": true}, "instanceId": "ocid1.instance.oc1.iad.anuwcljtaaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffff", "nicIndex": 0, "displayName": "oci-ipam-vnic-1"}'
URL = "https://iaas.us-ashburn-1.oraclecloud.com/20160918/vnicAttachments/"
TENANCY = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq"
USER = "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq"
FINGERPRINT = "31:27:86:3c:d2:ba:1d:85:df:41:d1:85:8e:e8:e2:6a"
DATE = "Mon, 01 Dec 2025 08:30:00 GMT"


def main():
    signer = oci.signer.Signer(TENANCY, USER, FINGERPRINT, KEY)
    headers = {"date": DATE, "opc-request-id": "bench-request"}
    prepared = [requests.Request("POST", URL, headers=headers, data=BODY.encode()).prepare()
                for _ in range(200)]
    rounds = []
    for _ in range(15):
        batch = [p.copy() for p in prepared]
        start = time.perf_counter()
        for request in batch:
            signer(request)
        rounds.append((time.perf_counter() - start) / len(batch))
    median = statistics.median(rounds) * 1e6
    print(f"python oci {oci.__version__}: sign_typical_post median {median:.1f} us")


if __name__ == "__main__":
    main()
