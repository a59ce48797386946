//! `opc-retry-token`: one value per logical create, reused across its attempts.

use std::fmt;

use crate::Error;

/// An `opc-retry-token`: 1–64 characters. A create repeated with the same token within 24 h
/// returns the original result instead of creating a second resource.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RetryToken(String);

impl RetryToken {
    /// A fresh random token (32 hex digits).
    #[must_use]
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// A caller-chosen token, e.g. derived from the operator's plan so a restarted operator
    /// repeats the same create instead of making a second one.
    ///
    /// # Errors
    /// [`Error::InvalidRetryToken`] unless `token` is 1–64 visible ASCII characters.
    pub fn new(token: impl Into<String>) -> Result<Self, Error> {
        let token = token.into();

        let valid = (1..=64).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(Error::InvalidRetryToken {
                length: token.len(),
            });
        }

        Ok(Self(token))
    }

    /// The token text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RetryToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RetryToken({:?})", self.0)
    }
}

impl fmt::Display for RetryToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_differ_and_fit() {
        let a = RetryToken::random();
        let b = RetryToken::random();

        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
    }

    #[test]
    fn caller_tokens_are_checked() {
        assert!(RetryToken::new("node-a/vnic-1/ip-3").is_ok());
        assert!(RetryToken::new("").is_err());
        assert!(RetryToken::new("x".repeat(65)).is_err());
        assert!(RetryToken::new("with space").is_err());
    }
}
