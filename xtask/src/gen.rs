//! `cargo xtask gen`: writes the generated files checked into the repository;
//! `cargo xtask gen --check` writes nothing and fails if any of them is out of date (CI).
//!
//! Each generated file is one [`Artifact`] in [`artifacts`]: its path from the workspace root,
//! the source it comes from (named in the drift message) and a function that renders it. Add
//! a file by adding an entry there.

use std::fs;
use std::path::Path;

use crate::process::{Failure, Result, workspace_root};

/// Options for `cargo xtask gen`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Write nothing; fail if a generated file differs from what would be written.
    #[arg(long)]
    pub(crate) check: bool,
}

/// One generated file.
struct Artifact {
    /// Where it lives, relative to the workspace root.
    path: &'static str,
    /// What it is generated from, for the drift message.
    source: &'static str,
    /// Renders its complete contents.
    render: fn() -> Result<String>,
}

/// Our CRD's YAML, as k8s-glue's types define it.
fn crd_yaml() -> Result<String> {
    k8s_glue::crd::crd_yaml()
        .map_err(|err| Failure(format!("rendering the OciNetworkNode CRD: {err}")))
}

/// Every generated file.
fn artifacts() -> Vec<Artifact> {
    vec![
        Artifact {
            path: "deploy/crds/ocinetworknodes.oci-ipam.io.yaml",
            source: "crates/k8s-glue/src/crd.rs",
            render: crd_yaml,
        },
        Artifact {
            path: "deploy/helm/oci-ipam/crds/ocinetworknodes.oci-ipam.io.yaml",
            source: "crates/k8s-glue/src/crd.rs",
            render: crd_yaml,
        },
        Artifact {
            path: "deploy/manifests/oci-ipam.yaml",
            source: "deploy/helm/oci-ipam (chart and default values)",
            render: || crate::chart::render_chart(&workspace_root().join("deploy/helm/oci-ipam")),
        },
    ]
}

/// Writes every generated file, or with `--check` reports those that drifted.
pub(crate) fn generate(args: &Args) -> Result {
    let root = workspace_root();
    let mut drifted = Vec::new();

    for artifact in artifacts() {
        let wanted = (artifact.render)()?;
        let path = root.join(artifact.path);
        let current = fs::read_to_string(&path).ok();

        if current.as_deref() == Some(wanted.as_str()) {
            continue;
        }

        if args.check {
            drifted.push(describe_drift(&artifact, current.as_deref(), &wanted));
        } else {
            write(&path, &wanted)?;
            eprintln!("xtask: wrote {} (from {})", artifact.path, artifact.source);
        }
    }

    if drifted.is_empty() {
        if args.check {
            eprintln!("xtask: generated files are up to date");
        }
        Ok(())
    } else {
        Err(Failure(format!(
            "generated files are out of date; run `cargo xtask gen` and commit the result:\n{}",
            drifted.join("\n")
        )))
    }
}

fn write(path: &Path, contents: &str) -> Result {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)
            .map_err(|err| Failure(format!("creating {}: {err}", dir.display())))?;
    }
    fs::write(path, contents).map_err(|err| Failure(format!("writing {}: {err}", path.display())))
}

/// One line naming the file, its source and the first line that differs.
fn describe_drift(artifact: &Artifact, current: Option<&str>, wanted: &str) -> String {
    let Some(current) = current else {
        return format!(
            "  {} is missing (generated from {})",
            artifact.path, artifact.source
        );
    };

    let mut current_lines = current.lines();
    let mut wanted_lines = wanted.lines();
    let mut line = 1;
    loop {
        match (current_lines.next(), wanted_lines.next()) {
            (Some(have), Some(want)) if have == want => line += 1,
            (have, want) => {
                return format!(
                    "  {}:{line} differs from what {} generates\n    has:  {}\n    want: {}",
                    artifact.path,
                    artifact.source,
                    have.unwrap_or("<end of file>"),
                    want.unwrap_or("<end of file>"),
                );
            }
        }
    }
}
