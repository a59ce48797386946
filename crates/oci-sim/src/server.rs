//! The HTTP side: routing, the per-request pipeline and the connection loop.
//!
//! Pipeline of an API request: read the body, match the route to an [`Operation`],
//! authenticate the signature, draw latency and fault, run the operation under the state
//! lock, count the outcome, answer with OCI's headers (`opc-request-id`, `etag`,
//! `opc-next-page`). Connection resets and hangs need to drop a connection without an
//! answer, which `axum::serve` cannot do, so the simulator runs its own accept loop over
//! hyper and lets a handler ask for its connection to be closed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::extract::State as AxumState;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::any;
use http::HeaderMap;
use http::HeaderValue;
use http::Method;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::auth::Incoming;
use crate::clock::SimClock;
use crate::error::WireError;
use crate::faults::Counters;
use crate::faults::FaultInjector;
use crate::faults::Injected;
use crate::faults::Operation;
use crate::faults::Outcome;
use crate::identity::Identity;
use crate::state::ApiRequest;
use crate::state::Reply;
use crate::state::State;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) faults: Mutex<FaultInjector>,
    pub(crate) counters: Mutex<Counters>,
    pub(crate) clock: SimClock,
    pub(crate) identity: Identity,
}

impl Shared {
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(crate) fn count(&self, operation: Operation, outcome: Outcome) {
        self.counters
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .record(operation, outcome);
    }

    fn decide(&self, operation: Operation) -> (Duration, Injected) {
        self.faults
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .decide(operation)
    }
}

/// Lets a handler close the connection its request arrived on.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionKill(Arc<Notify>);

/// The router over all three services: core API, metadata, federation.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/20160918/{*rest}", any(api))
        .route(
            "/imds/{instance}/opc/v2/{*rest}",
            any(crate::imds::metadata),
        )
        .route("/imds/{instance}/opc/v2/", any(crate::imds::metadata_root))
        .route("/v1/x509", any(federation))
        .fallback(not_found)
        .with_state(shared)
}

/// Accepts connections until `shutdown` fires.
pub(crate) async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    loop {
        let (stream, _peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "accept failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let kill_for_requests = kill.clone();
            let service =
                hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectionKill(kill_for_requests.clone()));
                    let router = router.clone();
                    async move {
                        use tower::ServiceExt as _;
                        router.oneshot(request.map(Body::new)).await
                    }
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::trace!(%error, "connection ended with an error");
                    }
                }
                () = kill.notified() => tracing::trace!("connection closed by fault injection"),
                () = shutdown.cancelled() => {}
            }
        });
    }
}

/// Binds `addr`.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, std::io::Error> {
    TcpListener::bind(addr).await
}

async fn not_found(request: Request) -> Response {
    let error = WireError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "No operation at {} {}",
            request.method(),
            request.uri().path()
        ),
    );
    error_response(&error, request.headers())
}

/// Matches a core API path (after `/20160918`) to its operation and path OCID.
pub(crate) fn route(method: &Method, rest: &str) -> Option<(Operation, Option<String>)> {
    let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let id = segments.get(1).map(|s| (*s).to_owned());
    let op = match (method.as_str(), segments.as_slice()) {
        ("GET", ["vnics", _]) => Operation::GetVnic,
        ("GET", ["vnicAttachments"]) => Operation::ListVnicAttachments,
        ("GET", ["vnicAttachments", _]) => Operation::GetVnicAttachment,
        ("POST", ["vnicAttachments"]) => Operation::AttachVnic,
        ("DELETE", ["vnicAttachments", _]) => Operation::DetachVnic,
        ("POST", ["privateIps"]) => Operation::CreatePrivateIp,
        ("GET", ["privateIps"]) => Operation::ListPrivateIps,
        ("GET", ["privateIps", _]) => Operation::GetPrivateIp,
        ("PUT", ["privateIps", _]) => Operation::UpdatePrivateIp,
        ("DELETE", ["privateIps", _]) => Operation::DeletePrivateIp,
        ("GET", ["subnets"]) => Operation::ListSubnets,
        ("GET", ["subnets", _]) => Operation::GetSubnet,
        ("GET", ["vcns", _]) => Operation::GetVcn,
        ("GET", ["instances", _]) => Operation::GetInstance,
        ("GET", ["shapes"]) => Operation::ListShapes,
        ("POST", ["ipv6"]) => Operation::CreateIpv6,
        ("GET", ["ipv6"]) => Operation::ListIpv6s,
        ("GET", ["ipv6", _]) => Operation::GetIpv6,
        ("DELETE", ["ipv6", _]) => Operation::DeleteIpv6,
        _ => return None,
    };
    Some((op, id))
}

