//! Regions and realms: short codes (`iad`), identifiers (`us-ashburn-1`), realm domains and
//! service endpoints, including non-oc1 realms.

use std::fmt;

use serde::Deserialize;

use crate::Env;
use crate::region_table::{REALMS, REGIONS};

/// Domain assumed when nothing says otherwise (realm oc1).
const OC1_DOMAIN: &str = "oraclecloud.com";

/// An OCI region identifier such as `us-ashburn-1`.
///
/// [`Region::resolve`] turns a short code into the identifier (case-insensitive, from the
/// SDK's table); an unknown value is kept as given, so new regions still work.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Region(String);

impl Region {
    /// Resolves a short code (`iad`, `PHX`) or identifier to the region identifier; unknown
    /// values are kept as given (trimmed).
    #[must_use]
    pub fn resolve(code_or_id: &str) -> Self {
        let wanted = code_or_id.trim();
        let known = REGIONS.iter().find(|(code, id, _)| {
            (!code.is_empty() && code.eq_ignore_ascii_case(wanted))
                || id.eq_ignore_ascii_case(wanted)
        });
        match known {
            Some((_, id, _)) => Self((*id).to_owned()),
            None => Self(wanted.to_owned()),
        }
    }

    /// The identifier.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The realm key (`oc1`, `oc2`, …) when the region is in the table.
    #[must_use]
    pub fn known_realm(&self) -> Option<&'static str> {
        REGIONS
            .iter()
            .find(|(_, id, _)| *id == self.0)
            .map(|(_, _, realm)| *realm)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.0)
    }
}

/// The second-level domain of a realm (`oraclecloud.com` for oc1), if the realm is known.
#[must_use]
pub fn realm_domain(realm: &str) -> Option<&'static str> {
    REALMS
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(realm))
        .map(|(_, domain)| *domain)
}

/// A region with its realm and domain: everything needed to build endpoint URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    region: Region,
    realm_key: String,
    realm_domain: String,
}

/// The JSON of IMDS `/instance/regionInfo` and of `$OCI_REGION_METADATA`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegionInfoJson {
    realm_key: String,
    realm_domain_component: String,
    region_identifier: String,
}

impl RegionInfo {
    /// A region with an explicit realm and domain.
    #[must_use]
    pub fn new(
        region: Region,
        realm_key: impl Into<String>,
        realm_domain: impl Into<String>,
    ) -> Self {
        Self {
            region,
            realm_key: realm_key.into(),
            realm_domain: realm_domain.into(),
        }
    }

