//! Live interop with Oracle's Python SDK: fresh random requests (methods, hosts with and
//! without ports, encoded paths and queries, bodies with non-ASCII bytes, every key
//! encoding, API keys and session tokens) are signed by `scripts/python_sign.py` and by this
//! crate, and must agree byte for byte.
//!
//! Needs `python3` with the `oci` package. Without it the test is skipped with a message,
//! unless `CI` is set, where it fails.

// Helpers outside #[test] functions unwrap too: any failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use oci_auth::{
    AuthorizationHeader, KeyId, Passphrase, PrivateKey, SignableBody, SignableRequest,
    SigningParams, has_signed_body, sign,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use url::Url;

const REQUESTS: usize = 40;
const TENANCY: &str =
    "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq";
const USER: &str = "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq";
const PASS: &str = "test-only-passphrase";

/// `(key file, pass phrase)`: every encoding of the test key, the session keys, the docs key.
const KEYS: &[(&str, Option<&str>)] = &[
    ("test-key-pkcs1.pem", None),
    ("test-key-pkcs8.pem", None),
    ("test-key-pkcs8-encrypted.pem", Some(PASS)),
    ("test-key-legacy-encrypted.pem", Some(PASS)),
    ("session-key-1.pem", None),
    ("session-key-2.pem", None),
    ("oracle-docs-key.pem", None),
];

fn python_with_oci() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import oci"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !ok {
        let why = "python3 with the `oci` package is not available (pip install oci)";
        assert!(
            std::env::var_os("CI").is_none(),
            "interop test needs it in CI: {why}"
        );
        eprintln!("skipping the Python SDK interop test: {why}");
    }
    ok
}

