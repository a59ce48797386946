//! RSA keys: loading private keys from PEM (PKCS#1, PKCS#8, encrypted PKCS#8), public keys,
//! and the MD5 fingerprint OCI uses to name an API key.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

use crate::Error;
use crate::pem::{self, PemBlock};

/// A pass phrase for an encrypted private key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(String);

impl Passphrase {
    /// Wraps a pass phrase.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The pass phrase text. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// An RSA private key used to sign requests.
///
/// `Debug` shows only the public key's fingerprint, never key material.
#[derive(Clone)]
pub struct PrivateKey {
    rsa: RsaPrivateKey,
    public: PublicKey,
    /// The same key for `ring`'s faster (blinded, constant-time) RSA signing, when `ring`
    /// accepts it (2048 to 8192 bits); smaller keys sign with the `rsa` crate.
    fast: Option<Arc<ring::signature::RsaKeyPair>>,
}

impl PrivateKey {
    /// Loads a key from PEM text: PKCS#1 (`RSA PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`) or
    /// encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, needs `passphrase`).
    ///
    /// As in Oracle's SDKs, a pass phrase given for an unencrypted key is ignored, so a
    /// `pass_phrase` inherited from `[DEFAULT]` does not break a profile with a plain key.
    /// Legacy OpenSSL-encrypted PEM (`Proc-Type: 4,ENCRYPTED`) is decrypted for the AES-CBC
    /// ciphers; other legacy ciphers (DES-EDE3-CBC) are refused with an error that gives the
    /// `openssl` command converting the key to encrypted PKCS#8.
    ///
    /// # Errors
    /// [`Error::LoadKeyMissingPassphrase`], [`Error::LoadKeyDecrypt`],
    /// [`Error::LoadKeyLegacyCipher`], [`Error::LoadKeyNotPrivate`], [`Error::LoadKeyNotRsa`]
    /// or [`Error::LoadKey`], each naming `"PEM text"` as the origin.
    pub fn from_pem(pem: &str, passphrase: Option<&Passphrase>) -> Result<Self, Error> {
        Self::from_pem_named(pem, passphrase, "PEM text")
    }

    /// Loads a key from a PEM file; errors name the file.
    ///
    /// # Errors
    /// [`Error::ReadFile`] when the file cannot be read, otherwise as [`PrivateKey::from_pem`].
    pub fn from_pem_file(path: &Path, passphrase: Option<&Passphrase>) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            what: "private key",
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem_named(&text, passphrase, &path.display().to_string())
    }

    /// Loads a key from PEM text, naming `origin` in errors (a path, a variable name...).
    ///
    /// # Errors
    /// As [`PrivateKey::from_pem`].
    pub fn from_pem_named(
        pem: &str,
        passphrase: Option<&Passphrase>,
        origin: &str,
    ) -> Result<Self, Error> {
        let block = pem::parse_first(pem.trim()).map_err(|source| Error::LoadKey {
            origin: origin.to_owned(),
            source: Box::new(source),
        })?;

        let rsa = decode_private(&block, passphrase, origin)?;
        Ok(Self::from_rsa(rsa))
    }

    /// Wraps an `rsa` crate key.
    #[must_use]
    pub fn from_rsa(rsa: RsaPrivateKey) -> Self {
        let public = PublicKey::from_rsa(rsa.to_public_key());
        let fast = rsa
            .to_pkcs1_der()
            .ok()
            .and_then(|der| ring::signature::RsaKeyPair::from_der(der.as_bytes()).ok())
            .map(Arc::new);
        Self { rsa, public, fast }
    }

    /// Generates a fresh RSA-2048 key pair (exponent 65537), as instance principals do for
    /// every session token.
    ///
    /// # Errors
    /// [`Error::GenerateSessionKey`] if the RSA library fails.
    pub fn generate_rsa_2048() -> Result<Self, Error> {
        let rsa = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .map_err(|source| Error::GenerateSessionKey { source })?;
        Ok(Self::from_rsa(rsa))
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The `rsa` crate key, for callers that need other operations.
    #[must_use]
    pub fn as_rsa(&self) -> &RsaPrivateKey {
        &self.rsa
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 over SHA-256 (deterministic; blinded). Keys of
    /// 2048 bits and more sign with `ring`, smaller ones with the `rsa` crate; both give
    /// the same bytes.
    ///
    /// # Errors
    /// [`Error::ComputeSignature`] only for a malformed key.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        if let Some(fast) = &self.fast {
            let mut signature = vec![0; fast.public().modulus_len()];
            let rng = ring::rand::SystemRandom::new();
            let signed = fast.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &rng,
                message,
                &mut signature,
            );
            if signed.is_ok() {
                return Ok(signature);
            }
        }

