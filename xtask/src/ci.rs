//! `cargo xtask ci`: the whole CI pipeline, in the order a failure is cheapest to find.
//!
//! The steps: install missing tools (saying so), rustfmt, clippy on all targets with
//! `-D warnings`, rustdoc with `-D warnings`, every test including doctests and the live
//! interop tests against the official OCI Python SDK, and `cargo deny`. Between rustdoc and
//! the tests, generated files are checked for drift and the documented commands against
//! the binaries' real flags.

use std::process::Command;

use crate::process::{Failure, Result, cargo, run, succeeds};

/// Options for `cargo xtask ci`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Skip installing missing tools (cargo-deny, the `oci` Python package).
    #[arg(long)]
    no_install: bool,
}

/// Runs every CI step, stopping at the first failure.
pub(crate) fn ci(args: &Args) -> Result {
    if !args.no_install {
        install_tools()?;
    }

    run("rustfmt", cargo().args(["fmt", "--all", "--check"]))?;

    run(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;

    run(
        "rustdoc",
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;

    eprintln!("xtask: generated files: cargo xtask gen --check");
    crate::r#gen::generate(&crate::r#gen::Args { check: true })?;

    eprintln!("xtask: documented commands: cargo xtask docs-check");
    crate::docs_check::docs_check(&crate::docs_check::Args {})?;

    run("tests", cargo().args(["test", "--workspace", "--locked"]))?;

    run(
        "cargo deny (licenses, bans, sources)",
        cargo().args(["deny", "check", "licenses", "bans", "sources"]),
    )?;
    report_advisories();

    eprintln!("xtask: ci passed");
    Ok(())
}

/// Installs what the checks need and the machine lacks, saying what it installs.
fn install_tools() -> Result {
    if !succeeds(cargo().args(["deny", "--version"])) {
        eprintln!("xtask: cargo-deny is missing; installing it with `cargo install --locked`");
        run(
            "install cargo-deny",
            cargo().args(["install", "--locked", "cargo-deny"]),
        )?;
    }

    let python = python();
    if !succeeds(Command::new(&python).args(["-c", "import oci"])) {
        eprintln!("xtask: the `oci` Python package (Oracle's SDK) is missing; installing it");
        run(
            "install the oci Python SDK",
            Command::new(&python).args(["-m", "pip", "install", "--quiet", "oci"]),
        )?;
    }

    Ok(())
}

/// Checks advisories and reports the outcome without failing the run: a new advisory, or a
/// network without the advisory database, must not stop unrelated work.
fn report_advisories() {
    let outcome = run(
        "cargo deny (advisories, reported only)",
        cargo().args(["deny", "check", "advisories"]),
    );
    if let Err(Failure(message)) = outcome {
        eprintln!("xtask: warning: {message} (advisories are reported, not enforced)");
    }
}

/// The Python interpreter the interop tests use: `$PYTHON`, else `python3`.
pub(crate) fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}
