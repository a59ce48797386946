//! [`Client`]: the Core API client, and [`ClientBuilder`], its only constructor.

use std::sync::Arc;

use http::{HeaderValue, Method};
use oci_auth::CredentialProvider;

use crate::api::{CallFuture, Compute, VirtualNetwork};
use crate::auth::{Authorizer, OciSigner};
use crate::clock::{Clock, SystemClock};
use crate::endpoint::Endpoint;
use crate::exec::{Call, Executor, OPC_RETRY_TOKEN};
use crate::model::{
    AttachVnicDetails, CreateIpv6Details, CreatePrivateIpDetails, Instance, InstanceId, Ipv6,
    Ipv6Id, ListIpv6sRequest, ListPrivateIpsRequest, ListShapesRequest, ListSubnetsRequest,
    ListVnicAttachmentsRequest, Page, PrivateIp, PrivateIpId, Shape, Subnet, SubnetId,
    UpdatePrivateIpDetails, Vcn, VcnId, Vnic, VnicAttachment, VnicAttachmentId, VnicId,
};
use crate::observe::{NoopObserver, Observer};
use crate::ratelimit::RateLimits;
use crate::retry::RetryPolicy;
use crate::token::RetryToken;
use crate::transport::{ReqwestTransport, Timeouts, Transport};
use crate::{Error, Operation};

/// Page size sent as `limit` when a list request sets none.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// The typed client for OCI's Compute and VirtualNetwork APIs.
///
/// Cheap to clone (an `Arc` inside); share one per process so the rate-limit buckets and the
/// connection pool are shared. Every call is signed afresh per attempt, retried per the
/// [`RetryPolicy`], rate limited per [`OperationClass`](crate::OperationClass) and reported
/// to the [`Observer`]. The calls themselves are the methods of the [`Compute`] and
/// [`VirtualNetwork`] traits (bring them into scope, or use `oci_api::prelude::*`).
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
///
/// use futures::TryStreamExt;
/// use oci_api::prelude::*;
/// use oci_api::{Client, Endpoint, RateLimit, RateLimits, RetryToken};
///
/// # async fn example(
/// #     provider: Arc<dyn oci_auth::CredentialProvider>,
/// # ) -> Result<(), oci_api::Error> {
/// let client = Client::builder()
///     .endpoint(Endpoint::for_region("us-ashburn-1", "oc1")?)
///     .credentials(provider)
///     .rate_limits(RateLimits::default().with_read(Some(RateLimit::new(50.0, 100))))
///     .build()?;
///
/// let vnic: VnicId = "ocid1.vnic.oc1.iad.example".parse()?;
/// let ip = client
///     .create_private_ip(&CreatePrivateIpDetails::on_vnic(vnic.clone()), &RetryToken::random())
///     .await?;
/// println!("got {}", ip.ip_address);
///
/// let all: Vec<PrivateIp> =
///     client.list_private_ips(&ListPrivateIpsRequest::on_vnic(vnic)).try_collect().await?;
/// println!("{} addresses on the VNIC", all.len());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    endpoint: Endpoint,
    executor: Executor,
    page_size: u32,
}

impl Client {
    /// Starts building a client. An [`Endpoint`] and credentials are required.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The endpoint requests go to.
    #[must_use]
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    fn url(&self, path: &[&str]) -> url::Url {
        self.inner.endpoint.core_url(path, &[])
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
        url: url::Url,
    ) -> Result<T, Error> {
        let answer = self
            .inner
            .executor
            .execute(Call::new(operation, Method::GET, url))
            .await?;
        answer.decode()
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
        path: &str,
        mut query: Vec<(&'static str, String)>,
        limit: Option<u32>,
        page: Option<String>,
    ) -> Result<Page<T>, Error> {
        query.push(("limit", limit.unwrap_or(self.inner.page_size).to_string()));
        if let Some(page) = page {
            query.push(("page", page));
        }

        let url = self.inner.endpoint.core_url(&[path], &query);
        let answer = self
            .inner
            .executor
            .execute(Call::new(operation, Method::GET, url))
            .await?;
        answer.page()
    }

    async fn send_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
        method: Method,
        url: url::Url,
        body: &B,
        token: Option<&RetryToken>,
    ) -> Result<T, Error> {
        let mut call = Call::new(operation, method, url).json(body)?;

        if let Some(token) = token {
            let value =
                HeaderValue::from_str(token.as_str()).map_err(|_| Error::InvalidRetryToken {
                    length: token.as_str().len(),
                })?;
            call = call.header(OPC_RETRY_TOKEN, value);
        }

        let answer = self.inner.executor.execute(call).await?;
        answer.decode()
    }

