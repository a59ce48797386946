//! Small helpers for running the tools xtask drives (cargo, python, cargo-deny).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A failed xtask step: what was attempted and why it failed.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The result type of every xtask step.
pub(crate) type Result<T = ()> = std::result::Result<T, Failure>;

/// The workspace root (the parent of the `xtask` directory).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// A `cargo` command with the toolchain that runs xtask, started in the workspace root.
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root());

    // Build scripts (ring's) rerun when this changes: a nested cargo must see what a plain
    // `cargo` in a shell sees, or every xtask step rebuilds what the last shell build made.
    cmd.env_remove("CARGO_MANIFEST_DIR");
    cmd
}

/// Runs `cmd` to completion, echoing it first; fails naming `step` if it exits non-zero.
pub(crate) fn run(step: &str, cmd: &mut Command) -> Result {
    eprintln!("xtask: {step}: {}", describe(cmd));

    let status = cmd
        .status()
        .map_err(|err| Failure(format!("{step}: could not start {}: {err}", describe(cmd))))?;

    if status.success() {
        Ok(())
    } else {
        Err(Failure(format!(
            "{step} failed ({status}); see the output above"
        )))
    }
}

/// Whether `cmd` runs and exits zero, with its output discarded.
pub(crate) fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
