//! Environment lookups, injectable so tests never touch the process environment.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Looks up one variable.
type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where environment variables come from: the process, or a fixed map (tests, embedders).
#[derive(Clone)]
pub struct Env {
    lookup: Lookup,
}

impl Env {
    /// The process environment.
    #[must_use]
    pub fn process() -> Self {
        Self {
            lookup: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// A fixed set of variables; every other name is unset.
    #[must_use]
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self {
            lookup: Arc::new(move |name| map.get(name).cloned()),
        }
    }

    /// The value of `name`, if set and not empty.
    #[must_use]
    pub fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.is_empty())
    }

    /// The home directory (`$HOME`).
    #[must_use]
    pub fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }

    /// Expands a leading `~` or `~/` with the home directory, as the SDKs do; other paths
    /// are returned unchanged (relative ones stay relative to the working directory).
    #[must_use]
    pub fn expand_tilde(&self, path: &str) -> PathBuf {
        match (path.strip_prefix('~'), self.home()) {
            (Some(""), Some(home)) => home,
            (Some(rest), Some(home)) if rest.starts_with('/') => {
                home.join(rest.trim_start_matches('/'))
            }
            _ => PathBuf::from(path),
        }
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_expansion() {
        let env = Env::from_pairs([("HOME", "/home/u")]);
        assert_eq!(
            env.expand_tilde("~/.oci/key.pem"),
            PathBuf::from("/home/u/.oci/key.pem")
        );
        assert_eq!(env.expand_tilde("~"), PathBuf::from("/home/u"));
        assert_eq!(env.expand_tilde("keys/k.pem"), PathBuf::from("keys/k.pem"));
        assert_eq!(env.expand_tilde("~other/k"), PathBuf::from("~other/k"));
        assert_eq!(Env::from_pairs([("X", "")]).var("X"), None);
    }
}
