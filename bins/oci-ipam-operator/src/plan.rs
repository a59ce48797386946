//! The planning step: a [`Snapshot`] in, a [`Plan`] out, by `ipam-core`.
//!
//! [`Planner`] is a trait so tests can script plans; [`IpamCorePlanner`] is the real one. It
//! hands `ipam-core` the snapshot in its JSON form (the `oci-ipam/v1` snapshot of
//! `docs/snapshot-format.md`), so the operator depends on that format rather than on the
//! planner's internal types.

use crate::contract::{Plan, Snapshot};

/// A boxed planning failure.
pub type PlanError = Box<dyn std::error::Error + Send + Sync>;

/// Turns a snapshot into a plan.
pub trait Planner: Send + Sync + std::fmt::Debug {
    /// Plans `snapshot`.
    ///
    /// # Errors
    ///
    /// When the snapshot is not valid planner input.
    fn plan(&self, snapshot: &Snapshot) -> Result<Plan, PlanError>;
}

/// The planner of `ipam-core`.
#[derive(Debug, Clone, Copy, Default)]
pub struct IpamCorePlanner;

impl Planner for IpamCorePlanner {
    fn plan(&self, snapshot: &Snapshot) -> Result<Plan, PlanError> {
        let json = serde_json::to_value(snapshot)?;
        let input: ipam_core::Snapshot = serde_json::from_value(json)?;

        let plan = ipam_core::plan(&input);

        Ok(serde_json::from_value(serde_json::to_value(&plan)?)?)
    }
}
