//! `oci-ipam-planner`: the offline planner. It reads a cluster snapshot (a file, or `-` for
//! standard input) and prints what the operator would do (`plan`), what every node and
//! subnet can hold (`capacity`), or every problem in the snapshot (`validate`).
//!
//! Exit status: 0 on success, 2 when the input is unreadable or invalid (the message names
//! the file, line, column and field where known), 1 when writing the output fails.

mod input;
mod render;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// The command line.
#[derive(Parser)]
#[command(
    name = "oci-ipam-planner",
    version,
    about = "Plan OCI IPAM offline from a snapshot"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what the operator would do: per node pool, used, needed, actions and shortfall.
    Plan {
        /// The snapshot file, or `-` for standard input.
        snapshot: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show per node VNICs, addresses and maximum pods; per subnet free addresses now and
    /// after the plan, and which subnet runs out first.
    ///
    /// "Runs out first" is, among the subnets the plan draws down (fewer free addresses after
    /// it than now, net of releases), the one with the fewest free after it; "none" when the
    /// plan draws down no subnet.
    Capacity {
        /// The snapshot file, or `-` for standard input.
        snapshot: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Check the snapshot against the format and for consistency; list every problem.
    Validate {
        /// The snapshot file, or `-` for standard input.
        snapshot: PathBuf,
    },
}

/// How results are printed.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON for programs (`plan`: the oci-ipam/v1 Plan document).
    Json,
}

/// Why the planner stopped.
#[derive(Debug, thiserror::Error)]
enum Error {
    /// The snapshot file (or standard input) could not be read.
    #[error("{name}: failed to read the snapshot")]
    ReadSnapshot {
        /// The file name, or `<stdin>`.
        name: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The text is not a valid snapshot document.
    #[error("{}", input::describe_parse(name, field.as_deref(), *line, *column, problem))]
    ParseSnapshot {
        /// The file name, or `<stdin>`.
        name: String,
        /// The offending field's path, when known.
        field: Option<String>,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// What is wrong.
        problem: String,
    },

    /// The snapshot parsed but is inconsistent.
    #[error("{}", input::describe_problems(name, problems))]
    CheckSnapshot {
        /// The file name, or `<stdin>`.
        name: String,
        /// Every problem found.
        problems: Vec<ipam_core::Problem>,
    },

    /// Writing to standard output failed.
    #[error("failed to write the output")]
    WriteOutput(#[source] std::io::Error),
}

impl Error {
    /// Whether the error is about the input (exit status 2).
    fn is_bad_input(&self) -> bool {
        !matches!(self, Self::WriteOutput(_))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OCI_IPAM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();

    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("oci-ipam-planner: {}", chain(&err));
            if err.is_bad_input() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(command: Command) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();

    let text = match command {
        Command::Plan { snapshot, format } => {
            let snapshot = input::load_valid(&snapshot)?;
            let plan = {
                let _span = tracing::info_span!("plan", nodes = snapshot.nodes.len()).entered();
                ipam_core::plan(&snapshot)
            };
            match format {
                Format::Table => render::plan_table(&plan),
                Format::Json => render::json(&plan),
            }
        }

        Command::Capacity { snapshot, format } => {
            let snapshot = input::load_valid(&snapshot)?;
            let report = render::CapacityReport::new(&snapshot);
            match format {
                Format::Table => render::capacity_table(&report),
                Format::Json => render::json(&report),
            }
        }

        Command::Validate { snapshot } => {
            let (name, parsed) = input::load(&snapshot)?;
            input::check(&name, &parsed)?;
            format!(
                "{name}: valid ({}, {})\n",
                render::count(parsed.nodes.len() as u64, "node", "nodes"),
                render::count(parsed.subnets.len() as u64, "subnet", "subnets")
            )
        }
    };

    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::WriteOutput)
}

/// An error and its causes on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
