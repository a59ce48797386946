//! Session tokens (JWTs): the `exp` and `iat` claims read from the payload, the text kept
//! out of `Debug`.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::Error;

/// A session token (a JWT as issued by the auth service). Only its payload is decoded, to
/// read `exp`, `iat` and the resource-principal claims; the signature is the server's to
/// check. `Debug` shows the expiry, never the token.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken {
    text: String,
    expires_at: SystemTime,
    issued_at: Option<SystemTime>,
    res_tenant: Option<String>,
    res_compartment: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    exp: Option<f64>,
    iat: Option<f64>,
    res_tenant: Option<String>,
    res_compartment: Option<String>,
}

impl SessionToken {
    /// Parses a JWT; surrounding whitespace (a token file's trailing newline) is trimmed.
    /// `origin` names where it came from in errors.
    ///
    /// # Errors
    /// [`Error::ParseSessionToken`] when the text is not three base64url parts whose middle
    /// one is a JSON object with a numeric `exp`.
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let fail = |reason| Error::ParseSessionToken {
            origin: origin.to_owned(),
            reason,
        };
        let text = text.trim();

        let mut parts = text.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail("a JWT has three dot-separated parts"));
        };
        let payload = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| fail("the payload is not base64url"))?;
        let claims: Claims = serde_json::from_slice(&payload)
            .map_err(|_| fail("the payload is not a JSON object"))?;
        let exp = claims
            .exp
            .ok_or_else(|| fail("the payload has no numeric exp claim"))?;

        Ok(Self {
            text: text.to_owned(),
            expires_at: epoch_seconds(exp).ok_or_else(|| fail("the exp claim is out of range"))?,
            issued_at: claims.iat.and_then(epoch_seconds),
            res_tenant: claims.res_tenant,
            res_compartment: claims.res_compartment,
        })
    }

    /// The token text. It is a bearer secret: never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// When the token expires (`exp`).
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// When it was issued (`iat`), if the token says.
    #[must_use]
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.issued_at
    }

    /// The `res_tenant` claim (resource principal tokens).
    #[must_use]
    pub fn res_tenant(&self) -> Option<&str> {
        self.res_tenant.as_deref()
    }

    /// The `res_compartment` claim (resource principal tokens).
    #[must_use]
    pub fn res_compartment(&self) -> Option<&str> {
        self.res_compartment.as_deref()
    }

    /// Whether the token should be replaced at `now`: it expires within `margin`. The
    /// margin is capped at half the token's lifetime when `iat` is known, so short-lived
    /// tokens are still used for a while.
    #[must_use]
    pub fn needs_refresh(&self, now: SystemTime, margin: Duration) -> bool {
        let lifetime = self
            .issued_at
            .and_then(|iat| self.expires_at.duration_since(iat).ok());
        let margin = match lifetime {
            Some(lifetime) => margin.min(lifetime / 2),
            None => margin,
        };
        match self.expires_at.checked_sub(margin) {
            Some(refresh_at) => now >= refresh_at,
            None => true,
        }
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionToken")
            .field("text", &"<redacted>")
            .field("expires_at", &httpdate::fmt_http_date(self.expires_at))
            .finish()
    }
}

fn epoch_seconds(seconds: f64) -> Option<SystemTime> {
    if !(0.0..=1e12).contains(&seconds) {
        return None;
    }
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An unsigned JWT with the given claims (tests only; the signature part is fixed).
    pub(crate) fn jwt(claims: &serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{payload}.c2lnbmF0dXJl")
    }

    #[test]
    fn reads_exp_and_trims_newline() {
        let text = jwt(&serde_json::json!({"exp": 1_000_000, "iat": 999_400, "res_tenant": "t"}));
        let token = SessionToken::parse(&format!("{text}\n"), "test").unwrap();
        assert_eq!(token.expose(), text);
        assert_eq!(
            token.expires_at(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
        );
        assert_eq!(token.res_tenant(), Some("t"));
        assert!(!format!("{token:?}").contains(&text[..20]));
    }

    #[test]
    fn refresh_margin_is_capped_at_half_lifetime() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let token =
            SessionToken::parse(&jwt(&serde_json::json!({"exp": 1_000, "iat": 400})), "t").unwrap();
        let margin = Duration::from_secs(300);
        assert!(!token.needs_refresh(at(699), margin));
        assert!(token.needs_refresh(at(700), margin));
        // 100 s lifetime: refresh at half of it, not 300 s early.
        let short =
            SessionToken::parse(&jwt(&serde_json::json!({"exp": 1_000, "iat": 900})), "t").unwrap();
        assert!(!short.needs_refresh(at(949), margin));
        assert!(short.needs_refresh(at(950), margin));
    }

    #[test]
    fn malformed_tokens_are_errors() {
        for bad in ["", "a.b", "a.!!.c", "a.e30.c", "a.b.c.d"] {
            let err = SessionToken::parse(bad, "file x").unwrap_err();
            assert!(err.to_string().contains("file x"), "{err}");
        }
    }
}
