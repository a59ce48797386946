//! The call loop (signing, retries, 401 refresh, retry tokens, rate limits, errors,
//! observations) against a scripted in-memory transport.

// Test helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, StatusCode};
use oci_api::prelude::*;
use oci_api::{
    BoxError, CallRecord, Client, Clock, Endpoint, Error, HttpRequest, HttpResponse, Observer,
    Operation, RateLimit, RateLimits, RetryPolicy, RetryRecord, RetryToken, Transport,
};
use oci_auth::{CredentialProvider, Credentials, KeyId, PrivateKey, Region, StaticProvider};

const KEY_PEM: &str = include_str!("data/test-key.pem");

// === fakes ===

type Scripted = Result<HttpResponse, BoxError>;

/// Answers requests from a script and records them.
#[derive(Debug, Default)]
struct FakeTransport {
    script: Mutex<VecDeque<Scripted>>,
    seen: Mutex<Vec<HttpRequest>>,
}

impl FakeTransport {
    fn new(script: Vec<Scripted>) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.into()),
            seen: Mutex::default(),
        })
    }

    fn seen(&self) -> Vec<HttpRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl Transport for FakeTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, BoxError>> {
        self.seen.lock().unwrap().push(request);
        let next = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .expect("script ran out");
        Box::pin(async move { next })
    }
}

fn answer(status: u16, body: &str, headers: &[(&'static str, &str)]) -> Scripted {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    Ok(HttpResponse::new(
        StatusCode::from_u16(status).unwrap(),
        map,
        Bytes::from(body.to_owned()),
    ))
}

fn oci_error(status: u16, code: &str) -> Scripted {
    let body = format!(r#"{{"code": "{code}", "message": "scripted {code}"}}"#);
    answer(status, &body, &[("opc-request-id", "req-err")])
}

fn reset() -> Scripted {
    Err(Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "reset by peer",
    )))
}

/// A clock that moves one second forward on each reading.
#[derive(Debug)]
struct SteppingClock(Mutex<SystemTime>);

impl Clock for SteppingClock {
    fn now(&self) -> SystemTime {
        let mut now = self.0.lock().unwrap();
        *now += Duration::from_secs(1);
        *now
    }
}

/// A provider whose `refresh` switches to a new key id, like a renewed session token.
#[derive(Debug)]
struct RenewingProvider {
    key: Arc<PrivateKey>,
    generation: Mutex<u32>,
}

impl RenewingProvider {
    fn current(&self) -> Credentials {
        let generation = *self.generation.lock().unwrap();
        Credentials::new(
            KeyId::from_raw(format!("ST$token-{generation}")),
            self.key.clone(),
        )
    }
}

impl CredentialProvider for RenewingProvider {
    fn credentials(
        &self,
        _now: SystemTime,
    ) -> oci_auth::BoxFuture<'_, Result<Credentials, oci_auth::Error>> {
        Box::pin(std::future::ready(Ok(self.current())))
    }

    fn refresh(
        &self,
        _now: SystemTime,
    ) -> oci_auth::BoxFuture<'_, Result<Credentials, oci_auth::Error>> {
        *self.generation.lock().unwrap() += 1;
        Box::pin(std::future::ready(Ok(self.current())))
    }

    fn region(&self) -> Option<Region> {
        None
    }

    fn tenancy(&self) -> Option<oci_auth::Ocid> {
        None
    }
}

/// (operation, outcome, attempts, rate-limit wait, opc-request-id) of one call.
type Seen = (Operation, &'static str, u32, Duration, Option<String>);

/// Remembers every record.
#[derive(Debug, Default)]
struct Recorder {
    calls: Mutex<Vec<Seen>>,
    retries: Mutex<Vec<(u32, Option<u16>)>>,
}

impl Observer for Recorder {
    fn call_finished(&self, call: &CallRecord<'_>) {
        self.calls.lock().unwrap().push((
            call.operation,
            call.outcome(),
            call.attempts,
            call.rate_limit_wait,
            call.request_id.map(str::to_owned),
        ));
    }

    fn retrying(&self, retry: &RetryRecord<'_>) {
        self.retries
            .lock()
            .unwrap()
            .push((retry.attempt, retry.status));
    }
}

fn key() -> Arc<PrivateKey> {
    Arc::new(PrivateKey::from_pem(KEY_PEM, None).unwrap())
}

fn static_provider() -> Arc<dyn CredentialProvider> {
    let key_id = KeyId::from_raw("ocid1.tenancy.oc1..t/ocid1.user.oc1..u/00:11");
    Arc::new(StaticProvider::new(Credentials::new(key_id, key())))
}

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(
        attempts,
        Duration::from_millis(1),
        Duration::from_millis(4),
        Duration::from_secs(5),
    )
}