struct Case {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    key_file: PathBuf,
    passphrase: Option<&'static str>,
    key_id: String,
    session: bool,
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A path or query piece: unreserved characters, sub-delimiters, and percent-encoded bytes
/// (upper-case hex, never of unreserved characters, which `requests` would decode).
fn piece(rng: &mut StdRng, query: bool) -> String {
    const PLAIN: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
    const SUB: &[&str] = &["!", "$", "(", ")", "*", ",", ";", "@", ":"];
    const ENCODED: &[&str] = &[
        "%20",
        "%2F",
        "%3A",
        "%28",
        "%C3%BC",
        "%E2%9C%93",
        "%25",
        "%3D",
        "%26",
    ];
    let len = rng.gen_range(1..12);
    let mut out = String::new();
    for _ in 0..len {
        match rng.gen_range(0..10) {
            0 => out.push_str(ENCODED.choose(rng).unwrap()),
            1 => out.push_str(SUB.choose(rng).unwrap()),
            2 if query => out.push('+'),
            _ => out.push(*PLAIN.choose(rng).unwrap() as char),
        }
    }
    out
}

fn random_case(rng: &mut StdRng) -> Case {
    let method = [
        Method::GET,
        Method::HEAD,
        Method::DELETE,
        Method::POST,
        Method::PUT,
        Method::PATCH,
    ]
    .choose(rng)
    .unwrap()
    .clone();

    let host = [
        "iaas.us-ashburn-1.oraclecloud.com",
        "localhost",
        "127.0.0.1",
        "auth.eu-zurich-1.oraclecloud.com",
    ]
    .choose(rng)
    .unwrap();
    let port = if rng.gen_bool(0.3) {
        format!(":{}", rng.gen_range(1024..65535))
    } else {
        String::new()
    };
    let segments: Vec<String> = (0..rng.gen_range(0..5))
        .map(|_| piece(rng, false))
        .collect();
    let mut url = format!("https://{host}{port}/{}", segments.join("/"));
    if rng.gen_bool(0.6) {
        let pairs: Vec<String> = (0..rng.gen_range(1..5))
            .map(|_| format!("{}={}", piece(rng, true), piece(rng, true)))
            .collect();
        url.push('?');
        url.push_str(&pairs.join("&"));
    }

    let mut headers = HeaderMap::new();
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(rng.gen_range(0..4_000_000_000));
    headers.insert(
        "date",
        HeaderValue::from_str(&httpdate::fmt_http_date(time)).unwrap(),
    );
    headers.insert(
        "opc-request-id",
        HeaderValue::from_str(&format!("{:032x}", rng.r#gen::<u128>())).unwrap(),
    );
    let body = has_signed_body(&method).then(|| {
        if let Some(content_type) = [
            "application/json",
            "application/json; charset=utf-8",
            "application/octet-stream",
        ]
        .choose(rng)
            && rng.gen_bool(0.8)
        {
            headers.insert("content-type", HeaderValue::from_static(content_type));
        }
        let chars: Vec<char> = "abc {}\":,ü✓日本 \n\t0123".chars().collect();
        let len = rng.gen_range(0..200);
        (0..len)
            .map(|_| *chars.choose(rng).unwrap())
            .collect::<String>()
            .into_bytes()
    });

    let (key, passphrase) = *KEYS.choose(rng).unwrap();
    let session = key.starts_with("session") && rng.gen_bool(0.8);
    let key_id = if session {
        let payload = STANDARD.encode(format!(
            "{{\"exp\":{},\"n\":{}}}",
            rng.gen_range(0..4_000_000_000u64),
            rng.r#gen::<u32>()
        ));
        format!(
            "ST$eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            payload.trim_end_matches('=')
        )
    } else {
        let fingerprint: Vec<String> = (0..16)
            .map(|_| format!("{:02x}", rng.r#gen::<u8>()))
            .collect();
        format!("{TENANCY}/{USER}/{}", fingerprint.join(":"))
    };

    Case {
        method,
        url: Url::parse(&url).unwrap(),
        headers,
        body,
        key_file: data(key),
        passphrase,
        key_id,
        session,
    }
}

#[test]
fn python_sdk_agrees_on_fresh_random_requests() {
    if !python_with_oci() {
        return;
    }
    let seed: u64 = rand::random();
    eprintln!("interop seed: {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let cases: Vec<Case> = (0..REQUESTS).map(|_| random_case(&mut rng)).collect();

    let batch: Vec<serde_json::Value> = cases
        .iter()
        .map(|case| {
            let headers: Vec<[&str; 2]> = case
                .headers
                .iter()
                .map(|(n, v)| [n.as_str(), v.to_str().unwrap()])
                .collect();
            serde_json::json!({
                "method": case.method.as_str(),
                "url": case.url.as_str(),
                "headers": headers,
                "body_b64": case.body.as_ref().map(|b| STANDARD.encode(b)),
                "key_file": case.key_file,
                "passphrase": case.passphrase,
                "key_id": case.key_id,
                "kind": if case.session { "session_token" } else { "api_key" },
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let batch_path = dir.path().join("batch.json");
    std::fs::write(&batch_path, serde_json::to_vec(&batch).unwrap()).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/python_sign.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(&batch_path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results.len(), cases.len());

    for (index, (case, python)) in cases.iter().zip(&results).enumerate() {
        let context = format!("seed {seed}, request {index}: {} {}", case.method, case.url);
        assert_eq!(
            python["url"].as_str().unwrap(),
            case.url.as_str(),
            "{context}: URL as sent"
        );

        let key = PrivateKey::from_pem_file(
            &case.key_file,
            case.passphrase.map(Passphrase::new).as_ref(),
        )
        .unwrap();
        let key_id = KeyId::from_raw(case.key_id.clone());
        let body = case.body.as_deref().unwrap_or_default();
        let request = SignableRequest::new(
            &case.method,
            &case.url,
            &case.headers,
            SignableBody::Bytes(body),
        );
        let ours = sign(
            &request,
            SigningParams::new(&key_id, &key, SystemTime::UNIX_EPOCH),
        )
        .unwrap();

        let their_string = STANDARD
            .decode(python["signing_string_b64"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            ours.signing_string().as_bytes(),
            their_string,
            "{context}: signing string"
        );

        let sent: Vec<(String, String)> = python["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap().to_owned(),
                    pair[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let sent_value = |name: &str| {
            sent.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let theirs: AuthorizationHeader = sent_value("authorization").unwrap().parse().unwrap();
        let our_auth: AuthorizationHeader = ours
            .authorization()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            our_auth, theirs,
            "{context}: authorization (signature included)"
        );

        let mut final_headers = case.headers.clone();
        ours.apply_to(&mut final_headers);
        for name in our_auth
            .headers()
            .iter()
            .filter(|h| *h != "(request-target)")
        {
            let value = final_headers
                .get(HeaderName::from_bytes(name.as_bytes()).unwrap())
                .unwrap();
            assert_eq!(
                Some(value.to_str().unwrap()),
                sent_value(name),
                "{context}: header {name}"
            );
        }
    }
}
