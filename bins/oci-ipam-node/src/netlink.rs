//! The kernel side: observe links, owned rules and owned routes over rtnetlink, and apply
//! single changes. No decisions are made here; [`crate::reconcile()`] makes them.
//!
//! Ownership is marked with a routing protocol number ([`OwnerProtocol`]) on every rule
//! (`FRA_PROTOCOL`, Linux 4.17+) and route the agent installs; only entries carrying it are
//! ever observed as ours, changed or deleted.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::{Handle, IpVersion, LinkMacVlan, LinkUnspec, LinkVlan, RouteMessageBuilder};

use crate::Error;
use crate::desired::{RouteSpec, RuleSpec};
use crate::model::{Ipv4Cidr, MacAddr, RESERVED_TABLES};

/// The default routing protocol number marking the agent's rules and routes.
///
/// 0x8c (140) is unassigned in iproute2's `rt_protos` and in the kernel's `RTPROT_*` list.
pub const DEFAULT_OWNER_PROTOCOL: u8 = 0x8c;

/// The routing protocol number that marks rules and routes as the agent's own.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OwnerProtocol(u8);

// === impl OwnerProtocol ===

impl OwnerProtocol {
    /// Accepts any number the kernel does not reserve for itself (0 to 4 are unspec,
    /// redirect, kernel, boot and static).
    pub fn try_new(protocol: u8) -> Result<Self, Error> {
        if protocol <= 4 {
            return Err(Error::ReservedProtocol { protocol });
        }
        Ok(Self(protocol))
    }

    /// The number.
    #[must_use]
    pub const fn get(&self) -> u8 {
        self.0
    }

    fn route_protocol(self) -> RouteProtocol {
        RouteProtocol::from(self.0)
    }
}

impl Default for OwnerProtocol {
    fn default() -> Self {
        Self(DEFAULT_OWNER_PROTOCOL)
    }
}

/// A Linux network link as the kernel reports it.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct ObservedLink {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address, when it is a six-byte MAC.
    pub mac: Option<MacAddr>,
    /// Current MTU.
    pub mtu: Option<u32>,
    /// Administratively up.
    pub up: bool,
    /// Link kind (`vlan`, `macvlan`, `veth`, …); `None` for plain hardware NICs.
    pub kind: Option<String>,
    /// 802.1Q ID of a VLAN link.
    pub vlan_id: Option<u16>,
    /// Index of the lower link (VLAN and macvlan parent).
    pub parent: Option<u32>,
    /// Index of the controller (bond, bridge) when the link is enslaved.
    pub controller: Option<u32>,
}

/// One rule carrying the owner mark.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ObservedRule {
    /// The rule in the agent's terms; `None` when it has selectors the agent never sets
    /// (then it is stale by definition).
    pub spec: Option<RuleSpec>,
    message: RuleMessage,
}

/// One IPv4 route carrying the owner mark.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ObservedRoute {
    /// The route in the agent's terms; `None` when it has a shape the agent never installs.
    pub spec: Option<RouteSpec>,
    message: RouteMessage,
}

/// Everything the reconciler needs to know about the kernel.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct Observed {
    /// All links.
    pub links: Vec<ObservedLink>,
    /// IPv4 rules carrying the owner mark.
    pub rules: Vec<ObservedRule>,
    /// IPv4 routes carrying the owner mark, in every table.
    pub routes: Vec<ObservedRoute>,
    /// Tables (other than the kernel's) that unmarked routes or rules use.
    pub foreign_tables: BTreeSet<u32>,
}

/// An rtnetlink connection in the network namespace of the thread that opened it.
#[derive(Clone, Debug)]
pub struct Datapath {
    handle: Handle,
    owner: OwnerProtocol,
}

// === impl Datapath ===

