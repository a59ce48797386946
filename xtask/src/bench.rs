//! `cargo xtask bench <target>`: benchmarks with their targets checked.
//!
//! `planner` runs the criterion bench of `ipam-core` (parse and plan time at 1,000 and 10,000
//! nodes in one run) and reads the medians criterion records, then times the release
//! `oci-ipam-planner plan --format json` on a 10,000-node snapshot under `/usr/bin/time -v`
//! for wall time and peak memory. Targets: plan ≤ 0.25 × parse at 10,000 nodes,
//! and the whole CLI run under 2 s. A missed target fails the command.
//!
//! `operator` runs the release operator against oci-sim and kube-sim: scale-up time against
//! the rate-limit floor, OCI calls per address, mutating calls while idle and peak memory at
//! 5,000 nodes (see [`operator`]).

mod operator;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::gen_snapshot;
use crate::process::{Failure, Result, cargo, run, workspace_root};

/// Options for `cargo xtask bench`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// What to benchmark.
    #[arg(value_enum)]
    target: Target,
    /// Options of the `operator` target.
    #[command(flatten)]
    operator: operator::Args,
}

/// A benchmark target.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Target {
    /// ipam-core parse and plan time, and the planner CLI's wall time and peak memory.
    Planner,
    /// The operator against the simulators: scale-up, calls per address, idle, memory.
    Operator,
}

/// Runs the chosen benchmark.
pub(crate) fn bench(args: &Args) -> Result {
    match args.target {
        Target::Planner => planner(),
        Target::Operator => operator::bench(&args.operator),
    }
}

/// How many times the CLI is timed; the median is reported.
const CLI_RUNS: usize = 5;

fn planner() -> Result {
    run(
        "criterion bench (ipam-core planner)",
        cargo().args(["bench", "-p", "ipam-core", "--bench", "planner"]),
    )?;

    let mut report = String::from("\nplanner benchmark (criterion medians)\n");
    report.push_str(&format!(
        "{:>7}  {:>12}  {:>12}  {:>12}\n",
        "nodes", "parse", "plan", "plan/parse"
    ));
    let mut ratio_at_10k = f64::NAN;
    for nodes in [1_000, 10_000] {
        let parse = criterion_median(&format!("planner_{nodes}"), "parse")?;
        let plan = criterion_median(&format!("planner_{nodes}"), "plan")?;
        let ratio = plan / parse;
        if nodes == 10_000 {
            ratio_at_10k = ratio;
        }
        report.push_str(&format!(
            "{nodes:>7}  {:>9.2} ms  {:>9.2} ms  {ratio:>12.3}\n",
            parse / 1e6,
            plan / 1e6
        ));
    }

    run(
        "build the release planner",
        cargo().args(["build", "--release", "-p", "oci-ipam-planner"]),
    )?;
    let binary = target_dir().join("release").join("oci-ipam-planner");
    let snapshot = target_dir().join("xtask-bench").join("snapshot-10000.json");
    gen_snapshot::write(&snapshot, &gen_snapshot::snapshot_json(10_000, 42)?)?;

    let mut walls = Vec::new();
    let mut peak_kib = 0u64;
    for _ in 0..CLI_RUNS {
        let (wall, rss) = time_cli(&binary, &snapshot)?;
        walls.push(wall);
        peak_kib = peak_kib.max(rss);
    }
    walls.sort_by(f64::total_cmp);
    let wall = walls[walls.len() / 2];
    let size = std::fs::metadata(&snapshot).map(|m| m.len()).unwrap_or(0);

    report.push_str(&format!(
        "\n`oci-ipam-planner plan --format json` on 10,000 nodes ({:.1} MB), {CLI_RUNS} runs:\n\
         median wall {wall:.3} s, peak RSS {:.1} MiB\n",
        size as f64 / 1e6,
        peak_kib as f64 / 1024.0
    ));

    let ratio_ok = ratio_at_10k <= 0.25;
    let wall_ok = wall < 2.0;
    report.push_str(&format!(
        "\ntargets: plan/parse at 10k <= 0.25: {} ({ratio_at_10k:.3}); CLI < 2 s: {} ({wall:.3} s)\n",
        verdict(ratio_ok),
        verdict(wall_ok)
    ));
    eprint!("{report}");

    if ratio_ok && wall_ok {
        Ok(())
    } else {
        Err(Failure(
            "a planner target was missed; see the report above".to_owned(),
        ))
    }
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// The target directory cargo uses for this workspace.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The median criterion recorded for `group/function`, in nanoseconds.
fn criterion_median(group: &str, function: &str) -> Result<f64> {
    let path = target_dir()
        .join("criterion")
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|err| Failure(format!("failed to read {}: {err}", path.display())))?;
    let estimates: serde_json::Value = serde_json::from_str(&text)
        .map_err(|err| Failure(format!("failed to parse {}: {err}", path.display())))?;

    estimates["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| Failure(format!("{} has no median.point_estimate", path.display())))
}

/// Runs the planner once under `/usr/bin/time -v`; returns wall seconds and peak RSS in KiB.
fn time_cli(binary: &Path, snapshot: &Path) -> Result<(f64, u64)> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return Err(Failure(
            "/usr/bin/time is missing; install it (Debian: `apt-get install time`)".to_owned(),
        ));
    }

    let output = Command::new(time)
        .arg("-v")
        .arg(binary)
        .args(["plan", "--format", "json"])
        .arg(snapshot)
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|err| Failure(format!("failed to run {}: {err}", binary.display())))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(Failure(format!(
            "the planner failed on {}: {stderr}",
            snapshot.display()
        )));
    }

    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|line| line.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
            .ok_or_else(|| Failure(format!("`/usr/bin/time -v` printed no \"{name}\"")))
    };
    let wall = parse_clock(&field("Elapsed (wall clock) time (h:mm:ss or m:ss):")?)?;
    let rss = field("Maximum resident set size (kbytes):")?
        .parse::<u64>()
        .map_err(|err| Failure(format!("unreadable peak RSS from /usr/bin/time: {err}")))?;
    Ok((wall, rss))
}

/// Seconds from GNU time's `h:mm:ss` or `m:ss.cc`.
fn parse_clock(text: &str) -> Result<f64> {
    let mut seconds = 0.0;
    for part in text.split(':') {
        let value: f64 = part
            .parse()
            .map_err(|err| Failure(format!("unreadable wall time `{text}`: {err}")))?;
        seconds = seconds * 60.0 + value;
    }
    Ok(seconds)
}
