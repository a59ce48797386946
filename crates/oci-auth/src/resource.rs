//! Resource principals v2.2: a session token (RPST) and its private key given in
//! environment variables, as values or as absolute paths re-read on refresh.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::{
    BoxFuture, CredentialProvider, Credentials, Env, Error, KeyId, Ocid, Passphrase, PrivateKey,
    Region, SessionToken,
};

/// `OCI_RESOURCE_PRINCIPAL_VERSION`.
pub const RP_VERSION: &str = "OCI_RESOURCE_PRINCIPAL_VERSION";
/// `OCI_RESOURCE_PRINCIPAL_RPST`: the token, or an absolute path to a file holding it.
pub const RP_RPST: &str = "OCI_RESOURCE_PRINCIPAL_RPST";
/// `OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM`: the PEM key, or an absolute path to it.
pub const RP_PRIVATE_PEM: &str = "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM";
/// `OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM_PASSPHRASE`: the pass phrase, or (when the key is a
/// path) a path to a file holding it.
pub const RP_PASSPHRASE: &str = "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM_PASSPHRASE";
/// `OCI_RESOURCE_PRINCIPAL_REGION`: the canonical region.
pub const RP_REGION: &str = "OCI_RESOURCE_PRINCIPAL_REGION";

/// Re-read path-based sources this long before the token expires.
const RP_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A value given inline or through a file.
#[derive(Clone)]
enum Source {
    Inline(String),
    File(PathBuf),
}

impl Source {
    fn from_value(value: String) -> Self {
        if value.starts_with('/') {
            Self::File(PathBuf::from(value))
        } else {
            Self::Inline(value)
        }
    }

    fn read(&self, variable: &'static str) -> Result<String, Error> {
        match self {
            Self::Inline(value) => Ok(value.clone()),
            Self::File(path) => std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
                what: variable,
                path: path.clone(),
                source,
            }),
        }
    }

    fn origin(&self, variable: &str) -> String {
        match self {
            Self::Inline(_) => format!("${variable}"),
            Self::File(path) => path.display().to_string(),
        }
    }
}

/// Credentials of an OCI resource (function, job…) from the resource principal v2.2
/// environment. Key id `ST$<RPST>`; tenancy from the token's `res_tenant` claim.
///
/// With path sources, the files are re-read when the token nears expiry and on
/// [`CredentialProvider::refresh`], so a rotated token and key are picked up together.
pub struct ResourcePrincipalProvider {
    rpst: Source,
    private_pem: Source,
    passphrase: Option<Source>,
    region: Option<Region>,
    current: RwLock<(SessionToken, Credentials)>,
}

impl ResourcePrincipalProvider {
    /// Reads the v2.2 variables and loads the token and key once.
    ///
    /// # Errors
    /// [`Error::ResourcePrincipalVariable`] for a missing variable or an unsupported
    /// version; file, key and token errors naming the variable or file.
    pub fn from_env(env: &Env) -> Result<Self, Error> {
        let missing = |variable| Error::ResourcePrincipalVariable {
            variable,
            reason: "it is not set".to_owned(),
        };
        let version = env.var(RP_VERSION).ok_or_else(|| missing(RP_VERSION))?;
        if version.trim() != "2.2" {
            return Err(Error::ResourcePrincipalVariable {
                variable: RP_VERSION,
                reason: format!("version {version:?} is not supported; only 2.2 is"),
            });
        }

        let rpst = Source::from_value(env.var(RP_RPST).ok_or_else(|| missing(RP_RPST))?);
        let private_pem = Source::from_value(
            env.var(RP_PRIVATE_PEM)
                .ok_or_else(|| missing(RP_PRIVATE_PEM))?,
        );
        // The pass phrase is a file path only when the key itself is given as a path.
        let passphrase = env.var(RP_PASSPHRASE).map(|value| match private_pem {
            Source::File(_) => Source::from_value(value),
            Source::Inline(_) => Source::Inline(value),
        });
        let region = env.var(RP_REGION).map(|value| Region::resolve(&value));

        let current = load(&rpst, &private_pem, passphrase.as_ref())?;
        Ok(Self {
            rpst,
            private_pem,
            passphrase,
            region,
            current: RwLock::new(current),
        })
    }

    fn snapshot(&self) -> (SessionToken, Credentials) {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn reload(&self) -> Result<Credentials, Error> {
        let fresh = load(&self.rpst, &self.private_pem, self.passphrase.as_ref())?;
        let credentials = fresh.1.clone();
        match self.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(credentials)
    }
}

impl CredentialProvider for ResourcePrincipalProvider {
    fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
        let (token, credentials) = self.snapshot();
        let result = if token.needs_refresh(now, RP_REFRESH_MARGIN) {
            self.reload()
        } else {
            Ok(credentials)
        };
        Box::pin(std::future::ready(result))
    }

    fn refresh(&self, _now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(std::future::ready(self.reload()))
    }

    fn region(&self) -> Option<Region> {
        self.region.clone()
    }

    fn tenancy(&self) -> Option<Ocid> {
        let (token, _) = self.snapshot();
        token
            .res_tenant()
            .and_then(|tenant| Ocid::parse("res_tenant", tenant).ok())
    }
}

