//! Secrets never show: every credential type is formatted with `{:?}` (and `{}` where it
//! has `Display`), every error a secret could flow into is displayed, and the trace-level
//! logs of signing and loading are captured; none may contain a private key, pass phrase
//! or session token.

// Helpers outside #[test] functions unwrap too: any failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use http::{HeaderMap, Method};
use oci_auth::{
    ConfigFile, ConfigProfile, CredentialProvider as _, Credentials, Env, KeyId, Passphrase,
    PrivateKey, ProviderChain, ResourcePrincipalProvider, SessionToken, SignableBody,
    SignableRequest, SigningParams, StaticProvider, sign,
};
use rsa::traits::PrivateKeyParts as _;

const PASS: &str = "test-only-passphrase";

/// A JWT whose payload carries a marker, so any leak of the token is visible.
fn token() -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = engine.encode(
        r#"{"exp":4000000000,"res_tenant":"ocid1.tenancy.oc1..aaaa","secret":"TOKENMARKER"}"#,
    );
    format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2lnbmF0dXJlLXNlY3JldA")
}

fn data(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

/// Fragments of secret text that must never appear.
fn secrets(key: &PrivateKey, token: &str) -> Vec<String> {
    let pem = data("test-key-pkcs1.pem");
    let mut out: Vec<String> = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .map(|line| line[..line.len().min(24)].to_owned())
        .collect();
    out.push(key.as_rsa().d().to_string()[..24].to_owned());
    out.push(format!("{:x}", key.as_rsa().d())[..24].to_owned());
    out.push(PASS.to_owned());
    out.push(token.to_owned());
    out.push(token.split('.').nth(1).unwrap()[..24].to_owned());
    out.push("c2lnbmF0dXJlLXNlY3JldA".to_owned());
    out
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} leaks {secret:?}: {text}"
        );
    }
}

/// Collects everything logged, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_secret_in_debug_display_errors_or_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let token = token();
    let pass = Passphrase::new(PASS);
    let key = PrivateKey::from_pem(&data("test-key-pkcs8-encrypted.pem"), Some(&pass)).unwrap();
    let secrets = secrets(&key, &token);
    let session = SessionToken::parse(&token, "test").unwrap();
    let key_id = KeyId::session_token(&session);
    let credentials = Credentials::new(key_id.clone(), Arc::new(key.clone()));
    let provider = StaticProvider::new(credentials.clone());

    let url = url::Url::parse("https://iaas.us-ashburn-1.oraclecloud.com/20160918/vnics").unwrap();
    let headers = HeaderMap::new();
    let request = SignableRequest::new(&Method::POST, &url, &headers, SignableBody::Bytes(b"{}"));
    let output = sign(
        &request,
        SigningParams::new(&key_id, &key, SystemTime::UNIX_EPOCH),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.pem");
    let token_path = dir.path().join("token");
    std::fs::write(&key_path, data("test-key-pkcs8-encrypted.pem")).unwrap();
    std::fs::write(&token_path, format!("{token}\n")).unwrap();
    let config_text = format!(
        "[S]\nregion=iad\nkey_file={}\nsecurity_token_file={}\npass_phrase={PASS}\n\
         [BAD]\nkey_file={}\npass_phrase={PASS}\nfingerprint=XX\n",
        key_path.display(),
        token_path.display(),
        key_path.display(),
    );
    let config_path = dir.path().join("config");
    std::fs::File::create(&config_path)
        .unwrap()
        .write_all(config_text.as_bytes())
        .unwrap();
    let file = ConfigFile::load(&config_path).unwrap();
    let profile =
        ConfigProfile::from_file(&file, "S", &Env::from_pairs([("HOME", "/none")])).unwrap();
    let token_provider = profile.clone().into_provider().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(token_provider.refresh(SystemTime::UNIX_EPOCH))
        .unwrap();

    let rp = Arc::new(
        ResourcePrincipalProvider::from_env(&Env::from_pairs([
            ("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2"),
            ("OCI_RESOURCE_PRINCIPAL_RPST", token.as_str()),
            (
                "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM",
                data("test-key-pkcs8-encrypted.pem").as_str(),
            ),
            ("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM_PASSPHRASE", PASS),
        ]))
        .unwrap(),
    );

    let chain = ProviderChain::new(vec![rp.clone(), token_provider.clone()]);
    runtime
        .block_on(chain.credentials(SystemTime::UNIX_EPOCH))
        .unwrap();

    // Errors a secret could flow into.
    let wrong = Passphrase::new("wrong-pass-phrase-marker");
    let errors = [
        PrivateKey::from_pem(&data("test-key-pkcs8-encrypted.pem"), Some(&wrong)).unwrap_err(),
        PrivateKey::from_pem(&data("test-key-legacy-encrypted.pem"), Some(&wrong)).unwrap_err(),
        PrivateKey::from_pem(&data("test-key-pkcs1.pem")[..300], None).unwrap_err(),
        ConfigProfile::from_file(&file, "BAD", &Env::from_pairs([("HOME", "/none")])).unwrap_err(),
        SessionToken::parse(&format!("{token}.extra"), "test").unwrap_err(),
    ];

    let mut shown = vec![
        ("key", format!("{key:?}")),
        ("public key", format!("{:?}", key.public_key())),
        ("pass phrase", format!("{pass:?}")),
        ("session token", format!("{session:?}")),
        ("key id", format!("{key_id:?} {key_id}")),
        ("credentials", format!("{credentials:?}")),
        ("static provider", format!("{provider:?}")),
        ("signing output", format!("{output:?}")),
        ("config file", format!("{file:?}")),
        ("config profile", format!("{profile:?}")),
        ("session token provider", format!("{token_provider:?}")),
        ("resource principal provider", format!("{rp:?}")),
        ("provider chain", format!("{chain:?}")),
    ];
    for error in &errors {
        shown.push(("error", format!("{error} / {error:?}")));
        assert!(!format!("{error:?}").contains("wrong-pass-phrase-marker"));
    }
    for (what, text) in &shown {
        assert_clean(what, text, &secrets);
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("signed request"),
        "trace logs were captured: {logs}"
    );
    assert_clean("logs", &logs, &secrets);
}
