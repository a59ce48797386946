//! The simulator as identity provider: a certificate authority that issues each instance its
//! identity certificate (served by the metadata service), and the auth service's federation
//! endpoint `/v1/x509` that trades such a certificate for a session token.
//!
//! Like OCI, the chain is root → intermediate → leaf, and the leaf subject names the instance,
//! its compartment and the tenancy (`OU=opc-tenant:<tenancy>`). Session tokens are JWTs
//! signed RS256 with the root key; their `jwk` claim carries the session public key the
//! client sent, which later verifies every request made with `keyId="ST$<token>"`.
//!
//! Keys are generated on first use, not at start, because RSA key generation is the most
//! expensive thing the simulator does and most tests never federate.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use der::Decode as _;
use der::Encode as _;
use der::EncodePem as _;
use oci_auth::LeafCertificate;
use oci_auth::PrivateKey;
use oci_auth::PublicKey;
use rsa::RsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey as _;
use rsa::pkcs8::LineEnding;
use rsa::traits::PublicKeyParts as _;
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use x509_cert::Certificate;
use x509_cert::builder::Builder as _;
use x509_cert::builder::CertificateBuilder;
use x509_cert::builder::Profile;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Time;
use x509_cert::time::Validity;

use crate::auth::refuse;
use crate::clock::epoch_secs;
use crate::error::SimError;
use crate::error::WireError;

/// What an instance's metadata service serves under `/opc/v2/identity/`.
#[derive(Clone)]
pub(crate) struct InstanceIdentity {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) intermediate_pem: String,
}

impl std::fmt::Debug for InstanceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceIdentity")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The claims of a verified session token that matter to the server.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) instance_id: String,
    pub(crate) public_key: PublicKey,
}

/// Who an instance certificate is for.
#[derive(Clone, Debug)]
pub(crate) struct Subject {
    pub(crate) instance_id: String,
    pub(crate) compartment_id: String,
    pub(crate) tenancy: String,
}

struct Authority {
    root_key: PrivateKey,
    intermediate_key: PrivateKey,
    intermediate_cert: Certificate,
    intermediate_pem: String,
}

/// The identity side of the simulator. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Identity {
    inner: Arc<Mutex<IdentityInner>>,
}

#[derive(Default)]
struct IdentityInner {
    authority: Option<Arc<Authority>>,
    /// Instance OCID → its identity.
    leaves: HashMap<String, InstanceIdentity>,
    /// Leaf SHA-1 fingerprint (uppercase colon hex) → subject.
    issued: HashMap<String, Subject>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FederationRequest {
    certificate: String,
    public_key: String,
    #[serde(default)]
    intermediate_certificates: Vec<String>,
    #[serde(default)]
    purpose: Option<String>,
}

impl Identity {
    /// The identity materials of one instance, issued on first request.
    pub(crate) fn instance_identity(
        &self,
        subject: &Subject,
        now: SystemTime,
    ) -> Result<InstanceIdentity, SimError> {
        if let Some(found) = self.lock().leaves.get(&subject.instance_id) {
            return Ok(found.clone());
        }

        let authority = self.authority(now)?;
        let leaf_key = generate_key("an instance identity key")?;
        let name = format!(
            "CN={id},OU=opc-certtype:instance,OU=opc-compartment:{compartment},\
             OU=opc-instance:{id},OU=opc-tenant:{tenancy}",
            id = subject.instance_id,
            compartment = subject.compartment_id,
            tenancy = subject.tenancy,
        );
        let leaf = issue(
            Profile::Leaf {
                issuer: authority.intermediate_cert.tbs_certificate.subject.clone(),
                enable_key_agreement: false,
                enable_key_encipherment: true,
            },
            &name,
            leaf_key.public_key(),
            &authority.intermediate_key,
            now,
            // Shortcoming: leaves never rotate (OCI rotates them); refreshes get the same one.
            Duration::from_secs(30 * 86_400),
        )?;
        let cert_pem = to_pem(&leaf, "the instance certificate")?;
        let key_pem = leaf_key
            .as_rsa()
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| encode_error("the instance key", e))?
            .to_string();
        let identity = InstanceIdentity {
            cert_pem,
            key_pem,
            intermediate_pem: authority.intermediate_pem.clone(),
        };

        let der = leaf
            .to_der()
            .map_err(|e| encode_error("the instance certificate", e))?;
        let parsed = LeafCertificate::from_der(&der, "the issued instance certificate")
            .map_err(|e| encode_error("the instance certificate", e))?;
        let mut inner = self.lock();
        inner.issued.insert(
            parsed.sha1_fingerprint().to_ascii_uppercase(),
            subject.clone(),
        );
        inner.issued.insert(
            parsed.sha256_fingerprint().to_ascii_uppercase(),
            subject.clone(),
        );
        let entry = inner
            .leaves
            .entry(subject.instance_id.clone())
            .or_insert(identity);
        Ok(entry.clone())
    }