impl fmt::Debug for ResourcePrincipalProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (token, credentials) = self.snapshot();
        f.debug_struct("ResourcePrincipalProvider")
            .field("rpst", &self.rpst.origin(RP_RPST))
            .field("private_pem", &self.private_pem.origin(RP_PRIVATE_PEM))
            .field("region", &self.region)
            .field("token", &token)
            .field("key", credentials.private_key())
            .finish()
    }
}

fn load(
    rpst: &Source,
    private_pem: &Source,
    passphrase: Option<&Source>,
) -> Result<(SessionToken, Credentials), Error> {
    let token = SessionToken::parse(&rpst.read(RP_RPST)?, &rpst.origin(RP_RPST))?;
    let passphrase = match passphrase {
        Some(source) => Some(Passphrase::new(source.read(RP_PASSPHRASE)?.trim())),
        None => None,
    };
    let key = PrivateKey::from_pem_named(
        &private_pem.read(RP_PRIVATE_PEM)?,
        passphrase.as_ref(),
        &private_pem.origin(RP_PRIVATE_PEM),
    )?;
    let credentials = Credentials::new(KeyId::session_token(&token), Arc::new(key));
    Ok((token, credentials))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys;
    use crate::token::tests::jwt;

    const TENANT: &str = "ocid1.tenancy.oc1..aaaaaaaaresourcetenant";

    fn block_on<T>(future: BoxFuture<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn inline_values() {
        let token = jwt(&serde_json::json!({"exp": 5_000, "res_tenant": TENANT}));
        let env = Env::from_pairs([
            (RP_VERSION, "2.2"),
            (RP_RPST, token.as_str()),
            (RP_PRIVATE_PEM, test_keys::PKCS8_ENCRYPTED),
            (RP_PASSPHRASE, "test-only-passphrase"),
            (RP_REGION, "us-ashburn-1"),
        ]);
        let provider = ResourcePrincipalProvider::from_env(&env).unwrap();
        let credentials = block_on(provider.credentials(SystemTime::UNIX_EPOCH)).unwrap();
        assert_eq!(credentials.key_id().expose(), format!("ST${token}"));
        assert_eq!(
            credentials
                .private_key()
                .public_key()
                .fingerprint()
                .as_str(),
            test_keys::FINGERPRINT
        );
        assert_eq!(provider.tenancy().unwrap().as_str(), TENANT);
        assert_eq!(provider.region().unwrap().as_str(), "us-ashburn-1");
        let shown = format!("{provider:?}");
        assert!(
            !shown.contains(&token) && !shown.contains("test-only-passphrase"),
            "{shown}"
        );
    }

    #[test]
    fn paths_are_reread_on_refresh_and_near_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let rpst_path = dir.path().join("rpst");
        let key_path = dir.path().join("key.pem");
        let pass_path = dir.path().join("pass");
        let first = jwt(&serde_json::json!({"exp": 1_000}));
        std::fs::write(&rpst_path, &first).unwrap();
        std::fs::write(&key_path, test_keys::PKCS8_ENCRYPTED).unwrap();
        std::fs::write(&pass_path, "test-only-passphrase\n").unwrap();
        let env = Env::from_pairs([
            (RP_VERSION, "2.2".to_owned()),
            (RP_RPST, rpst_path.display().to_string()),
            (RP_PRIVATE_PEM, key_path.display().to_string()),
            (RP_PASSPHRASE, pass_path.display().to_string()),
        ]);
        let provider = ResourcePrincipalProvider::from_env(&env).unwrap();

        let second = jwt(&serde_json::json!({"exp": 9_000}));
        std::fs::write(&rpst_path, &second).unwrap();
        let early = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let got = block_on(provider.credentials(early)).unwrap();
        assert_eq!(
            got.key_id().expose(),
            format!("ST${first}"),
            "still valid: not re-read"
        );

        let late = SystemTime::UNIX_EPOCH + Duration::from_secs(950);
        let got = block_on(provider.credentials(late)).unwrap();
        assert_eq!(
            got.key_id().expose(),
            format!("ST${second}"),
            "near expiry: re-read"
        );

        let third = jwt(&serde_json::json!({"exp": 9_500}));
        std::fs::write(&rpst_path, &third).unwrap();
        let got = block_on(provider.refresh(late)).unwrap();
        assert_eq!(
            got.key_id().expose(),
            format!("ST${third}"),
            "forced refresh re-reads"
        );
    }

    #[test]
    fn bad_environments_name_the_variable() {
        let err = ResourcePrincipalProvider::from_env(&Env::from_pairs([(RP_VERSION, "1.1")]))
            .unwrap_err();
        assert!(err.to_string().contains(RP_VERSION), "{err}");
        let err = ResourcePrincipalProvider::from_env(&Env::from_pairs([(RP_VERSION, "2.2")]))
            .unwrap_err();
        assert!(err.to_string().contains(RP_RPST), "{err}");
        let env = Env::from_pairs([
            (RP_VERSION, "2.2"),
            (RP_RPST, "/nonexistent/rpst"),
            (RP_PRIVATE_PEM, test_keys::PKCS1),
        ]);
        let err = ResourcePrincipalProvider::from_env(&env).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/rpst"), "{err}");
    }
}
