//! The operator's RBAC against what the operator really sends: the operator library runs
//! with the chart's rendered Deployment args against kube-sim and oci-sim, fills a node's
//! pool, attaches a secondary VNIC and hands the Lease back, and every request it sent must
//! be one the rendered ClusterRole and Roles grant its ServiceAccount.
//!
//! kube-sim counts requests by verb and resource, not by subresource, so a verb on
//! `ciliumnodes/status` counts as one on `ciliumnodes`; a request passes when either is
//! granted. Paths this run does not take (a conflict re-read, an Event) are not checked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use k8s_glue::{CiliumNode, CiliumNodeSpec};
use kube::Api;
use kube::api::PostParams;
use kube_sim::{KubeSim, NodeSpec, Settings, Verb};
use oci_ipam_operator::cli::Cli;
use oci_ipam_operator::controller::Controller;
use oci_ipam_operator::metrics::Metrics;
use oci_ipam_operator::plan::IpamCorePlanner;
use oci_ipam_operator::reconcile::Engine;
use oci_ipam_operator::server::Health;
use oci_sim::{AttachSettings, InstanceSpec, Sim, World};
use serde_yaml::Value;
use tokio_util::sync::CancellationToken;

use super::cli_tests::{container, default_values, set};
use super::{NAMESPACE, render_documents};
use crate::process::workspace_root;

const AD: &str = "Uocm:US-ASHBURN-AD-1";
const NODE: &str = "worker-0";
const SERVICE_ACCOUNT: &str = "oci-ipam-operator";