        let digest = Sha256::digest(message);
        self.rsa
            .sign_with_rng(
                &mut rand::thread_rng(),
                Pkcs1v15Sign::new::<Sha256>(),
                &digest,
            )
            .map_err(|source| Error::ComputeSignature { source })
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("fingerprint", &self.public.fingerprint())
            .field("material", &"<redacted>")
            .finish()
    }
}

/// An RSA public key, with its DER `SubjectPublicKeyInfo` kept for fingerprints.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    rsa: RsaPublicKey,
    spki_der: Vec<u8>,
}

impl PublicKey {
    /// Loads a public key from PEM: `PUBLIC KEY` (SubjectPublicKeyInfo), `RSA PUBLIC KEY`
    /// (PKCS#1), or the key inside a `CERTIFICATE`.
    ///
    /// # Errors
    /// [`Error::LoadPublicKey`] when the text holds none of these or the key is not RSA.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let load_error = |source: crate::BoxError| Error::LoadPublicKey {
            origin: "PEM text".to_owned(),
            source,
        };
        let block = pem::parse_first(pem.trim()).map_err(|e| load_error(Box::new(e)))?;

        match block.label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&block.der),
            "RSA PUBLIC KEY" => RsaPublicKey::from_pkcs1_der(&block.der)
                .map(Self::from_rsa)
                .map_err(|e| load_error(Box::new(e))),
            "CERTIFICATE" => crate::cert::LeafCertificate::from_der(&block.der, "PEM text")
                .map(|cert| cert.public_key().clone()),
            other => Err(load_error(format!("unexpected PEM label {other}").into())),
        }
    }

    /// Loads a public key from DER `SubjectPublicKeyInfo`.
    ///
    /// # Errors
    /// [`Error::LoadPublicKey`] when the bytes are not an RSA `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, Error> {
        RsaPublicKey::from_public_key_der(der)
            .map(Self::from_rsa)
            .map_err(|source| Error::LoadPublicKey {
                origin: "DER SubjectPublicKeyInfo".to_owned(),
                source: Box::new(source),
            })
    }

    /// Loads a public key from base64 DER `SubjectPublicKeyInfo`: the form a federation
    /// request carries in `publicKey` (PEM without its header, footer and newlines).
    ///
    /// # Errors
    /// [`Error::LoadPublicKey`] when the text is not base64 of an RSA key.
    pub fn from_base64_der(text: &str) -> Result<Self, Error> {
        let der = STANDARD
            .decode(text.trim())
            .map_err(|source| Error::LoadPublicKey {
                origin: "base64 DER SubjectPublicKeyInfo".to_owned(),
                source: Box::new(source),
            })?;
        Self::from_spki_der(&der)
    }

    /// Wraps an `rsa` crate key.
    #[must_use]
    pub fn from_rsa(rsa: RsaPublicKey) -> Self {
        // Encoding an RSA public key as SPKI cannot fail for a key the rsa crate accepted;
        // an empty DER would only make the fingerprint differ, never panic.
        let spki_der = rsa
            .to_public_key_der()
            .map(|doc| doc.as_bytes().to_vec())
            .unwrap_or_default();
        Self { rsa, spki_der }
    }

    /// The DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// PEM `PUBLIC KEY` text.
    #[must_use]
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki_der)
    }

    /// Base64 of the DER `SubjectPublicKeyInfo` (PEM body on one line, no header/footer),
    /// as sent in the federation request's `publicKey` field.
    #[must_use]
    pub fn to_base64_der(&self) -> String {
        STANDARD.encode(&self.spki_der)
    }

    /// The API-key fingerprint: MD5 of the DER `SubjectPublicKeyInfo`, colon hex.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::md5_of(&self.spki_der)
    }

    /// The `rsa` crate key.
    #[must_use]
    pub fn as_rsa(&self) -> &RsaPublicKey {
        &self.rsa
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    #[must_use]
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        let digest = Sha256::digest(message);
        self.rsa
            .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, signature)
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

