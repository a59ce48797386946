//! What the operator knows about subnets: CIDR, AD, tags and how many addresses are taken.
//!
//! Subnet facts are read with GetSubnet once; the count of taken addresses comes from a
//! ListPrivateIps by subnet on the resync cadence and is kept current in between from the
//! operator's own creates, deletes and attaches. All of it is rebuilt after a restart.
//!
//! One worker at a time reads a subnet: the others keep planning with the facts they have
//! (a slightly stale count) or, when there are none yet, wait for that one read. The listing
//! is counted page by page, never held whole: a pod subnet of a large cluster holds tens of
//! thousands of addresses.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use oci_api::model::{ListPrivateIpsRequest, ListSubnetsRequest, SubnetId, VcnId};

use crate::Cloud;
use crate::config::{Config, SubnetSelector};
use crate::contract::SnapshotSubnet;
use crate::error::Error;

/// One subnet as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SubnetFacts {
    /// OCID.
    pub id: SubnetId,
    /// IPv4 CIDR.
    pub cidr: String,
    /// AD, `None` when regional.
    pub availability_domain: Option<String>,
    /// Freeform tags.
    pub freeform_tags: BTreeMap<String, String>,
    /// The subnet's router address.
    pub virtual_router_ip: Option<Ipv4Addr>,
    /// Addresses taken by anything.
    pub allocated: u32,
    counted_at: Instant,
}

impl SubnetFacts {
    /// As a snapshot entry.
    #[must_use]
    pub fn to_snapshot(&self) -> SnapshotSubnet {
        SnapshotSubnet {
            id: self.id.to_string(),
            cidr: self.cidr.clone(),
            availability_domain: self.availability_domain.clone(),
            freeform_tags: self.freeform_tags.clone(),
            allocated_ips: self.allocated,
        }
    }
}

/// Page size of the ListPrivateIps that counts a subnet's addresses (the largest that
/// Oracle documents for list calls; a service that allows fewer pages shorter).
const COUNT_PAGE_SIZE: u32 = 1_000;

/// The operator's subnet knowledge.
#[derive(Debug, Default)]
pub struct SubnetBook {
    entries: Mutex<HashMap<SubnetId, SubnetFacts>>,
    selected: Mutex<Option<(Vec<SubnetId>, Instant)>>,
    /// Held by the one worker reading a subnet from OCI.
    reading: Mutex<HashMap<SubnetId, Arc<tokio::sync::Mutex<()>>>>,
}

impl SubnetBook {
    /// Facts about `id`, read from OCI if unknown or older than `max_age`.
    ///
    /// # Errors
    ///
    /// [`Error::ReadSubnet`] when OCI cannot be read.
    pub async fn facts(
        &self,
        oci: &dyn Cloud,
        id: &SubnetId,
        max_age: Duration,
        now: Instant,
    ) -> Result<SubnetFacts, Error> {
        let known = self.lock().get(id).cloned();
        if let Some(known) = &known
            && now.saturating_duration_since(known.counted_at) < max_age
        {
            return Ok(known.clone());
        }

        let gate = self.reading_gate(id);
        let _reading = match (known, gate.clone().try_lock_owned()) {
            (_, Ok(reading)) => reading,
            (Some(stale), Err(_)) => return Ok(stale),
            (None, Err(_)) => gate.lock_owned().await,
        };
        if let Some(known) = self.lock().get(id)
            && now.saturating_duration_since(known.counted_at) < max_age
        {
            return Ok(known.clone());
        }

        let fail = |source| Error::ReadSubnet {
            subnet: id.to_string(),
            source: Box::new(source),
        };
        let subnet = oci.get_subnet(id).await.map_err(fail)?;
        let request = ListPrivateIpsRequest::in_subnet(id.clone()).with_limit(COUNT_PAGE_SIZE);
        let taken: u64 = oci
            .list_private_ips(&request)
            .try_fold(0_u64, |count, _| async move { Ok(count + 1) })
            .await
            .map_err(fail)?;

        let facts = SubnetFacts {
            id: subnet.id.clone(),
            cidr: subnet.cidr_block.clone(),
            availability_domain: subnet.availability_domain.clone(),
            freeform_tags: subnet.freeform_tags.clone(),
            virtual_router_ip: subnet.virtual_router_ip,
            allocated: u32::try_from(taken).unwrap_or(u32::MAX),
            counted_at: now,
        };
        self.lock().insert(id.clone(), facts.clone());
        Ok(facts)
    }

    /// Facts about `id` if already known, without reading OCI.
    #[must_use]
    pub fn known(&self, id: &SubnetId) -> Option<SubnetFacts> {
        self.lock().get(id).cloned()
    }