    /// Parses the JSON of IMDS `/instance/regionInfo` (also the `$OCI_REGION_METADATA`
    /// schema): `{"realmKey","realmDomainComponent","regionKey","regionIdentifier"}`.
    ///
    /// # Errors
    /// The JSON error when a field is missing or the text is not JSON.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let json: RegionInfoJson = serde_json::from_str(text)?;
        Ok(Self {
            region: Region::resolve(&json.region_identifier),
            realm_key: json.realm_key.to_ascii_lowercase(),
            realm_domain: json.realm_domain_component,
        })
    }

    /// Resolves `region` (code or identifier) to a region with its realm, in the SDKs'
    /// order: the built-in table; `$OCI_REGION_METADATA` when it describes this region;
    /// `$OCI_DEFAULT_REALM` (its value is used as the domain); else realm oc1.
    #[must_use]
    pub fn resolve(region: &str, env: &Env) -> Self {
        let region = Region::resolve(region);
        if let Some(realm) = region.known_realm() {
            let domain = realm_domain(realm).unwrap_or(OC1_DOMAIN);
            return Self::new(region, realm, domain);
        }

        let from_metadata = env
            .var("OCI_REGION_METADATA")
            .and_then(|json| Self::from_json(&json).ok())
            .filter(|info| info.region == region);
        if let Some(info) = from_metadata {
            return info;
        }

        match env.var("OCI_DEFAULT_REALM") {
            Some(domain) => Self::new(region, "unknown", domain),
            None => Self::new(region, "oc1", OC1_DOMAIN),
        }
    }

    /// The region.
    #[must_use]
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The realm key, lower case (`oc1`).
    #[must_use]
    pub fn realm_key(&self) -> &str {
        &self.realm_key
    }

    /// The realm's second-level domain (`oraclecloud.com`).
    #[must_use]
    pub fn realm_domain(&self) -> &str {
        &self.realm_domain
    }

    /// `https://<service>.<region>.<domain>`; a region containing `.` is taken as a full
    /// domain suffix (`https://<service>.<region>`), as the SDKs do.
    #[must_use]
    pub fn service_endpoint(&self, service: &str) -> String {
        if self.region.0.contains('.') {
            format!("https://{service}.{}", self.region)
        } else {
            format!("https://{service}.{}.{}", self.region, self.realm_domain)
        }
    }

    /// The auth service's federation URL, `https://auth.<region>.<domain>/v1/x509`.
    #[must_use]
    pub fn federation_endpoint(&self) -> String {
        format!("{}/v1/x509", self.service_endpoint("auth"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_codes_and_identifiers() {
        assert_eq!(Region::resolve("iad").as_str(), "us-ashburn-1");
        assert_eq!(Region::resolve("PHX").as_str(), "us-phoenix-1");
        assert_eq!(Region::resolve("us-chicago-1").as_str(), "us-chicago-1");
        assert_eq!(Region::resolve("lfi").as_str(), "us-langley-1");
        assert_eq!(Region::resolve("xx-new-1").as_str(), "xx-new-1");
    }

    #[test]
    fn realms_and_endpoints() {
        let env = Env::from_pairs::<[(&str, &str); 0], &str, &str>([]);
        let iad = RegionInfo::resolve("iad", &env);
        assert_eq!(
            iad.federation_endpoint(),
            "https://auth.us-ashburn-1.oraclecloud.com/v1/x509"
        );
        let gov = RegionInfo::resolve("lfi", &env);
        assert_eq!(gov.realm_key(), "oc2");
        assert_eq!(
            gov.service_endpoint("iaas"),
            "https://iaas.us-langley-1.oraclegovcloud.com"
        );
        let uk = RegionInfo::resolve("ltn", &env);
        assert_eq!(uk.realm_domain(), "oraclegovcloud.uk");
        assert_eq!(realm_domain("oc19"), Some("oraclecloud.eu"));
        let dotted = RegionInfo::new(Region::resolve("r1.example.test"), "oc1", OC1_DOMAIN);
        assert_eq!(
            dotted.service_endpoint("iaas"),
            "https://iaas.r1.example.test"
        );
    }

    #[test]
    fn unknown_regions_use_metadata_then_default_realm() {
        let json = r#"{"realmKey":"OC17","realmDomainComponent":"oraclecloud17.com",
            "regionKey":"DCC","regionIdentifier":"us-dcc-phoenix-1"}"#;
        let env = Env::from_pairs([("OCI_REGION_METADATA", json)]);
        let info = RegionInfo::resolve("us-dcc-phoenix-1", &env);
        assert_eq!(
            info.federation_endpoint(),
            "https://auth.us-dcc-phoenix-1.oraclecloud17.com/v1/x509"
        );
        assert_eq!(info.realm_key(), "oc17");

        let env = Env::from_pairs([("OCI_DEFAULT_REALM", "oraclecloud99.com")]);
        let info = RegionInfo::resolve("xx-new-1", &env);
        assert_eq!(
            info.service_endpoint("iaas"),
            "https://iaas.xx-new-1.oraclecloud99.com"
        );

        let none = Env::from_pairs::<[(&str, &str); 0], &str, &str>([]);
        assert_eq!(
            RegionInfo::resolve("xx-new-1", &none).realm_domain(),
            OC1_DOMAIN
        );
    }
}
