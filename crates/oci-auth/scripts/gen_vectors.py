#!/usr/bin/env python3
"""Generates the signing vector suite in tests/vectors/<case>/ with Oracle's Python SDK.

Run from crates/oci-auth:   python3 scripts/gen_vectors.py
Needs: pip install oci   (the vectors in the repository were made with the version recorded
in tests/vectors/README.md). No network access: requests are only prepared and signed.

Each case directory holds:
  request.txt         "METHOD URL", the caller's headers ("name: value"), a blank line, the body
  context.json        key file (under tests/data), pass phrase, key id, description, SDK version
  signing-string.txt  the exact string the SDK signed (no trailing newline)
  signature.txt       the base64 signature
  signed-request.txt  "METHOD URL" and every header of the signed request, as the SDK sent them
"""
import json
import os
import sys

import oci
import requests
from oci._vendor.httpsig_cffi import sign as httpsig_sign
from oci.auth.signers import SecurityTokenSigner

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)
DATA = os.path.join(CRATE, "tests", "data")
OUT = os.path.join(CRATE, "tests", "vectors")

TENANCY = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq"
USER = "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq"
TEST_FINGERPRINT = "31:27:86:3c:d2:ba:1d:85:df:41:d1:85:8e:e8:e2:6a"
DOCS_FINGERPRINT = "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34"  # the docs' placeholder
PASS = "test-only-passphrase"
DATE = "Mon, 01 Dec 2025 08:30:00 GMT"
DOCS_DATE = "Thu, 05 Jan 2014 21:31:40 GMT"
IAAS = "https://iaas.us-ashburn-1.oraclecloud.com"
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaam3we6vgnherjq5q2idnccdflvjsnog7mlr6rtdb25gilchfeyjxa"
VNIC = "ocid1.vnic.oc1.iad.abuwcljtvnicvnicvnicvnicvnicvnicvnicvnicvnicvnicvnicvnica"
# An unsigned JWT used as a session token (the SDK does not check it when signing).
SESSION_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJvY2lkMS5pbnN0YW5jZS5vYzEuaWFkLnRlc3QiLCJleHAiOjE3NjQ1Nzk2MDAsImlhdCI6MTc2NDU3ODQwMH0."
    "dGVzdC1zaWduYXR1cmU"
)

DOCS_BODY = (
    '{\n'
    '    "compartmentId": "ocid1.compartment.oc1..aaaaaaaam3we6vgnherjq5q2idnccdflvjsnog7mlr6rtdb25gilchfeyjxa",\n'
    '    "instanceId": "ocid1.instance.oc1.phx.abuw4ljrlsfiqw6vzzxb43vyypt4pkodawglp3wqxjqofakrwvou52gb6s5a",\n'
    '    "volumeId": "ocid1.volume.oc1.phx.abyhqljrgvttnlx73nmrwfaux7kcvzfs3s66izvxf2h4lgvyndsdsnoiwr5q"\n'
    '}'
)
DOCS_QUERY = (
    "?availabilityDomain=Pjwf%3A%20PHX-AD-1"
    "&compartmentId=ocid1.compartment.oc1..aaaaaaaam3we6vgnherjq5q2idnccdflvjsnog7mlr6rtdb25gilchfeyjxa"
    "&displayName=TeamXInstances"
    "&volumeId=ocid1.volume.oc1.phx.abyhqljrgvttnlx73nmrwfaux7kcvzfs3s66izvxf2h4lgvyndsdsnoiwr5q"
)
ASSIGN_BODY = json.dumps({"vnicId": VNIC, "displayName": "pod-ip", "hostnameLabel": None})


def api_key(key_file, passphrase=None, fingerprint=TEST_FINGERPRINT):
    return {"kind": "api_key", "key_file": key_file, "passphrase": passphrase,
            "key_id": f"{TENANCY}/{USER}/{fingerprint}", "fingerprint": fingerprint}


def session(key_file):
    return {"kind": "session_token", "key_file": key_file, "passphrase": None,
            "key_id": f"ST${SESSION_TOKEN}", "token": SESSION_TOKEN}


