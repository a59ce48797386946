//! A typed async client for the parts of Oracle Cloud Infrastructure an IPAM needs: Compute
//! (VNIC attachments, instances, shapes), VirtualNetwork (VNICs, private IPs, IPv6, subnets,
//! VCNs) and the instance metadata service.
//!
//! Start with [`Client::builder`]: give it an [`Endpoint`] (from region and realm, or an
//! explicit URL) and an `oci_auth` credential provider, then call the methods of the
//! [`Compute`] and [`VirtualNetwork`] traits. [`MetadataClient`] reads IMDS v2.
//!
//! What every call gets:
//! - a fresh HTTP signature (and `date`) per attempt, from `oci-auth`;
//! - retries of network errors, `429`, `500`–`504` except `501`, and `409`
//!   `IncorrectState`/`LockConflict`, with exponential backoff and jitter, bounded in attempts
//!   and total time ([`RetryPolicy`]); creates send one [`RetryToken`] on every attempt; a
//!   `401` makes the credential provider refresh once, and the call is retried once if the
//!   credentials changed;
//! - token-bucket rate limits per [`OperationClass`] ([`RateLimits`]);
//! - one [`CallRecord`] to your [`Observer`] (operation, duration, outcome, attempts,
//!   rate-limit wait, `opc-request-id`), for metrics;
//! - typed errors ([`Error`]) with status, OCI code, message, `opc-request-id` and operation.
//!
//! List calls come as pages (`*_page`) and as streams over every page (`list_*`).
//! TLS is rustls with certificate verification always on; plain HTTP is accepted only to
//! loopback unless [`Endpoint::dangerous_plain_http`] is used.
//!
//! # Example
//!
//! A client for a local stand-in (such as `oci-sim --listen 127.0.0.1:8419
//! --write-user-config /tmp/oci-sim-admin`), with an API key from an OCI config file; for
//! OCI itself use [`Endpoint::for_region`] instead:
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use oci_api::prelude::*;
//! use oci_api::{Client, Endpoint, RetryToken};
//! use oci_auth::{AuthConfig, AuthMethod};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let credentials = AuthConfig::new(AuthMethod::ConfigFile)
//!     .config_file("/tmp/oci-sim-admin/config")
//!     .build()?;
//! let client = Client::builder()
//!     .endpoint(Endpoint::parse("http://127.0.0.1:8419")?)
//!     .credentials(credentials)
//!     .build()?;
//!
//! let vnic: VnicId = "ocid1.vnic.oc1.iad.aaaaaaaaexample".parse()?;
//! let details = CreatePrivateIpDetails::on_vnic(vnic.clone());
//! match client.create_private_ip(&details, &RetryToken::random()).await {
//!     Ok(created) => println!("created {}", created.ip_address),
//!     Err(err) if err.status() == Some(400) => {
//!         // The VNIC or its subnet is full: OCI's code and message say which.
//!         println!("refused: {err} (request {:?})", err.request_id());
//!     }
//!     Err(err) => return Err(err.into()),
//! }
//!
//! let held: Vec<PrivateIp> =
//!     client.list_private_ips(&ListPrivateIpsRequest::on_vnic(vnic)).try_collect().await?;
//! println!("{} private IPs on the VNIC", held.len());
//! # Ok(())
//! # }
//! ```

mod api;
mod auth;
mod client;
mod clock;
mod endpoint;
mod error;
mod exec;
mod metadata;
pub mod model;
mod observe;
mod operation;
mod ratelimit;
mod retry;
mod token;
mod transport;

pub use crate::api::{CallFuture, Compute, ItemStream, Metadata, VirtualNetwork, paginate};
pub use crate::client::{Client, ClientBuilder, DEFAULT_PAGE_SIZE};
pub use crate::clock::{Clock, FixedClock, SystemClock};
pub use crate::endpoint::{CORE_API_VERSION, DEFAULT_METADATA_URL, Endpoint, MetadataEndpoint};
pub use crate::error::Error;
pub use crate::metadata::{MetadataClient, MetadataClientBuilder};
pub use crate::observe::{CallRecord, NoopObserver, Observer, RetryRecord};
pub use crate::operation::{Operation, OperationClass};
pub use crate::ratelimit::{RateLimit, RateLimits};
pub use crate::retry::{RetryPolicy, is_retryable_status};
pub use crate::token::RetryToken;
pub use crate::transport::{
    BoxError, HttpRequest, HttpResponse, ReqwestTransport, Timeouts, Transport,
};

/// The call traits and the model types, for `use oci_api::prelude::*`.
pub mod prelude {
    pub use crate::api::{Compute, Metadata, VirtualNetwork};
    pub use crate::model::*;
}
