//! The instance metadata service (IMDS v2), one per instance.
//!
//! Served under `/imds/<instance OCID>/opc/v2/`, so one listener can stand in for every
//! instance's `http://169.254.169.254/opc/v2/`: point a client's metadata base URL (the
//! Python SDK's `OCI_METADATA_BASE_URL`) at
//! [`Sim::metadata_base_url`](crate::Sim::metadata_base_url).
//! As on OCI, every request needs `Authorization: Bearer Oracle`, and requests carrying
//! `Forwarded`, `X-Forwarded-For` or `X-Forwarded-Host` are refused.

use std::sync::Arc;

use axum::extract::Path;
use axum::extract::Request;
use axum::extract::State as AxumState;
use axum::response::IntoResponse;
use axum::response::Response;
use http::HeaderValue;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::Value;
use serde_json::json;

use crate::clock::epoch_millis;
use crate::faults::Operation;
use crate::faults::Outcome;
use crate::identity::Subject;
use crate::model::AttachmentState;
use crate::model::InstanceState;
use crate::server::ErrorFormat;
use crate::server::Shared;
use crate::state::State;

/// `GET /imds/{instance}/opc/v2/` (nothing after the version).
pub(crate) async fn metadata_root(
    state: AxumState<Arc<Shared>>,
    Path(instance): Path<String>,
    request: Request,
) -> Response {
    serve(state, instance, String::new(), request).await
}

