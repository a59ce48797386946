//! The `oci-ipam-node` binary as a process: what it prints when it cannot start.
//!
//! Without a kubeconfig and outside a cluster the agent stops at its first step (the
//! Kubernetes client), before it opens netlink or the metrics port, so these runs need no
//! privileges and touch nothing on the host.

use std::process::{Command, Output};

/// Runs the agent with no kubeconfig to find (a missing `KUBECONFIG`, no in-cluster
/// variables) and the given extra arguments.
fn run_without_kubeconfig(extra: &[&str]) -> Output {
    let home = std::env::temp_dir().join("oci-ipam-node-cli-test-home");
    Command::new(env!("CARGO_BIN_EXE_oci-ipam-node"))
        .args(["--node-name", "worker-0", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_clear()
        .env("HOME", &home)
        .env("KUBECONFIG", "/nonexistent/oci-ipam/kubeconfig")
        .output()
        .expect("run oci-ipam-node")
}

#[test]
fn a_missing_kubeconfig_is_reported_with_each_cause_once() {
    let out = run_without_kubeconfig(&[]);
    assert!(!out.status.success());

    let logs = String::from_utf8([out.stdout, out.stderr].concat()).expect("UTF-8 logs");
    assert!(logs.contains("Agent stopped"), "{logs}");
    assert!(
        logs.contains("failed to set up the Kubernetes client"),
        "{logs}"
    );
    for cause in [
        "failed to infer config",
        "failed to read kubeconfig",
        "(os error 2)",
    ] {
        assert_eq!(logs.matches(cause).count(), 1, "{cause:?} in {logs}");
    }
}
