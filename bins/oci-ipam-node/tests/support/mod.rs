//! Test harness: network namespaces standing in for a node, its pods and the VCN.
//!
//! The harness (never the agent) runs `ip` to build the topology. Every namespace name
//! carries the process id and a counter, so tests run in parallel, and [`Topology`] deletes
//! its namespaces when dropped, also when a test fails.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use oci_ipam_node::{
    Datapath, MacAddr, NodeInputs, OwnerProtocol, PoolAddress, ReconcileConfig, ReconcileReport,
    Vnic, VnicId, VnicRole, reconcile,
};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Whether namespace tests can run here. Without root or `ip` they are skipped with a
/// message, except when `CI` is set: then the test fails.
#[allow(
    clippy::panic,
    reason = "failing the test is the point when CI cannot run it"
)]
pub fn privileged(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    let has_ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());

    if root && has_ip {
        return true;
    }
    let why = match (root, has_ip) {
        (false, _) => {
            "it needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces"
        }
        _ => "it needs the `ip` command from iproute2",
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set but this test cannot run: {why}");
    }
    eprintln!("skipping {test}: {why}");
    false
}

/// Whether the kernel can create 802.1Q VLAN links (some container kernels lack 8021q).
pub fn kernel_has_vlan() -> bool {
    let ns = format!(
        "oin-{}-vlanprobe-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    ip(&["netns", "add", &ns]);
    ip(&[
        "-n", &ns, "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1",
    ]);
    let ok = Command::new("ip")
        .args([
            "-n", &ns, "link", "add", "link", "probe0", "name", "probe0.7", "type", "vlan", "id",
            "7",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    let _ = Command::new("ip").args(["netns", "del", &ns]).output();
    ok
}

/// Runs `ip` with the arguments, panicking with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    let output = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        output.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `ip -n <ns> <command>`, the command given as one whitespace-separated line.
pub fn ip_in(ns: &str, command: &str) -> String {
    let mut args = vec!["-n", ns];
    args.extend(command.split_whitespace());
    ip(&args)
}

/// Runs `f` on a fresh thread that has entered the namespace `ns`.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let file = File::open(format!("/run/netns/{ns}")).expect("open namespace");
                setns(file, CloneFlags::CLONE_NEWNET).expect("enter namespace");
                f()
            })
            .join()
            .expect("namespace thread")
    })
}

/// Writes a sysctl inside a namespace.
pub fn sysctl(ns: &str, key: &str, value: &str) {
    in_netns(ns, || {
        std::fs::write(format!("/proc/sys/{key}"), value).expect("write sysctl");
    });
}

/// Reads a sysctl inside a namespace.
pub fn read_sysctl(ns: &str, key: &str) -> String {
    in_netns(ns, || {
        std::fs::read_to_string(format!("/proc/sys/{key}")).expect("read sysctl")
    })
    .trim()
    .to_owned()
}

/// Runs one reconcile pass inside `ns`, as the agent would on the node.
pub fn reconcile_in(ns: &str, inputs: &NodeInputs, config: &ReconcileConfig) -> ReconcileReport {
    in_netns(ns, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let datapath = Datapath::connect(OwnerProtocol::default()).expect("netlink");
            reconcile(&datapath, inputs, config)
                .await
                .expect("reconcile")
        })
    })
}

