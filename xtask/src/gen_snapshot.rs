//! `cargo xtask gen-snapshot --nodes N --seed S [--out F]`: writes a realistic synthetic
//! cluster snapshot (mixed shapes, several subnets, full nodes, nodes in deficit, excess,
//! pending pods) as pretty JSON, to a file or standard output.
//!
//! The cluster comes from `ipam_core::synthetic`, so the benchmarks, the property tests and
//! this command all see the same kind of cluster; the same arguments give the same file.

use std::path::{Path, PathBuf};

use crate::process::{Failure, Result};

/// Options for `cargo xtask gen-snapshot`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Number of worker nodes.
    #[arg(long)]
    nodes: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write the snapshot (standard output when absent).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Generates the snapshot and writes it.
pub(crate) fn gen_snapshot(args: &Args) -> Result {
    let text = snapshot_json(args.nodes, args.seed)?;

    match &args.out {
        Some(path) => {
            write(path, &text)?;
            eprintln!(
                "xtask: wrote {} ({} nodes, seed {}, {} bytes)",
                path.display(),
                args.nodes,
                args.seed,
                text.len()
            );
            Ok(())
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// The synthetic snapshot of `nodes` nodes from `seed`, as pretty JSON with a final newline.
pub(crate) fn snapshot_json(nodes: usize, seed: u64) -> Result<String> {
    let snapshot = ipam_core::synthetic(nodes, seed)
        .map_err(|err| Failure(format!("failed to generate the snapshot: {err}")))?;
    let mut text = serde_json::to_string_pretty(&snapshot)
        .map_err(|err| Failure(format!("failed to serialize the snapshot: {err}")))?;
    text.push('\n');
    Ok(text)
}

/// Writes `text` to `path`, creating parent directories.
pub(crate) fn write(path: &Path, text: &str) -> Result {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|err| Failure(format!("failed to create {}: {err}", parent.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|err| Failure(format!("failed to write {}: {err}", path.display())))
}
