//! `oci-ipam-operator`: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    oci_ipam_operator::cli::main(oci_ipam_operator::cli::Cli::parse()).await
}