/// An API-key fingerprint: 16 lower-case hex pairs joined by `:` (47 characters), as
/// `openssl rsa -pubout -outform DER | openssl md5 -c` prints it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// MD5 over `spki_der`, in colon hex.
    #[must_use]
    pub fn md5_of(spki_der: &[u8]) -> Self {
        Self(colon_hex(&Md5::digest(spki_der), false))
    }

    /// The fingerprint text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Fingerprint {
    type Err = Error;

    /// Accepts exactly `^([0-9a-f]{2}:){15}[0-9a-f]{2}$`, as the SDKs' validation does
    /// (upper-case hex is refused there too).
    fn from_str(value: &str) -> Result<Self, Error> {
        let pairs: Vec<&str> = value.split(':').collect();
        let well_formed = pairs.len() == 16
            && pairs.iter().all(|pair| {
                pair.len() == 2
                    && pair
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
        if well_formed {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::ParseFingerprint {
                value: value.to_owned(),
            })
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.0)
    }
}

/// Hex pairs joined by `:`.
pub(crate) fn colon_hex(bytes: &[u8], upper: bool) -> String {
    let pairs: Vec<String> = bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect();
    pairs.join(":")
}

fn decode_private(
    block: &PemBlock,
    passphrase: Option<&Passphrase>,
    origin: &str,
) -> Result<RsaPrivateKey, Error> {
    let origin_owned = || origin.to_owned();
    let load_error = |source: crate::BoxError| Error::LoadKey {
        origin: origin_owned(),
        source,
    };

    if block
        .header("Proc-Type")
        .is_some_and(|v| v.contains("ENCRYPTED"))
    {
        let Some(passphrase) = passphrase else {
            return Err(Error::LoadKeyMissingPassphrase {
                origin: origin_owned(),
            });
        };
        let der = decrypt_legacy(block, passphrase, origin)?;
        return match block.label.as_str() {
            "RSA PRIVATE KEY" => {
                RsaPrivateKey::from_pkcs1_der(&der).map_err(|source| Error::LoadKeyDecrypt {
                    origin: origin_owned(),
                    source: Box::new(source),
                })
            }
            "PRIVATE KEY" => decode_pkcs8(&der, origin),
            _ => Err(Error::LoadKeyNotRsa {
                origin: origin_owned(),
            }),
        };
    }

    match block.label.as_str() {
        "RSA PRIVATE KEY" => {
            RsaPrivateKey::from_pkcs1_der(&block.der).map_err(|e| load_error(Box::new(e)))
        }
        "PRIVATE KEY" => decode_pkcs8(&block.der, origin),
        "ENCRYPTED PRIVATE KEY" => {
            let Some(passphrase) = passphrase else {
                return Err(Error::LoadKeyMissingPassphrase {
                    origin: origin_owned(),
                });
            };
            let info = pkcs8::EncryptedPrivateKeyInfo::try_from(block.der.as_slice())
                .map_err(|e| load_error(Box::new(e)))?;
            let document = info
                .decrypt(passphrase.expose().as_bytes())
                .map_err(|source| Error::LoadKeyDecrypt {
                    origin: origin_owned(),
                    source: Box::new(source),
                })?;
            decode_pkcs8(document.as_bytes(), origin)
        }
        "EC PRIVATE KEY" | "DSA PRIVATE KEY" | "OPENSSH PRIVATE KEY" => Err(Error::LoadKeyNotRsa {
            origin: origin_owned(),
        }),
        label @ ("PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE") => {
            Err(Error::LoadKeyNotPrivate {
                origin: origin_owned(),
                label: label.to_owned(),
            })
        }
        other => Err(load_error(format!("unexpected PEM label {other}").into())),
    }
}

