//! The oci-ipam operator as a library: configuration, the reconcile engine, observability.
//!
//! The binary `oci-ipam-operator` is a thin wrapper around [`cli::main`]; tests, the demo and
//! the benchmarks drive the same code through this library. Start at [`config::Config`] for
//! the settings and [`cli::Cli`] for the command line.

pub mod cli;
pub mod config;
pub mod metrics;
pub mod server;
pub mod shutdown;
pub mod telemetry;

pub use config::{Config, ConfigError, Flags};
