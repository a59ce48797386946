#!/usr/bin/env python3
"""Signs a batch of requests with Oracle's Python SDK, for the live interop test.

Usage: python3 scripts/python_sign.py BATCH.json > RESULT.json
BATCH.json is a list of {method, url, headers: [[name, value]...], body_b64, key_file,
passphrase, key_id, kind: "api_key" | "session_token"}; key_file is a path. The result is a
list of {signing_string_b64, headers: [[name, value]...]} in the same order: the string the
SDK signed and every header of the signed request. Nothing is sent over the network.
"""
import base64
import json
import sys

import oci
import requests
from oci._vendor.httpsig_cffi import sign as httpsig_sign
from oci.auth.signers import SecurityTokenSigner


def signer_for(item):
    if item["kind"] == "session_token":
        key = oci.signer.load_private_key_from_file(item["key_file"], item["passphrase"])
        return SecurityTokenSigner(item["key_id"][len("ST$"):], key)
    tenancy, user, fingerprint = item["key_id"].split("/")
    return oci.signer.Signer(tenancy, user, fingerprint, item["key_file"],
                             pass_phrase=item["passphrase"])


def sign(item):
    captured = []
    original = httpsig_sign.generate_message

    def capture(*args, **kwargs):
        message = original(*args, **kwargs)
        captured.append(message)
        return message

    httpsig_sign.generate_message = capture
    try:
        body = base64.b64decode(item["body_b64"]) if item["body_b64"] is not None else None
        prepared = requests.Request(item["method"], item["url"], headers=dict(item["headers"]),
                                    data=body).prepare()
        signer_for(item)(prepared)
    finally:
        httpsig_sign.generate_message = original
    message = captured[0]
    if isinstance(message, str):
        message = message.encode("utf-8")
    return {
        "url": prepared.url,
        "signing_string_b64": base64.b64encode(message).decode(),
        "headers": [[k.lower(), v] for k, v in prepared.headers.items()],
    }


def main():
    with open(sys.argv[1]) as f:
        batch = json.load(f)
    json.dump([sign(item) for item in batch], sys.stdout)


if __name__ == "__main__":
    main()