    /// Forgets an instance's identity (the instance was terminated).
    pub(crate) fn forget(&self, instance_id: &str) {
        let mut inner = self.lock();
        inner.leaves.remove(instance_id);
        inner
            .issued
            .retain(|_, subject| subject.instance_id != instance_id);
    }

    /// Handles `POST /v1/x509`: checks the chain this simulator issued and the request
    /// signature made with the leaf key, then issues a session token for `lifetime`.
    pub(crate) fn federate(
        &self,
        incoming: &crate::auth::Incoming<'_>,
        now: SystemTime,
        wall_now: SystemTime,
        lifetime: Duration,
        instance_running: impl Fn(&str) -> bool,
    ) -> Result<String, WireError> {
        let authorization = incoming.check_envelope(oci_auth::HeaderSet::Federation, wall_now)?;
        let request: FederationRequest = serde_json::from_slice(incoming.body).map_err(|e| {
            WireError::new(
                http::StatusCode::BAD_REQUEST,
                "CannotParseRequest",
                format!("The federation request body is not valid: {e}"),
            )
        })?;
        if request.purpose.as_deref().is_some_and(|p| p != "DEFAULT") {
            return Err(WireError::invalid(
                "purpose other than DEFAULT is not supported",
            ));
        }

        let leaf_der = STANDARD
            .decode(request.certificate.trim())
            .map_err(|_| refuse("certificate is not base64 DER"))?;
        let leaf = LeafCertificate::from_der(&leaf_der, "the federation request's certificate")
            .map_err(|_| refuse("certificate is not an X.509 certificate"))?;
        let authority = self
            .lock()
            .authority
            .clone()
            .ok_or_else(|| refuse("this service issued no instance certificates yet"))?;

        let intermediate_ok = request.intermediate_certificates.iter().any(|text| {
            STANDARD.decode(text.trim()).ok().as_deref()
                == authority.intermediate_cert.to_der().ok().as_deref()
        });
        if !intermediate_ok {
            return Err(refuse(
                "intermediateCertificates lacks the issuing intermediate",
            ));
        }
        let leaf_cert =
            Certificate::from_der(&leaf_der).map_err(|_| refuse("certificate is not DER"))?;
        if !signed_by(&leaf_cert, authority.intermediate_key.public_key()) {
            return Err(refuse("certificate was not issued by the intermediate"));
        }
        if !signed_by(
            &authority.intermediate_cert,
            authority.root_key.public_key(),
        ) {
            return Err(refuse("the intermediate was not issued by the root"));
        }

        let key_id = authorization.key_id().expose().to_owned();
        let mut parts = key_id.splitn(3, '/');
        let (Some(tenancy), Some(kind), Some(fingerprint)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(refuse("keyId is not <tenancy>/fed-x509/<fingerprint>"));
        };
        let expected = match kind {
            "fed-x509" => leaf.sha1_fingerprint(),
            "fed-x509-sha256" => leaf.sha256_fingerprint(),
            _ => return Err(refuse("keyId is not <tenancy>/fed-x509/<fingerprint>")),
        };
        if !expected.eq_ignore_ascii_case(fingerprint) {
            return Err(refuse("keyId fingerprint does not match the certificate"));
        }
        let subject = self
            .lock()
            .issued
            .get(&expected.to_ascii_uppercase())
            .cloned()
            .ok_or_else(|| refuse("certificate is not one this service issued"))?;
        if subject.tenancy != tenancy {
            return Err(refuse("keyId tenancy does not match the certificate"));
        }
        if !instance_running(&subject.instance_id) {
            return Err(refuse("the certificate's instance is not running"));
        }
        incoming.verify(&authorization, leaf.public_key())?;

        let session_key = PublicKey::from_base64_der(request.public_key.trim())
            .map_err(|_| WireError::invalid("publicKey is not a base64 DER RSA public key"))?;
        self.issue_token(&authority, &subject, &session_key, now, lifetime)
    }

