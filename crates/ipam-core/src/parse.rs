//! Reading a snapshot document, with errors that point at the line, column and field.

use crate::{Error, Snapshot};

/// Parses a snapshot from JSON text.
///
/// The fast path is plain `serde_json`; only when that fails is the text read again with
/// field-path tracking, so that the error names the field (`nodes[3].vnics[0].subnetId`) as
/// well as the line and column.
///
/// # Errors
///
/// [`Error::ParseSnapshot`] for malformed JSON, a missing or unknown field (named), a value of
/// the wrong type, or a value a domain type rejects (an OCID, CIDR, shape name…).
pub fn parse_snapshot(text: &str) -> Result<Snapshot, Error> {
    match serde_json::from_str(text) {
        Ok(snapshot) => Ok(snapshot),
        Err(fast) => Err(locate(text, fast)),
    }
}

fn locate(text: &str, fast: serde_json::Error) -> Error {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let detailed = serde_path_to_error::deserialize::<_, Snapshot>(&mut deserializer);

    let (field, err) = match detailed {
        Err(err) => {
            let path = err.path().to_string();
            let field = (!path.is_empty() && path != "." && !path.ends_with('?')).then_some(path);
            (field, err.into_inner())
        }
        // Cannot happen (the same text failed a moment ago); report the first error anyway.
        Ok(_) => (None, fast),
    };

    Error::ParseSnapshot {
        field,
        line: err.line(),
        column: err.column(),
        problem: without_position(&err.to_string()),
    }
}

/// serde_json ends its messages with " at line L column C"; the position is reported apart.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_owned(),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field_and_position() {
        let text = "{\n  \"apiVersion\": \"oci-ipam/v1\",\n  \"kind\": \"ClusterSnapshot\",\n  \
                    \"policy\": { \"preAlocate\": 4 }\n}";
        let Err(Error::ParseSnapshot {
            field,
            line,
            column,
            problem,
        }) = parse_snapshot(text)
        else {
            panic!("accepted a misspelled field");
        };
        assert_eq!(field.as_deref(), Some("policy.preAlocate"));
        assert_eq!((line, column), (4, 26));
        assert!(
            problem.starts_with("unknown field `preAlocate`"),
            "{problem}"
        );
        assert!(!problem.contains("at line"), "{problem}");
    }

    #[test]
    fn syntax_errors_have_a_position_but_no_field() {
        let err = parse_snapshot("{\n  , }").unwrap_err();
        assert!(
            matches!(
                err,
                Error::ParseSnapshot {
                    field: None,
                    line: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("failed to parse the snapshot at line 2 column 3: "),
            "{text}"
        );
    }
}
