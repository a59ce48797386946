//! X.509 leaf certificates from the instance metadata service: the tenancy OCID in the
//! subject, the public key, and the fingerprints federation key ids use.

use std::fmt;

use der::{Decode as _, Encode as _, Tag, Tagged as _};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use crate::key::colon_hex;
use crate::{Error, Ocid, PublicKey, pem};

/// Subject attribute prefixes that carry the tenancy OCID: `opc-tenant:` (instance
/// certificates, in an OU) and `opc-identity:` (service principals, in the O).
const TENANCY_PREFIXES: [&str; 2] = ["opc-tenant:", "opc-identity:"];

/// A parsed certificate with what OCI auth needs from it.
#[derive(Clone)]
pub struct LeafCertificate {
    der: Vec<u8>,
    public_key: PublicKey,
    subject_values: Vec<String>,
}

impl LeafCertificate {
    /// Parses the first certificate in PEM text; `origin` names it in errors.
    ///
    /// Tolerates what instance certificates carry: values longer than X.520 bounds,
    /// PrintableString or UTF8String values, and several OUs in one multi-valued RDN.
    ///
    /// # Errors
    /// [`Error::ParseCertificate`] when the text is not a PEM X.509 certificate with an RSA
    /// key.
    pub fn from_pem(text: &str, origin: &str) -> Result<Self, Error> {
        let parse_error = |source: crate::BoxError| Error::ParseCertificate {
            origin: origin.to_owned(),
            source,
        };
        let block = pem::parse_first(text.trim()).map_err(|e| parse_error(Box::new(e)))?;
        if block.label != "CERTIFICATE" {
            return Err(parse_error(
                format!("PEM label is {}, not CERTIFICATE", block.label).into(),
            ));
        }
        Self::from_der(&block.der, origin)
    }

    /// Parses a DER certificate; `origin` names it in errors.
    ///
    /// # Errors
    /// As [`LeafCertificate::from_pem`].
    pub fn from_der(der: &[u8], origin: &str) -> Result<Self, Error> {
        let parse_error = |source: crate::BoxError| Error::ParseCertificate {
            origin: origin.to_owned(),
            source,
        };
        let certificate = Certificate::from_der(der).map_err(|e| parse_error(Box::new(e)))?;

        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| parse_error(Box::new(e)))?;
        let public_key = PublicKey::from_spki_der(&spki).map_err(|e| parse_error(Box::new(e)))?;

        let subject_values = certificate
            .tbs_certificate
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .filter_map(|attribute| attribute_text(&attribute.value))
            .collect();

        Ok(Self {
            der: der.to_vec(),
            public_key,
            subject_values,
        })
    }

    /// The tenancy OCID: the first subject value starting with `opc-tenant:` or
    /// `opc-identity:`, after the prefix (as the Python SDK reads it).
    ///
    /// # Errors
    /// [`Error::FindTenancyInCertificate`] when no such value exists,
    /// [`Error::ParseOcid`] when the value is not an OCID.
    pub fn tenancy(&self, origin: &str) -> Result<Ocid, Error> {
        let value = self
            .subject_values
            .iter()
            .find_map(|value| {
                TENANCY_PREFIXES
                    .iter()
                    .find_map(|prefix| value.strip_prefix(prefix))
            })
            .ok_or_else(|| Error::FindTenancyInCertificate {
                origin: origin.to_owned(),
            })?;
        Ocid::parse("tenancy in certificate subject", value)
    }

    /// The subject's attribute values as text, in order (RDNs flattened).
    #[must_use]
    pub fn subject_values(&self) -> &[String] {
        &self.subject_values
    }

    /// The certificate's public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The DER encoding.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-1 of the DER, upper-case colon hex (federation key id `fed-x509`, as Python).
    #[must_use]
    pub fn sha1_fingerprint(&self) -> String {
        colon_hex(&Sha1::digest(&self.der), true)
    }

    /// SHA-256 of the DER, lower-case colon hex (key id `fed-x509-sha256`, as Go ≥ v65.95.1).
    #[must_use]
    pub fn sha256_fingerprint(&self) -> String {
        colon_hex(&Sha256::digest(&self.der), false)
    }

    /// The PEM body on one line, without header, footer or newlines: the form a
    /// federation request carries.
    #[must_use]
    pub fn to_base64_der(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.der)
    }
}

impl fmt::Debug for LeafCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeafCertificate")
            .field("subject_values", &self.subject_values)
            .field("sha256", &self.sha256_fingerprint())
            .finish()
    }
}

/// Text of a directory-string attribute value, whatever string type encodes it.
fn attribute_text(value: &der::Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::TeletexString
        | Tag::VisibleString => Some(String::from_utf8_lossy(bytes).into_owned()),
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}