/// `GET /imds/{instance}/opc/v2/{rest}`.
pub(crate) async fn metadata(
    state: AxumState<Arc<Shared>>,
    Path((instance, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve(state, instance, rest, request).await
}

async fn serve(
    AxumState(shared): AxumState<Arc<Shared>>,
    instance: String,
    rest: String,
    request: Request,
) -> Response {
    let kill = crate::server::connection_kill(request.extensions());
    let injected = crate::server::inject(
        &shared,
        Operation::Metadata,
        kill.clone(),
        request.headers(),
        ErrorFormat::Text,
    )
    .await;
    let lose_response = match injected {
        Ok(lose) => lose,
        Err(response) => return response,
    };

    let (status, response) = answer(&shared, &instance, &rest, &request);
    if lose_response {
        shared.count(Operation::Metadata, Outcome::InjectedLostResponse);
        return crate::server::drop_connection(kill).await;
    }
    let outcome = if status.is_success() {
        Outcome::Success(status.as_u16())
    } else {
        Outcome::Error(
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error").to_owned(),
        )
    };
    shared.count(Operation::Metadata, outcome);
    response
}

fn answer(
    shared: &Shared,
    instance_id: &str,
    rest: &str,
    request: &Request,
) -> (StatusCode, Response) {
    let headers = request.headers();
    if request.method() != http::Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    if ["forwarded", "x-forwarded-for", "x-forwarded-host"]
        .iter()
        .any(|h| headers.contains_key(*h))
    {
        return text(StatusCode::FORBIDDEN, "Forwarded requests are refused");
    }
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if bearer != Some("Bearer Oracle") {
        return text(
            StatusCode::UNAUTHORIZED,
            "Authorization: Bearer Oracle is required",
        );
    }

    let path = rest.trim_end_matches('/');
    let (document, subject) = {
        let state = shared.state();
        let Some(instance) = state.instances.get(instance_id) else {
            return text(StatusCode::NOT_FOUND, "Not Found");
        };
        if instance.state != InstanceState::Running {
            return text(StatusCode::NOT_FOUND, "Not Found");
        }
        if path == "vnics" {
            return json_response(vnics(&state, instance_id));
        }
        let subject = Subject {
            instance_id: instance.id.clone(),
            compartment_id: instance.compartment_id.clone(),
            tenancy: state.tenancy.clone(),
        };
        (instance_document(&state, instance_id), subject)
    };

    if let Some(file) = path.strip_prefix("identity/") {
        let identity = match shared
            .identity
            .instance_identity(&subject, shared.clock.now())
        {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(%error, instance = %instance_id, "cannot issue instance identity");
                return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        };
        return match file {
            "cert.pem" => text(StatusCode::OK, &identity.cert_pem),
            "key.pem" => text(StatusCode::OK, &identity.key_pem),
            "intermediate.pem" => text(StatusCode::OK, &identity.intermediate_pem),
            _ => text(StatusCode::NOT_FOUND, "Not Found"),
        };
    }

    match path {
        "instance" => json_response(document),
        _ => match path.strip_prefix("instance/") {
            Some(key) => match document.get(key) {
                Some(Value::String(s)) => text(StatusCode::OK, s),
                Some(value) => json_response(value.clone()),
                None => text(StatusCode::NOT_FOUND, "Not Found"),
            },
            None => text(StatusCode::NOT_FOUND, "Not Found"),
        },
    }
}

/// The `/opc/v2/instance/` document.
pub(crate) fn instance_document(state: &State, instance_id: &str) -> Value {
    let Some(instance) = state.instances.get(instance_id) else {
        return Value::Null;
    };
    let region_short = match state.region.as_str() {
        "us-ashburn-1" => "iad".to_owned(),
        "us-phoenix-1" => "phx".to_owned(),
        other => other.to_owned(),
    };
    let ad_suffix = instance
        .availability_domain
        .rsplit('-')
        .next()
        .unwrap_or("1");
    json!({
        "availabilityDomain": instance.availability_domain,
        "faultDomain": instance.fault_domain,
        "compartmentId": instance.compartment_id,
        "displayName": instance.display_name,
        "hostname": instance.display_name.to_lowercase().replace(' ', "-"),
        "id": instance.id,
        "image": "ocid1.image.oc1..simimage",
        "metadata": {},
        "region": region_short,
        "canonicalRegionName": state.region,
        "ociAdName": format!("{}-ad-{ad_suffix}", state.region_key.to_lowercase()),
        "regionInfo": {
            "realmKey": state.realm_key,
            "realmDomainComponent": state.realm_domain,
            "regionKey": state.region_key,
            "regionIdentifier": state.region,
        },
        "shape": instance.shape,
        "shapeConfig": {
            "ocpus": instance.ocpus,
            "memoryInGBs": instance.memory_gbs,
            "networkingBandwidthInGbps": instance.ocpus,
            "maxVnicAttachments": instance.max_vnics,
        },
        "state": "Running",
        "timeCreated": epoch_millis(instance.time_created),
        "agentConfig": { "monitoringDisabled": false, "managementDisabled": false },
        "freeformTags": instance.freeform_tags,
        "definedTags": {},
    })
}

/// The `/opc/v2/vnics/` array: attached VNICs, primary first. No secondary IPs, as on OCI.
fn vnics(state: &State, instance_id: &str) -> Value {
    let mut attachments: Vec<_> = state
        .attachments
        .values()
        .filter(|a| a.instance_id == instance_id && a.state == AttachmentState::Attached)
        .collect();
    attachments.sort_by_key(|a| (!a.is_primary, a.seq));
    let entries = attachments
        .into_iter()
        .filter_map(|a| {
            let vnic = state.vnics.get(&a.vnic_id)?;
            let subnet = state.subnets.get(&vnic.subnet_id)?;
            let primary = state
                .private_ips
                .values()
                .find(|ip| ip.is_primary && ip.vnic_id.as_deref() == Some(vnic.id.as_str()))?;
            Some(json!({
                "vnicId": vnic.id,
                "privateIp": primary.address.to_string(),
                "vlanTag": a.vlan_tag,
                "macAddr": vnic.mac,
                "virtualRouterIp": subnet.cidr.router().to_string(),
                "subnetCidrBlock": subnet.cidr.to_string(),
                "nicIndex": a.nic_index,
            }))
        })
        .collect();
    Value::Array(entries)
}

fn text(status: StatusCode, body: &str) -> (StatusCode, Response) {
    let mut response = (status, body.to_owned()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    (status, response)
}

fn json_response(value: Value) -> (StatusCode, Response) {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, response)
}
