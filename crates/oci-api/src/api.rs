//! The call groups as traits, so callers can put fakes behind them, and pagination as
//! streams.
//!
//! [`Client`](crate::Client) implements [`Compute`] and [`VirtualNetwork`];
//! [`MetadataClient`](crate::MetadataClient) implements [`Metadata`]. A fake implements the
//! `*_page` methods; the streaming `list_*` methods come for free.
//!
//! Known shortcoming: UpdateVnic and UpdateIpv6 are not implemented (nothing in oci-ipam
//! calls them yet, and oci-sim does not serve them).

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use crate::Error;
use crate::model::{
    AttachVnicDetails, CreateIpv6Details, CreatePrivateIpDetails, ImdsInstance, ImdsShapeConfig,
    ImdsVnic, Instance, InstanceId, Ipv6, Ipv6Id, ListIpv6sRequest, ListPrivateIpsRequest,
    ListShapesRequest, ListSubnetsRequest, ListVnicAttachmentsRequest, Page, PrivateIp,
    PrivateIpId, RegionInfo, Shape, Subnet, SubnetId, UpdatePrivateIpDetails, Vcn, VcnId, Vnic,
    VnicAttachment, VnicAttachmentId, VnicId,
};
use crate::token::RetryToken;

/// A future returned by the call traits.
pub type CallFuture<'a, T> = BoxFuture<'a, Result<T, Error>>;

/// A stream of items across every page of a list call.
pub type ItemStream<'a, T> = BoxStream<'a, Result<T, Error>>;

/// VirtualNetwork calls: VNICs, private IPs, IPv6 addresses, subnets, VCNs.
pub trait VirtualNetwork: Send + Sync {
    /// GetVnic.
    fn get_vnic<'a>(&'a self, vnic: &'a VnicId) -> CallFuture<'a, Vnic>;

    /// CreatePrivateIp. Every attempt carries `token`; reuse it when repeating the same
    /// logical create (e.g. after a restart) and OCI returns the first result.
    fn create_private_ip<'a>(
        &'a self,
        details: &'a CreatePrivateIpDetails,
        token: &'a RetryToken,
    ) -> CallFuture<'a, PrivateIp>;

    /// GetPrivateIp.
    fn get_private_ip<'a>(&'a self, private_ip: &'a PrivateIpId) -> CallFuture<'a, PrivateIp>;

    /// One page of ListPrivateIps; `page` is the previous page's `next_page`.
    fn list_private_ips_page<'a>(
        &'a self,
        request: &'a ListPrivateIpsRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<PrivateIp>>;

    /// UpdatePrivateIp (e.g. move a secondary address to another VNIC of the subnet).
    fn update_private_ip<'a>(
        &'a self,
        private_ip: &'a PrivateIpId,
        details: &'a UpdatePrivateIpDetails,
    ) -> CallFuture<'a, PrivateIp>;

    /// DeletePrivateIp. A `404` on a retry (an earlier attempt's answer was lost or
    /// failed) counts as success: the address is gone; a `404` on the first attempt is an
    /// error.
    fn delete_private_ip<'a>(&'a self, private_ip: &'a PrivateIpId) -> CallFuture<'a, ()>;

    /// CreateIpv6.
    fn create_ipv6<'a>(
        &'a self,
        details: &'a CreateIpv6Details,
        token: &'a RetryToken,
    ) -> CallFuture<'a, Ipv6>;

    /// GetIpv6.
    fn get_ipv6<'a>(&'a self, ipv6: &'a Ipv6Id) -> CallFuture<'a, Ipv6>;

    /// One page of ListIpv6s.
    fn list_ipv6s_page<'a>(
        &'a self,
        request: &'a ListIpv6sRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<Ipv6>>;

    /// DeleteIpv6.
    fn delete_ipv6<'a>(&'a self, ipv6: &'a Ipv6Id) -> CallFuture<'a, ()>;

    /// GetSubnet.
    fn get_subnet<'a>(&'a self, subnet: &'a SubnetId) -> CallFuture<'a, Subnet>;

    /// One page of ListSubnets.
    fn list_subnets_page<'a>(
        &'a self,
        request: &'a ListSubnetsRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<Subnet>>;

    /// GetVcn.
    fn get_vcn<'a>(&'a self, vcn: &'a VcnId) -> CallFuture<'a, Vcn>;

    /// Every private IP matching `request`, page after page.
    fn list_private_ips<'a>(
        &'a self,
        request: &'a ListPrivateIpsRequest,
    ) -> ItemStream<'a, PrivateIp> {
        paginate(move |page| self.list_private_ips_page(request, page))
    }

    /// Every IPv6 matching `request`, page after page.
    fn list_ipv6s<'a>(&'a self, request: &'a ListIpv6sRequest) -> ItemStream<'a, Ipv6> {
        paginate(move |page| self.list_ipv6s_page(request, page))
    }

    /// Every subnet matching `request`, page after page.
    fn list_subnets<'a>(&'a self, request: &'a ListSubnetsRequest) -> ItemStream<'a, Subnet> {
        paginate(move |page| self.list_subnets_page(request, page))
    }
}

