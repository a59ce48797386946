//! The crate's error type.

/// What went wrong in a shape lookup or a limit calculation, and what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The shape is not in the built-in table.
    #[error(
        "failed to look up shape `{shape}`: it is not in the shape table; give the instance's \
         own maxVnicAttachments (GetInstance shapeConfig) instead"
    )]
    LookupShape {
        /// The shape name that was looked up.
        shape: String,
    },

    /// The shape is known but its limit cannot be derived from what was given.
    #[error("failed to work out the VNIC limit of shape `{shape}`: {hint}")]
    ResolveVnicLimit {
        /// The shape whose limit was asked for.
        shape: String,
        /// What is missing or wrong, and how to fix it.
        hint: String,
    },

    /// A shape name was empty or held characters shape names never hold.
    #[error(
        "failed to parse shape name `{value}`: expected a non-empty name of ASCII letters, \
         digits, `.`, `-` and `_` such as `VM.Standard.E4.Flex`"
    )]
    ParseShapeName {
        /// The rejected text (at most 80 characters of it).
        value: String,
    },

    /// An OCPU count was not a positive finite number.
    #[error("failed to parse OCPU count `{value}`: expected a positive number such as 2 or 0.5")]
    ParseOcpus {
        /// The rejected value.
        value: String,
    },

    /// An addresses-per-VNIC value was outside what OCI allows.
    #[error(
        "failed to parse addresses per VNIC `{value}`: OCI allows 1 to 64 secondary addresses \
         per VNIC (31 is the safe default; 32 and 64 depend on the tenancy)"
    )]
    ParseIpsPerVnic {
        /// The rejected value.
        value: String,
    },
}
