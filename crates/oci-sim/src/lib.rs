//! `oci-sim`: a stand-in for the parts of Oracle Cloud Infrastructure that oci-ipam uses,
//! faithful enough that the official OCI Python SDK accepts it.
//!
//! It serves, on one loopback listener:
//!
//! - the **core API** under `/20160918` (GetVnic, ListVnicAttachments, GetVnicAttachment,
//!   AttachVnic, DetachVnic, CreatePrivateIp, GetPrivateIp, ListPrivateIps, UpdatePrivateIp,
//!   DeletePrivateIp, GetSubnet, ListSubnets, GetVcn, GetInstance, ListShapes, CreateIpv6,
//!   GetIpv6, ListIpv6s, DeleteIpv6) with OCI's JSON
//!   field names, `opc-request-id`, `etag`/`if-match`, `opc-next-page` pagination and
//!   `{code, message}` errors; every request's signature is verified (API keys and session
//!   tokens this simulator issued; `date` skew over five minutes refused);
//! - one **instance metadata service** per instance under `/imds/<instance OCID>/opc/v2/`;
//! - the **auth service's federation endpoint** `/v1/x509`, which trades the instance
//!   certificates the simulator issued for short-lived session tokens.
//!
//! OCI's rules are enforced: VNICs per instance by shape (flex by OCPU), secondary private
//! IPs per VNIC (31, 32 or 64), subnet size minus 3 reserved addresses, unique addresses,
//! moves only within a subnet, primaries neither movable nor deletable, one attach or detach
//! at a time per instance (`409 Conflict`), ATTACHING → ATTACHED after a delay (or → DETACHED
//! on an injected failure), retry tokens replayed for 24 h, compartments respected.
//! Faults and latency come from a seeded random source per operation ([`FaultSettings`]).
//!
//! # Using it in-process
//!
//! Build a [`World`] (or load one with [`World::from_file`]), start a [`Sim`], and point
//! clients at its URLs:
//!
//! ```no_run
//! # async fn demo() -> Result<(), oci_sim::SimError> {
//! use oci_sim::{Sim, World};
//!
//! let world = World::sample(3);
//! let instance = world.instances[0].id.clone();
//! let sim = Sim::start(world).await?;
//!
//! let user = sim.create_user("operator", None)?;       // RSA key pair + registered key
//! let files = user.write_config(std::path::Path::new("/tmp/oci"))?; // ~/.oci/config style
//! println!("endpoint {}", sim.endpoint());            // service endpoint for SDK clients
//! println!("imds {}", sim.metadata_base_url(&instance));
//! println!("federation {}", sim.federation_url());
//! println!("config {}", files.config.display());
//!
//! // Drive the world while clients run.
//! sim.set_attach(oci_sim::AttachSettings::new(50, 20, 0.0));
//! let view = sim.instance(&instance).expect("instance exists");
//! assert_eq!(view.attachments.len(), 1); // the primary VNIC
//! let counters = sim.counters();
//! println!("{} CreatePrivateIp", counters.successes(oci_sim::Operation::CreatePrivateIp));
//! # Ok(()) }
//! ```
//!
//! # Control and inspection
//!
//! - URLs: [`Sim::endpoint`], [`Sim::api_base_url`], [`Sim::metadata_base_url`] (one per
//!   instance, selected by path prefix), [`Sim::federation_url`].
//! - Credentials: [`Sim::create_user`] (returns an [`ApiUser`] with
//!   [`ApiUser::write_config`] and [`ApiUser::key_id`]), [`Sim::register_api_key`].
//! - The cluster: [`Sim::add_instance`] (scale up), [`Sim::terminate_instance`] (scale down).
//! - Behaviour: [`Sim::set_faults`] (rates and latency), [`Sim::inject`] (the next N calls of
//!   one operation get a given [`Fault`]), [`Sim::set_attach`],
//!   [`Sim::set_secondary_ips_per_vnic`], [`Sim::set_session_token_lifetime`], [`Sim::clock`].
//! - Inspection: [`Sim::counters`] ([`Counters`] per [`Operation`] and [`Outcome`]),
//!   [`Sim::instance`] (an [`InstanceView`]: attachments, VNICs, private IPs),
//!   [`Sim::tagged`], [`Sim::subnet_private_ips`], [`Sim::subnet_free`],
//!   [`Sim::retry_replays`].
//!
//! # Time
//!
//! The simulator runs on real time with short, configurable delays, plus a [`SimClock`]
//! offset that tests can [`advance`](SimClock::advance): lifecycles, retry-token expiry
//! (24 h) and session-token expiry follow the simulated clock, while the signature `date`
//! check compares with real wall time (clients sign with their real clock). So a test can
//! skip a 24-hour retry window or expire a session token instantly; advancing the clock also
//! completes pending attachments, which are settled lazily at the next request.
//!
//! # Binary
//!
//! `oci-sim --world FILE --listen 127.0.0.1:PORT` serves a world file; see `docs/oci-sim.md`
//! and `examples/oci-sim-world.json`.

mod auth;
mod clock;
mod error;
mod faults;
mod identity;
mod imds;
mod model;
mod server;
mod shapes;
mod sim;
mod state;
mod world;

pub use crate::clock::SimClock;
pub use crate::error::SimError;
pub use crate::faults::Counters;
pub use crate::faults::Fault;
pub use crate::faults::FaultSettings;
pub use crate::faults::FaultSpec;
pub use crate::faults::Latency;
pub use crate::faults::Operation;
pub use crate::faults::Outcome;
pub use crate::model::AttachmentState;
pub use crate::shapes::Shape;
pub use crate::shapes::VnicRule;
pub use crate::shapes::builtin_shapes;
pub use crate::sim::ApiUser;
pub use crate::sim::AttachmentView;
pub use crate::sim::ConfigFiles;
pub use crate::sim::InstanceView;
pub use crate::sim::PrivateIpView;
pub use crate::sim::ResourceKind;
pub use crate::sim::Sim;
pub use crate::sim::TaggedResource;
pub use crate::sim::VnicView;
pub use crate::world::ApiKeySpec;
pub use crate::world::AttachSettings;
pub use crate::world::CompartmentSpec;
pub use crate::world::IdentitySettings;
pub use crate::world::InstanceSpec;
pub use crate::world::Limits;
pub use crate::world::SubnetSpec;
pub use crate::world::UserSpec;
pub use crate::world::VcnSpec;
pub use crate::world::World;
