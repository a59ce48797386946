//! End-to-end tests of the `oci-ipam-planner` binary: real processes, real files and pipes.

// Helpers outside `#[test]` functions are test code too; failing loudly is what they are for.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ipam_core::{Plan, parse_snapshot};

fn planner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oci-ipam-planner"))
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn example() -> PathBuf {
    repo("examples/snapshot.json")
}

fn run(args: &[&str]) -> Output {
    planner().args(args).output().unwrap()
}

fn run_with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = planner()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn plan_prints_a_table_with_every_node_totals_and_shortfalls() {
    let out = run(&["plan", example().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let table = text(&out.stdout);
    assert!(table.starts_with("NODE "), "{table}");
    for node in [
        "worker-a1",
        "worker-a2",
        "worker-a3",
        "worker-b1",
        "worker-b2",
        "worker-b3",
    ] {
        assert!(table.contains(node), "{node} missing:\n{table}");
    }
    assert!(table.contains("Totals: 6 nodes"), "{table}");
    assert!(table.contains("(vnicLimit)"), "{table}");
    assert!(table.contains("Shortfalls:"), "{table}");
}

#[test]
fn plan_json_is_the_library_plan() {
    let out = run(&["plan", example().to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let printed: Plan = serde_json::from_slice(&out.stdout).unwrap();
    let snapshot = parse_snapshot(&std::fs::read_to_string(example()).unwrap()).unwrap();
    assert_eq!(printed, ipam_core::plan(&snapshot));
}

#[test]
fn a_dash_reads_standard_input() {
    let snapshot = std::fs::read_to_string(example()).unwrap();
    let out = run_with_stdin(&["plan", "-", "--format", "json"], &snapshot);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(serde_json::from_slice::<Plan>(&out.stdout).is_ok());

    let out = run_with_stdin(&["validate", "-"], &snapshot);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "<stdin>: valid (6 nodes, 5 subnets)\n");
}

#[test]
fn unknown_fields_exit_2_naming_file_line_column_and_field() {
    let snapshot = std::fs::read_to_string(example()).unwrap();
    let bad = snapshot.replacen("\"secondaryIps\"", "\"secondaryIPs\"", 1);
    let line = bad
        .lines()
        .position(|l| l.contains("secondaryIPs"))
        .unwrap()
        + 1;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.json");
    std::fs::write(&path, &bad).unwrap();

    let out = run(&["plan", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out.stderr);
    assert!(message.contains(&format!("typo.json:{line}:")), "{message}");
    assert!(
        message.contains("field `nodes[0].vnics[0].secondaryIPs`"),
        "{message}"
    );
    assert!(
        message.contains("unknown field `secondaryIPs`"),
        "{message}"
    );
    assert!(out.stdout.is_empty());

    let out = run_with_stdin(&["capacity", "-"], &bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!("<stdin>:{line}:")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_file_exits_2_naming_it() {
    let out = run(&["validate", "/nonexistent/snapshot.json"]);
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out.stderr);
    assert!(
        message.contains("/nonexistent/snapshot.json: failed to read the snapshot"),
        "{message}"
    );
}

#[test]
fn validate_lists_every_problem_and_exits_2() {
    let mut snapshot = parse_snapshot(&std::fs::read_to_string(example()).unwrap()).unwrap();
    snapshot.nodes[0].used.push("10.9.9.9".parse().unwrap());
    snapshot.nodes[2].vnics[0].index = 3;
    snapshot.subnets[0].allocated_ips = 0;
    let input = serde_json::to_string(&snapshot).unwrap();

    let out = run_with_stdin(&["validate", "-"], &input);
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out.stderr);
    assert!(
        message.contains("the snapshot is inconsistent (3 problems)"),
        "{message}"
    );
    assert!(
        message.contains("<stdin>: nodes[0].used[29]: 10.9.9.9 is in use"),
        "{message}"
    );
    assert!(
        message.contains("nodes[2].vnics: node worker-a3 has 0 primary VNICs"),
        "{message}"
    );
    assert!(message.contains("subnets[0].allocatedIps"), "{message}");

    // `plan` refuses the same input rather than plan from it.
    let out = run_with_stdin(&["plan", "-"], &input);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn counts_of_one_read_in_the_singular() {
    let path = repo("crates/ipam-core/tests/plans/pass/subnet-full-at-vnic-limit/snapshot.json");
    let mut snapshot = parse_snapshot(&std::fs::read_to_string(path).unwrap()).unwrap();
    // One free address: the plan assigns it (one OCI call) and the node stays short.
    snapshot.nodes[0].vnics[0].secondary_ips.pop();
    snapshot.subnets[0].allocated_ips = 12;
    let input = serde_json::to_string(&snapshot).unwrap();

    let out = run_with_stdin(&["plan", "-"], &input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains(
            "Totals: 1 node, assign 1 address, attach 0 VNICs, release 0 addresses, 1 OCI call, \
             1 node short\n"
        ),
        "{table}"
    );

    let out = run_with_stdin(&["validate", "-"], &input);
    assert_eq!(text(&out.stdout), "<stdin>: valid (1 node, 1 subnet)\n");

    snapshot.nodes[0].used.push("10.9.9.9".parse().unwrap());
    let input = serde_json::to_string(&snapshot).unwrap();
    let out = run_with_stdin(&["validate", "-"], &input);
    let message = text(&out.stderr);
    assert!(
        message.contains("the snapshot is inconsistent (1 problem)\n"),
        "{message}"
    );
}

#[test]
fn capacity_shows_nodes_subnets_and_what_runs_out_first() {
    let out = run(&["capacity", example().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("VNICS USED/ALLOWED"), "{table}");
    assert!(table.contains("worker-a2  VM.Standard.E4.Flex"), "{table}");
    assert!(
        table.contains("Runs out first: ocid1.subnet.oc1.phx.aaaaaaaapodsad2"),
        "{table}"
    );

    let out = run(&["capacity", example().to_str().unwrap(), "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a2 = &report["nodes"][1];
    assert_eq!(a2["name"], "worker-a2");
    assert_eq!(
        (a2["vnicsAllowed"].as_u64(), a2["maxPods"].as_u64()),
        (Some(2), Some(31))
    );
    assert_eq!(report["runsOutFirst"]["freeAfterPlan"], 0);
}

#[test]
fn capacity_names_no_subnet_when_the_plan_draws_none_down() {
    // The example plan draws down two pod subnets, one to 0; a full node subnet it never
    // uses (0 free, and first by OCID) must not be named.
    let mut snapshot = parse_snapshot(&std::fs::read_to_string(example()).unwrap()).unwrap();
    let nodes = snapshot
        .subnets
        .iter()
        .position(|s| s.id.as_str().ends_with("nodesad1"))
        .unwrap();
    snapshot.subnets[nodes].allocated_ips = snapshot.subnets[nodes].cidr.usable() as u32;
    let input = serde_json::to_string(&snapshot).unwrap();
    let out = run_with_stdin(&["capacity", "-"], &input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("Runs out first: ocid1.subnet.oc1.phx.aaaaaaaapodsad2"),
        "{table}"
    );

    // A steady state takes nothing: no subnet runs out first, in the table or in JSON.
    let steady =
        repo("crates/ipam-core/tests/plans/pass/steady-state-makes-no-calls/snapshot.json");
    let out = run(&["capacity", steady.to_str().unwrap()]);
    let table = text(&out.stdout);
    assert!(
        table.ends_with("\nRuns out first: none; the plan draws down no subnet.\n"),
        "{table}"
    );
    let out = run(&["capacity", steady.to_str().unwrap(), "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runsOutFirst"], serde_json::Value::Null);
}

#[test]
fn the_fixture_suite_runs_through_the_cli() {
    let fixtures = repo("crates/ipam-core/tests/plans");

    for entry in std::fs::read_dir(fixtures.join("pass")).unwrap() {
        let path = entry.unwrap().path().join("snapshot.json");
        let out = run(&["plan", path.to_str().unwrap(), "--format", "json"]);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );

        let printed: Plan = serde_json::from_slice(&out.stdout).unwrap();
        let snapshot = parse_snapshot(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(printed, ipam_core::plan(&snapshot), "{}", path.display());
    }

    for entry in std::fs::read_dir(fixtures.join("fail")).unwrap() {
        let path = entry.unwrap().path().join("snapshot.json");
        let out = run(&["validate", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{} was accepted",
            path.display()
        );
        assert!(
            text(&out.stderr).contains("snapshot.json"),
            "{}",
            path.display()
        );
    }
}
