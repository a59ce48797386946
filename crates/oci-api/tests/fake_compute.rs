//! The call-group traits carry fakes: an in-memory `Compute` that implements only the page
//! and single-object calls is used through `&dyn Compute`, and the streaming
//! `list_vnic_attachments` comes from the trait for free.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Mutex;

use futures::TryStreamExt as _;
use oci_api::prelude::*;
use oci_api::{CallFuture, Error, Operation, RetryToken};
use serde_json::json;

const COMPARTMENT: &str = "ocid1.compartment.oc1..fake";
const INSTANCE: &str = "ocid1.instance.oc1.phx.fake";

/// VNIC attachments kept in memory, listed two per page.
#[derive(Default)]
struct InMemoryCompute {
    attachments: Mutex<Vec<VnicAttachment>>,
    pages_served: Mutex<Vec<Option<String>>>,
}

fn not_found(operation: Operation) -> Error {
    Error::Service {
        operation,
        status: 404,
        code: "NotAuthorizedOrNotFound".to_owned(),
        message: "not in the in-memory fake".to_owned(),
        request_id: None,
        attempts: 1,
    }
}

impl Compute for InMemoryCompute {
    fn list_vnic_attachments_page<'a>(
        &'a self,
        _request: &'a ListVnicAttachmentsRequest,
        page: Option<String>,
    ) -> CallFuture<'a, Page<VnicAttachment>> {
        self.pages_served.lock().unwrap().push(page.clone());
        let start: usize = page.as_deref().map_or(0, |p| p.parse().unwrap());
        let all = self.attachments.lock().unwrap().clone();
        let items: Vec<VnicAttachment> = all.iter().skip(start).take(2).cloned().collect();
        let next = (start + 2 < all.len()).then(|| (start + 2).to_string());
        Box::pin(async move { Ok(Page::new(items, next)) })
    }

    fn get_vnic_attachment<'a>(
        &'a self,
        attachment: &'a VnicAttachmentId,
    ) -> CallFuture<'a, VnicAttachment> {
        let found = self
            .attachments
            .lock()
            .unwrap()
            .iter()
            .find(|a| &a.id == attachment)
            .cloned();
        Box::pin(async move { found.ok_or_else(|| not_found(Operation::GetVnicAttachment)) })
    }

    fn attach_vnic<'a>(
        &'a self,
        details: &'a AttachVnicDetails,
        _token: &'a RetryToken,
    ) -> CallFuture<'a, VnicAttachment> {
        let mut attachments = self.attachments.lock().unwrap();
        let attachment: VnicAttachment = serde_json::from_value(json!({
            "id": format!("ocid1.vnicattachment.oc1.phx.fake{}", attachments.len()),
            "availabilityDomain": "PHX-AD-1",
            "compartmentId": COMPARTMENT,
            "instanceId": details.instance_id,
            "lifecycleState": "ATTACHING",
            "timeCreated": "2026-12-04T09:00:00Z",
            "subnetId": details.create_vnic_details.subnet_id,
        }))
        .unwrap();
        attachments.push(attachment.clone());
        Box::pin(async move { Ok(attachment) })
    }

    fn detach_vnic<'a>(&'a self, attachment: &'a VnicAttachmentId) -> CallFuture<'a, ()> {
        let mut attachments = self.attachments.lock().unwrap();
        let before = attachments.len();
        attachments.retain(|a| &a.id != attachment);
        let removed = attachments.len() < before;
        Box::pin(async move {
            removed
                .then_some(())
                .ok_or_else(|| not_found(Operation::DetachVnic))
        })
    }

    fn get_instance<'a>(&'a self, _instance: &'a InstanceId) -> CallFuture<'a, Instance> {
        Box::pin(async { Err(not_found(Operation::GetInstance)) })
    }

    fn list_shapes_page<'a>(
        &'a self,
        _request: &'a ListShapesRequest,
        _page: Option<String>,
    ) -> CallFuture<'a, Page<Shape>> {
        Box::pin(async { Ok(Page::new(Vec::new(), None)) })
    }
}

/// Code under test sees only the trait object.
async fn attach_three_and_list(compute: &dyn Compute) -> Vec<VnicAttachment> {
    let instance: InstanceId = INSTANCE.parse().unwrap();
    let subnet: SubnetId = "ocid1.subnet.oc1.phx.fake".parse().unwrap();
    for _ in 0..3 {
        let details = AttachVnicDetails::new(
            instance.clone(),
            CreateVnicDetails::in_subnet(subnet.clone()),
        );
        compute
            .attach_vnic(&details, &RetryToken::random())
            .await
            .unwrap();
    }
    let request = ListVnicAttachmentsRequest::of_instance(COMPARTMENT.parse().unwrap(), instance);
    compute
        .list_vnic_attachments(&request)
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_fake_behind_the_trait_gets_streaming_lists_for_free() {
    let fake = InMemoryCompute::default();

    let listed = attach_three_and_list(&fake).await;
    let shapes: Vec<Shape> = fake
        .list_shapes(&ListShapesRequest::in_compartment(
            COMPARTMENT.parse().unwrap(),
        ))
        .try_collect()
        .await
        .unwrap();
    fake.detach_vnic(&listed[1].id).await.unwrap();
    let gone = fake.get_vnic_attachment(&listed[1].id).await.unwrap_err();

    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|a| a.lifecycle_state == VnicAttachmentLifecycleState::Attaching)
    );
    assert_eq!(
        *fake.pages_served.lock().unwrap(),
        [None, Some("2".to_owned())],
        "two pages, the second asked for with the first page's token"
    );
    assert!(shapes.is_empty());
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(fake.attachments.lock().unwrap().len(), 2);
}
