//! Identifiers: OCIDs and signing key ids (with session tokens kept out of `Debug`).

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// An Oracle Cloud ID such as `ocid1.tenancy.oc1..aaaa…`, checked against the SDKs' pattern
/// `^([0-9a-zA-Z-_]+[.:])([0-9a-zA-Z-_]*[.:]){3,}([0-9a-zA-Z-_]+)$`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ocid(String);

impl Ocid {
    /// Parses `value` as an OCID; `field` names where it came from for the error message.
    ///
    /// # Errors
    /// [`Error::ParseOcid`] when the value does not have the OCID shape.
    pub fn parse(field: &'static str, value: &str) -> Result<Self, Error> {
        if is_ocid(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::ParseOcid {
                field,
                value: value.to_owned(),
            })
        }
    }

    /// The OCID text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Ocid {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        Self::parse("OCID", value)
    }
}

impl fmt::Display for Ocid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Ocid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ocid({})", self.0)
    }
}

/// The `keyId` of a signature: `<tenancy>/<user>/<fingerprint>` for API keys,
/// `ST$<token>` for session tokens, `<tenancy>/fed-x509…/<hash>` for federation calls.
///
/// `Debug` and `Display` never show a session token: an `ST$` key id prints as
/// `ST$<redacted session token>`. Use [`KeyId::expose`] to put it on the wire.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

/// What follows `ST$` in a redacted key id.
const REDACTED_TOKEN: &str = "<redacted session token>";

impl KeyId {
    /// The API-key form `<tenancy>/<user>/<fingerprint>`.
    #[must_use]
    pub fn api_key(tenancy: &Ocid, user: &Ocid, fingerprint: &crate::Fingerprint) -> Self {
        Self(format!("{tenancy}/{user}/{fingerprint}"))
    }

    /// The session-token form `ST$<token>`.
    #[must_use]
    pub fn session_token(token: &crate::SessionToken) -> Self {
        Self(format!("ST${}", token.expose()))
    }

    /// A key id taken verbatim (e.g. parsed from a received `Authorization` header).
    #[must_use]
    pub fn from_raw(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Whether this is a session-token key id (`ST$…`).
    #[must_use]
    pub fn is_session_token(&self) -> bool {
        self.0.starts_with("ST$")
    }

    /// The session token inside an `ST$…` key id, if this is one.
    #[must_use]
    pub fn session_token_text(&self) -> Option<&str> {
        self.0.strip_prefix("ST$")
    }

    /// The full key id as it goes into the `Authorization` header. It may hold a session
    /// token: never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_session_token() {
            write!(f, "ST${REDACTED_TOKEN}")
        } else {
            f.write_str(&self.0)
        }
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

fn is_ocid(value: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if !value.chars().all(|c| allowed(c) || c == '.' || c == ':') {
        return false;
    }

    let parts: Vec<&str> = value.split(['.', ':']).collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    parts.len() >= 5 && !first.is_empty() && !last.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocid_shapes() {
        for good in [
            "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq",
            "ocid1.user.oc1..aaaa",
            "ocid1.instance.oc1.iad.anuwcljt",
            "a:b:c:d:e",
        ] {
            assert!(Ocid::parse("tenancy", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ocid1.tenancy",
            "ocid1.tenancy.oc1.",
            "ocid1..tenancy.oc1 x",
            ".a.b.c.d",
        ] {
            let err = Ocid::parse("tenancy", bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::ParseOcid {
                        field: "tenancy",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn session_token_key_id_is_redacted() {
        let key_id = KeyId::from_raw("ST$eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2ln");
        assert!(key_id.is_session_token());
        for shown in [format!("{key_id}"), format!("{key_id:?}")] {
            assert!(!shown.contains("eyJhbGci"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
        assert_eq!(
            key_id.session_token_text(),
            Some("eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2ln")
        );

        let api = KeyId::from_raw("ocid1.tenancy.oc1..a/ocid1.user.oc1..b/aa:bb");
        assert_eq!(api.to_string(), api.expose());
    }
}