/// Opens a TCP connection from `client_ns` to `server_ip` served in `server_ns`; returns the
/// client address the server saw, or why it failed.
pub fn tcp_exchange(
    client_ns: &str,
    server_ns: &str,
    server_ip: Ipv4Addr,
) -> Result<IpAddr, String> {
    let listener = in_netns(server_ns, || {
        TcpListener::bind((server_ip, 0)).expect("bind")
    });
    let port = listener.local_addr().expect("local addr").port();
    listener.set_nonblocking(true).expect("nonblocking");

    std::thread::scope(|scope| {
        let server = scope.spawn(move || -> Result<IpAddr, String> {
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                match listener.accept() {
                    Ok((mut stream, peer)) => {
                        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                        stream.write_all(b"pong").map_err(|e| e.to_string())?;
                        return Ok(peer.ip());
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() > deadline {
                            return Err("server saw no connection".to_owned());
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        });

        let client = in_netns(client_ns, || -> Result<(), String> {
            let target = SocketAddr::from((server_ip, port));
            let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(2))
                .map_err(|e| format!("connect {target}: {e}"))?;
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .map_err(|e| e.to_string())?;
            let mut reply = [0u8; 4];
            stream
                .read_exact(&mut reply)
                .map_err(|e| format!("read reply: {e}"))?;
            if &reply != b"pong" {
                return Err("wrong reply".to_owned());
            }
            Ok(())
        });

        let seen = server.join().expect("server thread");
        client?;
        seen
    })
}

/// One owned or foreign rule as `ip -j rule show` prints it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub priority: u64,
    pub src: String,
    pub dst: String,
    pub table: String,
    pub protocol: String,
}

/// The IPv4 rules of a namespace.
pub fn rules(ns: &str) -> Vec<Rule> {
    let text = ip(&["-n", ns, "-j", "rule", "show"]);
    let value: serde_json::Value = serde_json::from_str(&text).expect("rule json");
    let field = |r: &serde_json::Value, k: &str| r.get(k).map(|v| v.to_string().replace('"', ""));
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|r| Rule {
            priority: r
                .get("priority")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0),
            src: field(r, "src").unwrap_or_default(),
            dst: field(r, "dst").unwrap_or_default(),
            table: field(r, "table").unwrap_or_default(),
            protocol: field(r, "protocol").unwrap_or_default(),
        })
        .collect()
}