/// Decrypts a legacy OpenSSL PEM body (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: <cipher>,<iv>`):
/// key = OpenSSL `EVP_BytesToKey` with MD5, one iteration, salt = first 8 IV bytes; AES-CBC
/// with PKCS#7 padding. DES-EDE3-CBC and other ciphers are refused with a conversion hint.
fn decrypt_legacy(
    block: &PemBlock,
    passphrase: &Passphrase,
    origin: &str,
) -> Result<Vec<u8>, Error> {
    use aes::cipher::{BlockDecryptMut as _, KeyIvInit as _, block_padding::Pkcs7};

    let dek_info = block.header("DEK-Info").unwrap_or_default();
    let (cipher, iv_hex) = dek_info.split_once(',').unwrap_or((dek_info, ""));
    let unsupported = || Error::LoadKeyLegacyCipher {
        origin: origin.to_owned(),
        cipher: cipher.to_owned(),
    };
    let key_len = match cipher.to_ascii_uppercase().as_str() {
        "AES-128-CBC" => 16,
        "AES-192-CBC" => 24,
        "AES-256-CBC" => 32,
        _ => return Err(unsupported()),
    };
    let iv = decode_hex(iv_hex.trim())
        .filter(|iv| iv.len() == 16)
        .ok_or_else(|| Error::LoadKey {
            origin: origin.to_owned(),
            source: "the DEK-Info IV is not 16 hex-encoded bytes".into(),
        })?;

    let key = evp_bytes_to_key(passphrase.expose().as_bytes(), &iv[..8], key_len);
    let mut buffer = block.der.clone();
    let decrypt_error = |_| Error::LoadKeyDecrypt {
        origin: origin.to_owned(),
        source: "bad padding after decryption".into(),
    };
    let plain_len = match key_len {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv)
            .map_err(|_| unsupported())?
            .decrypt_padded_mut::<Pkcs7>(&mut buffer)
            .map_err(decrypt_error)?
            .len(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &iv)
            .map_err(|_| unsupported())?
            .decrypt_padded_mut::<Pkcs7>(&mut buffer)
            .map_err(decrypt_error)?
            .len(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv)
            .map_err(|_| unsupported())?
            .decrypt_padded_mut::<Pkcs7>(&mut buffer)
            .map_err(decrypt_error)?
            .len(),
    };
    buffer.truncate(plain_len);
    Ok(buffer)
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration.
fn evp_bytes_to_key(passphrase: &[u8], salt: &[u8], key_len: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(key_len + 16);
    let mut previous: Vec<u8> = Vec::new();
    while key.len() < key_len {
        let mut hasher = Md5::new();
        hasher.update(&previous);
        hasher.update(passphrase);
        hasher.update(salt);
        previous = hasher.finalize().to_vec();
        key.extend_from_slice(&previous);
    }
    key.truncate(key_len);
    key
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn decode_pkcs8(der: &[u8], origin: &str) -> Result<RsaPrivateKey, Error> {
    let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|source| Error::LoadKey {
        origin: origin.to_owned(),
        source: Box::new(source),
    })?;
    if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(Error::LoadKeyNotRsa {
            origin: origin.to_owned(),
        });
    }

    RsaPrivateKey::from_pkcs8_der(der).map_err(|source| Error::LoadKey {
        origin: origin.to_owned(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys;

    #[test]
    fn every_encoding_loads_the_same_key() {
        let pass = Passphrase::new("test-only-passphrase");
        let pkcs1 = PrivateKey::from_pem(test_keys::PKCS1, None).unwrap();
        let pkcs8 = PrivateKey::from_pem(test_keys::PKCS8, None).unwrap();
        let encrypted = PrivateKey::from_pem(test_keys::PKCS8_ENCRYPTED, Some(&pass)).unwrap();
        assert_eq!(pkcs1.public_key(), pkcs8.public_key());
        assert_eq!(pkcs1.public_key(), encrypted.public_key());

        // A pass phrase for a plain key is ignored, as in the SDKs.
        let with_pass = PrivateKey::from_pem(test_keys::PKCS1, Some(&pass)).unwrap();
        assert_eq!(with_pass.public_key(), pkcs1.public_key());
    }

    #[test]
    fn fingerprint_matches_openssl_md5_c() {
        let key = PrivateKey::from_pem(test_keys::PKCS1, None).unwrap();
        assert_eq!(
            key.public_key().fingerprint().as_str(),
            test_keys::FINGERPRINT
        );
        let public = PublicKey::from_pem(test_keys::PUBLIC).unwrap();
        assert_eq!(&public, key.public_key());
        assert_eq!(
            PublicKey::from_base64_der(&public.to_base64_der()).unwrap(),
            public
        );
    }

    #[test]
    fn bad_keys_give_typed_errors() {
        let pass = Passphrase::new("wrong");
        let cases: Vec<(Result<PrivateKey, Error>, &str)> = vec![
            (
                PrivateKey::from_pem(test_keys::PKCS8_ENCRYPTED, None),
                "MissingPassphrase",
            ),
            (
                PrivateKey::from_pem(test_keys::PKCS8_ENCRYPTED, Some(&pass)),
                "Decrypt",
            ),
            (
                PrivateKey::from_pem(test_keys::LEGACY_ENCRYPTED, Some(&pass)),
                "Decrypt",
            ),
            (
                PrivateKey::from_pem(test_keys::LEGACY_ENCRYPTED, None),
                "MissingPassphrase",
            ),
            (PrivateKey::from_pem(test_keys::PUBLIC, None), "NotPrivate"),
            (PrivateKey::from_pem(test_keys::EC_PKCS8, None), "NotRsa"),
            (
                PrivateKey::from_pem(&test_keys::PKCS1[..200], None),
                "LoadKey",
            ),
            (PrivateKey::from_pem("", None), "LoadKey"),
        ];
        for (result, expected) in cases {
            let err = result.unwrap_err();
            let name = format!("{err:?}");
            assert!(name.contains(expected), "{expected}: {name}");
            assert!(err.to_string().contains("PEM text"), "{err}");
        }
    }

    #[test]
    fn legacy_encrypted_pem_aes_loads_and_des_is_refused_with_a_hint() {
        let pass = Passphrase::new("test-only-passphrase");
        let legacy = PrivateKey::from_pem(test_keys::LEGACY_ENCRYPTED, Some(&pass)).unwrap();
        let pkcs1 = PrivateKey::from_pem(test_keys::PKCS1, None).unwrap();
        assert_eq!(legacy.public_key(), pkcs1.public_key());

        let des = test_keys::LEGACY_ENCRYPTED.replace("AES-128-CBC", "DES-EDE3-CBC");
        let err = PrivateKey::from_pem(&des, Some(&pass)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("openssl pkcs8 -topk8"), "{text}");
        assert!(text.contains("DES-EDE3-CBC"), "{text}");
    }

    #[test]
    fn fingerprint_parsing() {
        assert!(
            "73:61:a2:21:67:e0:df:be:7e:4b:93:1e:15:98:a5:b7"
                .parse::<Fingerprint>()
                .is_ok()
        );
        for bad in [
            "73:61",
            "73:61:A2:21:67:e0:df:be:7e:4b:93:1e:15:98:a5:b7",
            "",
        ] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_key_material() {
        let key = PrivateKey::from_pem(test_keys::PKCS1, None).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(test_keys::FINGERPRINT), "{shown}");
        assert!(
            !shown.contains("BigUint") && !shown.contains("primes"),
            "{shown}"
        );
        let pass = Passphrase::new("hunter2-secret");
        assert!(!format!("{pass:?}").contains("hunter2"));
    }

    #[test]
    fn ring_and_rsa_crate_signatures_are_identical() {
        let key = PrivateKey::from_pem(test_keys::PKCS1, None).unwrap();
        assert!(key.fast.is_some(), "ring takes a 2048-bit key");
        let digest = Sha256::digest(b"same bytes");
        let reference = key
            .rsa
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .unwrap();
        assert_eq!(key.sign_sha256(b"same bytes").unwrap(), reference);

        let small = PrivateKey::from_pem(test_keys::ORACLE_DOCS, None).unwrap();
        assert!(
            small.fast.is_none(),
            "the 1024-bit docs key signs with the rsa crate"
        );
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let key = PrivateKey::from_pem(test_keys::PKCS1, None).unwrap();
        let signature = key.sign_sha256(b"hello").unwrap();
        assert!(key.public_key().verify_sha256(b"hello", &signature));
        assert!(!key.public_key().verify_sha256(b"hellO", &signature));
    }
}