impl Datapath {
    /// Opens a netlink socket and spawns its connection task on the current tokio runtime.
    ///
    /// The socket belongs to the network namespace of the calling thread at this moment.
    pub fn connect(owner: OwnerProtocol) -> Result<Self, Error> {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|source| Error::OpenNetlink { source })?;
        tokio::spawn(connection);
        Ok(Self { handle, owner })
    }

    /// The owner mark in use.
    #[must_use]
    pub fn owner(&self) -> OwnerProtocol {
        self.owner
    }

    /// Reads links, owned IPv4 rules and owned IPv4 routes.
    pub async fn observe(&self) -> Result<Observed, Error> {
        let links = self.links().await?;

        let all_rules: Vec<RuleMessage> = self
            .handle
            .rule()
            .get(IpVersion::V4)
            .execute()
            .try_collect()
            .await
            .map_err(|source| Error::ListRules { source })?;
        let rules: Vec<ObservedRule> = all_rules
            .iter()
            .filter(|m| rule_protocol(m) == Some(self.owner.0))
            .map(|message| ObservedRule {
                spec: rule_spec(message),
                message: message.clone(),
            })
            .collect();

        let all_routes: Vec<RouteMessage> = self
            .handle
            .route()
            .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .execute()
            .try_collect()
            .await
            .map_err(|source| Error::ListRoutes { source })?;

        let mut foreign_tables: BTreeSet<u32> = all_rules
            .iter()
            .filter(|m| rule_protocol(m) != Some(self.owner.0))
            .map(rule_table)
            .collect();
        let mut routes = Vec::new();
        for message in all_routes {
            if message.header.address_family != AddressFamily::Inet {
                continue;
            }
            if message.header.protocol == self.owner.route_protocol() {
                routes.push(ObservedRoute {
                    spec: route_spec(&message),
                    message,
                });
            } else {
                foreign_tables.insert(route_table(&message));
            }
        }
        foreign_tables.retain(|t| !RESERVED_TABLES.contains(t));

        Ok(Observed {
            links,
            rules,
            routes,
            foreign_tables,
        })
    }

    /// Reads all links.
    pub async fn links(&self) -> Result<Vec<ObservedLink>, Error> {
        let messages: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|source| Error::ListLinks { source })?;
        Ok(messages.iter().map(observed_link).collect())
    }

    /// Sets a link's MTU (when given) and brings it up.
    pub async fn set_link_up(&self, link: &ObservedLink, mtu: Option<u32>) -> Result<(), Error> {
        let mut builder = LinkUnspec::new_with_index(link.index).up();
        if let Some(mtu) = mtu {
            builder = builder.mtu(mtu);
        }

        self.handle
            .link()
            .set(builder.build())
            .execute()
            .await
            .map_err(|source| Error::SetLink {
                link: link.name.clone(),
                source,
            })
    }

    /// Creates a macvlan (VEPA mode) named `name` with address `mac` on `parent`.
    pub async fn add_macvlan(&self, name: &str, parent: u32, mac: MacAddr) -> Result<(), Error> {
        let message = LinkMacVlan::new(name, parent, MacVlanMode::Vepa)
            .address(mac.octets().to_vec())
            .build();

        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(|source| Error::CreateLink {
                link: name.to_owned(),
                source,
            })
    }

    /// Creates an 802.1Q sub-interface named `name` with ID `tag` on `parent`.
    pub async fn add_vlan(&self, name: &str, parent: u32, tag: u16) -> Result<(), Error> {
        let message = LinkVlan::new(name, parent, tag).build();

        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(|source| Error::CreateLink {
                link: name.to_owned(),
                source,
            })
    }

    /// Deletes a link the agent created.
    pub async fn delete_link(&self, link: &ObservedLink) -> Result<(), Error> {
        let mut links = self.handle.link();
        links
            .del(link.index)
            .execute()
            .await
            .map_err(|source| Error::DeleteLink {
                link: link.name.clone(),
                source,
            })
    }

    /// Installs a rule carrying the owner mark.
    pub async fn add_rule(&self, rule: &RuleSpec) -> Result<(), Error> {
        let mut request = self
            .handle
            .rule()
            .add()
            .v4()
            .priority(rule.priority)
            .table_id(rule.table)
            .action(RuleAction::ToTable);
        if let Some(source) = rule.source {
            request = request.source_prefix(source.addr(), source.prefix_len());
        }
        if let Some(destination) = rule.destination {
            request = request.destination_prefix(destination.addr(), destination.prefix_len());
        }
        request
            .message_mut()
            .attributes
            .push(RuleAttribute::Protocol(self.owner.route_protocol()));

        request.execute().await.map_err(|source| Error::AddRule {
            rule: *rule,
            source,
        })
    }

    /// Deletes an owned rule exactly as observed.
    pub async fn delete_rule(&self, rule: &ObservedRule) -> Result<(), Error> {
        self.handle
            .rule()
            .del(rule.message.clone())
            .execute()
            .await
            .map_err(|source| Error::DeleteRule {
                rule: rule.spec,
                source,
            })
    }

    /// Installs a route carrying the owner mark.
    pub async fn add_route(&self, route: &RouteSpec) -> Result<(), Error> {
        let builder = RouteMessageBuilder::<Ipv4Addr>::new()
            .table_id(route.table)
            .destination_prefix(route.destination.addr(), route.destination.prefix_len())
            .output_interface(route.oif)
            .protocol(self.owner.route_protocol())
            .kind(RouteType::Unicast);
        let builder = match route.gateway {
            Some(gateway) => builder.gateway(gateway).scope(RouteScope::Universe),
            None => builder.scope(RouteScope::Link),
        };

        self.handle
            .route()
            .add(builder.build())
            .execute()
            .await
            .map_err(|source| Error::AddRoute {
                route: *route,
                source,
            })
    }

    /// Deletes an owned route exactly as observed.
    pub async fn delete_route(&self, route: &ObservedRoute) -> Result<(), Error> {
        self.handle
            .route()
            .del(route.message.clone())
            .execute()
            .await
            .map_err(|source| Error::DeleteRoute {
                route: route.spec,
                source,
            })
    }
}

