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

    let logs = String::from_utf8(out.stderr).expect("UTF-8 logs");
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

#[test]
fn json_logs_put_event_fields_at_the_top_level_like_the_operator() {
    let out = run_without_kubeconfig(&["--log-format", "json"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "logs go to standard error");

    let logs = String::from_utf8(out.stderr).expect("UTF-8 logs");
    let line = logs
        .lines()
        .find(|line| line.contains("Agent stopped"))
        .unwrap_or_else(|| panic!("no stop line in {logs}"));
    let event: serde_json::Value = serde_json::from_str(line).expect("a JSON object");
    assert_eq!(event["level"], "ERROR", "{line}");
    assert_eq!(event["message"], "Agent stopped", "{line}");
    assert!(
        event["error"]
            .as_str()
            .is_some_and(|error| error.starts_with("failed to set up the Kubernetes client")),
        "{line}"
    );
    assert!(event.get("fields").is_none(), "{line}");
    assert!(event.get("timestamp").is_some(), "{line}");
    assert!(event.get("target").is_some(), "{line}");
}