CASES = [
    # (name, description, credentials, method, url, headers, body bytes or None)
    ("get_with_query", "GET with a query, order kept, %3D encoding", api_key("test-key-pkcs1.pem"),
     "GET", f"{IAAS}/20160918/vnicAttachments?compartmentId={COMPARTMENT}&limit=50&page=abc%3D%3D",
     {"date": DATE}, None),
    ("get_query_spaces_and_parens", "query with '+' and %20 and parentheses in the path",
     api_key("test-key-pkcs1.pem"), "GET",
     "https://objectstorage.us-ashburn-1.oraclecloud.com/n/ns/b/bucket/o/a%20%28b%29?prefix=x+y&fields=name%2Csize",
     {"date": DATE}, None),
    ("head", "HEAD signs like GET", api_key("test-key-pkcs1.pem"), "HEAD",
     "https://objectstorage.us-ashburn-1.oraclecloud.com/n/ns/b/bucket/o/object.txt",
     {"date": DATE}, None),
    ("delete", "DELETE of a private IP", api_key("test-key-pkcs1.pem"), "DELETE",
     f"{IAAS}/20160918/privateIps/ocid1.privateip.oc1.iad.abuwcljtprivateipprivateip",
     {"date": DATE, "if-match": "etag-1"}, None),
    ("post_json", "POST with a JSON body and an unsigned opc-request-id",
     api_key("test-key-pkcs1.pem"), "POST", f"{IAAS}/20160918/privateIps",
     {"date": DATE, "content-type": "application/json", "opc-request-id": "req-1"},
     ASSIGN_BODY.encode()),
    ("put_json", "PUT with a JSON body", api_key("test-key-pkcs1.pem"), "PUT",
     f"{IAAS}/20160918/vnics/{VNIC}", {"date": DATE, "content-type": "application/json"},
     b'{"skipSourceDestCheck": true}'),
    ("patch_json", "PATCH signs the body like PUT/POST", api_key("test-key-pkcs1.pem"), "PATCH",
     f"{IAAS}/20160918/vnics/{VNIC}", {"date": DATE, "content-type": "application/json"},
     b'{"definedTags": {}}'),
    ("put_charset_content_type", "content-type with a charset is signed as sent",
     api_key("test-key-pkcs1.pem"), "PUT", f"{IAAS}/20160918/vnics/{VNIC}",
     {"date": DATE, "content-type": "application/json; charset=utf-8"}, b'{"displayName": "x"}'),
    ("post_empty_body", "empty POST: content-length 0 and the empty-string hash",
     api_key("test-key-pkcs1.pem"), "POST",
     f"{IAAS}/20160918/instances/ocid1.instance.oc1.iad.abc?action=SOFTRESET",
     {"date": DATE, "content-type": "application/json"}, b""),
    ("post_utf8_bytes_body", "non-ASCII body: length and hash over UTF-8 bytes",
     api_key("test-key-pkcs1.pem"), "POST", f"{IAAS}/20160918/vnicAttachments/",
     {"date": DATE, "content-type": "application/json"},
     '{"displayName": "Zürich – nœud ✓ 日本"}'.encode("utf-8")),
    ("host_with_port", "an explicit port is part of host", api_key("test-key-pkcs1.pem"), "GET",
     "https://localhost:8443/20160918/vcns?compartmentId=" + COMPARTMENT, {"date": DATE}, None),
    ("empty_path", "a URL without path signs '/'", api_key("test-key-pkcs1.pem"), "GET",
     IAAS, {"date": DATE}, None),
    ("session_token_get", "session token: keyId ST$<token>", session("session-key-1.pem"), "GET",
     f"{IAAS}/20160918/vnics/{VNIC}", {"date": DATE}, None),
    ("session_token_post", "session token POST", session("session-key-1.pem"), "POST",
     f"{IAAS}/20160918/privateIps", {"date": DATE, "content-type": "application/json"},
     ASSIGN_BODY.encode()),
    ("key_pkcs1", "the reference request, PKCS#1 key", api_key("test-key-pkcs1.pem"), "POST",
     f"{IAAS}/20160918/vnicAttachments/actions/attach", {"date": DATE, "content-type": "application/json"},
     b'{"instanceId": "ocid1.instance.oc1.iad.abc", "nicIndex": 1}'),
    ("key_pkcs8", "the same request, PKCS#8 key", api_key("test-key-pkcs8.pem"), "POST",
     f"{IAAS}/20160918/vnicAttachments/actions/attach", {"date": DATE, "content-type": "application/json"},
     b'{"instanceId": "ocid1.instance.oc1.iad.abc", "nicIndex": 1}'),
    ("key_pkcs8_encrypted", "the same request, encrypted PKCS#8 key",
     api_key("test-key-pkcs8-encrypted.pem", PASS), "POST",
     f"{IAAS}/20160918/vnicAttachments/actions/attach", {"date": DATE, "content-type": "application/json"},
     b'{"instanceId": "ocid1.instance.oc1.iad.abc", "nicIndex": 1}'),
    ("key_legacy_encrypted", "the same request, legacy Proc-Type/DEK-Info encrypted PEM",
     api_key("test-key-legacy-encrypted.pem", PASS), "POST",
     f"{IAAS}/20160918/vnicAttachments/actions/attach", {"date": DATE, "content-type": "application/json"},
     b'{"instanceId": "ocid1.instance.oc1.iad.abc", "nicIndex": 1}'),
    ("post_caller_hash", "caller-supplied x-content-sha256 and content-length are kept (streams)",
     api_key("test-key-pkcs1.pem"), "PUT",
     "https://objectstorage.us-ashburn-1.oraclecloud.com/n/ns/b/bucket/o/big",
     {"date": DATE, "content-type": "application/octet-stream", "content-length": "1048576",
      "x-content-sha256": "qUqP5cyxm6YcTAhz05Hph5gvu9M="},
     b""),
    ("oracle_docs_get", "Oracle's published GET example (docs key, placeholder fingerprint)",
     api_key("oracle-docs-key.pem", None, DOCS_FINGERPRINT), "GET",
     "https://iaas.us-phoenix-1.oraclecloud.com/20160918/instances" + DOCS_QUERY,
     {"date": DOCS_DATE}, None),
    ("oracle_docs_post", "Oracle's published POST example (docs key, placeholder fingerprint)",
     api_key("oracle-docs-key.pem", None, DOCS_FINGERPRINT), "POST",
     "https://iaas.us-phoenix-1.oraclecloud.com/20160918/volumeAttachments",
     {"date": DOCS_DATE, "content-type": "application/json"}, DOCS_BODY.encode()),
]

