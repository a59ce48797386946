//! The crate's error type.

/// What went wrong while parsing a domain value, working out a node's limits or applying a
/// plan, and what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An OCID was malformed or of the wrong resource type.
    #[error("failed to parse {kind} OCID `{value}`: expected `ocid1.{kind}.<realm>.<region>.<id>`")]
    ParseOcid {
        /// The expected resource type (`vnic`, `subnet`, `instance`).
        kind: &'static str,
        /// The rejected text (at most 80 characters of it).
        value: String,
    },

    /// A node name was not a DNS subdomain.
    #[error(
        "failed to parse node name `{value}`: expected lowercase letters, digits, `-` and `.`, \
         starting and ending with a letter or digit"
    )]
    ParseNodeName {
        /// The rejected text.
        value: String,
    },

    /// An availability domain name was malformed.
    #[error("failed to parse availability domain `{value}`: expected a name like Uocm:PHX-AD-1")]
    ParseAvailabilityDomain {
        /// The rejected text.
        value: String,
    },

    /// A CIDR block was malformed or had host bits set.
    #[error(
        "failed to parse IPv4 CIDR `{value}`: expected <network>/<prefix> with prefix 0 to 32 \
         and no host bits set, e.g. 10.0.16.0/20"
    )]
    ParseCidr {
        /// The rejected text.
        value: String,
    },

    /// A snapshot document was not valid JSON or did not match the format.
    #[error("{}", describe_parse(field.as_deref(), *line, *column, problem))]
    ParseSnapshot {
        /// The path of the offending field (`nodes[3].vnics[0].subnetId`), when known.
        field: Option<String>,
        /// The 1-based line of the problem (0 when unknown).
        line: usize,
        /// The 1-based column of the problem (0 when unknown).
        column: usize,
        /// What is wrong, as the JSON reader put it (an unknown field is named here).
        problem: String,
    },

    /// A node's VNIC limit could not be worked out.
    #[error("failed to work out the VNIC limit of node `{node}`")]
    ResolveVnicLimit {
        /// The node.
        node: String,
        /// Why the shape table could not answer.
        #[source]
        source: vnic_limits::Error,
    },

    /// A plan action could not be applied to the snapshot.
    #[error("failed to apply a plan action to node `{node}`: {problem}")]
    ApplyPlan {
        /// The node the action was for.
        node: String,
        /// What did not fit (an unknown node, VNIC or subnet, or a subnet with no address).
        problem: String,
    },
}

fn describe_parse(field: Option<&str>, line: usize, column: usize, problem: &str) -> String {
    let mut text = String::from("failed to parse the snapshot");
    if line > 0 {
        text.push_str(&format!(" at line {line} column {column}"));
    }
    if let Some(field) = field {
        text.push_str(&format!(", field `{field}`"));
    }
    text.push_str(": ");
    text.push_str(problem);
    text
}