    /// Adjusts the taken count after the operator's own create (+) or delete (-).
    pub fn note(&self, id: &SubnetId, delta: i64) {
        if let Some(entry) = self.lock().get_mut(id) {
            let next = i64::from(entry.allocated).saturating_add(delta).max(0);
            entry.allocated = u32::try_from(next).unwrap_or(u32::MAX);
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().clear();
        *self.selected_lock() = None;
    }

    /// Marks a subnet for a recount at the next use (e.g. after OCI said it is full).
    pub fn invalidate(&self, id: &SubnetId) {
        self.lock().remove(id);
    }

    /// The subnets new VNICs may use by configuration: the explicit list, or the VCN's
    /// subnets carrying the tags (listed again every `max_age`). Empty for
    /// [`SubnetSelector::NodeSubnet`], where the node's own subnets are the candidates.
    ///
    /// # Errors
    ///
    /// [`Error::ReadSubnet`] when the listing fails.
    pub async fn selected(
        &self,
        oci: &dyn Cloud,
        config: &Config,
        max_age: Duration,
        now: Instant,
    ) -> Result<Vec<SubnetId>, Error> {
        let tags = match &config.subnets {
            SubnetSelector::Ids(ids) => {
                return ids
                    .iter()
                    .map(|id| {
                        id.as_str().parse().map_err(|source| Error::ReadSubnet {
                            subnet: id.to_string(),
                            source: Box::new(source),
                        })
                    })
                    .collect();
            }
            SubnetSelector::Tags(tags) => tags,
            SubnetSelector::NodeSubnet => return Ok(Vec::new()),
        };

        if let Some((ids, at)) = self.selected_lock().as_ref()
            && now.saturating_duration_since(*at) < max_age
        {
            return Ok(ids.clone());
        }

        let Some(vcn) = &config.vcn else {
            return Ok(Vec::new());
        };
        let vcn_text = vcn.as_str().to_owned();
        let fail = |source| Error::ReadSubnet {
            subnet: format!("(subnets of VCN {vcn_text})"),
            source: Box::new(source),
        };
        let vcn: VcnId = vcn.as_str().parse().map_err(fail)?;

        let mut ids = Vec::new();
        for compartment in &config.compartments {
            let compartment = compartment.as_str().parse().map_err(fail)?;
            let request = ListSubnetsRequest::in_compartment(compartment).in_vcn(vcn.clone());
            let subnets: Vec<_> = oci
                .list_subnets(&request)
                .try_collect()
                .await
                .map_err(fail)?;
            ids.extend(
                subnets
                    .into_iter()
                    .filter(|subnet| {
                        tags.iter()
                            .all(|(key, value)| subnet.freeform_tags.get(key) == Some(value))
                    })
                    .map(|subnet| subnet.id),
            );
        }
        ids.sort();
        *self.selected_lock() = Some((ids.clone(), now));
        Ok(ids)
    }

    /// The lock a worker holds while it reads `id` from OCI.
    fn reading_gate(&self, id: &SubnetId) -> Arc<tokio::sync::Mutex<()>> {
        self.reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id.clone())
            .or_default()
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SubnetId, SubnetFacts>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn selected_lock(&self) -> std::sync::MutexGuard<'_, Option<(Vec<SubnetId>, Instant)>> {
        self.selected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use oci_sim::{InstanceSpec, Operation, Sim, World};

    use super::*;

    async fn client_for(sim: &Sim) -> oci_api::Client {
        let user = sim.create_user("operator", None).expect("user");
        let key = oci_auth::PrivateKey::from_pem(&user.private_key_pem().expect("pem"), None)
            .expect("key");
        let credentials =
            oci_auth::Credentials::new(oci_auth::KeyId::from_raw(user.key_id()), Arc::new(key));
        oci_api::Client::builder()
            .endpoint(oci_api::Endpoint::parse(&sim.endpoint()).expect("endpoint"))
            .credentials(Arc::new(oci_auth::StaticProvider::new(credentials)))
            .build()
            .expect("client")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_workers_read_a_subnet_once_and_count_every_address() {
        let mut world = World::new("us-ashburn-1");
        let compartment = world.add_compartment("c");
        let vcn = world.add_vcn(&compartment, "10.0.0.0/16");
        let subnet = world.add_subnet(&vcn, &compartment, "10.0.0.0/24");
        for _ in 0..5 {
            world.add_instance(InstanceSpec::new(
                &compartment,
                "VM.Standard2.4",
                None,
                "Uocm:US-ASHBURN-AD-1",
                &subnet,
            ));
        }
        let sim = Sim::start(world).await.expect("oci-sim starts");
        let client = client_for(&sim).await;
        let book = SubnetBook::default();
        let id: SubnetId = subnet.parse().expect("subnet OCID");
        let now = Instant::now();

        let reads = (0..8).map(|_| book.facts(&client, &id, Duration::from_secs(60), now));
        let facts = futures::future::join_all(reads).await;

        for fact in &facts {
            assert_eq!(fact.as_ref().expect("facts").allocated, 5);
        }
        let counters = sim.counters();
        assert_eq!(counters.total(Operation::GetSubnet), 1);
        assert_eq!(counters.total(Operation::ListPrivateIps), 1);
    }
}