    fn issue_token(
        &self,
        authority: &Authority,
        subject: &Subject,
        session_key: &PublicKey,
        now: SystemTime,
        lifetime: Duration,
    ) -> Result<String, WireError> {
        let iat = epoch_secs(now);
        let rsa = session_key.as_rsa();
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": "oci-sim-auth" });
        let claims = json!({
            "sub": subject.instance_id,
            "iss": "authService.oracle.com",
            "aud": "oci",
            "ptype": "instance",
            "opc-certtype": "instance",
            "opc-instance": subject.instance_id,
            "opc-compartment": subject.compartment_id,
            "opc-tenant": subject.tenancy,
            "tenant": subject.tenancy,
            "iat": iat,
            "exp": iat + lifetime.as_secs(),
            "jti": uuid::Uuid::new_v4().to_string(),
            "jwk": {
                "kid": "session",
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "n": URL_SAFE_NO_PAD.encode(rsa.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(rsa.e().to_bytes_be()),
            },
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = authority
            .root_key
            .sign_sha256(signing_input.as_bytes())
            .map_err(|_| {
                WireError::new(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "signing the session token failed",
                )
            })?;
        tracing::debug!(
            instance = %subject.instance_id,
            lifetime_s = lifetime.as_secs(),
            "session token issued"
        );
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// Verifies a session token this simulator issued and returns its session key.
    pub(crate) fn verify_session_token(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<Session, WireError> {
        let authority = self
            .lock()
            .authority
            .clone()
            .ok_or_else(|| refuse("session token was not issued by this service"))?;
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refuse("session token is not a JWT"));
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| refuse("session token signature is not base64url"))?;
        let signing_input = format!("{header}.{claims}");
        if !authority
            .root_key
            .public_key()
            .verify_sha256(signing_input.as_bytes(), &signature)
        {
            return Err(refuse("session token signature is not valid"));
        }

        let claims: serde_json::Value = URL_SAFE_NO_PAD
            .decode(claims)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| refuse("session token claims are not JSON"))?;
        let exp = claims["exp"]
            .as_u64()
            .ok_or_else(|| refuse("session token has no exp"))?;
        if epoch_secs(now) >= exp {
            return Err(refuse("session token has expired"));
        }
        let instance_id = claims["sub"]
            .as_str()
            .ok_or_else(|| refuse("session token has no sub"))?
            .to_owned();
        let n = claims["jwk"]["n"]
            .as_str()
            .and_then(|n| URL_SAFE_NO_PAD.decode(n).ok());
        let e = claims["jwk"]["e"]
            .as_str()
            .and_then(|e| URL_SAFE_NO_PAD.decode(e).ok());
        let (Some(n), Some(e)) = (n, e) else {
            return Err(refuse("session token has no jwk"));
        };
        let rsa = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&n),
            rsa::BigUint::from_bytes_be(&e),
        )
        .map_err(|_| refuse("session token jwk is not an RSA key"))?;
        Ok(Session {
            instance_id,
            public_key: PublicKey::from_rsa(rsa),
        })
    }

