//! The `~/.oci/config` file: INI parsing with `[DEFAULT]` inheritance, validation that
//! reports every problem at once, and the API-key and session-token providers built from it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::{
    BoxFuture, CredentialProvider, Credentials, Env, Error, Fingerprint, KeyId, Ocid, Passphrase,
    PrivateKey, Region, SessionToken, StaticProvider,
};

/// One problem with one key of a config profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key (`user`, `fingerprint`, `key_file`, `tenancy`, `region`, ...).
    pub key: String,
    /// What is wrong with it.
    pub kind: ConfigProblemKind,
}

/// What is wrong with a config key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigProblemKind {
    /// The key is absent.
    Missing,
    /// The key is present but its value does not have the required shape.
    Malformed {
        /// What was expected.
        expected: &'static str,
    },
    /// The key names a file that does not exist.
    FileNotFound {
        /// The path after `~` expansion.
        path: std::path::PathBuf,
    },
    /// The key must not appear in a file (e.g. `key_content`).
    NotAllowed,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ConfigProblemKind::Missing => write!(f, "{} is missing", self.key),
            ConfigProblemKind::Malformed { expected } => {
                write!(f, "{} is malformed (expected {expected})", self.key)
            }
            ConfigProblemKind::FileNotFound { path } => {
                write!(
                    f,
                    "{} names {} which does not exist",
                    self.key,
                    path.display()
                )
            }
            ConfigProblemKind::NotAllowed => {
                write!(f, "{} is not allowed in a config file", self.key)
            }
        }
    }
}

