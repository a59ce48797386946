//! The operator binary refuses to start, with the address and the flag to change, when its
//! metrics or health port is already taken.

use std::net::TcpListener;
use std::process::Command;

/// Runs `oci-ipam-operator run` with both endpoints on `address`; returns exit code and stderr.
fn run_on(metrics: &str, health: &str) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_oci-ipam-operator"))
        .args([
            "--cluster-name",
            "serve-test",
            "--oci-auth",
            "config-file",
            "--oci-region",
            "us-ashburn-1",
            "--operator-prometheus-serve-addr",
            metrics,
            "--operator-api-serve-addr",
            health,
            "run",
        ])
        .env("RUST_LOG", "info")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("the operator binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_taken_metrics_port_names_the_address_and_the_flag() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = taken.local_addr().expect("address").to_string();

    let (code, stderr) = run_on(&address, &address);

    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("\"reason\":\"ServeFailed\""), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "serving /metrics, /healthz and /readyz on {address} failed"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("--operator-prometheus-serve-addr"),
        "{stderr}"
    );
    assert!(
        stderr.contains("another process already listens"),
        "{stderr}"
    );
    assert!(!stderr.contains("Kubernetes"), "{stderr}");
}

#[test]
fn a_taken_health_port_names_the_health_flag() {
    let free = TcpListener::bind("127.0.0.1:0").expect("binds");
    let metrics = free.local_addr().expect("address").to_string();
    drop(free);
    let taken = TcpListener::bind("127.0.0.1:0").expect("binds");
    let health = taken.local_addr().expect("address").to_string();

    let (code, stderr) = run_on(&metrics, &health);

    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("serving /healthz and /readyz on {health} failed")),
        "{stderr}"
    );
    assert!(stderr.contains("--operator-api-serve-addr"), "{stderr}");
}
