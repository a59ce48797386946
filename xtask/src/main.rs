//! Project automation for the oci-ipam workspace, run as `cargo xtask <command>`.
//!
//! Each command lives in its own module; this file only parses the command line and
//! dispatches. Everything here runs on a developer's machine or in CI, never in a cluster.

mod bench;
mod chart;
mod ci;
mod demo;
mod docs_check;
mod r#gen; // `gen` is a reserved word in edition 2024
mod gen_snapshot;
mod process;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The `cargo xtask` command line.
#[derive(Parser)]
#[command(name = "cargo xtask", about = "oci-ipam project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One automation task.
#[derive(Subcommand)]
enum Command {
    /// The operator against simulated OCI and Kubernetes, end to end (`--nodes`, `--pods`).
    Demo(demo::Args),
    /// Run every check CI runs: fmt, clippy, rustdoc, tests, generated-file drift, cargo deny.
    Ci(ci::Args),
    /// Write a synthetic cluster snapshot: `--nodes N --seed S [--out FILE]`.
    GenSnapshot(gen_snapshot::Args),
    /// Run a benchmark and check its targets: `bench planner` or `bench operator`.
    Bench(bench::Args),
    /// Write generated files (CRD YAML into deploy/crds/); `--check` fails on drift instead.
    Gen(r#gen::Args),
    /// Check that the commands in README and quickstart use real subcommands and flags.
    DocsCheck(docs_check::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();

    let result = match cli.command {
        Command::Ci(args) => ci::ci(&args),
        Command::Demo(args) => demo::demo(&args),
        Command::GenSnapshot(args) => gen_snapshot::gen_snapshot(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Gen(args) => r#gen::generate(&args),
        Command::DocsCheck(args) => docs_check::docs_check(&args),
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks (unique argument and group names, ...) over every
    /// subcommand: they otherwise fire only at run time, in debug builds.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