/// All problems, joined for an error message.
pub(crate) fn describe_problems(problems: &[ConfigProblem]) -> String {
    let parts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

// === impl ConfigFile ===

/// Where `~/.oci/config` is looked for when no path is given: `~/.oci/config`, then
/// `$OCI_CONFIG_FILE`, then `~/.oraclebmc/config` (the Python SDK's order).
#[must_use]
pub fn default_config_paths(env: &Env) -> Vec<PathBuf> {
    let mut paths = vec![env.expand_tilde("~/.oci/config")];
    if let Some(path) = env.var("OCI_CONFIG_FILE") {
        paths.push(env.expand_tilde(&path));
    }
    paths.push(env.expand_tilde("~/.oraclebmc/config"));
    paths
}

/// The first existing file of [`default_config_paths`].
///
/// # Errors
/// [`Error::FindConfigFile`] listing every path tried.
pub fn find_config_file(env: &Env) -> Result<PathBuf, Error> {
    let tried = default_config_paths(env);
    tried
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or(Error::FindConfigFile { tried })
}

/// A parsed config file, with Python `configparser` semantics (interpolation off): section
/// names are case-sensitive, keys are not; `=` or `:` separate key and value; whole-line
/// `#`/`;` comments; inline comments are kept in values; indented lines continue a value;
/// duplicate sections or keys are errors; `[DEFAULT]` keys are inherited by every profile.
#[derive(Clone)]
pub struct ConfigFile {
    path: PathBuf,
    defaults: Vec<Entry>,
    sections: Vec<(String, Vec<Entry>)>,
}

/// One `key = value` with its line number.
#[derive(Clone)]
struct Entry {
    key: String,
    value: String,
    line: usize,
}

/// The section name whose keys every profile inherits.
pub const DEFAULT_PROFILE: &str = "DEFAULT";

impl ConfigFile {
    /// Reads and parses `path`.
    ///
    /// # Errors
    /// [`Error::ReadFile`] or [`Error::ParseConfig`].
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            what: "OCI config",
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` is used in errors and kept for later messages.
    ///
    /// # Errors
    /// [`Error::ParseConfig`] naming the line.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let fail = |line: usize, reason: String| Error::ParseConfig {
            path: path.to_owned(),
            line,
            reason,
        };
        let mut defaults: Vec<Entry> = Vec::new();
        let mut sections: Vec<(String, Vec<Entry>)> = Vec::new();
        let mut current: Option<usize> = None; // None = before any section; usize::MAX = DEFAULT
        let mut can_continue = false;

        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let trimmed = raw.trim();
            let indented = raw.starts_with([' ', '\t']);

            if trimmed.is_empty() {
                can_continue = false;
                continue;
            }
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if indented && can_continue {
                let entries = match current {
                    Some(usize::MAX) => &mut defaults,
                    Some(i) => &mut sections[i].1,
                    None => return Err(fail(number, "continuation line before any key".into())),
                };
                if let Some(entry) = entries.last_mut() {
                    entry.value.push('\n');
                    entry.value.push_str(trimmed);
                }
                continue;
            }

            if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                can_continue = false;
                if name == DEFAULT_PROFILE {
                    current = Some(usize::MAX);
                    continue;
                }
                if sections.iter().any(|(existing, _)| existing == name) {
                    return Err(fail(number, format!("section [{name}] appears twice")));
                }
                sections.push((name.to_owned(), Vec::new()));
                current = Some(sections.len() - 1);
                continue;
            }

            let split_at = trimmed.find(['=', ':']).ok_or_else(|| {
                fail(
                    number,
                    "expected `key = value`, `[section]` or a comment".into(),
                )
            })?;
            let key = trimmed[..split_at].trim().to_ascii_lowercase();
            let value = trimmed[split_at + 1..].trim().to_owned();
            if key.is_empty() {
                return Err(fail(
                    number,
                    "a line starts with '=' or ':' (no key)".into(),
                ));
            }
            let entries = match current {
                Some(usize::MAX) => &mut defaults,
                Some(i) => &mut sections[i].1,
                None => {
                    return Err(fail(number, "key before the first [section] header".into()));
                }
            };
            if entries.iter().any(|entry| entry.key == key) {
                return Err(fail(
                    number,
                    format!("key {key} appears twice in this section"),
                ));
            }
            entries.push(Entry {
                key,
                value,
                line: number,
            });
            can_continue = true;
        }

        Ok(Self {
            path: path.to_owned(),
            defaults,
            sections,
        })
    }

    /// The config file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The profile names, in file order (`DEFAULT` not included).
    #[must_use]
    pub fn profile_names(&self) -> Vec<&str> {
        self.sections
            .iter()
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The value of `key` in `profile`, falling back to `[DEFAULT]`, with its line number.
    /// `None` when the profile does not exist (other than `DEFAULT`) or lacks the key.
    #[must_use]
    pub fn value(&self, profile: &str, key: &str) -> Option<(&str, usize)> {
        let key = key.to_ascii_lowercase();
        let own = if profile == DEFAULT_PROFILE {
            None
        } else {
            let (_, entries) = self.sections.iter().find(|(name, _)| name == profile)?;
            entries.iter().find(|entry| entry.key == key)
        };
        own.or_else(|| self.defaults.iter().find(|entry| entry.key == key))
            .map(|entry| (entry.value.as_str(), entry.line))
    }

    /// Whether `profile` exists (`DEFAULT` always does, as in the Python SDK).
    #[must_use]
    pub fn has_profile(&self, profile: &str) -> bool {
        profile == DEFAULT_PROFILE || self.sections.iter().any(|(name, _)| name == profile)
    }
}

impl fmt::Debug for ConfigFile {
    /// Shows the path and profile names only: values may hold a pass phrase.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("profiles", &self.profile_names())
            .finish()
    }
}

// === impl ConfigProfile ===

/// A validated profile: everything needed to sign, per authentication mode.
#[derive(Clone)]
pub struct ConfigProfile {
    path: PathBuf,
    profile: String,
    tenancy: Option<Ocid>,
    region: Region,
    key_file: PathBuf,
    pass_phrase: Option<Passphrase>,
    mode: ProfileMode,
}

/// How a profile authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProfileMode {
    /// An API key: key id `<tenancy>/<user>/<fingerprint>`.
    ApiKey {
        /// The user OCID.
        user: Ocid,
        /// The fingerprint of the uploaded public key.
        fingerprint: Fingerprint,
    },
    /// A session token file (`oci session authenticate`): key id `ST$<token>`.
    SessionToken {
        /// The token file, `~` expanded.
        token_file: PathBuf,
    },
}

impl ConfigProfile {
    /// Loads `profile` from the config file at `path` (or the default locations), and
    /// validates it, reporting every missing or malformed key at once.
    ///
    /// Required for API keys: `user`, `tenancy`, `fingerprint`, `key_file`, `region`
    /// (`$OCI_REGION` fills a missing `region`). With `security_token_file`, `user` and
    /// `fingerprint` are not needed. `key_file` and `security_token_file` must exist
    /// (`~` expanded; relative paths are relative to the working directory, as in the SDKs);
    /// `key_content` is refused in a file. The pass phrase comes from `pass_phrase` (or
    /// Go's `passphrase`).
    ///
    /// # Errors
    /// [`Error::FindConfigFile`], [`Error::ReadFile`], [`Error::ParseConfig`],
    /// [`Error::FindProfile`] or [`Error::ValidateConfig`].
    pub fn load(path: Option<&Path>, profile: &str, env: &Env) -> Result<Self, Error> {
        let path = match path {
            Some(path) => env.expand_tilde(&path.to_string_lossy()),
            None => find_config_file(env)?,
        };
        let file = ConfigFile::load(&path)?;
        Self::from_file(&file, profile, env)
    }

    /// Validates `profile` of an already parsed file.
    ///
    /// # Errors
    /// [`Error::FindProfile`] or [`Error::ValidateConfig`].
    pub fn from_file(file: &ConfigFile, profile: &str, env: &Env) -> Result<Self, Error> {
        if !file.has_profile(profile) {
            return Err(Error::FindProfile {
                path: file.path().to_owned(),
                profile: profile.to_owned(),
            });
        }

        let mut problems = Vec::new();
        let mut problem = |key: &str, kind| {
            problems.push(ConfigProblem {
                key: key.into(),
                kind,
            })
        };
        let get = |key: &str| file.value(profile, key).map(|(value, _)| value);

        if get("key_content").is_some() {
            problem("key_content", ConfigProblemKind::NotAllowed);
        }
        let token_file = get("security_token_file").map(|value| env.expand_tilde(value));
        if let Some(path) = token_file.as_ref().filter(|path| !path.is_file()) {
            let kind = ConfigProblemKind::FileNotFound { path: path.clone() };
            problem("security_token_file", kind);
        }

        let user = match (get("user"), &token_file) {
            (Some(value), _) => ocid_or_problem("user", value, &mut problem),
            (None, Some(_)) => None,
            (None, None) => {
                problem("user", ConfigProblemKind::Missing);
                None
            }
        };
        let fingerprint = match (get("fingerprint"), &token_file) {
            (Some(value), _) => value.parse::<Fingerprint>().ok().or_else(|| {
                let expected = "16 lower-case hex pairs joined by ':'";
                problem("fingerprint", ConfigProblemKind::Malformed { expected });
                None
            }),
            (None, Some(_)) => None,
            (None, None) => {
                problem("fingerprint", ConfigProblemKind::Missing);
                None
            }
        };

        let key_file = match get("key_file") {
            Some(value) => {
                let path = env.expand_tilde(value);
                if !path.is_file() {
                    problem(
                        "key_file",
                        ConfigProblemKind::FileNotFound { path: path.clone() },
                    );
                }
                Some(path)
            }
            None => {
                problem("key_file", ConfigProblemKind::Missing);
                None
            }
        };

        let tenancy = match (get("tenancy"), &token_file) {
            (Some(value), _) => ocid_or_problem("tenancy", value, &mut problem),
            (None, Some(_)) => None,
            (None, None) => {
                problem("tenancy", ConfigProblemKind::Missing);
                None
            }
        };

        let region = get("region")
            .map(str::to_owned)
            .or_else(|| env.var("OCI_REGION"));
        if region.is_none() {
            problem("region", ConfigProblemKind::Missing);
        }

        let pass_phrase = get("pass_phrase")
            .or_else(|| get("passphrase"))
            .map(Passphrase::new);

        let mode = match (token_file, user, fingerprint) {
            (Some(token_file), _, _) => Some(ProfileMode::SessionToken { token_file }),
            (None, Some(user), Some(fingerprint)) => {
                Some(ProfileMode::ApiKey { user, fingerprint })
            }
            _ => None,
        };
        match (problems.is_empty(), mode, key_file, region) {
            (true, Some(mode), Some(key_file), Some(region)) => Ok(Self {
                path: file.path().to_owned(),
                profile: profile.to_owned(),
                tenancy,
                region: Region::resolve(&region),
                key_file,
                pass_phrase,
                mode,
            }),
            _ => Err(Error::ValidateConfig {
                path: file.path().to_owned(),
                profile: profile.to_owned(),
                problems,
            }),
        }
    }

    /// The authentication mode and its fields.
    #[must_use]
    pub fn mode(&self) -> &ProfileMode {
        &self.mode
    }

    /// The region (short codes resolved).
    #[must_use]
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The tenancy OCID (always set for API keys).
    #[must_use]
    pub fn tenancy(&self) -> Option<&Ocid> {
        self.tenancy.as_ref()
    }

    /// The private key file, `~` expanded.
    #[must_use]
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// Loads the private key (with the pass phrase, if any).
    ///
    /// # Errors
    /// As [`PrivateKey::from_pem_file`]. Known shortcoming: such an error names the key file
    /// but not the profile or the `key_file`/`pass_phrase` key that pointed to it.
    pub fn load_key(&self) -> Result<PrivateKey, Error> {
        PrivateKey::from_pem_file(&self.key_file, self.pass_phrase.as_ref())
    }

    /// Builds the provider for this profile: a [`StaticProvider`] for API keys, a
    /// [`SessionTokenProvider`] for session tokens.
    ///
    /// # Errors
    /// Key loading errors, or [`Error::ReadFile`]/[`Error::ParseSessionToken`] for the
    /// token file.
    pub fn into_provider(self) -> Result<Arc<dyn CredentialProvider>, Error> {
        let key = Arc::new(self.load_key()?);
        match &self.mode {
            ProfileMode::ApiKey { user, fingerprint } => {
                let tenancy = self.tenancy.clone().ok_or_else(|| Error::ValidateConfig {
                    path: self.path.clone(),
                    profile: self.profile.clone(),
                    problems: vec![ConfigProblem {
                        key: "tenancy".into(),
                        kind: ConfigProblemKind::Missing,
                    }],
                })?;
                let key_id = KeyId::api_key(&tenancy, user, fingerprint);
                let provider = StaticProvider::new(Credentials::new(key_id, key))
                    .with_region(self.region.clone())
                    .with_tenancy(tenancy);
                Ok(Arc::new(provider))
            }
            ProfileMode::SessionToken { token_file } => {
                let provider = SessionTokenProvider::load(token_file.clone(), key)?
                    .with_region(self.region.clone());
                let provider = match self.tenancy.clone() {
                    Some(tenancy) => provider.with_tenancy(tenancy),
                    None => provider,
                };
                Ok(Arc::new(provider))
            }
        }
    }
}

impl fmt::Debug for ConfigProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigProfile")
            .field("path", &self.path)
            .field("profile", &self.profile)
            .field("tenancy", &self.tenancy)
            .field("region", &self.region)
            .field("key_file", &self.key_file)
            .field(
                "pass_phrase",
                &self.pass_phrase.as_ref().map(|_| "<redacted>"),
            )
            .field("mode", &self.mode)
            .finish()
    }
}

// === impl SessionTokenProvider ===

/// Credentials from a session token file (`security_token_file`) and its private key.
///
/// The token file is re-read on [`CredentialProvider::refresh`] and whenever the token in
/// memory is within the refresh margin of its expiry, so a token renewed on disk (by
/// `oci session refresh`) is picked up. A trailing newline in the file is trimmed.
pub struct SessionTokenProvider {
    token_file: PathBuf,
    key: Arc<PrivateKey>,
    current: RwLock<(SessionToken, Credentials)>,
    region: Option<Region>,
    tenancy: Option<Ocid>,
}

/// Re-read a session token file this long before its expiry.
const SESSION_TOKEN_MARGIN: Duration = Duration::from_secs(60);

impl SessionTokenProvider {
    /// Reads the token from `token_file` and pairs it with `key`.
    ///
    /// # Errors
    /// [`Error::ReadFile`] or [`Error::ParseSessionToken`] naming the file.
    pub fn load(token_file: PathBuf, key: Arc<PrivateKey>) -> Result<Self, Error> {
        let current = read_token_file(&token_file, &key)?;
        Ok(Self {
            token_file,
            key,
            current: RwLock::new(current),
            region: None,
            tenancy: None,
        })
    }

    /// Sets the region it reports.
    #[must_use]
    pub fn with_region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Sets the tenancy it reports.
    #[must_use]
    pub fn with_tenancy(mut self, tenancy: Ocid) -> Self {
        self.tenancy = Some(tenancy);
        self
    }

    fn snapshot(&self) -> (SessionToken, Credentials) {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn reload(&self) -> Result<Credentials, Error> {
        let fresh = read_token_file(&self.token_file, &self.key)?;
        let credentials = fresh.1.clone();
        match self.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(credentials)
    }
}

impl CredentialProvider for SessionTokenProvider {
    fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
        let (token, credentials) = self.snapshot();
        let result = if token.needs_refresh(now, SESSION_TOKEN_MARGIN) {
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
        self.tenancy.clone()
    }
}

impl fmt::Debug for SessionTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokenProvider")
            .field("token_file", &self.token_file)
            .field("token", &self.snapshot().0)
            .field("key", &self.key)
            .finish()
    }
}

fn read_token_file(
    path: &Path,
    key: &Arc<PrivateKey>,
) -> Result<(SessionToken, Credentials), Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        what: "session token",
        path: path.to_owned(),
        source,
    })?;
    let token = SessionToken::parse(&text, &path.display().to_string())?;
    let credentials = Credentials::new(KeyId::session_token(&token), Arc::clone(key));
    Ok((token, credentials))
}

fn ocid_or_problem(
    key: &'static str,
    value: &str,
    problem: &mut impl FnMut(&str, ConfigProblemKind),
) -> Option<Ocid> {
    Ocid::parse(key, value).ok().or_else(|| {
        problem(
            key,
            ConfigProblemKind::Malformed {
                expected: "an OCID",
            },
        );
        None
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::test_keys;
    use crate::token::tests::jwt;

    const TENANCY: &str =
        "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq";
    const USER: &str =
        "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq";

    fn no_env() -> Env {
        Env::from_pairs([("HOME", "/nonexistent-home")])
    }

    #[test]
    fn parses_configparser_semantics() {
        let text = "# comment\n[DEFAULT]\nREGION = us-chicago-1 # kept\n\n[Case_Keys]\n\
                    user: u\nlong = first\n  second\n; another comment\n";
        let file = ConfigFile::parse(text, Path::new("cfg")).unwrap();
        assert_eq!(
            file.value("Case_Keys", "region"),
            Some(("us-chicago-1 # kept", 3))
        );
        assert_eq!(file.value("Case_Keys", "USER"), Some(("u", 6)));
        assert_eq!(
            file.value("Case_Keys", "long").map(|v| v.0),
            Some("first\nsecond")
        );
        assert!(!file.has_profile("case_keys"));
        assert!(file.has_profile(DEFAULT_PROFILE));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        for (text, line) in [
            ("user = x\n", 1),
            ("[A]\nuser = x\nuser = y\n", 3),
            ("[A]\n[A]\n", 2),
            ("[A]\njust words\n", 2),
        ] {
            match ConfigFile::parse(text, Path::new("/etc/oci/config")) {
                Err(Error::ParseConfig {
                    line: got, path, ..
                }) => {
                    assert_eq!(got, line, "{text:?}");
                    assert_eq!(path, Path::new("/etc/oci/config"));
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn api_key_profile_with_default_inheritance() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("key.pem");
        fs::write(&key_path, test_keys::PKCS1).unwrap();
        let text = format!(
            "[DEFAULT]\ntenancy={TENANCY}\nregion=iad\npass_phrase=unused-for-plain-key\n\
             [ADMIN]\nuser={USER}\nfingerprint={}\nkey_file={}\n",
            test_keys::FINGERPRINT,
            key_path.display()
        );
        let file = ConfigFile::parse(&text, &dir.path().join("config")).unwrap();

        let profile = ConfigProfile::from_file(&file, "ADMIN", &no_env()).unwrap();
        assert_eq!(profile.region().as_str(), "us-ashburn-1");
        let provider = profile.into_provider().unwrap();
        let now = SystemTime::UNIX_EPOCH;
        let credentials = futures_block_on(provider.credentials(now)).unwrap();
        assert_eq!(
            credentials.key_id().expose(),
            format!("{TENANCY}/{USER}/{}", test_keys::FINGERPRINT)
        );
        assert_eq!(provider.tenancy().unwrap().as_str(), TENANCY);
    }

    #[test]
    fn validation_reports_every_problem_at_once() {
        let text =
            "[P]\ntenancy=not-an-ocid\nfingerprint=AA:BB\nkey_file=~/missing.pem\nkey_content=x\n";
        let file = ConfigFile::parse(text, Path::new("/cfg")).unwrap();
        let err = ConfigProfile::from_file(&file, "P", &no_env()).unwrap_err();
        let Error::ValidateConfig {
            problems, profile, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(profile, "P");
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "key_content",
                "user",
                "fingerprint",
                "key_file",
                "tenancy",
                "region"
            ]
        );
        assert_eq!(
            problems[3].kind,
            ConfigProblemKind::FileNotFound {
                path: PathBuf::from("/nonexistent-home/missing.pem")
            }
        );
        let message = err.to_string();
        assert!(
            message.contains("/cfg") && message.contains("[P]"),
            "{message}"
        );
        assert!(message.contains("user is missing"), "{message}");
        assert!(message.contains("fingerprint is malformed"), "{message}");
    }

    #[test]
    fn region_from_environment_and_missing_profile() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("key.pem");
        fs::write(&key_path, test_keys::PKCS1).unwrap();
        let text = format!(
            "[P]\ntenancy={TENANCY}\nuser={USER}\nfingerprint={}\nkey_file={}\n",
            test_keys::FINGERPRINT,
            key_path.display()
        );
        let file = ConfigFile::parse(&text, Path::new("cfg")).unwrap();
        let env = Env::from_pairs([("OCI_REGION", "fra")]);
        let profile = ConfigProfile::from_file(&file, "P", &env).unwrap();
        assert_eq!(profile.region().as_str(), "eu-frankfurt-1");

        let err = ConfigProfile::from_file(&file, "NOPE", &env).unwrap_err();
        assert!(matches!(err, Error::FindProfile { ref profile, .. } if profile == "NOPE"));
        // DEFAULT always exists; here it has nothing, so validation lists what is missing.
        let err = ConfigProfile::from_file(&file, DEFAULT_PROFILE, &env).unwrap_err();
        assert!(matches!(err, Error::ValidateConfig { .. }), "{err:?}");
    }

    #[test]
    fn session_token_profile_trims_and_rereads() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("key.pem");
        let token_path = dir.path().join("token");
        fs::write(&key_path, test_keys::PKCS8_ENCRYPTED).unwrap();
        let first = jwt(&serde_json::json!({"exp": 10_000}));
        fs::write(&token_path, format!("{first}\n")).unwrap();
        let text = format!(
            "[S]\nregion=us-phoenix-1\nkey_file={}\nsecurity_token_file={}\n\
             pass_phrase=test-only-passphrase\n",
            key_path.display(),
            token_path.display()
        );
        let file = ConfigFile::parse(&text, Path::new("cfg")).unwrap();
        let profile = ConfigProfile::from_file(&file, "S", &no_env()).unwrap();
        assert!(matches!(profile.mode(), ProfileMode::SessionToken { .. }));
        assert!(!format!("{profile:?}").contains("test-only-passphrase"));

        let provider = profile.into_provider().unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let credentials = futures_block_on(provider.credentials(now)).unwrap();
        assert_eq!(credentials.key_id().expose(), format!("ST${first}"));
        assert!(!format!("{provider:?}").contains(&first));

        let second = jwt(&serde_json::json!({"exp": 20_000}));
        fs::write(&token_path, &second).unwrap();
        let credentials = futures_block_on(provider.refresh(now)).unwrap();
        assert_eq!(credentials.key_id().expose(), format!("ST${second}"));
    }

    #[test]
    fn missing_config_file_lists_paths_tried() {
        let env = Env::from_pairs([("HOME", "/nonexistent-home"), ("OCI_CONFIG_FILE", "/x/cfg")]);
        let err = ConfigProfile::load(None, "DEFAULT", &env).unwrap_err();
        let Error::FindConfigFile { tried } = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            tried,
            [
                PathBuf::from("/nonexistent-home/.oci/config"),
                PathBuf::from("/x/cfg"),
                PathBuf::from("/nonexistent-home/.oraclebmc/config"),
            ]
        );
    }

    /// Runs a ready future (the config providers never suspend).
    fn futures_block_on<T>(future: BoxFuture<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }
}
