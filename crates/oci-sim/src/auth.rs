//! Request authentication: every API call's signature is checked before anything else.
//!
//! The parsing of `Authorization`, the signing string and the RSA-SHA256 check come from
//! `oci-auth`'s verifying side ([`oci_auth::ReceivedRequest`]); this module adds the server's
//! policy: which headers must be signed, the five-minute `date` skew, the body hash, and
//! where each `keyId` form finds its public key (registered API keys, or the session key
//! inside a session token this simulator issued).

use std::time::Duration;
use std::time::SystemTime;

use http::HeaderMap;
use http::Method;
use oci_auth::AuthorizationHeader;
use oci_auth::HeaderSet;
use oci_auth::PublicKey;
use oci_auth::ReceivedRequest;

use crate::error::SimError;
use crate::error::WireError;
use crate::identity::Identity;
use crate::state::Principal;
use crate::state::State;

/// Largest tolerated difference between the request's `date` and the server clock.
pub(crate) const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Loads a PEM public key and computes its API-key fingerprint (lowercase colon hex).
pub(crate) fn load_public_key(user: &str, pem: &str) -> Result<(String, PublicKey), SimError> {
    let key = PublicKey::from_pem(pem).map_err(|source| SimError::LoadPublicKey {
        user: user.to_owned(),
        source,
    })?;
    Ok((key.fingerprint().as_str().to_ascii_lowercase(), key))
}

/// A request as received, borrowed for verification.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path_and_query: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

impl Incoming<'_> {
    /// Checks what every signed request must satisfy whatever its key: required headers
    /// signed, `date` within the skew, body headers matching the body. Returns the parsed
    /// `Authorization` header.
    pub(crate) fn check_envelope(
        &self,
        header_set: HeaderSet,
        wall_now: SystemTime,
    ) -> Result<AuthorizationHeader, WireError> {
        let received = ReceivedRequest::new(self.method, self.path_and_query, self.headers);
        let authorization = received
            .authorization()
            .map_err(|e| refuse(&e.to_string()))?;

        let missing = authorization.missing_required(self.method, header_set);
        if !missing.is_empty() {
            return Err(refuse(&format!(
                "the signature does not cover {}",
                missing.join(", ")
            )));
        }

        let date = self
            .headers
            .get("x-date")
            .or_else(|| self.headers.get(http::header::DATE))
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| refuse("the request has no date header"))?;
        let date = httpdate::parse_http_date(date)
            .map_err(|_| refuse("the date header is not an HTTP date"))?;
        let skew = date
            .duration_since(wall_now)
            .or_else(|_| wall_now.duration_since(date))
            .unwrap_or_default();
        if skew > MAX_CLOCK_SKEW {
            return Err(refuse(&format!(
                "the date header is {} s away from the server clock (at most 300 s allowed)",
                skew.as_secs()
            )));
        }

        received
            .check_body(self.body)
            .map_err(|e| refuse(&e.to_string()))?;
        Ok(authorization)
    }

    /// Verifies the signature itself with `key`.
    pub(crate) fn verify(
        &self,
        authorization: &AuthorizationHeader,
        key: &PublicKey,
    ) -> Result<(), WireError> {
        let received = ReceivedRequest::new(self.method, self.path_and_query, self.headers);
        received
            .verify(authorization, key)
            .map_err(|e| refuse(&e.to_string()))
    }
}

/// Authenticates an API request and says who made it.
pub(crate) fn authenticate(
    incoming: &Incoming<'_>,
    state: &State,
    identity: &Identity,
    now: SystemTime,
    wall_now: SystemTime,
) -> Result<Principal, WireError> {
    let authorization = incoming.check_envelope(HeaderSet::Standard, wall_now)?;
    let key_id = authorization.key_id();

    if let Some(token) = key_id.session_token_text() {
        let session = identity.verify_session_token(token, now)?;
        let running = state
            .instances
            .get(&session.instance_id)
            .is_some_and(|i| i.state == crate::model::InstanceState::Running);
        if !running {
            return Err(refuse("the session token's instance is no longer running"));
        }
        incoming.verify(&authorization, &session.public_key)?;
        return Ok(Principal::Instance {
            id: session.instance_id,
        });
    }

    let mut parts = key_id.expose().splitn(3, '/');
    let (Some(tenancy), Some(user_id), Some(fingerprint)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse(
            "keyId is neither <tenancy>/<user>/<fingerprint> nor ST$<token>",
        ));
    };
    if tenancy != state.tenancy {
        return Err(refuse("keyId names a tenancy this service does not know"));
    }
    let user = state
        .users
        .get(user_id)
        .ok_or_else(|| refuse("keyId names an unknown user"))?;
    let key = user
        .keys
        .get(&fingerprint.to_ascii_lowercase())
        .ok_or_else(|| refuse("keyId names a key fingerprint not registered for this user"))?;
    incoming.verify(&authorization, key)?;

    Ok(Principal::User {
        id: user_id.to_owned(),
        compartments: user.compartments.clone(),
    })
}

/// `401 NotAuthenticated` with a reason. The reason never echoes key material or tokens.
pub(crate) fn refuse(reason: &str) -> WireError {
    tracing::debug!(reason, "request not authenticated");
    WireError::not_authenticated(format!(
        "The required information to complete authentication was not provided or was \
         incorrect: {reason}"
    ))
}
