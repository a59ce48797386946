//! Validation shared by the OCID newtypes.

use crate::Error;

/// Checks that `text` looks like an OCID (`ocid1.<type>.<realm>.[region].<unique>`): it
/// starts with `ocid1.`, and holds only ASCII letters, digits, `.`, `-`, `_` and `:`.
pub(crate) fn check(text: &str, kind: &'static str) -> Result<(), Error> {
    let well_formed = text.len() > "ocid1.".len()
        && text.len() <= 255
        && text.starts_with("ocid1.")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b));

    if well_formed {
        Ok(())
    } else {
        Err(Error::ParseOcid {
            kind,
            value: text.chars().take(80).collect(),
        })
    }
}