/// Compute calls: VNIC attachments, instances, shapes.
pub trait Compute: Send + Sync {
    /// One page of ListVnicAttachments.
    fn list_vnic_attachments_page<'a>(
        &'a self,
        request: &'a ListVnicAttachmentsRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<VnicAttachment>>;

    /// GetVnicAttachment.
    fn get_vnic_attachment<'a>(
        &'a self,
        attachment: &'a VnicAttachmentId,
    ) -> CallFuture<'a, VnicAttachment>;

    /// AttachVnic. Returns the attachment, normally `ATTACHING`; poll
    /// [`Compute::get_vnic_attachment`] until `ATTACHED`. Every attempt carries `token`.
    fn attach_vnic<'a>(
        &'a self,
        details: &'a AttachVnicDetails,
        token: &'a RetryToken,
    ) -> CallFuture<'a, VnicAttachment>;

    /// DetachVnic: deletes the VNIC and every private IP on it. A `404` on a retry counts
    /// as success, as for [`VirtualNetwork::delete_private_ip`].
    fn detach_vnic<'a>(&'a self, attachment: &'a VnicAttachmentId) -> CallFuture<'a, ()>;

    /// GetInstance.
    fn get_instance<'a>(&'a self, instance: &'a InstanceId) -> CallFuture<'a, Instance>;

    /// One page of ListShapes.
    fn list_shapes_page<'a>(
        &'a self,
        request: &'a ListShapesRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<Shape>>;

    /// Every VNIC attachment matching `request`, page after page.
    fn list_vnic_attachments<'a>(
        &'a self,
        request: &'a ListVnicAttachmentsRequest,
    ) -> ItemStream<'a, VnicAttachment> {
        paginate(move |page| self.list_vnic_attachments_page(request, page))
    }

    /// Every shape matching `request`, page after page.
    fn list_shapes<'a>(&'a self, request: &'a ListShapesRequest) -> ItemStream<'a, Shape> {
        paginate(move |page| self.list_shapes_page(request, page))
    }
}

/// The instance metadata service (IMDS v2) of the instance this code runs on.
pub trait Metadata: Send + Sync {
    /// `GET /opc/v2/instance/`.
    fn instance(&self) -> CallFuture<'_, ImdsInstance>;

    /// `GET /opc/v2/vnics/` (entry 0 is the primary VNIC).
    fn vnics(&self) -> CallFuture<'_, Vec<ImdsVnic>>;

    /// `GET /opc/v2/instance/regionInfo`.
    fn region_info(&self) -> CallFuture<'_, RegionInfo>;

    /// `GET /opc/v2/instance/shapeConfig`.
    fn shape_config(&self) -> CallFuture<'_, ImdsShapeConfig>;
}

/// Turns a page fetcher into a stream of items. `fetch` gets `None` first, then each
/// `opc-next-page` value; the stream ends after a page without one (or with an empty one)
/// and stops at the first error.
pub fn paginate<'a, T, F>(fetch: F) -> ItemStream<'a, T>
where
    T: Send + 'a,
    F: FnMut(Option<String>) -> CallFuture<'a, Page<T>> + Send + 'a,
{
    enum Next {
        Page(Option<String>),
        Done,
    }

    stream::try_unfold((Next::Page(None), fetch), |(next, mut fetch)| async move {
        let Next::Page(token) = next else {
            return Ok(None);
        };

        let page = fetch(token).await?;

        let next = match page.next_page {
            Some(token) if !token.is_empty() => Next::Page(Some(token)),
            _ => Next::Done,
        };
        Ok(Some((page.items, (next, fetch))))
    })
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::FutureExt;

    use super::*;

    #[tokio::test]
    async fn paginate_follows_tokens_until_the_last_page() {
        let seen = Mutex::new(Vec::new());

        let items: Vec<u32> = paginate(|token: Option<String>| {
            seen.lock().unwrap().push(token.clone());
            let page = match token.as_deref() {
                None => Page::new(vec![1, 2], Some("p2".into())),
                Some("p2") => Page::new(vec![], Some("p3".into())),
                _ => Page::new(vec![3], None),
            };
            async move { Ok(page) }.boxed()
        })
        .try_collect()
        .await
        .unwrap();

        assert_eq!(items, vec![1, 2, 3]);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![None, Some("p2".into()), Some("p3".into())]
        );
    }

    #[tokio::test]
    async fn paginate_stops_at_the_first_error() {
        let mut calls = 0;

        let results: Vec<Result<u32, Error>> = paginate(|_token| {
            calls += 1;
            let page = if calls == 1 {
                Ok(Page::new(vec![1], Some("next".into())))
            } else {
                Err(Error::ParseOcid {
                    kind: "test",
                    value: String::new(),
                })
            };
            async move { page }.boxed()
        })
        .collect()
        .await;

        assert_eq!(results.len(), 2);
        assert!(results[0].is_ok());
        assert!(results[1].is_err());
    }
}