/// (verb, resource) pairs the rendered chart grants the operator's ServiceAccount, from
/// every ClusterRole and Role bound to it.
fn granted(values: &Value) -> BTreeSet<(String, String)> {
    let objects: Vec<Value> =
        render_documents(&workspace_root().join("deploy/helm/oci-ipam"), values)
            .expect("the chart renders")
            .iter()
            .map(|document| serde_yaml::from_str(&document.text).expect("valid YAML"))
            .collect();

    let bound: BTreeSet<(String, String)> = objects
        .iter()
        .filter(|object| {
            matches!(
                object["kind"].as_str(),
                Some("ClusterRoleBinding" | "RoleBinding")
            )
        })
        .filter(|binding| {
            binding["subjects"].as_sequence().is_some_and(|subjects| {
                subjects.iter().any(|subject| {
                    subject["kind"].as_str() == Some("ServiceAccount")
                        && subject["name"].as_str() == Some(SERVICE_ACCOUNT)
                        && subject["namespace"].as_str() == Some(NAMESPACE)
                })
            })
        })
        .map(|binding| {
            let role = &binding["roleRef"];
            (
                role["kind"].as_str().unwrap_or_default().to_owned(),
                role["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();

    let mut pairs = BTreeSet::new();
    for role in objects.iter().filter(|object| {
        let key = (
            object["kind"].as_str().unwrap_or_default().to_owned(),
            object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        bound.contains(&key)
    }) {
        for rule in role["rules"].as_sequence().into_iter().flatten() {
            let strings = |key: &str| -> Vec<String> {
                rule[key]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            };
            for resource in strings("resources") {
                for verb in strings("verbs") {
                    pairs.insert((verb, resource.clone()));
                }
            }
        }
    }
    pairs
}

fn verb_name(verb: Verb) -> &'static str {
    match verb {
        Verb::Get => "get",
        Verb::List => "list",
        Verb::Watch => "watch",
        Verb::Create => "create",
        Verb::Update => "update",
        Verb::Patch => "patch",
        Verb::Delete => "delete",
        _ => "unknown",
    }
}

/// The rendered Deployment args, pointed at the stand-ins: the auth, endpoint and timing
/// flags are replaced, everything else is the chart's.
fn operator_args(values: &Value, oci_endpoint: &str, oci_config: &str) -> Vec<String> {
    let (rendered, _) = container(values, "Deployment", "oci-ipam-operator");
    let replaced = [
        "--oci-auth",
        "--resync-interval",
        "--limit-ipam-api-read-qps",
        "--limit-ipam-api-read-burst",
        "--limit-ipam-api-private-ip-qps",
        "--limit-ipam-api-private-ip-burst",
        "--limit-ipam-api-vnic-attach-qps",
        "--limit-ipam-api-vnic-attach-burst",
        "--operator-prometheus-serve-addr",
        "--operator-api-serve-addr",
    ];
    let mut args: Vec<String> = rendered
        .into_iter()
        .filter(|arg| !replaced.contains(&arg.split('=').next().unwrap_or_default()))
        .collect();
    args.extend(
        [
            "--oci-auth=config-file".to_owned(),
            format!("--oci-config-file={oci_config}"),
            format!("--oci-endpoint={oci_endpoint}"),
            "--resync-interval=2s".into(),
            "--vnic-attach-poll-interval=20ms".into(),
            "--leader-election-retry-period=100ms".into(),
        ]
        .into_iter()
        .chain(
            [
                "read-qps",
                "read-burst",
                "private-ip-qps",
                "private-ip-burst",
                "vnic-attach-qps",
                "vnic-attach-burst",
            ]
            .iter()
            .map(|limit| format!("--limit-ipam-api-{limit}=1000")),
        ),
    );
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_sends_only_requests_its_rbac_grants() {
    // Four addresses per VNIC and eight to keep free: the node needs a secondary VNIC.
    let mut values = default_values();
    set(&mut values, "ipam.ipsPerVnic", Value::Number(4.into()));
    let grants = granted(&values);

    let mut world = World::new("us-ashburn-1");
    let compartment = world.add_compartment("oci-ipam");
    let vcn = world.add_vcn(&compartment, "10.0.0.0/16");
    let node_subnet = world.add_subnet(&vcn, &compartment, "10.0.0.0/24");
    world.attach = AttachSettings::new(30, 10, 0.0);
    let oci = Sim::start(world).await.expect("oci-sim starts");
    let user = oci.create_user("operator", None).expect("user");
    let kube = KubeSim::start(Settings::default())
        .await
        .expect("kube-sim starts");
    kube.register_crd_yaml(&k8s_glue::crd::crd_yaml().expect("crd yaml"))
        .expect("crd");

    let spec = InstanceSpec::new(
        &compartment,
        "VM.Standard.E4.Flex",
        Some(2.0),
        AD,
        &node_subnet,
    )
    .with_display_name(NODE);
    let instance = oci.add_instance(spec).expect("instance");
    kube.add_node(&NodeSpec::oci(NODE, &instance))
        .expect("node");
    let setup = kube.client().await.expect("client");
    Api::<CiliumNode>::all(setup)
        .create(
            &PostParams::default(),
            &CiliumNode::new(NODE, CiliumNodeSpec::default()),
        )
        .await
        .expect("CiliumNode");

    let workdir = std::env::temp_dir().join(format!("xtask-rbac-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).expect("workdir");
    let oci_config = user.write_config(&workdir).expect("OCI config").config;
    let args = operator_args(&values, &oci.endpoint(), &oci_config.to_string_lossy());
    let argv = std::iter::once("oci-ipam-operator".to_owned()).chain(args);
    let cli = Cli::try_parse_from(argv).expect("the rendered args parse");
    let config = oci_ipam_operator::Config::from_flags(&cli.flags, "oci-ipam-operator-0")
        .expect("the rendered args are valid");

    let before = kube.store().request_counts();
    let stop = CancellationToken::new();
    let operator = tokio::spawn(run_operator(config, kube.kubeconfig_yaml(), stop.clone()));
    let attached = wait(Duration::from_secs(30), || {
        oci.instance(&instance)
            .is_some_and(|view| view.vnics.len() >= 2)
            && kube
                .store()
                .object("ocinetworknodes.oci-ipam.io", "", NODE)
                .is_some()
    })
    .await;
    stop.cancel();
    operator.await.expect("the operator task ends");
    let after = kube.store().request_counts();
    std::fs::remove_dir_all(&workdir).expect("cleanup");

    assert!(
        attached,
        "the operator attached no secondary VNIC within 30 s"
    );
    let sent: BTreeMap<(String, String), u64> = after
        .into_iter()
        .filter_map(|(key, count)| {
            let earlier = before.get(&key).copied().unwrap_or(0);
            (count > earlier).then(|| ((verb_name(key.0).to_owned(), key.1), count - earlier))
        })
        .collect();
    let refused: Vec<_> = sent
        .keys()
        .filter(|(verb, resource)| {
            !grants.contains(&(verb.clone(), resource.clone()))
                && !grants.contains(&(verb.clone(), format!("{resource}/status")))
        })
        .collect();
    assert!(
        refused.is_empty(),
        "requests the chart's RBAC refuses: {refused:?}; sent {sent:?}"
    );
    for expected in [
        ("patch", "ciliumnodes"),
        ("create", "ocinetworknodes"),
        ("watch", "nodes"),
        ("create", "leases"),
    ] {
        assert!(
            sent.contains_key(&(expected.0.to_owned(), expected.1.to_owned())),
            "the run never sent {expected:?}, so it proves little; sent {sent:?}"
        );
    }
}

/// The operator's controller until `stop`, with its own clients (as `cli::run` builds them).
async fn run_operator(
    config: oci_ipam_operator::Config,
    kubeconfig: String,
    stop: CancellationToken,
) {
    let metrics = Metrics::new();
    let provider = oci_auth::AuthConfig::new(oci_auth::AuthMethod::ConfigFile)
        .config_file(match &config.auth {
            oci_ipam_operator::config::Auth::ConfigFile {
                path: Some(path), ..
            } => path.clone(),
            other => panic!("config-file auth expected, got {other:?}"),
        })
        .build()
        .expect("credentials");
    let oci = oci_ipam_operator::oci_client::build(
        &config,
        provider,
        None,
        "oc1",
        metrics.clone(),
        oci_api::RetryPolicy::no_retries(),
    )
    .expect("OCI client");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&kubeconfig).expect("kubeconfig");
    let options = kube::config::KubeConfigOptions::default();
    let client_config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("kube config");
    let client = kube::Client::try_from(client_config).expect("kube client");
    let engine = Arc::new(Engine::new(
        Arc::new(oci),
        client.clone(),
        Arc::new(config),
        metrics.clone(),
        Arc::new(IpamCorePlanner),
    ));
    Controller::new(
        engine,
        client,
        metrics,
        Health::new(Duration::from_secs(60)),
    )
    .run(stop)
    .await
    .expect("the operator runs and stops cleanly");
}

async fn wait(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}
