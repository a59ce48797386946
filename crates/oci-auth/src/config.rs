//! The `~/.oci/config` file: INI parsing with `[DEFAULT]` inheritance, validation that
//! reports every problem at once, and the API-key and session-token providers built from it.

use std::fmt;

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