/// The routes of every table of a namespace, one line each, sorted.
pub fn routes(ns: &str) -> BTreeSet<String> {
    ip(&["-n", ns, "-4", "route", "show", "table", "all"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The device `ip route get` picks for a packet from `source` arriving on `iif`.
pub fn route_dev(ns: &str, destination: &str, source: &str, iif: &str) -> String {
    let text = ip(&[
        "-n",
        ns,
        "route",
        "get",
        destination,
        "from",
        source,
        "iif",
        iif,
    ]);
    text.split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// The VCN stand-in: a router namespace, a node namespace and pod namespaces.
///
/// VCN side: link `v<n>` per VNIC holding the virtual router `10.77.<n>.1/24`, and a remote
/// host `10.77.9.9` on its loopback. Policy rules play OCI's source check: TCP whose source
/// lies in subnet n is dropped unless it arrives on `v<n>`.
/// Node side: `eth<n>` with MAC `02:00:17:00:00:1<n>`; `eth0` (primary) holds
/// `10.77.0.10/24` and the default route. Pods hang off `lxc<name>` links with endpoint
/// routes in the main table, as Cilium's `enable-endpoint-routes` lays them out.
pub struct Topology {
    pub node: String,
    pub vcn: String,
    namespaces: Vec<String>,
    vnic_links: Vec<String>,
    pods: Vec<(Ipv4Addr, u8)>,
}

/// The remote host inside the VCN namespace.
pub const REMOTE: Ipv4Addr = Ipv4Addr::new(10, 77, 9, 9);

impl Topology {
    /// Builds the node and the VCN with `vnics` VNICs (index 0 primary), VM style: one
    /// node link per VNIC.
    pub fn vm(vnics: u8) -> Self {
        let mut topology = Self::namespaces();
        topology.vcn_base();
        for n in 0..vnics {
            let node_if = format!("eth{n}");
            let vcn_if = format!("v{n}");
            ip(&[
                "link",
                "add",
                &node_if,
                "netns",
                &topology.node,
                "address",
                &mac(n),
                "type",
                "veth",
                "peer",
                "name",
                &vcn_if,
                "netns",
                &topology.vcn,
            ]);
            topology.vcn_router_link(&vcn_if, n);
        }
        topology.node_primary();
        topology
    }

    /// Builds the node and the VCN bare-metal style: one physical link `eth0` carrying the
    /// primary VNIC untagged and secondary VNIC n tagged with VLAN `100 + n`.
    pub fn bare_metal(vnics: u8) -> Self {
        let mut topology = Self::namespaces();
        topology.vcn_base();
        ip(&[
            "link",
            "add",
            "eth0",
            "netns",
            &topology.node,
            "address",
            &mac(0),
            "type",
            "veth",
            "peer",
            "name",
            "v0",
            "netns",
            &topology.vcn,
        ]);
        ip(&["-n", &topology.vcn, "link", "set", "v0", "up"]);
        topology.vcn_router_link("v0", 0);
        for n in 1..vnics {
            let tag = (100 + u16::from(n)).to_string();
            let vlan = format!("v0.{tag}");
            ip(&[
                "-n",
                &topology.vcn,
                "link",
                "add",
                "link",
                "v0",
                "name",
                &vlan,
                "type",
                "vlan",
                "id",
                &tag,
            ]);
            topology.vcn_router_link(&vlan, n);
        }
        topology.node_primary();
        topology
    }

    /// Adds a pod namespace holding `address` (a secondary private IP of VNIC `vnic`), wired
    /// to the node through `lxc<name>`. The VCN learns that the address lives behind the
    /// VNIC's MAC, as OCI's virtual network does, without ARP.
    pub fn add_pod(&mut self, name: &str, address: Ipv4Addr, vnic: u8) -> String {
        let ns = self.new_namespace(name);
        let host_if = format!("lxc{name}");
        let address = address.to_string();

        ip(&[
            "link", "add", &host_if, "netns", &self.node, "type", "veth", "peer", "name", "eth0",
            "netns", &ns,
        ]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{address}/32"),
            "dev",
            "eth0",
        ]);
        ip(&[
            "-n",
            &ns,
            "route",
            "add",
            "169.254.1.1",
            "dev",
            "eth0",
            "scope",
            "link",
        ]);
        ip(&[
            "-n",
            &ns,
            "route",
            "add",
            "default",
            "via",
            "169.254.1.1",
            "dev",
            "eth0",
        ]);

        ip(&["-n", &self.node, "link", "set", &host_if, "up"]);
        ip(&[
            "-n",
            &self.node,
            "addr",
            "add",
            "169.254.1.1/32",
            "dev",
            &host_if,
        ]);
        ip(&[
            "-n",
            &self.node,
            "route",
            "add",
            &format!("{address}/32"),
            "dev",
            &host_if,
        ]);

        self.pods.push((address.parse().expect("address"), vnic));
        let vcn_link = self.vnic_links[usize::from(vnic)].clone();
        ip(&[
            "-n",
            &self.vcn,
            "neigh",
            "replace",
            &address,
            "lladdr",
            &mac(vnic),
            "dev",
            &vcn_link,
            "nud",
            "permanent",
        ]);
        ns
    }

    /// VM topology: gives node link `eth<n>` (VNIC n) the MAC `mac`, as a stand-in's
    /// metadata service reports it, and points the VCN's entries for its pods at it.
    pub fn set_vnic_mac(&mut self, n: u8, mac: &str) {
        let link = format!("eth{n}");
        ip(&["-n", &self.node, "link", "set", &link, "address", mac]);

        let vcn_link = self.vnic_links[usize::from(n)].clone();
        for (address, _) in self.pods.iter().filter(|(_, v)| *v == n) {
            let address = address.to_string();
            ip(&[
                "-n",
                &self.vcn,
                "neigh",
                "replace",
                &address,
                "lladdr",
                mac,
                "dev",
                &vcn_link,
                "nud",
                "permanent",
            ]);
        }
    }

    fn namespaces() -> Self {
        let mut topology = Self {
            node: String::new(),
            vcn: String::new(),
            namespaces: Vec::new(),
            vnic_links: Vec::new(),
            pods: Vec::new(),
        };
        topology.node = topology.new_namespace("node");
        topology.vcn = topology.new_namespace("vcn");
        topology
    }

    fn new_namespace(&mut self, role: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("oin-{}-{n}-{role}", std::process::id());
        ip(&["netns", "add", &name]);
        self.namespaces.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        sysctl(&name, "net/ipv6/conf/all/disable_ipv6", "1");
        name
    }

    fn vcn_base(&mut self) {
        let vcn = self.vcn.clone();
        sysctl(&vcn, "net/ipv4/ip_forward", "1");
        ip(&[
            "-n",
            &vcn,
            "addr",
            "add",
            &format!("{REMOTE}/32"),
            "dev",
            "lo",
        ]);

        let node = self.node.clone();
        sysctl(&node, "net/ipv4/ip_forward", "1");
        sysctl(&node, "net/ipv4/conf/all/rp_filter", "1");
        sysctl(&node, "net/ipv4/conf/default/rp_filter", "1");
    }

    /// Gives VCN link `link` the virtual router of subnet n and OCI's source check: TCP
    /// arriving on it must come from subnet n (policy rules match TCP only, so ARP, which
    /// the real virtual router answers for anyone, is unaffected).
    fn vcn_router_link(&mut self, link: &str, n: u8) {
        let subnet = format!("10.77.{n}.0/24");
        ip(&[
            "-n",
            &self.vcn,
            "addr",
            "add",
            &format!("10.77.{n}.1/24"),
            "dev",
            link,
        ]);
        ip(&["-n", &self.vcn, "link", "set", link, "up"]);
        let remote = REMOTE.to_string();
        ip(&[
            "-n", &self.vcn, "route", "replace", &subnet, "dev", link, "proto", "kernel", "scope",
            "link", "src", &remote,
        ]);

        let allow = (100 + u32::from(n) * 2).to_string();
        let deny = (101 + u32::from(n) * 2).to_string();
        ip(&[
            "-n", &self.vcn, "rule", "add", "iif", link, "from", &subnet, "ipproto", "tcp", "pref",
            &allow, "lookup", "main",
        ]);
        ip(&[
            "-n",
            &self.vcn,
            "rule",
            "add",
            "iif",
            link,
            "ipproto",
            "tcp",
            "pref",
            &deny,
            "blackhole",
        ]);
        self.vnic_links.push(link.to_owned());
    }

    fn node_primary(&self) {
        ip(&["-n", &self.node, "link", "set", "eth0", "up"]);
        ip(&[
            "-n",
            &self.node,
            "addr",
            "add",
            "10.77.0.10/24",
            "dev",
            "eth0",
        ]);
        ip(&[
            "-n",
            &self.node,
            "route",
            "add",
            "default",
            "via",
            "10.77.0.1",
            "dev",
            "eth0",
        ]);
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// The MAC of node link / VNIC `n`.
pub fn mac(n: u8) -> String {
    format!("02:00:17:00:01:{n:02x}")
}

/// The OCID of VNIC `n`.
pub fn vnic_id(n: u8) -> VnicId {
    format!("ocid1.vnic.oc1.test.vnic{n}")
        .parse()
        .expect("ocid")
}

/// VNIC `n` as the metadata service would describe it.
pub fn vnic(n: u8) -> Vnic {
    let role = if n == 0 {
        VnicRole::Primary
    } else {
        VnicRole::Secondary
    };
    Vnic::new(
        vnic_id(n),
        role,
        mac(n).parse::<MacAddr>().expect("mac"),
        Ipv4Addr::new(10, 77, n, 1),
        format!("10.77.{n}.0/24").parse().expect("cidr"),
    )
    .with_attachment_index(u32::from(n))
    .with_nic_index(0)
}

/// A pool entry.
pub fn pool_entry(ip: Ipv4Addr, n: u8) -> PoolAddress {
    PoolAddress {
        ip,
        vnic: vnic_id(n),
    }
}
