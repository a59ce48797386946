//! A relative `key_file` in a config file resolves against the process working directory, as
//! in Oracle's SDKs, not against the folder of the config file. This test changes the working
//! directory, so it lives alone in its own test binary.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

use oci_auth::{ConfigProblemKind, ConfigProfile, Env, Error};

const TENANCY: &str =
    "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq";
const USER: &str = "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq";
const FINGERPRINT: &str = "31:27:86:3c:d2:ba:1d:85:df:41:d1:85:8e:e8:e2:6a";

#[test]
fn a_relative_key_file_resolves_against_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("keys")).unwrap();
    fs::create_dir_all(dir.path().join("conf")).unwrap();
    fs::write(
        dir.path().join("keys/api.pem"),
        include_str!("data/test-key-pkcs1.pem"),
    )
    .unwrap();
    let config = dir.path().join("conf/config");
    fs::write(
        &config,
        format!(
            "[P]\ntenancy={TENANCY}\nuser={USER}\nfingerprint={FINGERPRINT}\n\
             key_file=keys/api.pem\nregion=us-ashburn-1\n"
        ),
    )
    .unwrap();
    let env = Env::from_pairs([("HOME", "/nonexistent-home")]);

    std::env::set_current_dir(dir.path()).unwrap();
    let profile = ConfigProfile::load(Some(&config), "P", &env).unwrap();
    let provider = profile.into_provider().unwrap();
    let credentials = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(provider.credentials(SystemTime::UNIX_EPOCH))
        .unwrap();
    assert_eq!(
        credentials
            .private_key()
            .public_key()
            .fingerprint()
            .to_string(),
        FINGERPRINT
    );

    // From the config file's own folder the same relative path names a missing file.
    std::env::set_current_dir(dir.path().join("conf")).unwrap();
    let err = ConfigProfile::load(Some(&config), "P", &env).unwrap_err();
    let Error::ValidateConfig { problems, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(problems.len(), 1, "{err}");
    assert_eq!(problems[0].key, "key_file");
    assert_eq!(
        problems[0].kind,
        ConfigProblemKind::FileNotFound {
            path: PathBuf::from("keys/api.pem")
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("keys/api.pem") && message.contains("[P]"),
        "{message}"
    );
}