    async fn delete(&self, operation: Operation, url: url::Url) -> Result<(), Error> {
        self.inner
            .executor
            .execute(Call::new(operation, Method::DELETE, url))
            .await?;
        Ok(())
    }
}

impl VirtualNetwork for Client {
    fn get_vnic<'a>(&'a self, vnic: &'a VnicId) -> CallFuture<'a, Vnic> {
        Box::pin(self.get(Operation::GetVnic, self.url(&["vnics", vnic.as_str()])))
    }

    fn create_private_ip<'a>(
        &'a self,
        details: &'a CreatePrivateIpDetails,
        token: &'a RetryToken,
    ) -> CallFuture<'a, PrivateIp> {
        Box::pin(self.send_json(
            Operation::CreatePrivateIp,
            Method::POST,
            self.url(&["privateIps"]),
            details,
            Some(token),
        ))
    }

    fn get_private_ip<'a>(&'a self, private_ip: &'a PrivateIpId) -> CallFuture<'a, PrivateIp> {
        Box::pin(self.get(
            Operation::GetPrivateIp,
            self.url(&["privateIps", private_ip.as_str()]),
        ))
    }

    fn list_private_ips_page<'a>(
        &'a self,
        request: &'a ListPrivateIpsRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<PrivateIp>> {
        Box::pin(self.list(
            Operation::ListPrivateIps,
            "privateIps",
            request.query(),
            request.limit,
            page,
        ))
    }

    fn update_private_ip<'a>(
        &'a self,
        private_ip: &'a PrivateIpId,
        details: &'a UpdatePrivateIpDetails,
    ) -> CallFuture<'a, PrivateIp> {
        Box::pin(self.send_json(
            Operation::UpdatePrivateIp,
            Method::PUT,
            self.url(&["privateIps", private_ip.as_str()]),
            details,
            None,
        ))
    }

    fn delete_private_ip<'a>(&'a self, private_ip: &'a PrivateIpId) -> CallFuture<'a, ()> {
        Box::pin(self.delete(
            Operation::DeletePrivateIp,
            self.url(&["privateIps", private_ip.as_str()]),
        ))
    }

    fn create_ipv6<'a>(
        &'a self,
        details: &'a CreateIpv6Details,
        token: &'a RetryToken,
    ) -> CallFuture<'a, Ipv6> {
        Box::pin(self.send_json(
            Operation::CreateIpv6,
            Method::POST,
            self.url(&["ipv6"]),
            details,
            Some(token),
        ))
    }

    fn get_ipv6<'a>(&'a self, ipv6: &'a Ipv6Id) -> CallFuture<'a, Ipv6> {
        Box::pin(self.get(Operation::GetIpv6, self.url(&["ipv6", ipv6.as_str()])))
    }

    fn list_ipv6s_page<'a>(
        &'a self,
        request: &'a ListIpv6sRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<Ipv6>> {
        Box::pin(self.list(
            Operation::ListIpv6s,
            "ipv6",
            request.query(),
            request.limit,
            page,
        ))
    }

    fn delete_ipv6<'a>(&'a self, ipv6: &'a Ipv6Id) -> CallFuture<'a, ()> {
        Box::pin(self.delete(Operation::DeleteIpv6, self.url(&["ipv6", ipv6.as_str()])))
    }

    fn get_subnet<'a>(&'a self, subnet: &'a SubnetId) -> CallFuture<'a, Subnet> {
        Box::pin(self.get(
            Operation::GetSubnet,
            self.url(&["subnets", subnet.as_str()]),
        ))
    }

    fn list_subnets_page<'a>(
        &'a self,
        request: &'a ListSubnetsRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<Subnet>> {
        Box::pin(self.list(
            Operation::ListSubnets,
            "subnets",
            request.query(),
            request.limit,
            page,
        ))
    }

    fn get_vcn<'a>(&'a self, vcn: &'a VcnId) -> CallFuture<'a, Vcn> {
        Box::pin(self.get(Operation::GetVcn, self.url(&["vcns", vcn.as_str()])))
    }
}

