//! Where requests go: the Core API host from region and realm (or an explicit override), and
//! the instance metadata service.
//!
//! TLS is always verified. Plain `http://` is accepted only to loopback hosts (the simulator)
//! unless the caller uses a constructor whose name says it is dangerous.

use std::net::IpAddr;

use url::Url;

use crate::Error;
use crate::model::RegionInfo;

/// The Core API version path that Compute and VirtualNetwork share.
pub const CORE_API_VERSION: &str = "20160918";

/// Base URL of the instance metadata service (IMDS v2).
pub const DEFAULT_METADATA_URL: &str = "http://169.254.169.254/opc/v2/";

/// IMDS's IPv4 address.
const IMDS_IPV4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(169, 254, 169, 254);

/// IMDS's IPv6 address, `fd00:c1::a9fe:a9fe`.
const IMDS_IPV6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xfd00, 0xc1, 0, 0, 0, 0, 0xa9fe, 0xa9fe);

/// The Core API (Compute + VirtualNetwork) endpoint: scheme, host and optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: Url,
}

impl Endpoint {
    /// `https://iaas.<region>.<realm domain>` for a region identifier (`us-ashburn-1`) or short
    /// code (`iad`) and a realm key (`oc1`) or realm domain (`oraclecloud.com`).
    ///
    /// A region containing a `.` is taken as a domain suffix (`iaas.<region>`), as the SDKs do.
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] when the region is empty or holds characters no host name
    /// may hold, or the realm is unknown and not a domain.
    pub fn for_region(region: &str, realm: &str) -> Result<Self, Error> {
        let realm = realm.trim();
        let domain = if realm.contains('.') {
            realm
        } else {
            oci_auth::realm_domain(realm).ok_or_else(|| Error::InvalidEndpoint {
                endpoint: realm.to_owned(),
                reason: "unknown realm: give a realm key (oc1) or its domain (oraclecloud.com)",
            })?
        };

        let region = oci_auth::Region::resolve(region);
        let info = oci_auth::RegionInfo::new(region.clone(), realm, domain);
        let url = info.service_endpoint("iaas");

        let host_ok = url["https://".len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if region.as_str().is_empty() || !host_ok {
            return Err(Error::InvalidEndpoint {
                endpoint: url,
                reason: "the region must be a region identifier such as us-ashburn-1",
            });
        }

        Self::parse(&url)
    }

    /// The endpoint of the region an instance reports in IMDS `regionInfo`.
    ///
    /// # Errors
    /// As [`Endpoint::for_region`].
    pub fn from_region_info(info: &RegionInfo) -> Result<Self, Error> {
        Self::for_region(&info.region_identifier, &info.realm_domain_component)
    }

    /// An explicit endpoint (a private endpoint or a simulator), e.g.
    /// `https://iaas.example.internal` or `http://127.0.0.1:8080`. A trailing path is kept as a
    /// prefix before `/20160918`.
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] when the URL does not parse, has no host, is neither https
    /// nor http, or is plain http to a host that is not loopback (use
    /// [`Endpoint::dangerous_plain_http`] for that).
    pub fn parse(url: &str) -> Result<Self, Error> {
        let base = parse_base(url)?;

        if base.scheme() == "http" && !is_loopback(&base) {
            return Err(Error::InvalidEndpoint {
                endpoint: url.to_owned(),
                reason: "plain http is only allowed to loopback; use https, or \
                         Endpoint::dangerous_plain_http if you really mean it",
            });
        }

        Ok(Self { base })
    }

    /// An endpoint that may be plain `http://` to any host. Requests and their signatures then
    /// cross the network unencrypted: only for test networks you control.
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] when the URL does not parse or has no host.
    pub fn dangerous_plain_http(url: &str) -> Result<Self, Error> {
        Ok(Self {
            base: parse_base(url)?,
        })
    }

    /// The base URL (ends with `/`).
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// `scheme://host[:port]`, for error messages.
    #[must_use]
    pub fn origin(&self) -> String {
        self.base.origin().ascii_serialization()
    }

    /// The URL of `/20160918/<path>` with `query` appended in order, percent-encoded once.
    pub(crate) fn core_url(&self, path: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();

        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(CORE_API_VERSION).extend(path);
        }

        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }

        url
    }
}

/// The instance metadata service endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataEndpoint {
    base: Url,
}

