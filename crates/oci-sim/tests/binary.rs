//! The `oci-sim` binary serves the documented example world.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::BufRead as _;
use std::io::BufReader;
use std::path::Path;
use std::process::Command;
use std::process::Stdio;

use oci_sim::World;

fn example() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/oci-sim-world.json"
    ))
}

#[test]
fn example_world_loads_and_validates() {
    let world = World::from_file(example()).unwrap();
    assert_eq!(world.instances.len(), 2);
    assert_eq!(world.users[0].api_keys.len(), 1);
    assert_eq!(world.faults.seed, 42);
}

#[test]
fn world_file_errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    std::fs::write(
        &path,
        r#"{ "region": "us-ashburn-1", "tenancy": "t", "vcns": [1] }"#,
    )
    .unwrap();
    let error = World::from_file(&path).unwrap_err();
    assert!(error.to_string().contains("world.json"), "{error}");

    std::fs::write(
        &path,
        r#"{ "region": "us-ashburn-1", "tenancy": "t",
             "subnets": [{ "id": "s", "vcnId": "v", "compartmentId": "t",
                           "cidrBlock": "10.0.0.0/24" }] }"#,
    )
    .unwrap();
    let error = World::from_file(&path).unwrap_err();
    assert!(error.to_string().contains("unknown vcn v"), "{error}");
}

#[tokio::test]
async fn binary_serves_the_example_world() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oci-sim"))
        .arg("--world")
        .arg(example())
        .args(["--listen", "127.0.0.1:0", "--write-user-config"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let stdout = child.stdout.take().unwrap();
    let endpoint = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut endpoint = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.split("endpoint=").nth(1) {
                endpoint = rest.split_whitespace().next().map(str::to_owned);
            }
            if line.contains("wrote OCI config") {
                break;
            }
        }
        endpoint
    })
    .await
    .unwrap();
    let endpoint = endpoint.expect("the binary logs its endpoint");

    let instance = "ocid1.instance.oc1.iad.aaaaaaaaworker0";
    let region = reqwest::Client::new()
        .get(format!("{endpoint}/imds/{instance}/opc/v2/instance/region"))
        .header("Authorization", "Bearer Oracle")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(region, "iad");
    let unsigned = reqwest::get(format!("{endpoint}/20160918/instances/{instance}"))
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    let config = std::fs::read_to_string(dir.path().join("config")).unwrap();
    assert!(config.contains("tenancy=ocid1.tenancy.oc1..aaaaaaaasimtenancy"));

    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn public_key_files_are_read_next_to_the_world_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = oci_auth::PrivateKey::generate_rsa_2048().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/op.pem"), key.public_key().to_pem()).unwrap();
    let mut world = World::sample(1);
    let compartment = world.compartments[0].id.clone();
    let mut json = serde_json::to_value(&world).unwrap();
    json["users"] = serde_json::json!([{
        "id": "ocid1.user.oc1..op",
        "compartments": [compartment],
        "apiKeys": [{ "publicKeyFile": "keys/op.pem" }],
    }]);
    let path = dir.path().join("world.json");
    std::fs::write(&path, json.to_string()).unwrap();
    world = World::from_file(&path).unwrap();
    assert!(
        world.users[0].api_keys[0]
            .public_key_pem
            .as_deref()
            .unwrap()
            .contains("PUBLIC KEY")
    );

    let instance = world.instances[0].id.clone();
    let sim = oci_sim::Sim::start(world).await.unwrap();
    let fingerprint = key.public_key().fingerprint().as_str().to_owned();
    let url = url::Url::parse(&format!("{}/instances/{instance}", sim.api_base_url())).unwrap();
    let key_id = oci_auth::KeyId::from_raw(format!(
        "{}/ocid1.user.oc1..op/{fingerprint}",
        sim.tenancy()
    ));
    let mut headers = http::HeaderMap::new();
    let request = oci_auth::SignableRequest::new(
        &http::Method::GET,
        &url,
        &headers,
        oci_auth::SignableBody::Bytes(b""),
    );
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    oci_auth::sign(&request, oci_auth::SigningParams::new(&key_id, &key, now))
        .unwrap()
        .apply_to(&mut headers);
    let response = reqwest::Client::new()
        .get(url)
        .headers(headers)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}