fn client(transport: Arc<FakeTransport>, observer: Arc<Recorder>) -> Client {
    Client::builder()
        .endpoint(Endpoint::parse("http://127.0.0.1:9").unwrap())
        .credentials(static_provider())
        .transport(transport)
        .observer(observer)
        .clock(Arc::new(SteppingClock(Mutex::new(SystemTime::UNIX_EPOCH))))
        .retry_policy(fast_retries(4))
        .rate_limits(RateLimits::unlimited())
        .build()
        .unwrap()
}

fn vnic_id() -> VnicId {
    "ocid1.vnic.oc1.phx.v1".parse().unwrap()
}

const PRIVATE_IP: &str = r#"{"id": "ocid1.privateip.oc1.phx.p1", "ipAddress": "10.0.0.5",
    "vnicId": "ocid1.vnic.oc1.phx.v1", "isPrimary": false}"#;

fn header<'a>(request: &'a HttpRequest, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

// === tests ===

#[tokio::test]
async fn a_signed_get_decodes_and_is_observed() {
    let transport = FakeTransport::new(vec![answer(
        200,
        PRIVATE_IP,
        &[("opc-request-id", "req-1"), ("etag", "e1")],
    )]);
    let observer = Arc::new(Recorder::default());
    let client = client(transport.clone(), observer.clone());
    let id: PrivateIpId = "ocid1.privateip.oc1.phx.p1".parse().unwrap();

    let ip = client.get_private_ip(&id).await.unwrap();

    assert_eq!(ip.ip_address.to_string(), "10.0.0.5");
    let seen = transport.seen();
    assert_eq!(
        seen[0].url.as_str(),
        "http://127.0.0.1:9/20160918/privateIps/ocid1.privateip.oc1.phx.p1"
    );
    assert!(header(&seen[0], "authorization").starts_with("Signature version=\"1\""));
    assert!(header(&seen[0], "authorization").contains("headers=\"date (request-target) host\""));
    let calls = observer.calls.lock().unwrap();
    assert_eq!(calls[0].0, Operation::GetPrivateIp);
    assert_eq!(calls[0].1, "ok");
    assert_eq!(calls[0].2, 1);
    assert_eq!(calls[0].4.as_deref(), Some("req-1"));
}

#[tokio::test]
async fn retryable_faults_are_retried_with_a_fresh_signature_and_one_retry_token() {
    let transport = FakeTransport::new(vec![
        oci_error(429, "TooManyRequests"),
        oci_error(503, "ServiceUnavailable"),
        reset(),
        answer(200, PRIVATE_IP, &[("opc-request-id", "req-ok")]),
    ]);
    let observer = Arc::new(Recorder::default());
    let client = client(transport.clone(), observer.clone());
    let token = RetryToken::random();

    let ip = client
        .create_private_ip(&CreatePrivateIpDetails::on_vnic(vnic_id()), &token)
        .await
        .unwrap();

    assert_eq!(ip.id.as_str(), "ocid1.privateip.oc1.phx.p1");
    let seen = transport.seen();
    assert_eq!(seen.len(), 4);
    for request in &seen {
        assert_eq!(header(request, "opc-retry-token"), token.as_str());
        assert_eq!(header(request, "content-type"), "application/json");
        assert!(header(request, "authorization").contains("x-content-sha256"));
    }
    let dates: Vec<&str> = seen.iter().map(|r| header(r, "date")).collect();
    let signatures: Vec<&str> = seen.iter().map(|r| header(r, "authorization")).collect();
    assert!(dates.windows(2).all(|w| w[0] != w[1]), "{dates:?}");
    assert!(signatures.windows(2).all(|w| w[0] != w[1]));
    assert_eq!(header(&seen[0], "opc-client-retries"), "");
    assert_eq!(header(&seen[1], "opc-client-retries"), "true");
    assert_eq!(
        *observer.retries.lock().unwrap(),
        vec![(1, Some(429)), (2, Some(503)), (3, None)]
    );
    assert_eq!(observer.calls.lock().unwrap()[0].2, 4);
}

