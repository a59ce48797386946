//! A small signing HTTP client for the simulator's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::panic, unreachable_pub)]

use std::time::SystemTime;

use http::HeaderMap;
use http::HeaderName;
use http::HeaderValue;
use http::Method;
use oci_auth::KeyId;
use oci_auth::PrivateKey;
use oci_auth::SignableBody;
use oci_auth::SignableRequest;
use oci_auth::SigningParams;
use serde_json::Value;

/// A signed answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

/// Signs every request with one key, like an SDK client.
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    key_id: KeyId,
    key: PrivateKey,
    /// Shifts the signed `date` (for skew tests).
    pub date_offset_secs: i64,
}

impl Client {
    pub fn new(endpoint: &str, key_id: &str, key: PrivateKey) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint: endpoint.to_owned(),
            key_id: KeyId::from_raw(key_id),
            key,
            date_offset_secs: 0,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value, extra: &[(&str, &str)]) -> Answer {
        self.call(Method::POST, path, Some(body), extra).await
    }

    pub async fn put(&self, path: &str, body: Value, extra: &[(&str, &str)]) -> Answer {
        self.call(Method::PUT, path, Some(body), extra).await
    }

    pub async fn delete(&self, path: &str, extra: &[(&str, &str)]) -> Answer {
        self.call(Method::DELETE, path, None, extra).await
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Answer {
        self.try_call(method, path, body, extra).await.unwrap()
    }

    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Result<Answer, reqwest::Error> {
        let url = url::Url::parse(&format!("{}/20160918{path}", self.endpoint)).unwrap();
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut headers = HeaderMap::new();
        for (name, value) in extra {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let time = if self.date_offset_secs >= 0 {
            now() + std::time::Duration::from_secs(self.date_offset_secs.unsigned_abs())
        } else {
            now() - std::time::Duration::from_secs(self.date_offset_secs.unsigned_abs())
        };
        let request = SignableRequest::new(&method, &url, &headers, SignableBody::Bytes(&bytes));
        let output =
            oci_auth::sign(&request, SigningParams::new(&self.key_id, &self.key, time)).unwrap();
        output.apply_to(&mut headers);

        let response = self
            .http
            .request(method, url)
            .headers(headers)
            .body(bytes)
            .send()
            .await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

#[allow(clippy::disallowed_methods)]
pub fn now() -> SystemTime {
    SystemTime::now()
}

/// Runs the instance-principal federation by hand: leaf certificate and key from the
/// instance's metadata service, a request to `/v1/x509` signed with the leaf key.
/// Returns the session token.
pub async fn federate(
    sim: &oci_sim::Sim,
    instance: &str,
    session_key: &PrivateKey,
) -> Result<String, String> {
    let http = reqwest::Client::new();
    let base = sim.metadata_base_url(instance);
    let mut files = Vec::new();
    for name in ["cert.pem", "key.pem", "intermediate.pem"] {
        let response = http
            .get(format!("{base}/identity/{name}"))
            .header("Authorization", "Bearer Oracle")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("IMDS {name}: {}", response.status()));
        }
        files.push(response.text().await.map_err(|e| e.to_string())?);
    }
    let leaf = oci_auth::LeafCertificate::from_pem(&files[0], "leaf").map_err(|e| e.to_string())?;
    let leaf_key = PrivateKey::from_pem(&files[1], None).map_err(|e| e.to_string())?;
    let strip = |pem: &str| {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("")
    };
    let body = serde_json::json!({
        "certificate": strip(&files[0]),
        "publicKey": session_key.public_key().to_base64_der(),
        "intermediateCertificates": [strip(&files[2])],
    })
    .to_string();

    let url = url::Url::parse(&sim.federation_url()).unwrap();
    let key_id = KeyId::from_raw(format!(
        "{}/fed-x509/{}",
        sim.tenancy(),
        leaf.sha1_fingerprint()
    ));
    let mut headers = HeaderMap::new();
    let request = SignableRequest::new(
        &Method::POST,
        &url,
        &headers,
        SignableBody::Bytes(body.as_bytes()),
    );
    let params = SigningParams::new(&key_id, &leaf_key, now())
        .with_header_set(oci_auth::HeaderSet::Federation);
    oci_auth::sign(&request, params)
        .map_err(|e| e.to_string())?
        .apply_to(&mut headers);
    let response = http
        .post(url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let answer: Value = response.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("federation {status}: {answer}"));
    }
    answer["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no token".to_owned())
}