# Published in Oracle's docs (and oci-go-sdk's http_signer_test.go) for the two examples.
PUBLISHED = {
    "oracle_docs_get": "GBas7grhyrhSKHP6AVIj/h5/Vp8bd/peM79H9Wv8kjoaCivujVXlpbKLjMPeDUhxkFIWtTtLBj3sUzaFj34XE6YZAHc9r2DmE4pMwOAy/kiITcZxa1oHPOeRheC0jP2dqbTll8fmTZVwKZOKHYPtrLJIJQHJjNvxFWeHQjMaR7M=",
    "oracle_docs_post": "Mje8vIDPlwIHmD/cTDwRxE7HaAvBg16JnVcsuqaNRim23fFPgQfLoOOxae6WqKb1uPjYEl0qIdazWaBy/Ml8DRhqlocMwoSXv0fbukP8J5N80LCmzT/FFBvIvTB91XuXI3hYfP9Zt1l7S6ieVadHUfqBedWH0itrtPJBgKmrWso=",
}


def signer_for(creds):
    key_path = os.path.join(DATA, creds["key_file"])
    if creds["kind"] == "session_token":
        key = oci.signer.load_private_key_from_file(key_path, creds["passphrase"])
        return SecurityTokenSigner(creds["token"], key)
    tenancy, user, fingerprint = creds["key_id"].split("/")
    return oci.signer.Signer(tenancy, user, fingerprint, key_path, pass_phrase=creds["passphrase"])


def sign(creds, method, url, headers, body):
    captured = []
    original = httpsig_sign.generate_message

    def capture(*args, **kwargs):
        message = original(*args, **kwargs)
        captured.append(message)
        return message

    httpsig_sign.generate_message = capture
    try:
        prepared = requests.Request(method, url, headers=dict(headers), data=body).prepare()
        signer_for(creds)(prepared)
    finally:
        httpsig_sign.generate_message = original
    if len(captured) != 1:
        raise RuntimeError(f"expected one signing string, saw {len(captured)}")
    return prepared, captured[0]


def write_case(name, description, creds, method, url, headers, body):
    prepared, signing_string = sign(creds, method, url, headers, body)
    authorization = prepared.headers["authorization"]
    signature = authorization.split('signature="')[1].split('"')[0]
    if name in PUBLISHED and PUBLISHED[name] != signature:
        raise RuntimeError(f"{name}: the SDK no longer reproduces Oracle's published signature")

    directory = os.path.join(OUT, name)
    os.makedirs(directory, exist_ok=True)
    request = f"{method} {url}\n" + "".join(f"{k}: {v}\n" for k, v in headers.items()) + "\n"
    with open(os.path.join(directory, "request.txt"), "wb") as f:
        f.write(request.encode() + (body or b""))
    context = {
        "description": description,
        "credentials": creds["kind"],
        "key_file": creds["key_file"],
        "passphrase": creds["passphrase"],
        "key_id": creds["key_id"],
        "sdk": f"oci {oci.__version__} (Python {sys.version.split()[0]})",
    }
    with open(os.path.join(directory, "context.json"), "w") as f:
        json.dump(context, f, indent=2, ensure_ascii=False)
        f.write("\n")
    if isinstance(signing_string, str):
        signing_string = signing_string.encode("utf-8")
    with open(os.path.join(directory, "signing-string.txt"), "wb") as f:
        f.write(signing_string)
    with open(os.path.join(directory, "signature.txt"), "w") as f:
        f.write(signature)
    signed = f"{prepared.method} {prepared.url}\n" + "".join(
        f"{k.lower()}: {v}\n" for k, v in prepared.headers.items())
    with open(os.path.join(directory, "signed-request.txt"), "w") as f:
        f.write(signed)


def main():
    for case in CASES:
        write_case(*case)
    print(f"wrote {len(CASES)} cases to {OUT} with oci {oci.__version__}")


if __name__ == "__main__":
    main()
