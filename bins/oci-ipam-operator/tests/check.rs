//! `oci-ipam-operator check` as shipped: the binary run against oci-sim and kube-sim on
//! loopback, with an OCI config file and a kubeconfig on disk, as in the operator's pod.

use std::path::{Path, PathBuf};

use kube_sim::{KubeSim, NodeSpec, Settings};
use oci_sim::{ApiUser, InstanceSpec, Sim, World};

const AD: &str = "Uocm:US-ASHBURN-AD-1";

/// The stand-ins, one node, and a folder for the files `check` reads.
struct Site {
    oci: Sim,
    kube: KubeSim,
    user: ApiUser,
    vcn: String,
    pod_subnet: String,
    instance: String,
    folder: tempfile::TempDir,
}

impl Site {
    async fn start() -> Site {
        let mut world = World::new("us-ashburn-1");
        let compartment = world.add_compartment("check");
        let vcn = world.add_vcn(&compartment, "10.0.0.0/16");
        let node_subnet = world.add_subnet(&vcn, &compartment, "10.0.0.0/24");
        let pod_subnet = world.add_subnet(&vcn, &compartment, "10.0.64.0/20");
        let oci = Sim::start(world).await.expect("oci-sim starts");
        let user = oci.create_user("operator", None).expect("user");
        let instance = oci
            .add_instance(
                InstanceSpec::new(
                    &compartment,
                    "VM.Standard.E4.Flex",
                    Some(2.0),
                    AD,
                    &node_subnet,
                )
                .with_display_name("worker-0"),
            )
            .expect("instance");

        let kube = KubeSim::start(Settings::default())
            .await
            .expect("kube-sim starts");
        kube.register_crd_yaml(&k8s_glue::crd::crd_yaml().expect("crd yaml"))
            .expect("crd");
        kube.add_node(&NodeSpec::oci("worker-0", &instance))
            .expect("node");

        Site {
            oci,
            kube,
            user,
            vcn,
            pod_subnet,
            instance,
            folder: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes an OCI config file whose profile signs with `key_pem` as `self.user`.
    fn config_file(&self, key_pem: &str, region: &str) -> PathBuf {
        let key = self.folder.path().join("key.pem");
        std::fs::write(&key, key_pem).expect("key written");
        let config = self.folder.path().join("config");
        let text = format!(
            "[DEFAULT]\nuser={}\nfingerprint={}\ntenancy={}\nregion={region}\nkey_file={}\n",
            self.user.user,
            self.user.fingerprint,
            self.user.tenancy,
            key.display()
        );
        std::fs::write(&config, text).expect("config written");
        config
    }

    /// The flags pointing at the stand-ins with the config-file credentials at `config`.
    fn flags(&self, config: &Path) -> Vec<String> {
        [
            "--cluster-name",
            "check",
            "--oci-auth",
            "config-file",
            "--oci-config-file",
            &config.display().to_string(),
            "--oci-endpoint",
            &self.oci.endpoint(),
            "--oci-vcn-id",
            &self.vcn,
            "--subnet-ids",
            &self.pod_subnet,
        ]
        .iter()
        .map(|flag| (*flag).to_owned())
        .collect()
    }

    /// Runs `oci-ipam-operator FLAGS check`; returns the exit code and the printed lines.
    async fn check(&self, flags: &[String]) -> (Option<i32>, String) {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_oci-ipam-operator"))
            .args(flags)
            .arg("check")
            .env("KUBECONFIG", self.kube.kubeconfig_path())
            .env("RUST_LOG", "off")
            .output()
            .await
            .expect("the operator binary runs");
        let printed = String::from_utf8_lossy(&output.stdout).into_owned();
        println!("check {}:\n{printed}", flags.join(" "));
        (output.status.code(), printed)
    }
}

/// The first printed line containing `text`, empty when none does (the assertions on it then
/// fail and show the whole output).
fn line<'a>(output: &'a str, text: &str) -> &'a str {
    output
        .lines()
        .find(|line| line.contains(text))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_key_passes_every_probe() {
    let site = Site::start().await;
    let config = site.config_file(&site.user.private_key_pem().expect("pem"), "us-ashburn-1");

    let (code, output) = site.check(&site.flags(&config)).await;

    assert_eq!(code, Some(0), "{output}");
    assert!(
        line(&output, "OCI credentials").starts_with(
            "OK    OCI credentials (config file, profile DEFAULT): OCI accepted a signed GetVcn"
        ),
        "{output}"
    );
    assert!(
        line(&output, "OCI endpoint").starts_with("OK    OCI endpoint"),
        "{output}"
    );
    assert!(
        line(&output, &site.pod_subnet)
            .starts_with(&format!("OK    subnet {} 10.0.64.0/20", site.pod_subnet)),
        "{output}"
    );
    assert!(
        line(&output, "`inspect instances`").starts_with("OK"),
        "{output}"
    );
    assert!(line(&output, "`use vnics`").starts_with("OK"), "{output}");
    assert!(line(&output, "writes").starts_with("SKIP"), "{output}");
    assert!(!output.contains("FIX"), "{output}");
    site.oci.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_the_credentials_line_with_the_key_fix() {
    let site = Site::start().await;
    let stranger = site.oci.create_user("stranger", None).expect("user");
    let config = site.config_file(&stranger.private_key_pem().expect("pem"), "us-ashburn-1");

    let (code, output) = site.check(&site.flags(&config)).await;

    assert_eq!(code, Some(1), "{output}");
    let credentials = line(&output, "OCI credentials");
    assert!(credentials.starts_with("FIX   OCI credentials"), "{output}");
    assert!(credentials.contains("HTTP 401"), "{output}");
    assert!(credentials.contains("fingerprint"), "{output}");
    assert!(credentials.contains("clock"), "{output}");
    let subnet = line(&output, &format!("subnet {}", site.pod_subnet));
    assert!(subnet.starts_with("FIX"), "{output}");
    assert!(subnet.contains("see the OCI credentials line"), "{output}");
    assert!(
        !output.contains("grant"),
        "a 401 is not a policy problem:\n{output}"
    );
    site.oci.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_region_it_uses_and_no_answer_as_an_endpoint_problem() {
    let site = Site::start().await;
    let config = site.config_file(&site.user.private_key_pem().expect("pem"), "us-ashburn-1");
    let mut flags = site.flags(&config);
    let endpoint = flags
        .iter()
        .position(|flag| flag == "--oci-endpoint")
        .expect("endpoint flag");
    flags[endpoint + 1] = "http://127.0.0.1:1".to_owned();
    flags.extend(["--oci-region".to_owned(), "uk-gov-london-1".to_owned()]);

    let (code, output) = site.check(&flags).await;

    assert_eq!(code, Some(1), "{output}");
    let endpoint = line(&output, "OCI endpoint");
    assert!(
        endpoint.starts_with("FIX   OCI endpoint http://127.0.0.1:1"),
        "{output}"
    );
    assert!(
        endpoint.contains("region uk-gov-london-1 from --oci-region"),
        "{output}"
    );
    assert!(endpoint.contains("no answer"), "{output}");
    assert!(
        !output.contains("us-ashburn-1"),
        "the credentials' region is not used:\n{output}"
    );
    assert!(
        line(&output, "OCI credentials").starts_with("SKIP"),
        "{output}"
    );
    assert!(
        line(&output, "VCN").contains("see the OCI endpoint line"),
        "{output}"
    );
    assert!(
        !output.contains("grant"),
        "no answer is not a policy problem:\n{output}"
    );
    site.oci.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_ocid_asks_for_the_policy_or_the_ocid() {
    let site = Site::start().await;
    let config = site.config_file(&site.user.private_key_pem().expect("pem"), "us-ashburn-1");
    let mut flags = site.flags(&config);
    let subnet = flags
        .iter()
        .position(|flag| flag == "--subnet-ids")
        .expect("subnet flag");
    let typo = "ocid1.subnet.oc1.iad.aaaaaaaatypo";
    flags[subnet + 1] = typo.to_owned();

    let (code, output) = site.check(&flags).await;

    assert_eq!(code, Some(1), "{output}");
    let subnet = line(&output, typo);
    assert!(subnet.starts_with("FIX"), "{output}");
    assert!(subnet.contains("HTTP 404"), "{output}");
    assert!(subnet.contains("grant `use subnets`"), "{output}");
    assert!(subnet.contains("correct --subnet-ids"), "{output}");
    assert!(
        line(&output, "OCI credentials").starts_with("OK"),
        "{output}"
    );
    site.oci.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_selector_the_nodes_own_subnet_is_read() {
    let site = Site::start().await;
    let config = site.config_file(&site.user.private_key_pem().expect("pem"), "us-ashburn-1");
    let flags: Vec<String> = site
        .flags(&config)
        .into_iter()
        .take_while(|flag| flag != "--oci-vcn-id")
        .collect();

    let (code, output) = site.check(&flags).await;

    assert_eq!(code, Some(0), "{output}");
    let own = line(&output, "own subnet");
    assert!(own.starts_with("OK    subnet ocid1.subnet"), "{output}");
    assert!(own.contains("10.0.0.0/24"), "{output}");
    assert!(
        line(&output, "OCI credentials").contains("OCI accepted a signed GetInstance"),
        "{output}"
    );
    site.oci.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_principal_failures_show_the_whole_cause() {
    let site = Site::start().await;
    let federation = format!("{}/not-here/v1/x509", site.oci.endpoint());
    let flags: Vec<String> = [
        "--cluster-name",
        "check",
        "--oci-auth",
        "instance-principal",
        "--oci-metadata-endpoint",
        &site.oci.metadata_base_url(&site.instance),
        "--oci-federation-endpoint",
        &federation,
        "--oci-region",
        "us-ashburn-1",
        "--oci-endpoint",
        &site.oci.endpoint(),
        "--oci-vcn-id",
        &site.vcn,
    ]
    .iter()
    .map(|flag| (*flag).to_owned())
    .collect();

    let (code, output) = site.check(&flags).await;

    assert_eq!(code, Some(1), "{output}");
    let credentials = line(&output, "OCI credentials");
    assert!(credentials.starts_with("FIX"), "{output}");
    let after_sign = credentials
        .split("could not sign the request")
        .nth(1)
        .unwrap_or_default();
    assert!(
        after_sign.starts_with(": "),
        "the cause follows the signing failure:\n{output}"
    );
    assert!(credentials.contains(&federation), "{output}");
    assert!(credentials.contains("404"), "{output}");
    assert!(credentials.contains("dynamic group"), "{output}");
    assert!(
        line(&output, "other OCI reads").starts_with("SKIP"),
        "{output}"
    );
    site.oci.shutdown().await;
}

#[tokio::test]
async fn missing_files_are_named_in_their_fixes() {
    let folder = tempfile::tempdir().expect("temp dir");
    let config = folder.path().join("oci-config");
    let kubeconfig = folder.path().join("kubeconfig");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_oci-ipam-operator"))
        .args(["--cluster-name", "check", "--oci-auth", "config-file"])
        .arg("--oci-config-file")
        .arg(&config)
        .arg("check")
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "off")
        .output()
        .await
        .expect("the operator binary runs");
    let printed = String::from_utf8_lossy(&output.stdout);

    assert_eq!(output.status.code(), Some(1), "{printed}");
    let credentials = line(&printed, "OCI credentials");
    assert!(credentials.starts_with("FIX"), "{printed}");
    assert!(
        credentials.contains(&config.display().to_string()),
        "{printed}"
    );
    assert!(line(&printed, "OCI reads").starts_with("SKIP"), "{printed}");
    let kube = line(&printed, "Kubernetes API");
    assert!(kube.starts_with("FIX"), "{printed}");
    assert!(
        kube.contains(&kubeconfig.display().to_string()),
        "{printed}"
    );
}
