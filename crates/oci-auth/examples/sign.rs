//! Signs one request and prints every header of the signed request, `name: value` per line
//! (a debugging aid: compare with what a failing client sends).
//!
//! ```text
//! cargo run -p oci-auth --example sign -- --method M --url U [--header 'name: value']...
//!     [--body-file F] (--key-file PEM [--passphrase P] --key-id ID | --config F [--profile P])
//! ```
//!
//! A `date` given with `--header` is signed as is; otherwise the current time is used.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use clap::Parser;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use oci_auth::{
    ConfigProfile, Credentials, Env, KeyId, Passphrase, PrivateKey, SignableBody, SignableRequest,
    sign,
};
use url::Url;

/// Sign an OCI API request and print its headers.
#[derive(Parser)]
#[command(group = clap::ArgGroup::new("credentials").required(true).args(["key_file", "config"]))]
struct Args {
    /// HTTP method (GET, HEAD, DELETE, POST, PUT, PATCH).
    #[arg(long)]
    method: String,

    /// The full URL, exactly as the client sends it.
    #[arg(long)]
    url: String,

    /// An extra request header, `name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,

    /// A file holding the request body.
    #[arg(long)]
    body_file: Option<PathBuf>,

    /// PEM private key (with --key-id).
    #[arg(long, requires = "key_id", conflicts_with_all = ["config", "profile"])]
    key_file: Option<PathBuf>,

    /// Pass phrase of --key-file.
    #[arg(long, requires = "key_file")]
    passphrase: Option<String>,

    /// The keyId to sign with (`<tenancy>/<user>/<fingerprint>` or `ST$<token>`).
    #[arg(long, requires = "key_file")]
    key_id: Option<String>,

    /// An OCI config file (API key or session token profile).
    #[arg(long)]
    config: Option<PathBuf>,

    /// The config profile.
    #[arg(long, default_value = "DEFAULT", requires = "config")]
    profile: String,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(lines) => {
            print!("{lines}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("sign: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<String, Box<dyn std::error::Error>> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())?;
    let url = Url::parse(&args.url)?;
    let mut headers = HeaderMap::new();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("--header {header:?} is not `name: value`"))?;
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes())?,
            HeaderValue::from_str(value.trim())?,
        );
    }
    let body = match &args.body_file {
        Some(path) => {
            std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?
        }
        None => Vec::new(),
    };

    // This example is a binary: it may read the clock, here and only here.
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now();

    let credentials = credentials(args, now)?;
    let request = SignableRequest::new(&method, &url, &headers, SignableBody::Bytes(&body));
    let output = sign(&request, credentials.signing_params(now))?;
    output.apply_to(&mut headers);

    let mut lines = String::new();
    for (name, value) in &headers {
        lines.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    Ok(lines)
}

fn credentials(args: &Args, now: SystemTime) -> Result<Credentials, Box<dyn std::error::Error>> {
    if let (Some(key_file), Some(key_id)) = (&args.key_file, &args.key_id) {
        let passphrase = args.passphrase.as_deref().map(Passphrase::new);
        let key = PrivateKey::from_pem_file(key_file, passphrase.as_ref())?;
        return Ok(Credentials::new(
            KeyId::from_raw(key_id.clone()),
            Arc::new(key),
        ));
    }

    let provider = ConfigProfile::load(args.config.as_deref(), &args.profile, &Env::process())?
        .into_provider()?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    Ok(runtime.block_on(provider.credentials(now))?)
}
