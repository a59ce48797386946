//! Loading a key file that cannot be used gives a typed error that names the file and says
//! what to fix: a missing file, a wrong pass phrase, a truncated PEM, a key that is not RSA,
//! and an encrypted key without a pass phrase.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use oci_auth::{Error, Passphrase, PrivateKey};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn each_unusable_key_file_gives_a_typed_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.pem");
    let full = std::fs::read_to_string(data("test-key-pkcs1.pem")).unwrap();
    std::fs::write(&truncated, &full[..400]).unwrap();
    let missing = dir.path().join("missing.pem");
    let wrong = Passphrase::new("not-the-pass-phrase");
    let encrypted = data("test-key-pkcs8-encrypted.pem");
    let legacy = data("test-key-legacy-encrypted.pem");
    let ec = data("test-ec-pkcs8.pem");

    let cases: Vec<(&Path, Option<&Passphrase>, &str)> = vec![
        (&missing, None, "exists"),
        (&encrypted, Some(&wrong), "pass phrase is wrong"),
        (&legacy, Some(&wrong), "pass phrase is wrong"),
        (&encrypted, None, "pass"),
        (&truncated, None, "truncated"),
        (&ec, None, "must be RSA"),
    ];
    for (path, passphrase, hint) in cases {
        let err = PrivateKey::from_pem_file(path, passphrase).unwrap_err();

        let typed = match &err {
            Error::ReadFile { path: named, .. } => named == path,
            Error::LoadKeyDecrypt { origin, .. }
            | Error::LoadKeyMissingPassphrase { origin, .. }
            | Error::LoadKey { origin, .. }
            | Error::LoadKeyNotRsa { origin } => origin.contains(&*path.to_string_lossy()),
            other => panic!("{}: unexpected {other:?}", path.display()),
        };
        assert!(typed, "{}: {err:?}", path.display());
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            message.push_str(&format!(" / {cause}"));
            source = cause.source();
        }
        assert!(
            message.contains(&*path.to_string_lossy()),
            "the message names the file: {message}"
        );
        assert!(message.contains(hint), "{hint:?} in {message}");
        assert!(!message.contains("not-the-pass-phrase"), "{message}");
    }
}
