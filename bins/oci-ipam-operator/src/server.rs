//! The `/healthz`, `/readyz` and `/metrics` HTTP endpoints.
//!
//! Liveness (`/healthz`) fails when the control loop has not ticked for a while: a wedged
//! loop should be restarted.
//!
//! Readiness (`/readyz`) says the replica has started: its endpoints listen, its OCI and
//! Kubernetes clients are built, and its control loop campaigns for the Lease. The leader and
//! the standby are both ready, so a rolling update is not held up by the replica that waits
//! for the Lease. Readiness does not say which replica leads (`oci_ipam_is_leader` does),
//! that a reconcile pass finished, or that the API server and OCI answer: a failing Lease
//! step is logged, not reflected here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Health state shared by the control loop and the HTTP server.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    ready: AtomicBool,
    last_tick_ms: AtomicU64,
    stall_after: Duration,
}

impl Health {
    /// New health state; the loop is considered stalled after `stall_after` without a tick.
    #[must_use]
    pub fn new(stall_after: Duration) -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            ready: AtomicBool::new(false),
            last_tick_ms: AtomicU64::new(0),
            stall_after,
        })
    }

    /// Records that the control loop is alive.
    pub fn tick(&self) {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_tick_ms.store(elapsed, Ordering::Relaxed);
    }

    /// Sets readiness: the control loop sets it when it starts campaigning for the Lease.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Whether the replica is ready.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Whether the control loop ticked recently.
    #[must_use]
    pub fn is_live(&self) -> bool {
        let now = self.started.elapsed();
        let last = Duration::from_millis(self.last_tick_ms.load(Ordering::Relaxed));
        now.saturating_sub(last) <= self.stall_after
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

/// The router serving all three endpoints (tests call it directly).
pub fn router(health: Arc<Health>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { health, metrics })
}

/// Serves the router on `address` until `shutdown` fires.
///
/// # Errors
///
/// The bind error, when the address is taken or not local.
pub async fn serve(
    address: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;

    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(err) = served {
            tracing::error!(
                error = &err as &dyn std::error::Error,
                "HTTP server stopped"
            );
        }
    });
    Ok(bound)
}

async fn healthz(State(state): State<AppState>) -> Response {
    if state.health.is_live() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "control loop stalled\n").into_response()
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.health.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics encoding failed\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn endpoints_answer_over_http() {
        let health = Health::new(Duration::from_secs(60));
        let metrics = Metrics::new();
        metrics.set_node_pool("node-a", 4, 1, 0);
        let shutdown = CancellationToken::new();
        let address = serve(
            "127.0.0.1:0".parse().expect("address"),
            router(health.clone(), metrics),
            shutdown.clone(),
        )
        .await
        .expect("binds");

        let get = |path: &'static str| async move {
            let mut stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connects");
            let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
            tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
                .await
                .expect("w");
            let mut response = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut response)
                .await
                .expect("r");
            response
        };

        health.tick();
        assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get("/readyz").await.starts_with("HTTP/1.1 503"));
        health.set_ready(true);
        assert!(get("/readyz").await.starts_with("HTTP/1.1 200"));
        assert!(
            get("/metrics")
                .await
                .contains("oci_ipam_available_ips{target_node=\"node-a\"} 4")
        );

        shutdown.cancel();
    }
}
