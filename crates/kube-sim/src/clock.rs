//! The one place where kube-sim reads the wall clock (for `creationTimestamp` and
//! `deletionTimestamp`), as a stand-in may; everything else uses tokio's monotonic time.

/// The current time in RFC 3339 with second precision, as Kubernetes writes timestamps.
pub(crate) fn now_rfc3339() -> String {
    // A stand-in of the API server stamps objects with real time, like a real server does;
    // nothing in kube-sim's behaviour depends on the value.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();

    jiff::Timestamp::try_from(now)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}
