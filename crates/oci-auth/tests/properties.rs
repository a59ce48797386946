//! Property tests: signing arbitrary header values, bodies, paths and methods never panics,
//! and whatever is signed verifies; the parsers never panic on arbitrary input.

// Helpers outside #[test] functions unwrap too: any failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use oci_auth::{
    AuthorizationHeader, ConfigFile, HeaderSet, KeyId, PrivateKey, ReceivedRequest, SessionToken,
    SignableBody, SignableRequest, SigningParams, sign,
};
use proptest::prelude::*;
use url::Url;

/// One key for the whole test binary (loading is cheap; generating would not be).
static KEY: LazyLock<PrivateKey> =
    LazyLock::new(|| PrivateKey::from_pem(include_str!("data/session-key-1.pem"), None).unwrap());

fn header_value() -> impl Strategy<Value = HeaderValue> {
    // Any bytes HTTP allows in a value: visible ASCII, obs-text, space and tab inside.
    proptest::collection::vec(
        prop_oneof![0x20u8..=0x7e, 0x80u8..=0xff, Just(b'\t')],
        0..64,
    )
    .prop_filter_map("valid header value", |bytes| {
        HeaderValue::from_bytes(&bytes).ok()
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::HEAD),
        Just(Method::DELETE),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::PATCH),
        "[A-Z]{1,10}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn signing_arbitrary_requests_never_panics_and_verifies(
        method in method(),
        path in "[a-zA-Z0-9/%._~()+-]{0,40}",
        query in proptest::option::of("[a-zA-Z0-9=&%+._~-]{0,40}"),
        port in proptest::option::of(1u16..),
        date in proptest::option::of(header_value()),
        content_type in proptest::option::of(header_value()),
        extra in header_value(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
        seconds in 0u64..8_000_000_000,
        header_set in prop_oneof![
            Just(HeaderSet::Standard), Just(HeaderSet::UnsignedBody), Just(HeaderSet::Federation)
        ],
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        let Ok(url) = Url::parse(&format!("https://h.example{port}/{path}{query}")) else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        if let Some(date) = date {
            headers.insert("date", date);
        }
        if let Some(content_type) = content_type {
            headers.insert("content-type", content_type);
        }
        headers.insert(HeaderName::from_static("x-extra"), extra);
        let key_id = KeyId::from_raw("ST$token");
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);

        let request = SignableRequest::new(&method, &url, &headers, SignableBody::Bytes(&body));
        let params = SigningParams::new(&key_id, &KEY, time).with_header_set(header_set);
        let Ok(output) = sign(&request, params) else {
            // Only methods OCI does not sign are refused.
            prop_assert!(!["GET", "HEAD", "DELETE", "POST", "PUT", "PATCH"].contains(&method.as_str()));
            return Ok(());
        };

        let mut sent = headers.clone();
        output.apply_to(&mut sent);
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let received = ReceivedRequest::new(&method, &target, &sent);
        let authorization = received.authorization().unwrap();
        received.verify(&authorization, KEY.public_key()).unwrap();
        if header_set != HeaderSet::UnsignedBody && oci_auth::has_signed_body(&method) {
            if !headers.contains_key("content-type") {
                prop_assert_eq!(sent.get("content-type").unwrap(), "application/json");
            }
            received.check_body(&body).unwrap();
        }
    }

    #[test]
    fn parsers_never_panic(text in "\\PC{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = text.parse::<AuthorizationHeader>();
        let _ = format!("Signature {text}").parse::<AuthorizationHeader>();
        let _ = PrivateKey::from_pem(&text, None);
        let _ = PrivateKey::from_pem(&format!("-----BEGIN RSA PRIVATE KEY-----\n{text}\n-----END RSA PRIVATE KEY-----"), None);
        let _ = ConfigFile::parse(&text, std::path::Path::new("prop"));
        let _ = SessionToken::parse(&text, "prop");
        let _ = oci_auth::LeafCertificate::from_der(&bytes, "prop");
        let _ = oci_auth::PublicKey::from_spki_der(&bytes);
    }
}