async fn api(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let kill = parts.extensions.get::<ConnectionKill>().cloned();
    let rest = parts
        .uri
        .path()
        .strip_prefix("/20160918")
        .unwrap_or_default()
        .to_owned();
    let Some((operation, id)) = route(&parts.method, &rest) else {
        shared.count(Operation::Unknown, Outcome::Error(404, "NotFound".into()));
        let error = WireError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("No operation at {} {}", parts.method, parts.uri.path()),
        );
        return error_response(&error, &parts.headers);
    };

    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            let error = WireError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "Body over 1 MiB",
            );
            shared.count(operation, Outcome::Error(413, error.code.into()));
            return error_response(&error, &parts.headers);
        }
    };

    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let incoming = Incoming {
        method: &parts.method,
        path_and_query,
        headers: &parts.headers,
        body: &body,
    };
    let now = shared.clock.now();
    let principal = {
        let state = shared.state();
        crate::auth::authenticate(
            &incoming,
            &state,
            &shared.identity,
            now,
            shared.clock.wall_now(),
        )
    };
    let principal = match principal {
        Ok(principal) => principal,
        Err(error) => {
            shared.count(
                operation,
                Outcome::Error(error.status.as_u16(), error.code.into()),
            );
            return error_response(&error, &parts.headers);
        }
    };

    let lose_response = match inject(
        &shared,
        operation,
        kill.clone(),
        &parts.headers,
        ErrorFormat::Json,
    )
    .await
    {
        Ok(lose) => lose,
        Err(response) => return response,
    };

    let api_request = ApiRequest {
        id,
        query: parse_query(parts.uri.query()),
        if_match: header_text(&parts.headers, "if-match"),
        retry_token: header_text(&parts.headers, "opc-retry-token"),
        body: body.to_vec(),
    };
    let result = shared
        .state()
        .execute(operation, &principal, &api_request, shared.clock.now());

    match result {
        Ok(reply) => {
            if lose_response {
                shared.count(operation, Outcome::InjectedLostResponse);
                return drop_connection(kill).await;
            }
            shared.count(operation, Outcome::Success(reply.status.as_u16()));
            reply_response(&reply, &parts.headers)
        }
        Err(error) => {
            shared.count(
                operation,
                Outcome::Error(error.status.as_u16(), error.code.into()),
            );
            error_response(&error, &parts.headers)
        }
    }
}

async fn federation(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        let error = WireError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "NotFound",
            "Use POST /v1/x509",
        );
        return error_response(&error, &parts.headers);
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        let error = WireError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "Body over 1 MiB",
        );
        return error_response(&error, &parts.headers);
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let incoming = Incoming {
        method: &parts.method,
        path_and_query,
        headers: &parts.headers,
        body: &body,
    };
    let kill = connection_kill(&parts.extensions);
    let lose_response = match inject(
        &shared,
        Operation::Federate,
        kill.clone(),
        &parts.headers,
        ErrorFormat::Json,
    )
    .await
    {
        Ok(lose) => lose,
        Err(response) => return response,
    };
    let lifetime = Duration::from_secs(shared.state().identity.session_token_lifetime_secs);
    let running = |id: &str| {
        shared
            .state()
            .instances
            .get(id)
            .is_some_and(|i| i.state == crate::model::InstanceState::Running)
    };
    let result = shared.identity.federate(
        &incoming,
        shared.clock.now(),
        shared.clock.wall_now(),
        lifetime,
        running,
    );
    match result {
        Ok(_) if lose_response => {
            shared.count(Operation::Federate, Outcome::InjectedLostResponse);
            drop_connection(kill).await
        }
        Ok(token) => {
            shared.count(Operation::Federate, Outcome::Success(200));
            let reply = Reply {
                status: StatusCode::OK,
                body: Some(serde_json::json!({ "token": token })),
                etag: None,
                next_page: None,
            };
            reply_response(&reply, &parts.headers)
        }
        Err(error) => {
            shared.count(
                Operation::Federate,
                Outcome::Error(error.status.as_u16(), error.code.into()),
            );
            error_response(&error, &parts.headers)
        }
    }
}

/// How injected error answers are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorFormat {
    /// OCI's `{code, message}` JSON.
    Json,
    /// Plain text, as the metadata service answers.
    Text,
}

