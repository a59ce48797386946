//! Criterion benchmark: signing a typical POST (a VNIC attach body) with an RSA-2048 key.
//!
//! Run: `cargo bench -p oci-auth --bench sign`. The Python SDK comparison is printed by
//! `python3 scripts/bench_python_sign.py` on the same request.

#![allow(missing_docs)]

use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use oci_auth::{KeyId, PrivateKey, SignableBody, SignableRequest, SigningParams, sign};
use url::Url;

/// The request both benchmarks sign (kept in sync with `scripts/bench_python_sign.py`).
const BODY: &str = r#"{"createVnicDetails": {"subnetId": "ocid1.subnet.oc1.iad.aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffffgggggggg", "assignPublicIp": false, "skipSourceDestCheck": true}, "instanceId": "ocid1.instance.oc1.iad.anuwcljtaaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffff", "nicIndex": 0, "displayName": "oci-ipam-vnic-1"}"#;
const URL: &str = "https://iaas.us-ashburn-1.oraclecloud.com/20160918/vnicAttachments/";
const KEY_ID: &str = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq/ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq/31:27:86:3c:d2:ba:1d:85:df:41:d1:85:8e:e8:e2:6a";

fn sign_typical_post(c: &mut Criterion) {
    let key = PrivateKey::from_pem(include_str!("../tests/data/test-key-pkcs1.pem"), None)
        .expect("the committed test key loads");
    let key_id = KeyId::from_raw(KEY_ID);
    let url = Url::parse(URL).expect("the benchmark URL parses");
    let mut headers = HeaderMap::new();
    headers.insert("opc-request-id", HeaderValue::from_static("bench-request"));
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_577_800);

    c.bench_function("sign_typical_post", |b| {
        b.iter(|| {
            let request = SignableRequest::new(
                &Method::POST,
                &url,
                &headers,
                SignableBody::Bytes(BODY.as_bytes()),
            );
            sign(&request, SigningParams::new(&key_id, &key, time)).expect("signing succeeds")
        });
    });
}

criterion_group!(benches, sign_typical_post);
criterion_main!(benches);