fn observed_link(message: &LinkMessage) -> ObservedLink {
    let mut link = ObservedLink {
        index: message.header.index,
        name: String::new(),
        mac: None,
        mtu: None,
        up: message.header.flags.contains(LinkFlags::Up),
        kind: None,
        vlan_id: None,
        parent: None,
        controller: None,
    };

    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name.clone_from(name),
            LinkAttribute::Address(bytes) => link.mac = MacAddr::from_bytes(bytes),
            LinkAttribute::Mtu(mtu) => link.mtu = Some(*mtu),
            LinkAttribute::Link(parent) => link.parent = Some(*parent),
            LinkAttribute::Controller(controller) => link.controller = Some(*controller),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(kind) => link.kind = Some(kind_name(kind)),
                        LinkInfo::Data(InfoData::Vlan(vlan)) => {
                            link.vlan_id = vlan.iter().find_map(|v| match v {
                                InfoVlan::Id(id) => Some(*id),
                                _ => None,
                            });
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    link
}

fn kind_name(kind: &InfoKind) -> String {
    kind.to_string()
}

fn rule_protocol(message: &RuleMessage) -> Option<u8> {
    message
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            RuleAttribute::Protocol(protocol) => Some(u8::from(*protocol)),
            _ => None,
        })
}

fn rule_table(message: &RuleMessage) -> u32 {
    message
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            RuleAttribute::Table(table) => Some(*table),
            _ => None,
        })
        .unwrap_or(u32::from(message.header.table))
}

fn route_table(message: &RouteMessage) -> u32 {
    message
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            RouteAttribute::Table(table) => Some(*table),
            _ => None,
        })
        .unwrap_or(u32::from(message.header.table))
}

fn rule_spec(message: &RuleMessage) -> Option<RuleSpec> {
    if message.header.action != RuleAction::ToTable || message.header.tos != 0 {
        return None;
    }

    let mut priority = 0;
    let mut table = u32::from(message.header.table);
    let mut source = None;
    let mut destination = None;
    for attribute in &message.attributes {
        match attribute {
            RuleAttribute::Priority(p) => priority = *p,
            RuleAttribute::Table(t) => table = *t,
            RuleAttribute::Source(IpAddr::V4(ip)) => {
                source = Some(Ipv4Cidr::new(*ip, message.header.src_len).ok()?);
            }
            RuleAttribute::Destination(IpAddr::V4(ip)) => {
                destination = Some(Ipv4Cidr::new(*ip, message.header.dst_len).ok()?);
            }
            RuleAttribute::Protocol(_) => {}
            // The kernel reports these with their "unset" value (-1) on every rule.
            RuleAttribute::SuppressPrefixLen(u32::MAX)
            | RuleAttribute::SuppressIfGroup(u32::MAX) => {}
            _ => return None,
        }
    }
    Some(RuleSpec {
        priority,
        source,
        destination,
        table,
    })
}

fn route_spec(message: &RouteMessage) -> Option<RouteSpec> {
    let mut table = u32::from(message.header.table);
    let mut destination = Ipv4Cidr::any();
    let mut gateway = None;
    let mut oif = None;
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(RouteAddress::Inet(ip)) => {
                destination = Ipv4Cidr::new(*ip, message.header.destination_prefix_length).ok()?;
            }
            RouteAttribute::Gateway(RouteAddress::Inet(ip)) => gateway = Some(*ip),
            RouteAttribute::Oif(index) => oif = Some(*index),
            _ => {}
        }
    }
    Some(RouteSpec {
        table,
        destination,
        gateway,
        oif: oif?,
    })
}