impl MetadataEndpoint {
    /// An explicit IMDS base URL ending in `/opc/v2/` (e.g. a simulator on loopback).
    /// IMDS is plain http by nature, so http is accepted to loopback and to OCI's IMDS
    /// addresses (`169.254.169.254`, `fd00:c1::a9fe:a9fe`).
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] when the URL does not parse, or is plain http to any other
    /// host.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let base = parse_base(url)?;

        let imds_host = match base.host() {
            Some(url::Host::Ipv4(ip)) => ip == IMDS_IPV4,
            Some(url::Host::Ipv6(ip)) => ip == IMDS_IPV6,
            _ => false,
        };
        if base.scheme() == "http" && !is_loopback(&base) && !imds_host {
            return Err(Error::InvalidEndpoint {
                endpoint: url.to_owned(),
                reason: "plain http to the metadata service is only allowed to loopback or \
                         169.254.169.254",
            });
        }

        Ok(Self { base })
    }

    /// The base URL (ends with `/`).
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// `scheme://host[:port]`, for error messages.
    #[must_use]
    pub fn origin(&self) -> String {
        self.base.origin().ascii_serialization()
    }

    pub(crate) fn join(&self, path: &[&str]) -> Url {
        let mut url = self.base.clone();

        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }

        url
    }
}

impl Default for MetadataEndpoint {
    /// `http://169.254.169.254/opc/v2/`.
    fn default() -> Self {
        let base =
            Url::parse(DEFAULT_METADATA_URL).expect("DEFAULT_METADATA_URL is a valid URL literal");
        Self { base }
    }
}

/// Parses a base URL, requiring http(s) and a host, and normalising the path to end in `/`.
fn parse_base(text: &str) -> Result<Url, Error> {
    let invalid = |reason| Error::InvalidEndpoint {
        endpoint: text.to_owned(),
        reason,
    };

    let mut url = Url::parse(text.trim()).map_err(|_| invalid("not a URL"))?;

    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid("the scheme must be https (or http to loopback)"));
    }
    if url.host().is_none() {
        return Err(invalid("the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid(
            "the URL must not carry a query, fragment or user name",
        ));
    }

    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }

    Ok(url)
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_and_realm_make_the_iaas_host() {
        let endpoint = Endpoint::for_region("us-ashburn-1", "oc1").unwrap();
        let gov = Endpoint::for_region("phx", "oc2").unwrap();
        let domain = Endpoint::for_region("eu-frankfurt-2", "oraclecloud.eu").unwrap();

        assert_eq!(
            endpoint.url().as_str(),
            "https://iaas.us-ashburn-1.oraclecloud.com/"
        );
        assert_eq!(
            gov.url().as_str(),
            "https://iaas.us-phoenix-1.oraclegovcloud.com/"
        );
        assert_eq!(
            domain.url().as_str(),
            "https://iaas.eu-frankfurt-2.oraclecloud.eu/"
        );
    }

    #[test]
    fn unknown_realm_and_bad_region_are_refused() {
        assert!(Endpoint::for_region("us-ashburn-1", "oc99").is_err());
        assert!(Endpoint::for_region("us ashburn", "oc1").is_err());
        assert!(Endpoint::for_region("", "oc1").is_err());
    }

    #[test]
    fn plain_http_only_to_loopback_unless_dangerous() {
        assert!(Endpoint::parse("http://127.0.0.1:8080").is_ok());
        assert!(Endpoint::parse("http://[::1]:8080").is_ok());
        assert!(Endpoint::parse("http://localhost:1").is_ok());
        assert!(Endpoint::parse("https://iaas.private.example").is_ok());

        let err = Endpoint::parse("http://10.0.0.1:8080").unwrap_err();

        assert!(err.to_string().contains("dangerous_plain_http"), "{err}");
        assert!(Endpoint::dangerous_plain_http("http://10.0.0.1:8080").is_ok());
        assert!(Endpoint::parse("ftp://127.0.0.1").is_err());
    }

    #[test]
    fn core_url_encodes_path_and_query_once() {
        let endpoint = Endpoint::parse("http://127.0.0.1:9/prefix").unwrap();

        let url = endpoint.core_url(
            &["privateIps", "ocid1.privateip.oc1..a"],
            &[
                ("subnetId", "ocid1.subnet.oc1..b".to_owned()),
                ("page", "a b/c".to_owned()),
            ],
        );

        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/20160918/privateIps/ocid1.privateip.oc1..a\
             ?subnetId=ocid1.subnet.oc1..b&page=a+b%2Fc"
        );
    }

    #[test]
    fn metadata_endpoint_defaults_and_joins() {
        let imds = MetadataEndpoint::default();
        let local = MetadataEndpoint::parse("http://127.0.0.1:7/opc/v2").unwrap();

        assert_eq!(
            imds.join(&["vnics", ""]).as_str(),
            "http://169.254.169.254/opc/v2/vnics/"
        );
        assert_eq!(
            local.join(&["instance", "shapeConfig"]).path(),
            "/opc/v2/instance/shapeConfig"
        );
        assert!(MetadataEndpoint::parse("http://192.0.2.1/opc/v2/").is_err());
    }
}
