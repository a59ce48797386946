//! Choosing a credential provider from configuration (a flag, a config file, the
//! environment).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use url::Url;

use crate::{
    ConfigProfile, CredentialProvider, DEFAULT_PROFILE, Env, Error, HttpTransport,
    InstancePrincipalProvider, ResourcePrincipalProvider, default_config_paths,
};

/// How to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// Resource principal when `OCI_RESOURCE_PRINCIPAL_VERSION` is set, else the config file
    /// when one exists, else instance principal.
    #[default]
    Auto,
    /// A config file profile: API key, or session token when the profile has
    /// `security_token_file`. Also accepted as `security_token` and `config_file`.
    ConfigFile,
    /// Instance principal (IMDS + federation).
    InstancePrincipal,
    /// Resource principal v2.2 from the environment.
    ResourcePrincipal,
}

impl FromStr for AuthMethod {
    type Err = Error;

    /// Accepts `auto`, `api_key`, `config_file`, `security_token`, `instance_principal`,
    /// `resource_principal` (case-insensitive, `-` or `_`).
    fn from_str(value: &str) -> Result<Self, Error> {
        match value.to_ascii_lowercase().replace('-', "_").as_str() {
            "auto" => Ok(Self::Auto),
            "api_key" | "config_file" | "security_token" => Ok(Self::ConfigFile),
            "instance_principal" => Ok(Self::InstancePrincipal),
            "resource_principal" => Ok(Self::ResourcePrincipal),
            _ => Err(Error::ParseAuthMethod {
                value: value.to_owned(),
            }),
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::ConfigFile => "api_key",
            Self::InstancePrincipal => "instance_principal",
            Self::ResourcePrincipal => "resource_principal",
        })
    }
}

/// Everything needed to pick and build a provider.
#[derive(Debug, Clone)]
#[must_use]
pub struct AuthConfig {
    method: AuthMethod,
    config_file: Option<PathBuf>,
    profile: String,
    metadata_base_url: Option<Url>,
    federation_endpoint: Option<Url>,
    transport: Option<Arc<dyn HttpTransport>>,
    env: Env,
}

impl AuthConfig {
    /// A configuration for `method`, profile `DEFAULT`, the process environment.
    pub fn new(method: AuthMethod) -> Self {
        Self {
            method,
            config_file: None,
            profile: DEFAULT_PROFILE.to_owned(),
            metadata_base_url: None,
            federation_endpoint: None,
            transport: None,
            env: Env::process(),
        }
    }

    /// The config file (default: `~/.oci/config`, `$OCI_CONFIG_FILE`,
    /// `~/.oraclebmc/config`).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// The config profile (default `DEFAULT`).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = profile.into();
        self
    }

    /// Overrides the IMDS base URL (instance principals).
    pub fn metadata_base_url(mut self, url: Url) -> Self {
        self.metadata_base_url = Some(url);
        self
    }

    /// Overrides the federation URL (instance principals).
    pub fn federation_endpoint(mut self, url: Url) -> Self {
        self.federation_endpoint = Some(url);
        self
    }

    /// The HTTP transport for IMDS and federation (default: [`crate::ReqwestTransport`]
    /// with the `reqwest` feature; required without it).
    pub fn transport(mut self, transport: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The environment to read (default: the process environment).
    pub fn env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// The method `Auto` resolves to in this environment (others return themselves).
    #[must_use]
    pub fn resolved_method(&self) -> AuthMethod {
        match self.method {
            AuthMethod::Auto if self.env.var("OCI_RESOURCE_PRINCIPAL_VERSION").is_some() => {
                AuthMethod::ResourcePrincipal
            }
            AuthMethod::Auto => {
                let has_file = match &self.config_file {
                    Some(path) => self.env.expand_tilde(&path.to_string_lossy()).is_file(),
                    None => default_config_paths(&self.env)
                        .iter()
                        .any(|path| path.is_file()),
                };
                if has_file {
                    AuthMethod::ConfigFile
                } else {
                    AuthMethod::InstancePrincipal
                }
            }
            other => other,
        }
    }

    /// Builds the provider for this configuration. Instance principals fetch nothing yet:
    /// the first [`CredentialProvider::credentials`] call does.
    ///
    /// # Errors
    /// The chosen provider's loading errors (config file, key, token, environment), or
    /// [`Error::BuildTransport`].
    pub fn build(&self) -> Result<Arc<dyn CredentialProvider>, Error> {
        let method = self.resolved_method();
        tracing::debug!(%method, profile = %self.profile, "choosing OCI credential provider");

        match method {
            AuthMethod::ConfigFile | AuthMethod::Auto => {
                ConfigProfile::load(self.config_file.as_deref(), &self.profile, &self.env)?
                    .into_provider()
            }
            AuthMethod::ResourcePrincipal => {
                Ok(Arc::new(ResourcePrincipalProvider::from_env(&self.env)?))
            }
            AuthMethod::InstancePrincipal => {
                let mut builder =
                    InstancePrincipalProvider::builder(self.chosen_transport()?).env(&self.env);
                if let Some(url) = &self.metadata_base_url {
                    builder = builder.metadata_base_url(url);
                }
                if let Some(url) = &self.federation_endpoint {
                    builder = builder.federation_endpoint(url);
                }
                Ok(Arc::new(builder.build()))
            }
        }
    }

    fn chosen_transport(&self) -> Result<Arc<dyn HttpTransport>, Error> {
        if let Some(transport) = &self.transport {
            return Ok(Arc::clone(transport));
        }
        default_transport()
    }
}

#[cfg(feature = "reqwest")]
fn default_transport() -> Result<Arc<dyn HttpTransport>, Error> {
    Ok(Arc::new(crate::ReqwestTransport::new()?))
}

#[cfg(not(feature = "reqwest"))]
fn default_transport() -> Result<Arc<dyn HttpTransport>, Error> {
    Err(Error::BuildTransport {
        source: "oci-auth was built without the reqwest feature; pass a transport".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_method_names() {
        assert_eq!(
            "instance-principal".parse::<AuthMethod>().unwrap(),
            AuthMethod::InstancePrincipal
        );
        assert_eq!(
            "API_KEY".parse::<AuthMethod>().unwrap(),
            AuthMethod::ConfigFile
        );
        assert_eq!(
            "security_token".parse::<AuthMethod>().unwrap(),
            AuthMethod::ConfigFile
        );
        assert!(matches!(
            "magic".parse::<AuthMethod>(),
            Err(Error::ParseAuthMethod { .. })
        ));
    }

    #[test]
    fn auto_prefers_resource_principal_then_config_file() {
        let rp = AuthConfig::new(AuthMethod::Auto)
            .env(Env::from_pairs([("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2")]));
        assert_eq!(rp.resolved_method(), AuthMethod::ResourcePrincipal);

        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_string_lossy().into_owned();
        let none =
            AuthConfig::new(AuthMethod::Auto).env(Env::from_pairs([("HOME", home.as_str())]));
        assert_eq!(none.resolved_method(), AuthMethod::InstancePrincipal);

        std::fs::create_dir(dir.path().join(".oci")).unwrap();
        std::fs::write(dir.path().join(".oci/config"), "[DEFAULT]\n").unwrap();
        assert_eq!(none.resolved_method(), AuthMethod::ConfigFile);
        assert!(matches!(none.build(), Err(Error::ValidateConfig { .. })));
    }
}