#[tokio::test]
async fn only_the_sdk_retryable_statuses_are_retried() {
    let cases = [
        (409, "IncorrectState", true),
        (409, "LockConflict", true),
        (500, "InternalServerError", true),
        (502, "BadGateway", true),
        (504, "GatewayTimeout", true),
        (409, "Conflict", false),
        (501, "MethodNotImplemented", false),
        (400, "InvalidParameter", false),
        (404, "NotAuthorizedOrNotFound", false),
        (412, "NoEtagMatch", false),
    ];

    for (status, code, retried) in cases {
        let transport =
            FakeTransport::new(vec![oci_error(status, code), answer(200, PRIVATE_IP, &[])]);
        let client = client(transport.clone(), Arc::default());
        let id: PrivateIpId = "ocid1.privateip.oc1.phx.p1".parse().unwrap();

        let result = client.get_private_ip(&id).await;

        assert_eq!(result.is_ok(), retried, "{status} {code}");
        assert_eq!(
            transport.seen().len(),
            if retried { 2 } else { 1 },
            "{status} {code}"
        );
    }
}

#[tokio::test]
async fn errors_carry_status_code_message_request_id_and_operation() {
    let transport = FakeTransport::new(vec![oci_error(404, "NotAuthorizedOrNotFound")]);
    let observer = Arc::new(Recorder::default());
    let client = client(transport, observer.clone());

    let err = client.get_vnic(&vnic_id()).await.unwrap_err();

    assert_eq!(err.status(), Some(404));
    assert_eq!(err.code(), Some("NotAuthorizedOrNotFound"));
    assert_eq!(err.request_id(), Some("req-err"));
    assert_eq!(err.operation(), Some(Operation::GetVnic));
    assert!(err.is_not_found());
    let text = err.to_string();
    assert!(
        text.contains("GetVnic") && text.contains("404") && text.contains("req-err"),
        "{text}"
    );
    assert!(text.contains("scripted NotAuthorizedOrNotFound"), "{text}");
    assert_eq!(observer.calls.lock().unwrap()[0].1, "not_found");
}

#[tokio::test]
async fn a_non_json_error_body_still_gives_a_useful_error() {
    let transport = FakeTransport::new(vec![answer(502, "<html>bad gateway</html>", &[])]);
    let client = Client::builder()
        .endpoint(Endpoint::parse("http://127.0.0.1:9").unwrap())
        .credentials(static_provider())
        .transport(transport)
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();

    let err = client.get_vnic(&vnic_id()).await.unwrap_err();

    assert_eq!(err.code(), Some("BadGateway"));
    assert!(
        err.to_string().contains("<html>bad gateway</html>"),
        "{err}"
    );
}

