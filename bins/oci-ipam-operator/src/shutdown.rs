//! Graceful shutdown: one cancellation token fired by SIGTERM or Ctrl-C.
//!
//! Work that must not be cut in half (an OCI create and the write that records it) checks the
//! token only between steps; everything else stops at the next await point.

use tokio_util::sync::CancellationToken;

/// Returns a token cancelled on the first SIGTERM or SIGINT.
#[must_use]
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let fired = token.clone();

    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight work");
        fired.cancel();
    });
    token
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};

    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(err) => {
            tracing::warn!(error = &err as &dyn std::error::Error, "no SIGTERM handler");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
