//! The signing vector suite: every directory under `tests/vectors/` is one request signed by
//! Oracle's Python SDK (see `scripts/gen_vectors.py`). For each, the Rust signer must produce
//! the same signing string (checked first) and the same signature, byte for byte, and the
//! signed headers must carry the same values the SDK sent.

// Helpers outside #[test] functions unwrap too: any failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use oci_auth::{
    AuthorizationHeader, KeyId, Passphrase, PrivateKey, SignableBody, SignableRequest,
    SigningParams, sign,
};
use url::Url;

/// Every case directory; a test below checks this list matches the directories on disk.
const CASES: &[&str] = &[
    "delete",
    "empty_path",
    "get_query_spaces_and_parens",
    "get_with_query",
    "head",
    "host_with_port",
    "key_legacy_encrypted",
    "key_pkcs1",
    "key_pkcs8",
    "key_pkcs8_encrypted",
    "oracle_docs_get",
    "oracle_docs_post",
    "patch_json",
    "post_caller_hash",
    "post_empty_body",
    "post_json",
    "post_utf8_bytes_body",
    "put_charset_content_type",
    "put_json",
    "session_token_get",
    "session_token_post",
];

macro_rules! vector_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                run_case(stringify!($case));
            }
        )*
    };
}

vector_tests!(
    delete,
    empty_path,
    get_query_spaces_and_parens,
    get_with_query,
    head,
    host_with_port,
    key_legacy_encrypted,
    key_pkcs1,
    key_pkcs8,
    key_pkcs8_encrypted,
    oracle_docs_get,
    oracle_docs_post,
    patch_json,
    post_caller_hash,
    post_empty_body,
    post_json,
    post_utf8_bytes_body,
    put_charset_content_type,
    put_json,
    session_token_get,
    session_token_post,
);

#[test]
fn every_case_directory_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, CASES);
    assert!(CASES.len() >= 15);
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// `request.txt`: `METHOD URL`, header lines, a blank line, then the raw body.
struct VectorRequest {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn parse_request(bytes: &[u8]) -> VectorRequest {
    let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
    let head = std::str::from_utf8(&bytes[..split]).unwrap();
    let body = bytes[split + 2..].to_vec();
    let mut lines = head.lines();
    let (method, url) = lines.next().unwrap().split_once(' ').unwrap();
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(": ").unwrap();
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    VectorRequest {
        method: method.parse().unwrap(),
        url: Url::parse(url).unwrap(),
        headers,
        body,
    }
}

/// `signed-request.txt`: `METHOD URL`, then every header the SDK sent, `name: value`.
fn parse_signed(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip(1)
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn run_case(name: &str) {
    let dir = vectors_dir().join(name);
    let read = |file: &str| std::fs::read(dir.join(file)).unwrap();
    let context: serde_json::Value = serde_json::from_slice(&read("context.json")).unwrap();
    let request = parse_request(&read("request.txt"));

    let key_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(context["key_file"].as_str().unwrap());
    let passphrase = context["passphrase"].as_str().map(Passphrase::new);
    let key = PrivateKey::from_pem_file(&key_path, passphrase.as_ref()).unwrap();
    let key_id = KeyId::from_raw(context["key_id"].as_str().unwrap());

    let signable = SignableRequest::new(
        &request.method,
        &request.url,
        &request.headers,
        SignableBody::Bytes(&request.body),
    );
    // Every vector carries its own `date`, so the time parameter is never used.
    let output = sign(
        &signable,
        SigningParams::new(&key_id, &key, SystemTime::UNIX_EPOCH),
    )
    .unwrap();

    let expected_string = String::from_utf8(read("signing-string.txt")).unwrap();
    assert_eq!(
        output.signing_string(),
        expected_string,
        "{name}: signing string"
    );
    let expected_signature = String::from_utf8(read("signature.txt")).unwrap();
    assert_eq!(output.signature(), expected_signature, "{name}: signature");

    // Same Authorization parameters as the SDK's header (whose parameter order differs).
    let sent = parse_signed(&String::from_utf8(read("signed-request.txt")).unwrap());
    let sent_value = |header: &str| {
        sent.iter()
            .find(|(n, _)| n == header)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let ours: AuthorizationHeader = output
        .authorization()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let theirs: AuthorizationHeader = sent_value("authorization").parse().unwrap();
    assert_eq!(ours, theirs, "{name}: authorization parameters");

    // Every signed header is sent with the value the SDK sent.
    let mut final_headers = request.headers.clone();
    output.apply_to(&mut final_headers);
    for header in ours.headers().iter().filter(|h| *h != "(request-target)") {
        let value = final_headers
            .get(header.as_str())
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(value, sent_value(header), "{name}: header {header}");
    }
}
