//! The oci-ipam operator as a library: configuration, the reconcile engine, observability.
//!
//! The binary `oci-ipam-operator` is a thin wrapper around [`cli::main`]; tests, the demo and
//! the benchmarks drive the same code through this library. Start at [`config::Config`] for
//! the settings, [`reconcile::Engine`] for one node's reconcile and [`controller`] for the
//! leader-elected loop around it.

pub mod check;
pub mod cli;
pub mod config;
pub mod contract;
pub mod controller;
pub mod error;
pub mod metrics;
pub mod observe;
pub mod oci_client;
pub mod ownership;
pub mod plan;
pub mod reconcile;
pub mod server;
pub mod shutdown;
pub mod snapshot;
pub mod subnets;
pub mod telemetry;

pub use config::{Config, ConfigError, Flags};
pub use error::Error;

/// The OCI calls the operator makes: compute and virtual network, behind `oci-api`'s traits
/// so tests can put a fake behind them.
pub trait Cloud: oci_api::Compute + oci_api::VirtualNetwork + std::fmt::Debug {}

impl<T: oci_api::Compute + oci_api::VirtualNetwork + std::fmt::Debug + ?Sized> Cloud for T {}