    fn authority(&self, now: SystemTime) -> Result<Arc<Authority>, SimError> {
        if let Some(authority) = self.lock().authority.clone() {
            return Ok(authority);
        }

        let root_key = generate_key("the identity root CA")?;
        let intermediate_key = generate_key("the identity intermediate CA")?;
        let ten_years = Duration::from_secs(10 * 365 * 86_400);
        let root_cert = issue(
            Profile::Root,
            "CN=oci-sim Identity Root,O=oci-sim",
            root_key.public_key(),
            &root_key,
            now,
            ten_years,
        )?;
        let intermediate_cert = issue(
            Profile::SubCA {
                issuer: root_cert.tbs_certificate.subject.clone(),
                path_len_constraint: Some(0),
            },
            "CN=PKISVC Identity Intermediate,O=oci-sim",
            intermediate_key.public_key(),
            &root_key,
            now,
            ten_years,
        )?;
        let intermediate_pem = to_pem(&intermediate_cert, "the intermediate certificate")?;
        let authority = Arc::new(Authority {
            root_key,
            intermediate_key,
            intermediate_cert,
            intermediate_pem,
        });

        let mut inner = self.lock();
        Ok(inner.authority.get_or_insert(authority).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IdentityInner> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn generate_key(purpose: &str) -> Result<PrivateKey, SimError> {
    let rsa = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|source| {
        SimError::GenerateKey {
            purpose: purpose.to_owned(),
            source,
        }
    })?;
    Ok(PrivateKey::from_rsa(rsa))
}

fn encode_error(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> SimError {
    SimError::Encode {
        what: what.to_owned(),
        source: Box::new(e),
    }
}

fn to_pem(cert: &Certificate, what: &str) -> Result<String, SimError> {
    cert.to_pem(der::pem::LineEnding::LF)
        .map_err(|e| encode_error(what, e))
}

fn issue(
    profile: Profile,
    subject: &str,
    subject_key: &PublicKey,
    issuer_key: &PrivateKey,
    now: SystemTime,
    lifetime: Duration,
) -> Result<Certificate, SimError> {
    let subject_name =
        Name::from_str(subject).map_err(|e| encode_error("a certificate subject", e))?;
    let spki = SubjectPublicKeyInfoOwned::from_der(subject_key.spki_der())
        .map_err(|e| encode_error("a certificate public key", e))?;
    let not_before = Time::try_from(now - Duration::from_secs(3_600))
        .map_err(|e| encode_error("a certificate validity", e))?;
    let not_after =
        Time::try_from(now + lifetime).map_err(|e| encode_error("a certificate validity", e))?;
    let serial: [u8; 16] = rand::random();
    let mut serial = serial;
    serial[0] &= 0x7f;
    let serial = SerialNumber::new(&serial).map_err(|e| encode_error("a serial number", e))?;

    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(issuer_key.as_rsa().clone());
    let builder = CertificateBuilder::new(
        profile,
        serial,
        Validity {
            not_before,
            not_after,
        },
        subject_name,
        spki,
        &signer,
    )
    .map_err(|e| encode_error("a certificate", e))?;
    builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|e| encode_error("a certificate", e))
}

/// Whether `cert` carries a valid RSA-SHA256 signature by `issuer`.
fn signed_by(cert: &Certificate, issuer: &PublicKey) -> bool {
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    let Some(signature) = cert.signature.as_bytes() else {
        return false;
    };
    issuer.verify_sha256(&tbs, signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            instance_id:
                "ocid1.instance.oc1.iad.aaaaaaaaexampleinstanceocidthatislongerthan64characters"
                    .into(),
            compartment_id: "ocid1.compartment.oc1..aaaaaaaacompartment".into(),
            tenancy: "ocid1.tenancy.oc1..aaaaaaaatenancy".into(),
        }
    }

    #[test]
    fn instance_certificate_names_the_tenancy_and_chains_to_the_intermediate() {
        let identity = Identity::default();
        let now = crate::clock::SimClock::new().now();
        let issued = identity
            .instance_identity(&subject(), now)
            .expect("identity");

        let leaf = LeafCertificate::from_pem(&issued.cert_pem, "leaf").expect("leaf parses");
        assert_eq!(
            leaf.tenancy("leaf").expect("tenancy").as_str(),
            subject().tenancy
        );
        assert!(
            leaf.subject_values()
                .iter()
                .any(|v| v == "opc-certtype:instance")
        );
        let key = PrivateKey::from_pem(&issued.key_pem, None).expect("key parses");
        assert_eq!(key.public_key().spki_der(), leaf.public_key().spki_der());

        let authority = identity.lock().authority.clone().expect("authority");
        let cert = Certificate::from_der(leaf.der()).expect("der");
        assert!(signed_by(&cert, authority.intermediate_key.public_key()));
        assert!(!signed_by(&cert, authority.root_key.public_key()));
        assert!(signed_by(
            &authority.intermediate_cert,
            authority.root_key.public_key()
        ));

        let again = identity
            .instance_identity(&subject(), now)
            .expect("identity");
        assert_eq!(again.cert_pem, issued.cert_pem, "one leaf per instance");
    }

    #[test]
    fn session_tokens_verify_until_they_expire_and_not_after_tampering() {
        let identity = Identity::default();
        let now = crate::clock::SimClock::new().now();
        identity
            .instance_identity(&subject(), now)
            .expect("identity");
        let authority = identity.lock().authority.clone().expect("authority");
        let session = PrivateKey::generate_rsa_2048().expect("session key");

        let token = identity
            .issue_token(
                &authority,
                &subject(),
                session.public_key(),
                now,
                Duration::from_secs(60),
            )
            .expect("token");
        let verified = identity.verify_session_token(&token, now).expect("valid");
        assert_eq!(verified.instance_id, subject().instance_id);
        assert_eq!(
            verified.public_key.spki_der(),
            session.public_key().spki_der()
        );

        let later = now + Duration::from_secs(60);
        assert_eq!(
            identity
                .verify_session_token(&token, later)
                .expect_err("expired")
                .code,
            "NotAuthenticated"
        );

        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"x","exp":99999999999}"#);
        parts[1] = &forged;
        assert!(
            identity
                .verify_session_token(&parts.join("."), now)
                .is_err()
        );
        assert!(identity.verify_session_token("not-a-jwt", now).is_err());
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let identity = InstanceIdentity {
            cert_pem: "CERT".into(),
            key_pem: "-----BEGIN PRIVATE KEY-----SECRET".into(),
            intermediate_pem: "INTER".into(),
        };
        let shown = format!("{identity:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