impl Compute for Client {
    fn list_vnic_attachments_page<'a>(
        &'a self,
        request: &'a ListVnicAttachmentsRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<VnicAttachment>> {
        Box::pin(self.list(
            Operation::ListVnicAttachments,
            "vnicAttachments",
            request.query(),
            request.limit,
            page,
        ))
    }

    fn get_vnic_attachment<'a>(
        &'a self,
        attachment: &'a VnicAttachmentId,
    ) -> CallFuture<'a, VnicAttachment> {
        Box::pin(self.get(
            Operation::GetVnicAttachment,
            self.url(&["vnicAttachments", attachment.as_str()]),
        ))
    }

    fn attach_vnic<'a>(
        &'a self,
        details: &'a AttachVnicDetails,
        token: &'a RetryToken,
    ) -> CallFuture<'a, VnicAttachment> {
        Box::pin(self.send_json(
            Operation::AttachVnic,
            Method::POST,
            self.url(&["vnicAttachments"]),
            details,
            Some(token),
        ))
    }

    fn detach_vnic<'a>(&'a self, attachment: &'a VnicAttachmentId) -> CallFuture<'a, ()> {
        Box::pin(self.delete(
            Operation::DetachVnic,
            self.url(&["vnicAttachments", attachment.as_str()]),
        ))
    }

    fn get_instance<'a>(&'a self, instance: &'a InstanceId) -> CallFuture<'a, Instance> {
        Box::pin(self.get(
            Operation::GetInstance,
            self.url(&["instances", instance.as_str()]),
        ))
    }

    fn list_shapes_page<'a>(
        &'a self,
        request: &'a ListShapesRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<Shape>> {
        Box::pin(self.list(
            Operation::ListShapes,
            "shapes",
            request.query(),
            request.limit,
            page,
        ))
    }
}

/// Builds a [`Client`].
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    endpoint: Option<Endpoint>,
    credentials: Option<Arc<dyn CredentialProvider>>,
    transport: Option<Arc<dyn Transport>>,
    clock: Option<Arc<dyn Clock>>,
    observer: Option<Arc<dyn Observer>>,
    retry: Option<RetryPolicy>,
    rate_limits: Option<RateLimits>,
    timeouts: Option<Timeouts>,
    extra_roots_pem: Vec<Vec<u8>>,
    page_size: Option<u32>,
}

impl ClientBuilder {
    /// Where requests go (required): [`Endpoint::for_region`] for OCI, [`Endpoint::parse`] for
    /// a private endpoint or a simulator on loopback.
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Where signing credentials come from (required): any `oci_auth` provider (API key,
    /// session token, instance principal...).
    pub fn credentials(mut self, provider: Arc<dyn CredentialProvider>) -> Self {
        self.credentials = Some(provider);
        self
    }

    /// Retry policy (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Client-side rate limits (default: [`RateLimits::default`]).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = Some(limits);
        self
    }

    /// Receives one record per call and per retry (default: nothing).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The clock for the signed `date` header (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Connection and request timeouts of the built-in transport.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// Also trusts this PEM CA certificate (e.g. a private endpoint's CA). Verification
    /// itself cannot be turned off.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots_pem.push(pem.into());
        self
    }

    /// Replaces the HTTP transport (tests, custom stacks). Timeouts and extra roots then
    /// belong to that transport.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// `limit` for list calls that set none (default [`DEFAULT_PAGE_SIZE`]).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size.max(1));
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::BuildClient`] when the endpoint or the credentials are missing, or the TLS
    /// transport cannot be set up.
    pub fn build(self) -> Result<Client, Error> {
        let endpoint = self.endpoint.ok_or_else(|| Error::BuildClient {
            reason: "no endpoint: call ClientBuilder::endpoint (e.g. Endpoint::for_region)"
                .to_owned(),
            source: None,
        })?;
        let credentials = self.credentials.ok_or_else(|| Error::BuildClient {
            reason: "no credentials: call ClientBuilder::credentials with an oci_auth provider"
                .to_owned(),
            source: None,
        })?;

        let transport: Arc<dyn Transport> = match self.transport {
            Some(transport) => transport,
            None => Arc::new(ReqwestTransport::new(
                self.timeouts.unwrap_or_default(),
                &self.extra_roots_pem,
            )?),
        };
        let authorizer: Arc<dyn Authorizer> = Arc::new(OciSigner::new(credentials));

        let executor = Executor::new(
            transport,
            Some(authorizer),
            self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            self.retry.unwrap_or_default(),
            &self.rate_limits.unwrap_or_default(),
            self.observer.unwrap_or_else(|| Arc::new(NoopObserver)),
            endpoint.origin(),
        );

        let inner = Inner {
            endpoint,
            executor,
            page_size: self.page_size.unwrap_or(DEFAULT_PAGE_SIZE),
        };
        Ok(Client {
            inner: Arc::new(inner),
        })
    }
}