#[tokio::test]
async fn attempts_are_bounded_and_transport_errors_name_the_endpoint() {
    let transport = FakeTransport::new(vec![reset(), reset(), reset(), reset()]);
    let client = client(transport.clone(), Arc::default());

    let err = client.get_vnic(&vnic_id()).await.unwrap_err();

    assert!(
        matches!(err, Error::Transport { attempts: 4, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("http://127.0.0.1:9"), "{err}");
    assert_eq!(transport.seen().len(), 4);
}

#[tokio::test]
async fn total_retry_time_is_bounded() {
    let transport = FakeTransport::new(
        (0..3)
            .map(|_| oci_error(503, "ServiceUnavailable"))
            .collect(),
    );
    let policy = RetryPolicy::new(
        10,
        Duration::from_secs(60),
        Duration::from_secs(60),
        Duration::from_secs(1),
    );
    let client = Client::builder()
        .endpoint(Endpoint::parse("http://127.0.0.1:9").unwrap())
        .credentials(static_provider())
        .transport(transport.clone())
        .retry_policy(policy)
        .build()
        .unwrap();

    let err = client.get_vnic(&vnic_id()).await.unwrap_err();

    assert!(
        matches!(err, Error::RetryBudgetExhausted { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(503));
    assert_eq!(transport.seen().len(), 1);
}

#[tokio::test]
async fn a_401_with_renewable_credentials_refreshes_once_and_retries_once() {
    let transport = FakeTransport::new(vec![
        oci_error(401, "NotAuthenticated"),
        answer(200, PRIVATE_IP, &[]),
    ]);
    let provider = Arc::new(RenewingProvider {
        key: key(),
        generation: Mutex::new(0),
    });
    let client = Client::builder()
        .endpoint(Endpoint::parse("http://127.0.0.1:9").unwrap())
        .credentials(provider.clone())
        .transport(transport.clone())
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let id: PrivateIpId = "ocid1.privateip.oc1.phx.p1".parse().unwrap();

    client.get_private_ip(&id).await.unwrap();

    let seen = transport.seen();
    assert!(header(&seen[0], "authorization").contains("keyId=\"ST$token-0\""));
    assert!(header(&seen[1], "authorization").contains("keyId=\"ST$token-1\""));
    assert_eq!(*provider.generation.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_second_401_is_final_and_static_keys_are_not_retried() {
    let renewing = FakeTransport::new(vec![
        oci_error(401, "NotAuthenticated"),
        oci_error(401, "NotAuthenticated"),
    ]);
    let provider = Arc::new(RenewingProvider {
        key: key(),
        generation: Mutex::new(0),
    });
    let client = Client::builder()
        .endpoint(Endpoint::parse("http://127.0.0.1:9").unwrap())
        .credentials(provider)
        .transport(renewing.clone())
        .retry_policy(fast_retries(5))
        .build()
        .unwrap();

    let err = client.get_vnic(&vnic_id()).await.unwrap_err();

    assert_eq!(err.status(), Some(401));
    assert_eq!(renewing.seen().len(), 2);

    let fixed = FakeTransport::new(vec![oci_error(401, "NotAuthenticated")]);
    let client = client_with(fixed.clone());

    assert_eq!(
        client.get_vnic(&vnic_id()).await.unwrap_err().status(),
        Some(401)
    );
    assert_eq!(fixed.seen().len(), 1);
}

fn client_with(transport: Arc<FakeTransport>) -> Client {
    client(transport, Arc::default())
}

#[tokio::test]
async fn list_streams_follow_opc_next_page_and_send_limit() {
    let transport = FakeTransport::new(vec![
        answer(
            200,
            &format!("[{PRIVATE_IP}, {PRIVATE_IP}]"),
            &[("opc-next-page", "page 2")],
        ),
        answer(200, &format!("[{PRIVATE_IP}]"), &[]),
    ]);
    let client = client_with(transport.clone());
    let request = ListPrivateIpsRequest::on_vnic(vnic_id()).with_limit(2);

    let ips: Vec<PrivateIp> = client
        .list_private_ips(&request)
        .try_collect()
        .await
        .unwrap();

    assert_eq!(ips.len(), 3);
    let seen = transport.seen();
    assert_eq!(
        seen[0].url.query(),
        Some("vnicId=ocid1.vnic.oc1.phx.v1&limit=2")
    );
    assert_eq!(
        seen[1].url.query(),
        Some("vnicId=ocid1.vnic.oc1.phx.v1&limit=2&page=page+2")
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limits_delay_calls_per_class_and_report_the_wait() {
    let transport = FakeTransport::new((0..4).map(|_| answer(200, PRIVATE_IP, &[])).collect());
    let observer = Arc::new(Recorder::default());
    let limits = RateLimits::unlimited().with_private_ip_write(Some(RateLimit::new(2.0, 1)));
    let client = Client::builder()
        .endpoint(Endpoint::parse("http://127.0.0.1:9").unwrap())
        .credentials(static_provider())
        .transport(transport)
        .observer(observer.clone())
        .rate_limits(limits)
        .build()
        .unwrap();
    let details = CreatePrivateIpDetails::on_vnic(vnic_id());
    let id: PrivateIpId = "ocid1.privateip.oc1.phx.p1".parse().unwrap();
    let started = tokio::time::Instant::now();

    for _ in 0..3 {
        client
            .create_private_ip(&details, &RetryToken::random())
            .await
            .unwrap();
    }
    client.get_private_ip(&id).await.unwrap();

    assert_eq!(started.elapsed(), Duration::from_secs(1));
    let calls = observer.calls.lock().unwrap();
    let waits: Vec<Duration> = calls.iter().map(|c| c.3).collect();
    assert_eq!(
        waits,
        vec![
            Duration::ZERO,
            Duration::from_millis(500),
            Duration::from_millis(500),
            Duration::ZERO
        ]
    );
}

#[tokio::test]
async fn building_without_endpoint_or_credentials_says_what_is_missing() {
    let no_endpoint = Client::builder()
        .credentials(static_provider())
        .build()
        .unwrap_err();
    let no_credentials = Client::builder()
        .endpoint(Endpoint::parse("http://127.0.0.1:9").unwrap())
        .build()
        .unwrap_err();

    assert!(
        no_endpoint.to_string().contains("ClientBuilder::endpoint"),
        "{no_endpoint}"
    );
    assert!(
        no_credentials
            .to_string()
            .contains("ClientBuilder::credentials"),
        "{no_credentials}"
    );
}

#[tokio::test]
async fn ipv6_calls_use_the_ipv6_paths() {
    let ipv6 = r#"{"id": "ocid1.ipv6.oc1.phx.a", "ipAddress": "2001:db8::5",
        "vnicId": "ocid1.vnic.oc1.phx.v1", "lifecycleState": "AVAILABLE"}"#;
    let transport = FakeTransport::new(vec![
        answer(200, ipv6, &[]),
        answer(200, &format!("[{ipv6}]"), &[]),
        answer(204, "", &[]),
    ]);
    let client = client_with(transport.clone());
    let token = RetryToken::random();

    let created = client
        .create_ipv6(&CreateIpv6Details::on_vnic(vnic_id()), &token)
        .await
        .unwrap();
    let listed: Vec<Ipv6> = client
        .list_ipv6s(&ListIpv6sRequest::on_vnic(vnic_id()))
        .try_collect()
        .await
        .unwrap();
    client.delete_ipv6(&created.id).await.unwrap();

    assert_eq!(created.ip_address.to_string(), "2001:db8::5");
    assert_eq!(listed, vec![created]);
    let seen = transport.seen();
    assert_eq!(seen[0].url.path(), "/20160918/ipv6");
    assert_eq!(header(&seen[0], "opc-retry-token"), token.as_str());
    assert_eq!(
        seen[1].url.query(),
        Some("vnicId=ocid1.vnic.oc1.phx.v1&limit=100")
    );
    assert_eq!(seen[2].method, http::Method::DELETE);
    assert_eq!(seen[2].url.path(), "/20160918/ipv6/ocid1.ipv6.oc1.phx.a");
}

#[tokio::test]
async fn a_404_on_a_retried_delete_means_done_but_not_on_the_first_attempt() {
    let retried = FakeTransport::new(vec![reset(), oci_error(404, "NotAuthorizedOrNotFound")]);
    let first = FakeTransport::new(vec![oci_error(404, "NotAuthorizedOrNotFound")]);
    let id: PrivateIpId = "ocid1.privateip.oc1.phx.p1".parse().unwrap();

    let after_retry = client_with(retried.clone()).delete_private_ip(&id).await;
    let at_once = client_with(first).delete_private_ip(&id).await;

    assert!(after_retry.is_ok(), "{after_retry:?}");
    assert_eq!(retried.seen().len(), 2);
    assert!(at_once.unwrap_err().is_not_found());
}

#[tokio::test]
async fn metadata_calls_carry_the_bearer_header_and_retry_404() {
    let transport = FakeTransport::new(vec![
        oci_error(404, "NotFound"),
        answer(
            200,
            r#"{"ocpus": 4.0, "memoryInGBs": 64.0, "maxVnicAttachments": 4}"#,
            &[],
        ),
    ]);
    let imds = oci_api::MetadataClient::builder()
        .endpoint(oci_api::MetadataEndpoint::parse("http://127.0.0.1:9/opc/v2/").unwrap())
        .transport(transport.clone())
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();

    let shape = imds.shape_config().await.unwrap();

    assert_eq!(shape.max_vnic_attachments, Some(4));
    let seen = transport.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].url.as_str(),
        "http://127.0.0.1:9/opc/v2/instance/shapeConfig"
    );
    assert_eq!(header(&seen[1], "authorization"), "Bearer Oracle");
}