/// Applies the latency and fault drawn for one request of `operation`. `Err` carries the
/// answer that replaces the request's (an error status, or a connection closed without an
/// answer); `Ok(true)` means serve, then drop the answer (a lost response).
pub(crate) async fn inject(
    shared: &Shared,
    operation: Operation,
    kill: Option<ConnectionKill>,
    headers: &HeaderMap,
    format: ErrorFormat,
) -> Result<bool, Response> {
    let (latency, injected) = shared.decide(operation);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match injected {
        Injected::Serve => Ok(false),
        Injected::LostResponse => Ok(true),
        Injected::Status(status, code) => {
            shared.count(operation, Outcome::InjectedError(status));
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let error = WireError::new(status, code, "Injected by oci-sim fault settings");
            Err(match format {
                ErrorFormat::Json => error_response(&error, headers),
                ErrorFormat::Text => (status, code).into_response(),
            })
        }
        Injected::Reset => {
            shared.count(operation, Outcome::InjectedReset);
            Err(drop_connection(kill).await)
        }
        Injected::Hang(duration) => {
            shared.count(operation, Outcome::InjectedHang);
            tokio::time::sleep(duration).await;
            Err(drop_connection(kill).await)
        }
    }
}

/// The handle to close the connection a request arrived on, if it came through [`serve`].
pub(crate) fn connection_kill(extensions: &http::Extensions) -> Option<ConnectionKill> {
    extensions.get::<ConnectionKill>().cloned()
}

/// Closes the request's connection without an answer.
///
/// Shortcoming: the socket is closed normally (FIN), not reset (RST); clients see a connection
/// closed before the response, which is how they classify resets anyway.
pub(crate) async fn drop_connection(kill: Option<ConnectionKill>) -> Response {
    match kill {
        Some(ConnectionKill(kill)) => {
            kill.notify_one();
            std::future::pending::<()>().await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The `opc-request-id` to answer with: the client's, or a fresh one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers.get("opc-request-id").cloned().unwrap_or_else(|| {
        let id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("oci-sim"))
    })
}

pub(crate) fn reply_response(reply: &Reply, request_headers: &HeaderMap) -> Response {
    let mut response = match &reply.body {
        Some(body) => (reply.status, body.to_string()).into_response(),
        None => reply.status.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert("opc-request-id", request_id(request_headers));
    if reply.body.is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if let Some(etag) = reply
        .etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert("etag", etag);
    }
    if let Some(page) = reply
        .next_page
        .as_deref()
        .and_then(|p| HeaderValue::from_str(p).ok())
    {
        headers.insert("opc-next-page", page);
    }
    response
}

pub(crate) fn error_response(error: &WireError, request_headers: &HeaderMap) -> Response {
    let mut response = (error.status, error.body().to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("opc-request-id", request_id(request_headers));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_every_operation() {
        let cases = [
            (Method::GET, "/vnics/ocid1.vnic.x", Operation::GetVnic),
            (
                Method::GET,
                "/vnicAttachments",
                Operation::ListVnicAttachments,
            ),
            (
                Method::GET,
                "/vnicAttachments/a",
                Operation::GetVnicAttachment,
            ),
            (Method::POST, "/vnicAttachments", Operation::AttachVnic),
            (Method::DELETE, "/vnicAttachments/a", Operation::DetachVnic),
            (Method::POST, "/privateIps", Operation::CreatePrivateIp),
            (Method::GET, "/privateIps", Operation::ListPrivateIps),
            (Method::GET, "/privateIps/p", Operation::GetPrivateIp),
            (Method::PUT, "/privateIps/p", Operation::UpdatePrivateIp),
            (Method::DELETE, "/privateIps/p", Operation::DeletePrivateIp),
            (Method::GET, "/subnets", Operation::ListSubnets),
            (Method::GET, "/subnets/s", Operation::GetSubnet),
            (Method::GET, "/vcns/v", Operation::GetVcn),
            (Method::GET, "/instances/i", Operation::GetInstance),
            (Method::GET, "/shapes", Operation::ListShapes),
        ];
        for (method, path, want) in cases {
            assert_eq!(
                route(&method, path).map(|r| r.0),
                Some(want),
                "{method} {path}"
            );
        }
        assert_eq!(route(&Method::POST, "/vnics/x"), None);
        assert_eq!(route(&Method::GET, "/vnics/x/y"), None);
        assert_eq!(
            route(&Method::GET, "/privateIps/p").and_then(|r| r.1),
            Some("p".to_owned())
        );
    }
}
