//! Test-only keys committed under `tests/data` (see the README there).

pub(crate) const PKCS1: &str = include_str!("../tests/data/test-key-pkcs1.pem");
pub(crate) const PKCS8: &str = include_str!("../tests/data/test-key-pkcs8.pem");
pub(crate) const PKCS8_ENCRYPTED: &str = include_str!("../tests/data/test-key-pkcs8-encrypted.pem");
pub(crate) const LEGACY_ENCRYPTED: &str =
    include_str!("../tests/data/test-key-legacy-encrypted.pem");
pub(crate) const PUBLIC: &str = include_str!("../tests/data/test-public.pem");
pub(crate) const EC_PKCS8: &str = include_str!("../tests/data/test-ec-pkcs8.pem");
pub(crate) const ORACLE_DOCS: &str = include_str!("../tests/data/oracle-docs-key.pem");
pub(crate) const FINGERPRINT: &str = "31:27:86:3c:d2:ba:1d:85:df:41:d1:85:8e:e8:e2:6a";
