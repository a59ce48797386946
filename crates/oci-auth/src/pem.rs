//! A lenient PEM reader: labels, RFC 1421 headers (to spot legacy encrypted keys), CRLF.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One `-----BEGIN X-----` ... `-----END X-----` block.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PemBlock {
    /// The label after `BEGIN`.
    pub(crate) label: String,
    /// `Name: value` header lines before the base64 body (legacy encrypted keys use them).
    pub(crate) headers: Vec<(String, String)>,
    /// The decoded body.
    pub(crate) der: Vec<u8>,
}

/// Shows the label and sizes only: a block may hold a private key.
impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemBlock")
            .field("label", &self.label)
            .field("headers", &self.headers.len())
            .field("der_len", &self.der.len())
            .finish()
    }
}

impl PemBlock {
    /// The value of a header such as `DEK-Info`, if present.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why PEM text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PemError {
    /// No `-----BEGIN` line.
    #[error("no PEM block found (missing -----BEGIN line)")]
    NoBlock,
    /// A block without its `-----END` line.
    #[error("PEM block {0} is not terminated (missing -----END line; is the file truncated?)")]
    Unterminated(String),
    /// The body is not base64.
    #[error("PEM block {0} has a body that is not valid base64")]
    Base64(String),
}

/// Reads every PEM block in `text`, in order; text outside blocks is ignored.
pub(crate) fn parse_all(text: &str) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);

    while let Some(line) = lines.next() {
        let Some(label) = begin_label(line) else {
            continue;
        };

        let mut headers = Vec::new();
        let mut body = String::new();
        let mut terminated = false;
        for line in lines.by_ref() {
            if line.starts_with("-----END ") {
                terminated = true;
                break;
            }
            if let Some((key, value)) = line.split_once(':').filter(|_| body.is_empty()) {
                headers.push((key.trim().to_owned(), value.trim().to_owned()));
                continue;
            }
            body.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
        }
        if !terminated {
            return Err(PemError::Unterminated(label.to_owned()));
        }

        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::Base64(label.to_owned()))?;
        blocks.push(PemBlock {
            label: label.to_owned(),
            headers,
            der,
        });
    }

    if blocks.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(blocks)
}

/// Reads the first PEM block in `text`.
pub(crate) fn parse_first(text: &str) -> Result<PemBlock, PemError> {
    parse_all(text)?.into_iter().next().ok_or(PemError::NoBlock)
}

/// Writes `der` as PEM with 64-column lines and a trailing newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_headers_and_crlf() {
        let text = "junk\r\n-----BEGIN A-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,00\r\n\r\nAAEC\r\n-----END A-----\r\n-----BEGIN B-----\nAw==\n-----END B-----\n";
        let blocks = parse_all(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "A");
        assert_eq!(blocks[0].header("dek-info"), Some("AES-128-CBC,00"));
        assert_eq!(blocks[0].der, vec![0, 1, 2]);
        assert_eq!(blocks[1].der, vec![3]);
    }

    #[test]
    fn truncated_and_empty_inputs_are_errors() {
        assert_eq!(parse_all(""), Err(PemError::NoBlock));
        assert_eq!(
            parse_all("-----BEGIN X-----\nAAEC\n"),
            Err(PemError::Unterminated("X".into()))
        );
        assert_eq!(
            parse_all("-----BEGIN X-----\n!!\n-----END X-----"),
            Err(PemError::Base64("X".into()))
        );
    }

    #[test]
    fn encode_round_trips() {
        let der: Vec<u8> = (0..=255).collect();
        let block = parse_first(&encode("THING", &der)).unwrap();
        assert_eq!(block.label, "THING");
        assert_eq!(block.der, der);
    }
}
